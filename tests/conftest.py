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
