"""HIGGS: AM-Adam beside Adam and SGD on 10.5 million streamed rows (the paper's Figure 6).

One hidden ReLU layer of 300, batch 200. The training rows are streamed from
tensorflow-datasets through tf.data (never whole in memory); the last 500,000
rows (`--eval-rows`) are the test set, evaluated every `--eval-every` steps.
The plot shows test accuracy against steps with the 0.64 that Taylor et al.'s
ADMM reached using 7,200 cores. One epoch is 52,500 steps (`--max-steps`).

The data (about 2.6 GB) must be prepared where tensorflow-datasets can fetch
it; without it the script stops and says how, it never swaps in other data:

    python -c "import tensorflow_datasets as tfds; tfds.load('higgs', data_dir='DIR')"
    python examples/higgs.py --data-dir DIR --out results/higgs
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("sgd", "adam", "am-adam")
ADMM_ACCURACY = 0.64


class EvaluateEvery(keras.callbacks.Callback):
    """Test accuracy every `every` training steps (and at the last one)."""

    def __init__(self, x, y, every, last, record, clock):
        super().__init__()
        self.x, self.y, self.every, self.last = x, y, every, last
        self.record, self.clock = record, clock

    def on_train_begin(self, logs=None):
        self.mark = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if step % self.every and step != self.last:
            return
        # training time only: the clock stops while the test set is evaluated
        self.clock.seconds += time.perf_counter() - self.mark
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        result = self.model.evaluate(self.x, self.y, batch_size=4096, verbose=0,
                                     return_dict=True)
        self.record(epoch=0, step=step, split="test", **result)
        self.mark = time.perf_counter()


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=1, batch_size=200)
    p.set_defaults(dataset="higgs", seeds=1)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--max-steps", type=int, default=52_500)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--eval-rows", type=int, default=ka.datasets.HIGGS_TEST_ROWS)
    p.add_argument("--validation-rows", type=int, default=500_000,
                   help="searches: rows before the test rows held out for validation "
                        "(HIGGS is streamed, so a count rather than a fraction)")
    p.add_argument("--no-download", action="store_true",
                   help="use only data already under --data-dir")
    common.add_method_arguments(p, sgd_lr=0.05, adam_lr=0.001, weight_lr=0.001, code_lr=1.0)
    return p


def load_data(args, validation_size=None):
    """The streamed training rows and the test rows; with `validation_size`
    (a search), `--validation-rows` rows held out of training as well.

    Exits with instructions when HIGGS is not at hand."""
    if args.dataset != "higgs":
        sys.exit("this example runs on HIGGS only (--dataset higgs)")
    try:
        return ka.datasets.higgs(
            test_rows=args.eval_rows, data_dir=args.data_dir, download=not args.no_download,
            validation_rows=args.validation_rows if validation_size else 0)
    except RuntimeError as error:
        sys.exit(f"HIGGS is not at hand, so nothing was trained.\n{error}")


def build_net(data, args, method="am-adam"):
    return keras.Sequential([
        keras.Input((ka.datasets.HIGGS_FEATURES,)),
        keras.layers.Dense(args.hidden, activation="relu"),
        keras.layers.Dense(data.num_classes),
    ])


def fit_data(args, data):
    """What `fit` trains on: `--max-steps` batches of the stream, one epoch."""
    return (data.train.batch(args.batch_size).repeat(),), dict(steps_per_epoch=args.max_steps)


def main(argv=None):
    args = common.parse(make_parser(), argv)
    data = load_data(args)
    x_test, y_test = data.test
    results = common.Results(args.out)
    (stream,), fit_options = fit_data(args, data)  # the same rows in the same order for all
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        initial = build_net(data, args)
        for method in args.methods:
            model = common.compile_method(method, initial, args, args.max_steps)
            clock = common.Clock()
            record = results.recorder(method, seed, clock)
            record(epoch=0, step=0, split="test",
                   **model.evaluate(x_test, y_test, batch_size=4096, verbose=0,
                                    return_dict=True))
            model.fit(stream, epochs=1, verbose=0, **fit_options,
                      callbacks=[EvaluateEvery(x_test, y_test, args.eval_every,
                                               args.max_steps, record, clock)])
            final = results.rows[-1]
            print(f"seed {seed} {method:8s} test accuracy {final['accuracy']:.4f} after "
                  f"{final['step']} steps ({clock.seconds:.1f} s)", flush=True)
    print(common.summarize(results, args.methods, checkpoints=()))
    common.plot_steps(results, args.methods, "HIGGS, hidden 300",
                      lines=[(ADMM_ACCURACY, "ADMM, Taylor et al. 2016 (7,200 cores)")])


if __name__ == "__main__":
    main()
