"""Fully connected nets: AM-Adam and AM-mem beside SGD and Adam (the paper's Figures 2-5).

Every method starts from the same initial weights and sees the same batches,
for each seed. AM-mem fits plain Dense blocks, so it trains the same net
without its BatchNormalization layers (same initial kernels). The offline
variants (am-adam-off, am-mem-off) take the whole training set as one batch:
one AM step per epoch, with codes for every training sample in memory.
Defaults (digits, 64-100-100-10, batch 200, 50 epochs, 3 seeds) finish in
minutes on a laptop CPU; the paper's settings where the data can be fetched:

    python examples/fully_connected.py --out results/fully_connected
    python examples/fully_connected.py --dataset mnist --hidden 500 --validation --out results/mnist_500
    python examples/fully_connected.py --dataset cifar10 --hidden 100 --validation --out results/cifar10_100
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("sgd", "adam", "am-adam", "am-mem", "am-adam-off", "am-mem-off")


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


def without_batch_norm(model):
    """The same stack minus its BatchNormalization layers, with the same weights."""
    kept = [layer for layer in model.layers
            if not isinstance(layer, keras.layers.BatchNormalization)]
    twin = keras.Sequential([keras.Input(model.input_shape[1:])]
                            + [layer.__class__.from_config(layer.get_config()) for layer in kept])
    for source, target in zip(kept, twin.layers):
        target.set_weights(source.get_weights())
    return twin


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=50, batch_size=200)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--validation", action="store_true",
                   help="hold out the paper's validation split (MNIST 50,000/10,000)")
    p.add_argument("--bcd-sweeps", type=int, default=5, help="AM-mem: BCD sweeps per batch")
    p.add_argument("--memory-decay", type=float, default=None,
                   help="AM-mem: exponential memory decay in (0, 1] (default: plain sum)")
    # code lr (unless --code-lr): AM-Adam 2.0, ahead of Adam after 8 minibatches on every
    # backend (10 seeds) where 1.0 (the paper's grid) was level and 0.3 (the reference
    # code) behind; AM-mem 1.0, as at 2.0 its exact kernel solves diverged on a seed. README
    common.add_method_arguments(p, weight_lr=0.008, lr_halve_every=8, code_lr=None)
    return p


CODE_LR = {"am-adam": 2.0, "am-mem": 1.0}


def load_data(args, validation_size=None):
    if validation_size is None and args.validation and args.dataset != "digits":
        validation_size = 10_000
    return ka.datasets.load(args.dataset, data_dir=args.data_dir,
                            validation_size=validation_size)


def build_net(data, args, method="am-adam"):
    """The initial net of `method` (AM-mem: without its BatchNormalization)."""
    net = build(data.train[0].shape[1], args.hidden, data.num_classes, not args.no_batch_norm)
    return variant(method, net)


def am_options(args, method):
    base = method.removesuffix("-off")
    options = {} if args.code_lr is not None else dict(code_lr=CODE_LR[base])
    if base == "am-mem":
        options.update(bcd_sweeps=args.bcd_sweeps, memory_decay=args.memory_decay)
    return options


def variant(method, initial):
    """AM-mem trains the seed's initial net minus its BatchNorm (the same kernels)."""
    return without_batch_norm(initial) if method.startswith("am-mem") else initial


def main():
    common.run_example(sys.modules[__name__],
                       lambda args: f"{args.dataset}, hidden {'-'.join(map(str, args.hidden))}")


if __name__ == "__main__":
    main()
