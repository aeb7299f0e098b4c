"""LeNet-5: AM-Adam beside SGD and Adam (the paper's Figure 9).

Conv(6, 5x5) ReLU MaxPool(2), Conv(16, 5x5) ReLU MaxPool(2), Flatten,
Dense 120 ReLU, Dense 84 ReLU, Dense 10. The paper's settings: batch 128,
10 epochs on 5/6 of the training set, one code and one weight iteration,
code lr 1.0, weight lr 0.002, mu 0.01 to 1.5 (epoch multiplier 1.1, batch
increment 1e-7 on MNIST, 1e-5 on Fashion-MNIST); SGD lr 0.02 decayed by 0.9
each epoch, Adam lr 0.002. Offline default: scikit-learn's digits resized to
28x28, with batch 16 (1,198 training images: batch 128 would leave AM-Adam
under a hundred steps in 10 epochs).

    python examples/lenet.py --out results/lenet
    python examples/lenet.py --dataset fashion_mnist --mu-batch-increment 1e-5 --out results/lenet_fashion
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("sgd", "adam", "am-adam")


def build(image_shape, num_classes):
    """LeNet-5 as in the paper (ALGORITHM section 7)."""
    return keras.Sequential([
        keras.Input(image_shape),
        keras.layers.Conv2D(6, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(num_classes),
    ])


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=10, batch_size=None)
    common.add_method_arguments(
        p, sgd_lr=0.02, sgd_momentum=0.0, sgd_decay=0.9, adam_lr=0.002, weight_lr=0.002,
        code_lr=1.0, code_steps=1, weight_steps=1, mu_initial=0.01, mu_batch_increment=1e-7,
        mu_epoch_multiplier=1.1, mu_max=1.5,
    )
    return p


def load_data(args, validation_size=1 / 6):
    """The paper trains on 5/6 of the training set (the rest selects hyperparameters)."""
    args.batch_size = args.batch_size or (16 if args.dataset == "digits" else 128)
    return ka.datasets.load(args.dataset, flatten=False, data_dir=args.data_dir,
                            validation_size=validation_size,
                            image_size=(28, 28) if args.dataset == "digits" else None)


def build_net(data, args, method="am-adam"):
    return build(data.image_shape, data.num_classes)


def main():
    common.run_example(sys.modules[__name__], lambda args: f"LeNet-5, {args.dataset}")


if __name__ == "__main__":
    main()
