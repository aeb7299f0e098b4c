"""Sign and Step: binary forward values, straight-through gradients, hinge loss."""

import keras
import numpy as np
import pytest

import keras_altmin as ka
from keras_altmin import backend
from conftest import binary_net, compile_am

X = np.array([[-2.0, -1e-7, 0.0, 1e-7, 0.3, 3.7]], dtype="float32")


@pytest.mark.parametrize("layer,expected", [
    (ka.layers.Sign, [-1, -1, 1, 1, 1, 1]),
    (ka.layers.Step, [0, 0, 1, 1, 1, 1]),
])
def test_binary_forward_values_and_straight_through_gradient(layer, expected):
    instance = layer()
    out = keras.ops.convert_to_numpy(instance(X))
    np.testing.assert_array_equal(out, [expected])
    upstream = np.arange(1.0, 7.0, dtype="float32")[None]

    def weighted_sum(xs):
        return keras.ops.sum(instance(xs[0]) * keras.ops.convert_to_tensor(upstream)), ()

    _, (grad,) = backend.value_and_grad(weighted_sum)([keras.ops.convert_to_tensor(X)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(grad), upstream)


def test_sign_serializes_and_is_the_ste_baseline_in_plain_keras(digits):
    model = keras.Sequential(binary_net())
    restored = keras.Sequential.from_config(model.get_config())
    assert isinstance(restored.layers[2], ka.layers.Sign)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = np.array(model.layers[0].kernel)
    model.fit(*digits.train, batch_size=200, epochs=1, verbose=0)
    # the kernel below the Sign learns: a straight-through gradient reached it
    assert not np.allclose(first, model.layers[0].kernel)


def test_hinge_weight_loss_fits_only_the_sign_of_binary_codes():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 64)).astype("float32")
    y = rng.integers(0, 10, size=8)
    model = compile_am(ka.AltMinModel(binary_net()), binary_weight_loss="hinge",
                       optimizer=keras.optimizers.SGD(0.0))
    logs = model.train_on_batch(x, y, return_dict=True)
    kernel, bias = (np.array(w) for w in model.layers[0].get_weights())
    prediction = x @ kernel + bias
    code = keras.ops.convert_to_numpy(model.codes[0])
    hinge = np.mean(np.maximum(0.0, -prediction * np.where(code >= 0, 1.0, -1.0)))
    mse = np.mean((prediction - code) ** 2)
    assert logs["local_loss_1"] == pytest.approx(hinge, rel=1e-4, abs=1e-7)
    assert logs["local_loss_1"] != pytest.approx(mse, rel=1e-2)
    # the second hidden block (tanh, no Sign) keeps the squared error
    second = model.layers[3]
    a = np.where(np.tanh(code) >= 0, 1.0, -1.0)
    prediction_2 = a @ np.array(second.kernel) + np.array(second.bias)
    mse_2 = np.mean((prediction_2 - keras.ops.convert_to_numpy(model.codes[1])) ** 2)
    assert logs["local_loss_2"] == pytest.approx(mse_2, rel=1e-4)


def test_hinge_needs_a_binary_block(digits):
    from conftest import digits_net

    with pytest.raises(ValueError, match="binary_weight_loss='hinge'.*Sign or Step"):
        compile_am(ka.AltMinModel(digits_net()), binary_weight_loss="hinge")
    with pytest.raises(ValueError, match="binary_weight_loss must be one of"):
        compile_am(ka.AltMinModel(binary_net()), binary_weight_loss="l2")


def test_binary_net_trains_with_am(digits):
    model = compile_am(ka.AltMinModel(binary_net(dropout=0.2)), code_lr=1.0)
    history = model.fit(*digits.train, batch_size=200, epochs=4, verbose=0)
    assert history.history["accuracy"][-1] > 0.6
    assert all(np.isfinite(w).all() for w in model.get_weights())
