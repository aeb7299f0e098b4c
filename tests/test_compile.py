import keras
import numpy as np
import pytest

import keras_altmin as ka
from conftest import compile_am, digits_net


@pytest.fixture
def model():
    return ka.AltMinModel(digits_net())


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(method="backprop"), ValueError, "method must be one of"),
        (dict(code_lr=0.0), ValueError, "code_lr must be > 0"),
        (dict(code_momentum=1.0), ValueError, r"code_momentum must be in \[0, 1\)"),
        (dict(code_steps=-1), ValueError, "code_steps must be >= 0"),
        (dict(code_steps=1.5), TypeError, "code_steps must be an integer"),
        (dict(weight_steps=0), ValueError, "weight_steps must be >= 1"),
        (dict(mu=0.0), ValueError, "mu must be > 0"),
        (dict(mu="big"), TypeError, "mu must be a keras_altmin.MuSchedule"),
        (dict(code_l1=-1.0), ValueError, "code_l1 must be >= 0"),
        (dict(weight_l1=-0.1), ValueError, "weight_l1 must be >= 0"),
        (dict(loss=None), ValueError, "needs a `loss`"),
    ],
)
def test_bad_arguments_raise_clear_errors(model, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        compile_am(model, **kwargs)


def test_mu_schedule_validation():
    with pytest.raises(ValueError, match="initial must be > 0"):
        ka.MuSchedule(initial=0)
    with pytest.raises(ValueError, match="maximum .* must be >= initial"):
        ka.MuSchedule(initial=1.0, maximum=0.5)
    with pytest.raises(ValueError, match="batch_increment must be >= 0"):
        ka.MuSchedule(batch_increment=-1)


def test_mu_schedule_rules_and_config():
    schedule = ka.MuSchedule(initial=0.01, batch_increment=0.1, epoch_multiplier=2.0, maximum=0.5)
    assert schedule.after_batch(0.01) == pytest.approx(0.11)
    assert schedule.after_batch(0.45) == pytest.approx(0.5)
    assert schedule.after_epoch(0.2) == pytest.approx(0.4)
    assert schedule.after_epoch(0.3) == pytest.approx(0.5)
    assert ka.MuSchedule.from_config(schedule.get_config()) == schedule
    assert ka.MuSchedule(initial=0.003).maximum == pytest.approx(0.03)


def test_compile_resets_mu_and_number_means_constant(model):
    compile_am(model, mu=0.5)
    assert float(model.mu.numpy()) == pytest.approx(0.5)
    assert model.settings.mu.batch_increment == 0 and model.settings.mu.maximum == 0.5


def test_targets_are_required(model, digits):
    compile_am(model)
    with pytest.raises(ValueError, match="needs targets"):
        model.fit(digits.train[0][:20], batch_size=10, epochs=1, verbose=0)


def test_call_predict_evaluate_match_sequential(digits):
    sequential = keras.Sequential(digits_net())
    sequential.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    twin = ka.AltMinModel.from_sequential(sequential)
    compile_am(twin)
    x, y = digits.test
    np.testing.assert_allclose(twin.predict(x, verbose=0), sequential.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert twin.evaluate(x, y, verbose=0) == pytest.approx(sequential.evaluate(x, y, verbose=0), rel=1e-5)
    # a twin, not an alias: training it leaves the original alone
    before = [np.array(w) for w in sequential.get_weights()]
    twin.fit(*digits.train, batch_size=100, epochs=1, verbose=0)
    for a, b in zip(before, sequential.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_from_sequential_rejects_other_models():
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(TypeError, match="expects a keras.Sequential"):
        ka.AltMinModel.from_sequential(functional)
