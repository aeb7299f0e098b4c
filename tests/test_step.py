"""The AM step against a NumPy transcription of ALGORITHM section 2."""

import keras
import numpy as np
import pytest

import keras_altmin as ka
from conftest import compile_am, digits_net, nesterov, relu


def numpy_am_step(x, y, w1, w2, w3, mu, lr_code, momentum, code_steps, lr_weight):
    """x -W1-> c1 -relu-> -W2-> c2 -relu-> -W3-> y_hat, MSE loss, SGD weights."""
    n = len(x)
    c1_0 = x @ w1
    c2_0 = relu(c1_0) @ w2

    def grad_top(c):
        residual = relu(c) @ w3 - y
        fit = (2.0 / residual.size) * (residual @ w3.T) * (c > 0) / mu
        return fit + 2.0 * (c - c2_0) / c.size

    c2 = nesterov(grad_top, c2_0, lr_code, momentum, code_steps)

    def grad_hidden(c):
        residual = relu(c) @ w2 - c2
        fit = (2.0 / residual.size) * (residual @ w2.T) * (c > 0)
        return fit + 2.0 * (c - c1_0) / c.size

    c1 = nesterov(grad_hidden, c1_0, lr_code, momentum, code_steps)
    r1 = x @ w1 - c1
    r2 = relu(c1) @ w2 - c2
    r3 = relu(c2) @ w3 - y
    losses = [np.mean(r1**2), np.mean(r2**2), np.mean(r3**2)]
    new = [
        w1 - lr_weight * x.T @ (2.0 / r1.size * r1),
        w2 - lr_weight * relu(c1).T @ (2.0 / r2.size * r2),
        w3 - lr_weight * relu(c2).T @ (2.0 / r3.size * r3),
    ]
    assert n == len(y)
    return new, [c1, c2], losses


def tiny_model():
    return ka.AltMinModel([
        keras.Input((5,)),
        keras.layers.Dense(4, use_bias=False, activation="relu"),
        keras.layers.Dense(3, use_bias=False),
        keras.layers.ReLU(),
        keras.layers.Dense(2, use_bias=False),
    ])


@pytest.mark.parametrize("code_steps", [0, 1, 3])
def test_one_step_matches_hand_computation(code_steps):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 5)).astype("float32")
    y = rng.normal(size=(6, 2)).astype("float32")
    model = tiny_model()
    w1, w2, w3 = model.get_weights()
    schedule = ka.MuSchedule(initial=0.05, batch_increment=0.01, maximum=1.0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="mse", mu=schedule,
        code_lr=0.5, code_momentum=0.9, code_steps=code_steps,
    )
    logs = model.train_on_batch(x, y, return_dict=True)
    expected, codes, losses = numpy_am_step(
        x.astype("float64"), y.astype("float64"), *(w.astype("float64") for w in (w1, w2, w3)),
        mu=0.05, lr_code=0.5, momentum=0.9, code_steps=code_steps, lr_weight=0.1,
    )
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(model.codes, codes):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-6)
    for index, want in enumerate(losses):
        assert logs[f"local_loss_{index + 1}"] == pytest.approx(want, rel=1e-4, abs=1e-9)
    assert logs["mu"] == pytest.approx(0.06)
    assert float(model.mu.numpy()) == pytest.approx(0.06)
    if code_steps:
        # the codes did move, so the check above is not vacuous
        assert losses[0] > 1e-8 and losses[1] > 1e-8


def test_no_gradient_crosses_a_block():
    """With codes left at their forward values every hidden local loss is zero:
    the hidden weights must not move, however large the output loss is."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = 100.0 * rng.normal(size=(8, 2)).astype("float32")
    model = tiny_model()
    before = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", code_steps=0)
    logs = model.train_on_batch(x, y, return_dict=True)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert not np.allclose(before[2], after[2])
    assert logs["local_loss_1"] == 0.0 and logs["local_loss_2"] == 0.0


def test_last_partial_batch_trains(digits):
    model = compile_am(ka.AltMinModel(digits_net()))
    x, y = digits.train
    model.fit(x[:250], y[:250], batch_size=100, epochs=1, verbose=0, shuffle=False)
    assert [tuple(c.shape) for c in model.codes] == [(50, 32), (50, 32)]
    # the 50-row batch alone moves the weights too
    before = model.get_weights()
    model.fit(x[200:250], y[200:250], batch_size=100, epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_one_schedule_step_per_batch_whatever_the_weight_steps(digits):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5)
    model = compile_am(
        ka.AltMinModel(digits_net()), optimizer=keras.optimizers.Adam(schedule), weight_steps=3
    )
    x, y = digits.train
    model.fit(x[:300], y[:300], batch_size=100, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 3


def test_output_optimizer_drives_only_the_output_block(digits):
    model = compile_am(
        ka.AltMinModel(digits_net()), output_optimizer=keras.optimizers.SGD(0.0)
    )
    output_before = [np.array(w) for w in model.layers[-1].get_weights()]
    hidden_before = np.array(model.layers[0].get_weights()[0])
    model.fit(*digits.train, batch_size=200, epochs=1, verbose=0)
    for a, b in zip(output_before, model.layers[-1].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(hidden_before, model.layers[0].get_weights()[0])
