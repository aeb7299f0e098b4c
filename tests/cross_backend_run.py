"""Ten AM steps from fixed weights and batches; writes the weights to an .npz.

Run as `KERAS_BACKEND=... python tests/cross_backend_run.py OUT.npz` by
test_backends.py, once per backend.
"""

import sys

import keras
import numpy as np

import keras_altmin as ka


def ten_steps():
    rng = np.random.default_rng(0)
    data = ka.datasets.load("digits")
    x, y = data.train
    model = ka.AltMinModel([
        keras.Input((64,)),
        keras.layers.Dense(16, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.set_weights(
        [rng.normal(scale=0.3, size=w.shape).astype("float32") if w.ndim == 2 else w
         for w in model.get_weights()]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.008),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        mu=ka.MuSchedule(initial=0.01, batch_increment=0.001),
        code_lr=0.3, code_steps=5,
    )
    for step in range(10):
        batch = slice(50 * step, 50 * (step + 1))
        model.train_on_batch(x[batch], y[batch])
    return model.get_weights()


if __name__ == "__main__":
    np.savez(sys.argv[1], *ten_steps())
