"""A non-differentiable network: AM-Adam beside backprop with the straight-through estimator.

The paper's binary net (after Lee et al. 2015): 784-500-500-10, the first
hidden activation Sign(tanh(.)) (+1/-1), the second tanh, dropout 0.2 before
each activation. Backprop cannot train through Sign, so its baseline is Adam
with the straight-through estimator (Sign's backward pass is the identity);
AM differentiates through Sign only inside the code step of its own block.
The plot shows the test error against epochs with the 0.2-error line that
difference target propagation (DTP) needed about 200 epochs to reach on
MNIST. Offline default: scikit-learn's digits (64 inputs).

    python examples/binary_net.py --out results/binary_net
    python examples/binary_net.py --dataset mnist --epochs 200 --out results/binary_net_mnist
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("adam", "am-adam")


def build(num_inputs, hidden, num_classes, dropout):
    """Dense, Dropout, Sign(tanh); Dense, Dropout, tanh; Dense."""
    first, second = hidden
    return keras.Sequential([
        keras.Input((num_inputs,)),
        keras.layers.Dense(first),
        keras.layers.Dropout(dropout),
        keras.layers.Activation("tanh"),
        ka.layers.Sign(),
        keras.layers.Dense(second),
        keras.layers.Dropout(dropout),
        keras.layers.Activation("tanh"),
        keras.layers.Dense(num_classes),
    ])


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=20, batch_size=200)
    p.add_argument("--hidden", type=int, nargs=2, default=[500, 500])
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--binary-weight-loss", choices=("mse", "hinge"), default="mse",
                   help="AM: weight loss of the block that feeds the Sign")
    common.add_method_arguments(p, adam_lr=0.001, weight_lr=0.001, code_lr=1.0)
    return p


def load_data(args, validation_size=None):
    return ka.datasets.load(args.dataset, data_dir=args.data_dir,
                            validation_size=validation_size)


def build_net(data, args, method="am-adam"):
    return build(data.train[0].shape[1], args.hidden, data.num_classes, args.dropout)


def am_options(args, method):
    return dict(binary_weight_loss=args.binary_weight_loss)


def main():
    common.run_example(sys.modules[__name__], lambda args: f"binary net, {args.dataset}",
                       error=True, lines=[(0.2, "0.2 error: DTP needed about 200 epochs on MNIST")])


if __name__ == "__main__":
    main()
