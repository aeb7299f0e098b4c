"""Sequential MNIST: an Elman RNN trained by AM-Adam beside SGD and Adam with BPTT (the paper's Figure 7).

Images are fed one pixel per time step (784 steps on MNIST, 64 on the
offline default, digits) into a SimpleRNN (tanh), then ReLU and a Dense
classifier on the last step. AM-Adam never backpropagates through time: every
step's pre-activation is a code (ALGORITHM section 8). The paper's settings
(Appendix C): hidden 15 or 50, batch 1024, 10 epochs, 5 subproblem
iterations, weight lr 0.005, mu 0.01 (+0.01 per batch, x1.1 per epoch, at
most 1). Here AM-Adam's weight lr is 0.002 and its code lr 0.02 (per
element for the recurrent codes, see `RecurrentPart.code_scale`), with the
backward sweep: on digits they gave 0.66 against 0.59 at the paper's weight lr
and 0.51 for the Jacobi sweep (3 seeds, 30 epochs). The left plot (the first
minibatches) is the paper's inset.

    python examples/sequential_mnist.py --out results/sequential_digits
    python examples/sequential_mnist.py --dataset mnist --epochs 10 --batch-size 1024 --out results/sequential_mnist
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("sgd", "adam", "am-adam")


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=30, batch_size=100)
    p.add_argument("--hidden", type=int, default=50)
    p.add_argument("--code-sweep", choices=("jacobi", "backward"), default="backward")
    common.add_method_arguments(
        p, sgd_lr=0.01, adam_lr=0.005, weight_lr=0.002, code_lr=0.02, code_steps=5,
        mu_initial=0.01, mu_batch_increment=0.01, mu_epoch_multiplier=1.1, mu_max=1.0)
    return p


def load_data(args, validation_size=None):
    return ka.datasets.load(args.dataset, data_dir=args.data_dir,
                            validation_size=validation_size)


def build_net(data, args, method="am-adam"):
    steps = data.train[0].shape[1]
    return keras.Sequential([
        keras.Input((steps,)),
        keras.layers.Reshape((steps, 1)),  # one pixel per time step
        keras.layers.SimpleRNN(args.hidden),
        keras.layers.ReLU(),
        keras.layers.Dense(data.num_classes),
    ])


def am_options(args, method):
    return dict(code_sweep=args.code_sweep)


def main():
    common.run_example(sys.modules[__name__],
                       lambda args: f"sequential {args.dataset}, SimpleRNN({args.hidden})")


if __name__ == "__main__":
    main()
