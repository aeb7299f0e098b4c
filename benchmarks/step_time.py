"""Epoch time of AM-Adam against Keras Adam on the current backend.

The 784-500-500-10 ReLU net, batch 200, synthetic MNIST-shaped data; AM-Adam
with code_steps 1 and 5. Prints the median epoch time of each (after a
warm-up epoch that includes compilation) and the ratios to Adam. A
measurement, not a test: run it on an otherwise idle machine.

    KERAS_BACKEND=jax python benchmarks/step_time.py --epochs 5
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


def net():
    return keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(500, activation="relu"),
        keras.layers.Dense(500, activation="relu"),
        keras.layers.Dense(10),
    ])


def median_epoch_seconds(model, x, y, epochs, batch_size):
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=epochs + 1, verbose=0, callbacks=[timer])
    return statistics.median(timer.times[1:])  # the first epoch compiles


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs after one warm-up")
    p.add_argument("--code-steps", type=int, nargs="+", default=[1, 5])
    args = p.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    keras.utils.set_random_seed(0)
    adam = net()
    adam.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    baseline = median_epoch_seconds(adam, x, y, args.epochs, args.batch_size)
    print(f"backend {keras.backend.backend()}, {args.samples} samples, batch {args.batch_size}, "
          f"median of {args.epochs} epochs")
    print(f"adam                     {baseline:8.3f} s/epoch")
    for code_steps in args.code_steps:
        keras.utils.set_random_seed(0)
        model = ka.AltMinModel.from_sequential(net())
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, code_steps=code_steps)
        seconds = median_epoch_seconds(model, x, y, args.epochs, args.batch_size)
        print(f"am-adam code_steps={code_steps}     {seconds:8.3f} s/epoch   "
              f"ratio to adam {seconds / baseline:5.2f}")


if __name__ == "__main__":
    main()
