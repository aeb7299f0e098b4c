"""Fully connected nets: AM-Adam beside SGD and Adam (the paper's Figures 2-5).

Every method starts from the same initial weights and sees the same batches,
for each seed. Defaults (digits, 64-100-100-10, batch 200, 50 epochs, 3 seeds)
finish in minutes on a laptop CPU; `--dataset mnist --hidden 500` is the
paper's setting where the data can be fetched.

    python examples/fully_connected.py --out results/fully_connected
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("sgd", "adam", "am-adam")


def build(num_inputs, hidden, num_classes, batch_norm):
    """The reference code's net: hidden Dense without bias, BatchNorm, ReLU."""
    layers = [keras.Input((num_inputs,))]
    for units in hidden:
        if batch_norm:
            layers += [keras.layers.Dense(units, use_bias=False),
                       keras.layers.BatchNormalization(), keras.layers.ReLU()]
        else:
            layers.append(keras.layers.Dense(units, activation="relu"))
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers)


def halving(learning_rate, every_epochs, steps_per_epoch):
    if not every_epochs:
        return learning_rate
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=every_epochs * steps_per_epoch, decay_rate=0.5,
        staircase=True)


def compile_method(method, initial, args, steps_per_epoch):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if method in ("sgd", "adam"):
        model = keras.models.clone_model(initial)
        model.set_weights(initial.get_weights())
        optimizer = (keras.optimizers.SGD(args.sgd_lr, momentum=args.sgd_momentum)
                     if method == "sgd" else keras.optimizers.Adam(args.adam_lr))
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return model
    model = ka.AltMinModel.from_sequential(initial)
    model.compile(
        optimizer=keras.optimizers.Adam(
            halving(args.weight_lr, args.lr_halve_every, steps_per_epoch)),
        loss=loss, metrics=["accuracy"], method=method.removesuffix("-off"),
        code_lr=args.code_lr, code_momentum=args.code_momentum,
        code_steps=args.code_steps, weight_steps=args.weight_steps,
        mu=ka.MuSchedule(initial=args.mu_initial, batch_increment=args.mu_batch_increment,
                         epoch_multiplier=args.mu_epoch_multiplier, maximum=args.mu_max),
    )
    return model


def main():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=50, batch_size=200)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--validation", action="store_true",
                   help="hold out the paper's validation split (MNIST 50,000/10,000)")
    p.add_argument("--sgd-lr", type=float, default=0.05)
    p.add_argument("--sgd-momentum", type=float, default=0.9)
    p.add_argument("--adam-lr", type=float, default=0.008)
    p.add_argument("--weight-lr", type=float, default=0.008)
    p.add_argument("--lr-halve-every", type=int, default=8,
                   help="halve the AM weight lr every N epochs (0: never)")
    p.add_argument("--code-lr", type=float, default=1.0,
                   help="1.0 is the paper's grid value that wins on digits (0.3: reference code)")
    p.add_argument("--code-momentum", type=float, default=0.9)
    p.add_argument("--code-steps", type=int, default=5)
    p.add_argument("--weight-steps", type=int, default=1)
    p.add_argument("--mu-initial", type=float, default=0.003)
    p.add_argument("--mu-batch-increment", type=float, default=0.0)
    p.add_argument("--mu-epoch-multiplier", type=float, default=1.0)
    p.add_argument("--mu-max", type=float, default=0.03)
    args = common.parse(p)

    validation = 10_000 if args.validation and args.dataset != "digits" else None
    data = ka.datasets.load(args.dataset, data_dir=args.data_dir, validation_size=validation)
    steps_per_epoch = -(-len(data.train[0]) // args.batch_size)
    results = common.Results(args.out)
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        initial = build(data.train[0].shape[1], args.hidden, data.num_classes,
                        not args.no_batch_norm)
        for method in args.methods:
            model = compile_method(method, initial, args, steps_per_epoch)
            seconds = common.train(model, data, args, results, method, seed)
            final = [r for r in results.rows if r["method"] == method and r["seed"] == seed
                     and r["split"] == "test"][-1]
            print(f"seed {seed} {method:8s} test accuracy {final['accuracy']:.4f} "
                  f"({seconds:.1f} s)", flush=True)
    title = f"{args.dataset}, hidden {'-'.join(map(str, args.hidden))}"
    print(common.summarize(results, args.methods))
    common.plot(results, args.methods, title)


if __name__ == "__main__":
    main()
