"""AM-mem (ALGORITHM 3): memory accumulation, BCD sweeps, offline variants."""

import keras
import numpy as np
import pytest

import keras_altmin as ka
from keras_altmin import memory
from conftest import compile_am, digits_net, mem_net, relu


def tensor(x):
    return keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))


def numpy(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def least_squares(seed=0, rows=80, n_in=12, n_out=5):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rows, n_in))
    c = rng.normal(size=(rows, n_out))
    kernel = rng.normal(size=(n_in, n_out))
    return a.T @ a, a.T @ c, kernel


def surrogate(kernel, a, c):
    """Tr(K^T A K) / 2 - Tr(K^T C), the spec's Tr(W^T W A) / 2 - Tr(W^T B)."""
    return 0.5 * np.trace(kernel.T @ a @ kernel) - np.trace(kernel.T @ c)


def spec_sweep(kernel, a, c, l1=0.0):
    """ALGORITHM 3's column loop (on W; rows of K), with the package's damping."""
    damping = memory.EPSILON + memory.RELATIVE_DAMPING * np.mean(np.diag(a))
    w = kernel.T.copy()
    for j in range(w.shape[1]):
        w[:, j] = w[:, j] + (c.T[:, j] - w @ a[:, j]) / (a[j, j] + damping)
        if l1:
            w[:, j] = np.sign(w[:, j]) * np.maximum(np.abs(w[:, j]) - l1, 0.0)
    return w.T


@pytest.mark.parametrize("l1", [0.0, 0.05])
def test_sweep_is_the_column_by_column_update(l1):
    a, c, kernel = least_squares()
    got = numpy(memory.bcd_sweep(tensor(kernel), tensor(a), tensor(c), l1))
    np.testing.assert_allclose(got, spec_sweep(kernel, a, c, l1), rtol=1e-4, atol=1e-4)


def test_one_sweep_lowers_the_surrogate_and_sweeps_converge_to_the_solution():
    a, c, kernel = least_squares()
    once = numpy(memory.bcd_sweep(tensor(kernel), tensor(a), tensor(c)))
    assert surrogate(once, a, c) < surrogate(kernel, a, c) - 1.0
    solved, sweeps = memory.bcd(tensor(kernel), tensor(a), tensor(c), max_sweeps=500,
                                tolerance=1e-6)
    np.testing.assert_allclose(numpy(solved), np.linalg.solve(a, c), rtol=1e-3, atol=1e-4)
    assert 1 < int(keras.ops.convert_to_numpy(sweeps)) < 500


def test_sweeps_stop_once_nothing_moves():
    a, c, _ = least_squares()
    exact = np.linalg.solve(a, c)
    _, sweeps = memory.bcd(tensor(exact), tensor(a), tensor(c), max_sweeps=20)
    assert int(keras.ops.convert_to_numpy(sweeps)) == 1


@pytest.mark.parametrize("decay", [None, 0.3])
def test_memory_accumulates_co_activations_and_the_kernel_is_swept(digits, decay):
    model = compile_am(ka.AltMinModel(mem_net()), method="am-mem", memory_decay=decay,
                       bcd_sweeps=1)
    x, y = digits.train
    expected = [[np.zeros((64, 64)), np.zeros((64, 32))],
                [np.zeros((32, 32)), np.zeros((32, 32))]]
    for batch in range(3):
        rows = slice(100 * batch, 100 * (batch + 1))
        before = numpy(model.layers[1].kernel)
        model.train_on_batch(x[rows], y[rows])
        c1, c2 = (numpy(code) for code in model.codes)
        for (a_sum, c_sum), inputs, code in zip(expected, (x[rows], relu(c1)), (c1, c2)):
            for total, update in ((a_sum, inputs.T @ inputs), (c_sum, inputs.T @ code)):
                if decay is None:
                    total += update
                else:
                    total *= 1 - decay
                    total += decay * update
        for (a_var, c_var), (a_sum, c_sum) in zip(model.memory, expected):
            np.testing.assert_allclose(numpy(a_var), a_sum, rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(numpy(c_var), c_sum, rtol=1e-4, atol=1e-3)
        a_sum, c_sum = expected[1]
        np.testing.assert_allclose(numpy(model.layers[1].kernel),
                                   spec_sweep(before, a_sum, c_sum), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("method", ["am-adam", "am-mem"])
def test_offline_variant_is_one_full_batch_per_epoch(digits, method):
    layers = mem_net() if method == "am-mem" else digits_net()
    model = compile_am(ka.AltMinModel(layers), method=method, code_lr=1.0)
    x, y = digits.train
    history = model.fit(x, y, batch_size=len(x), epochs=5, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 5
    assert [tuple(c.shape) for c in model.codes] == [(len(x), 32), (len(x), 32)]
    assert history.history["accuracy"][-1] > 0.3  # chance is 0.1


@pytest.mark.parametrize("layers,message", [
    (digits_net(), r"hidden block 1 \(layer 'dense.*'\) is followed by BatchNormalization"),
    ([keras.Input((64,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(10)],
     "has a bias"),
    ([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, use_bias=False),
      keras.layers.Flatten(), keras.layers.Dense(10)], "is a Conv2D"),
])
def test_am_mem_names_the_block_it_cannot_solve(layers, message):
    with pytest.raises(ValueError, match=message):
        compile_am(ka.AltMinModel(layers), method="am-mem")


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(memory_decay=0.5), ValueError, "memory_decay applies to method='am-mem' only"),
    (dict(method="am-mem", memory_decay=1.5), ValueError, r"memory_decay must be in \(0, 1\]"),
    (dict(method="am-mem", bcd_sweeps=0), ValueError, "bcd_sweeps must be >= 1"),
    (dict(method="am-mem", bcd_sweeps=2.5), TypeError, "bcd_sweeps must be an integer"),
])
def test_memory_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        compile_am(ka.AltMinModel(mem_net()), **kwargs)
