"""Convolutional blocks: code shapes and one AM step against NumPy (ALGORITHM 2 and 7)."""

import keras
import numpy as np
import pytest

import keras_altmin as ka
from conftest import compile_am, conv_net, nesterov, relu


def patches(a, kh, kw):
    """im2col for a 'valid' stride-1 convolution: (B, H', W', kh * kw * C)."""
    b, h, w, c = a.shape
    out = np.empty((b, h - kh + 1, w - kw + 1, kh * kw * c))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            out[:, i, j] = a[:, i:i + kh, j:j + kw, :].reshape(b, -1)
    return out


def conv(a, kernel):
    kh, kw, _, out = kernel.shape
    return patches(a, kh, kw) @ kernel.reshape(-1, out)


def conv_adjoint(g, kernel, input_shape):
    """The gradient of sum(conv(a, kernel) * g) with respect to a."""
    kh, kw, c, out = kernel.shape
    per_patch = g @ kernel.reshape(-1, out).T
    grad = np.zeros(input_shape)
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            grad[:, i:i + kh, j:j + kw, :] += per_patch[:, i, j].reshape(-1, kh, kw, c)
    return grad


def kernel_gradient(a, g, kernel_shape):
    """The gradient of sum(conv(a, kernel) * g) with respect to the kernel."""
    kh, kw, _, out = kernel_shape
    p = patches(a, kh, kw)
    return (p.reshape(-1, p.shape[-1]).T @ g.reshape(-1, out)).reshape(kernel_shape)


def numpy_conv_step(x, y, w1, w2, w3, mu, lr_code, momentum, code_steps, lr_weight):
    """x -conv W1-> c1 -relu-> conv W2 -> c2 -relu, flatten-> W3 -> y_hat, MSE, SGD."""
    c1_0 = conv(x, w1)
    c2_0 = conv(relu(c1_0), w2)
    n = len(x)

    def grad_top(c):
        residual = relu(c).reshape(n, -1) @ w3 - y
        fit = (2.0 / residual.size) * (residual @ w3.T).reshape(c.shape) * (c > 0) / mu
        return fit + 2.0 * (c - c2_0) / c.size

    c2 = nesterov(grad_top, c2_0, lr_code, momentum, code_steps)

    def grad_hidden(c):
        residual = conv(relu(c), w2) - c2
        fit = conv_adjoint(2.0 / residual.size * residual, w2, c.shape) * (c > 0)
        return fit + 2.0 * (c - c1_0) / c.size

    c1 = nesterov(grad_hidden, c1_0, lr_code, momentum, code_steps)
    r1 = conv(x, w1) - c1
    r2 = conv(relu(c1), w2) - c2
    a2 = relu(c2).reshape(n, -1)
    r3 = a2 @ w3 - y
    new = [
        w1 - lr_weight * kernel_gradient(x, 2.0 / r1.size * r1, w1.shape),
        w2 - lr_weight * kernel_gradient(relu(c1), 2.0 / r2.size * r2, w2.shape),
        w3 - lr_weight * a2.T @ (2.0 / r3.size * r3),
    ]
    return new, [c1, c2]


def tiny_conv_model():
    return ka.AltMinModel([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(2, 3, use_bias=False, activation="relu"),
        keras.layers.Conv2D(3, 2, use_bias=False),
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(2, use_bias=False),
    ])


@pytest.mark.parametrize("code_steps", [0, 2])
def test_one_conv_step_matches_hand_computation(code_steps):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6, 6, 1)).astype("float32")
    y = rng.normal(size=(4, 2)).astype("float32")
    model = tiny_conv_model()
    initial = [w.astype("float64") for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", mu=0.05,
                  code_lr=0.5, code_momentum=0.9, code_steps=code_steps)
    model.train_on_batch(x, y)
    expected, codes = numpy_conv_step(
        x.astype("float64"), y.astype("float64"), *initial, mu=0.05, lr_code=0.5,
        momentum=0.9, code_steps=code_steps, lr_weight=0.1,
    )
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(model.codes, codes):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-6)
    if code_steps:
        # the hidden conv weights moved, so the comparison above is not vacuous
        assert not np.allclose(expected[0], initial[0])


def test_conv_codes_have_the_layer_output_shape(digits):
    model = compile_am(ka.AltMinModel(conv_net()))
    x, y = digits.train
    model.fit(x[:100], y[:100], batch_size=50, epochs=1, verbose=0)
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [tuple(c.shape) for c in model.codes] == [
        (50,) + tuple(layer.output.shape[1:]) for layer in conv_layers
    ] == [(50, 6, 6, 4), (50, 4, 4, 8)]


def test_no_gradient_crosses_a_conv_block():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 6, 6, 1)).astype("float32")
    y = 100.0 * rng.normal(size=(4, 2)).astype("float32")
    model = tiny_conv_model()
    before = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", code_steps=0)
    model.train_on_batch(x, y)
    after = model.get_weights()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert not np.allclose(before[2], after[2])


def test_conv1d_blocks_train(digits):
    model = compile_am(ka.AltMinModel([
        keras.Input((64,)),
        keras.layers.Reshape((16, 4)),
        keras.layers.Conv1D(8, 3, activation="relu"),
        keras.layers.AveragePooling1D(2),
        keras.layers.Conv1D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ]))
    x, y = digits.train
    history = model.fit(x[:1000], y[:1000], batch_size=100, epochs=10, verbose=0)
    assert [tuple(c.shape) for c in model.codes] == [(100, 14, 8), (100, 5, 8)]
    assert history.history["loss"][-1] < 0.9 * history.history["loss"][0]
