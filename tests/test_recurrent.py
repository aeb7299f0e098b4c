"""Elman RNNs without backpropagation through time (ALGORITHM 8)."""

import keras
import numpy as np
import pytest

import keras_altmin as ka
from keras_altmin import backend, blocks
from conftest import nesterov

B, T, D, H = 5, 4, 2, 3


def tiny_rnn():
    return ka.AltMinModel([keras.Input((T, D)), keras.layers.SimpleRNN(H),
                           keras.layers.ReLU(), keras.layers.Dense(2)])


def numpy_forward(x, w_x, w_h, b):
    codes, h = [], np.zeros((len(x), w_h.shape[0]))
    for t in range(x.shape[1]):
        c = x[:, t] @ w_x + h @ w_h + b
        codes.append(c)
        h = np.tanh(c)
    return np.stack(codes, axis=1)


def predictions(x, codes, w_x, w_h, b):
    previous = np.concatenate([np.zeros_like(codes[:, :1]), np.tanh(codes[:, :-1])], axis=1)
    return x @ w_x + previous @ w_h + b


def data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, T, D)).astype("float32"),
            rng.normal(size=(B, 2)).astype("float32"))


def numpy(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def test_codes_are_batch_by_time_by_units_and_match_keras_forward():
    x, y = data()
    model = tiny_rnn()
    model.compile(optimizer="sgd", loss="mse", code_steps=0)
    model.train_on_batch(x, y)
    codes, output = model.codes
    assert tuple(codes.shape) == (B, T, H) and tuple(output.shape) == (B, H)
    rnn = model.layers[0]
    np.testing.assert_allclose(numpy(codes), numpy_forward(x, *map(np.array, [
        rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias])), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sweep", ["backward", "jacobi"])
def test_weight_step_is_the_sum_of_per_step_local_terms(sweep):
    x, y = data(1)
    model = tiny_rnn()
    before = [np.array(w, dtype="float64") for w in model.layers[0].get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", code_steps=3,
                  code_lr=0.1, code_sweep=sweep)
    model.train_on_batch(x, y)
    codes = numpy(model.codes[0])
    w_x, w_h, b = before
    residual = predictions(x.astype("float64"), codes, w_x, w_h, b) - codes
    assert np.abs(residual).max() > 1e-3  # the codes moved: the check is not vacuous
    per_step = 2.0 / (B * H) * residual  # d/d(prediction) of sum_t mean_t(residual^2)
    previous = np.concatenate([np.zeros_like(codes[:, :1]), np.tanh(codes[:, :-1])], axis=1)
    grads = [np.einsum("btd,bth->dh", x, per_step), np.einsum("btk,bth->kh", previous, per_step),
             per_step.sum(axis=(0, 1))]
    for got, old, grad in zip(model.layers[0].get_weights(), before, grads):
        np.testing.assert_allclose(got, old - 0.1 * grad, rtol=1e-4, atol=1e-6)


def test_backward_sweep_matches_a_step_by_step_numpy_sweep():
    x, y = data(2)
    model = tiny_rnn()
    w_x, w_h, b = (np.array(w, dtype="float64") for w in model.layers[0].get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", code_steps=3,
                  code_lr=0.1, code_momentum=0.9, code_sweep="backward")
    model.train_on_batch(x, y)
    codes, output = (numpy(c) for c in model.codes)
    anchor = numpy_forward(x.astype("float64"), w_x, w_h, b)
    expected = np.empty_like(anchor)

    # Per element: each step's means times B * H (RecurrentPart.code_scale).
    def grad_last(c):
        return 2 * (np.tanh(c) - output) * (1 - np.tanh(c) ** 2) + 2 * (c - anchor[:, -1])

    expected[:, -1] = nesterov(grad_last, anchor[:, -1], 0.1, 0.9, 3)
    for t in reversed(range(T - 1)):
        drive = x[:, t + 1] @ w_x + b

        def grad(c, t=t, drive=drive):
            r = expected[:, t + 1] - drive - np.tanh(c) @ w_h
            return 2 * (c - anchor[:, t]) - 2 * (r @ w_h.T) * (1 - np.tanh(c) ** 2)

        expected[:, t] = nesterov(grad, anchor[:, t], 0.1, 0.9, 3)
    assert np.abs(expected - anchor).max() > 1e-3
    np.testing.assert_allclose(codes, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sweep", ["backward", "jacobi"])
def test_the_output_signal_reaches_earlier_steps_whatever_the_batch_size(sweep):
    # Under plain means, c_{t-1} would move about code_lr * 2 / (B * H) times
    # as far as c_t: 1e-4 here, and the recurrence would learn from c_T alone.
    batch, steps, units = 64, 8, 16
    rng = np.random.default_rng(5)
    x = rng.normal(size=(batch, steps, D)).astype("float32")
    y = rng.normal(size=(batch, 2)).astype("float32")
    model = ka.AltMinModel([keras.Input((steps, D)), keras.layers.SimpleRNN(units),
                            keras.layers.ReLU(), keras.layers.Dense(2)])
    w_x, w_h, b = (np.array(w, dtype="float64") for w in model.layers[0].get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", code_steps=5,
                  code_lr=0.1, code_sweep=sweep)
    model.train_on_batch(x, y)
    moved = numpy(model.codes[0]) - numpy_forward(x.astype("float64"), w_x, w_h, b)
    size = np.sqrt((moved ** 2).mean(axis=(0, 2)))
    assert size[-1] > 1e-3
    assert size[-4] > 1e-2 * size[-1], size


def test_no_gradient_reaches_a_code_from_two_steps_ahead():
    layer = keras.layers.SimpleRNN(H)
    layer.build((None, T, D))
    part = blocks.RecurrentPart(layer)
    values = {id(v): keras.ops.convert_to_tensor(v) for v in layer.variables}
    x, _ = data(3)
    x = keras.ops.convert_to_tensor(x)
    codes = np.random.default_rng(4).normal(size=(B, T, H)).astype("float32")

    anchor = keras.ops.convert_to_tensor(codes)

    def gradient(c):
        def energy(cs):
            return part.code_energy(x, cs[0], values) + part.proximity(cs[0], anchor), ()
        return numpy(backend.value_and_grad(energy)([keras.ops.convert_to_tensor(c)])[1][0])

    base = gradient(codes)
    two_ahead = codes.copy()
    two_ahead[:, 2] += 1.0
    np.testing.assert_allclose(gradient(two_ahead)[:, 0], base[:, 0], atol=1e-7)
    one_ahead = codes.copy()
    one_ahead[:, 1] += 1.0
    assert not np.allclose(gradient(one_ahead)[:, 0], base[:, 0])


@pytest.mark.parametrize("layers,message", [
    ([keras.Input((T, D)), keras.layers.SimpleRNN(H, return_sequences=True),
      keras.layers.Flatten(), keras.layers.Dense(2)], "return_sequences must be False"),
    ([keras.Input((T, D)), keras.layers.SimpleRNN(H, activation="relu"),
      keras.layers.Dense(2)], "activation must be tanh"),
    ([keras.Input((T, D)), keras.layers.Dense(4), keras.layers.SimpleRNN(H),
      keras.layers.Dense(2)], "must be the first linear layer"),
    ([keras.Input((T, D)), keras.layers.SimpleRNN(H)], "needs a Dense classifier"),
])
def test_unsupported_recurrent_stacks_name_the_problem(layers, message):
    with pytest.raises(ValueError, match=message):
        ka.AltMinModel(layers).compile(optimizer="sgd", loss="mse")


def test_rnn_trains_on_digit_sequences(digits):
    from conftest import compile_am, rnn_net

    model = compile_am(ka.AltMinModel(rnn_net(16)), optimizer=keras.optimizers.Adam(0.002),
                       code_lr=0.02, mu=ka.MuSchedule(0.01, batch_increment=0.01, maximum=1.0))
    history = model.fit(*digits.train, batch_size=100, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(np.isfinite(w).all() for w in model.get_weights())
