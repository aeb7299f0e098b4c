import keras
import numpy as np
import pytest

import keras_altmin as ka


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def digits():
    return ka.datasets.load("digits")


def digits_net(hidden=(32, 32), batch_norm=True, num_inputs=64):
    """The example's net: Dense without bias + BatchNorm + ReLU per hidden layer."""
    layers = [keras.Input((num_inputs,))]
    for units in hidden:
        if batch_norm:
            layers += [
                keras.layers.Dense(units, use_bias=False),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
            ]
        else:
            layers.append(keras.layers.Dense(units, activation="relu"))
    layers.append(keras.layers.Dense(10))
    return layers


def conv_net():
    """Digits (flattened) as 8x8 images through two small conv blocks."""
    return [
        keras.Input((64,)),
        keras.layers.Reshape((8, 8, 1)),
        keras.layers.Conv2D(4, 3, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ]


def binary_net(dropout=0.0):
    """The paper's binary net, small: Sign(tanh) then tanh hidden layers."""
    layers = [keras.Input((64,)), keras.layers.Dense(32)]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers += [keras.layers.Activation("tanh"), ka.layers.Sign(), keras.layers.Dense(32)]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers += [keras.layers.Activation("tanh"), keras.layers.Dense(10)]
    return layers


def mem_net(hidden=(32, 32)):
    """Hidden Dense blocks without bias or BatchNorm, as AM-mem needs."""
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(units, use_bias=False, activation="relu") for units in hidden]
    return layers + [keras.layers.Dense(10)]


def rnn_net(units=8):
    """Digits as 64-step sequences of one pixel through a SimpleRNN."""
    return [keras.Input((64,)), keras.layers.Reshape((64, 1)), keras.layers.SimpleRNN(units),
            keras.layers.ReLU(), keras.layers.Dense(10)]


NETS = {"dense": digits_net, "conv": conv_net, "binary": binary_net, "mem": mem_net,
        "rnn": rnn_net}


def relu(z):
    return np.maximum(z, 0.0)


def nesterov(grad, c0, lr, momentum, steps):
    """ALGORITHM 2.2's code descent, in NumPy."""
    c, v = c0.copy(), np.zeros_like(c0)
    for _ in range(steps):
        g = grad(c)
        v = momentum * v + g
        c = c - lr * (g + momentum * v)
    return c


def compile_am(model, **kwargs):
    settings = dict(
        optimizer=keras.optimizers.Adam(0.008),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    settings.update(kwargs)
    model.compile(**settings)
    return model


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]
