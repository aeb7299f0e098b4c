"""Epoch time of AM-Adam against Keras Adam on the current backend.

`--net mlp` (default): the 784-500-500-10 ReLU net, batch 200, synthetic
MNIST-shaped data. `--net rnn`: a SimpleRNN(`--hidden`) fed one value per
time step, for each of `--time-steps` (Adam backpropagates through time, AM
fits all steps at once). AM-Adam runs with each of `--code-steps`. Prints
the median epoch time of each (after a warm-up epoch that includes
compilation) and the ratios to Adam: the median over `--rounds` rounds that
alternate the methods, each round's ratio from its own times. A measurement, not a test: run it on an
otherwise idle machine.

    KERAS_BACKEND=jax python benchmarks/step_time.py --epochs 5
    KERAS_BACKEND=jax python benchmarks/step_time.py --net rnn --time-steps 64 784 --code-steps 5 --samples 2048 --batch-size 256
"""

import argparse
import statistics
import time

import keras
import numpy as np

import keras_altmin as ka


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.started)


def mlp(features, hidden):
    return keras.Sequential([
        keras.Input((features,)),
        keras.layers.Dense(500, activation="relu"),
        keras.layers.Dense(500, activation="relu"),
        keras.layers.Dense(10),
    ])


def rnn(time_steps, hidden):
    return keras.Sequential([
        keras.Input((time_steps,)),
        keras.layers.Reshape((time_steps, 1)),
        keras.layers.SimpleRNN(hidden),
        keras.layers.ReLU(),
        keras.layers.Dense(10),
    ])


def median_epoch_seconds(model, x, y, epochs, batch_size):
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=epochs + 1, verbose=0, callbacks=[timer])
    return statistics.median(timer.times[1:])  # the first epoch compiles


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--epochs", type=int, default=5,
                   help="timed epochs per round, after one warm-up")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds over all methods; ratios are the median over rounds")
    p.add_argument("--code-steps", type=int, nargs="+", default=[1, 5])
    p.add_argument("--net", choices=("mlp", "rnn"), default="mlp")
    p.add_argument("--time-steps", type=int, nargs="+", default=[64, 784],
                   help="rnn: sequence lengths to time")
    p.add_argument("--hidden", type=int, default=50, help="rnn: hidden units")
    args = p.parse_args(argv)

    build = {"mlp": mlp, "rnn": rnn}[args.net]
    widths = [784] if args.net == "mlp" else args.time_steps
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    print(f"backend {keras.backend.backend()}, {args.net}, {args.samples} samples, "
          f"batch {args.batch_size}, median of {args.epochs} epochs")
    for width in widths:
        rng = np.random.default_rng(0)
        x = rng.random((args.samples, width), dtype=np.float32)
        y = rng.integers(0, 10, args.samples).astype("int32")
        keras.utils.set_random_seed(0)
        adam = build(width, args.hidden)
        adam.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        models = {"adam": adam}
        for code_steps in args.code_steps:
            keras.utils.set_random_seed(0)
            model = ka.AltMinModel.from_sequential(build(width, args.hidden))
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss,
                          code_steps=code_steps)
            models[f"am-adam code_steps={code_steps}"] = model
        # Rounds alternate the methods, so a slow spell of a shared machine
        # lands on all of them; each round's ratios come from its own times.
        seconds = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                seconds[name].append(median_epoch_seconds(model, x, y, args.epochs,
                                                          args.batch_size))
        label = "" if args.net == "mlp" else f"T={width} "
        baseline = statistics.median(seconds["adam"])
        print(f"{label}adam                     {baseline:8.3f} s/epoch")
        for name in list(models)[1:]:
            ratios = [am / adam for am, adam in zip(seconds[name], seconds["adam"])]
            print(f"{label}{name:24s} {statistics.median(seconds[name]):8.3f} s/epoch   "
                  f"ratio to adam {statistics.median(ratios):5.2f} (rounds: "
                  + " ".join(f"{r:.2f}" for r in ratios) + ")", flush=True)

if __name__ == "__main__":
    main()
