import os

import keras
import numpy as np
import pytest

import keras_altmin as ka
from conftest import NETS, compile_am, digits_net, weights_of

SCHEDULE = ka.MuSchedule(initial=0.01, batch_increment=0.001, epoch_multiplier=1.5, maximum=1.0)


def trained_model(digits, epochs, output_lr=None, net="dense"):
    extra = {} if output_lr is None else {"output_optimizer": keras.optimizers.SGD(output_lr)}
    if net == "mem":
        extra.update(method="am-mem", memory_decay=0.5)
    model = compile_am(ka.AltMinModel(NETS[net]()), mu=SCHEDULE, **extra)
    x, y = digits.train
    model.fit(x[:600], y[:600], batch_size=200, epochs=epochs, verbose=0, shuffle=False)
    return model


def test_mu_advances_per_batch_and_per_epoch(digits):
    model = trained_model(digits, epochs=2)
    mu = 0.01
    for _ in range(2):
        for _ in range(3):
            mu = min(mu + 0.001, 1.0)
        mu = min(mu * 1.5, 1.0)
    assert float(model.mu.numpy()) == pytest.approx(mu, rel=1e-6)


def test_fit_logs_mu_and_local_losses_but_evaluate_does_not(digits):
    model = compile_am(ka.AltMinModel(digits_net()))
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(logs))

    history = model.fit(
        *digits.train, batch_size=200, epochs=2, verbose=0,
        validation_data=digits.test, callbacks=[Record()],
    )
    for key in ("loss", "accuracy", "mu", "local_loss_1", "local_loss_2", "local_loss_3",
                "val_loss", "val_accuracy"):
        assert len(history.history[key]) == 2, key
    assert len(seen) == 2 * int(np.ceil(len(digits.train[0]) / 200))
    assert "local_loss_3" in seen[0]
    result = model.evaluate(*digits.test, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy"}


@pytest.mark.parametrize(
    "output_lr,net",
    [(None, "dense"), (0.05, "dense"), (None, "conv"), (None, "binary"), (None, "mem"),
     (None, "rnn")],
)
def test_save_load_resume_continues_identically(digits, tmp_path, output_lr, net):
    straight = trained_model(digits, epochs=3, output_lr=output_lr, net=net)

    keras.utils.set_random_seed(0)
    first = trained_model(digits, epochs=2, output_lr=output_lr, net=net)
    path = os.path.join(tmp_path, "m.keras")
    first.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, ka.AltMinModel)
    assert restored.settings.get_config() == first.settings.get_config()
    assert float(restored.mu.numpy()) == pytest.approx(float(first.mu.numpy()))
    assert int(restored.optimizer.iterations.numpy()) == 6
    for (a, c), (a_first, c_first) in zip(restored.memory, first.memory):
        np.testing.assert_array_equal(np.array(a), np.array(a_first))
        np.testing.assert_array_equal(np.array(c), np.array(c_first))
    x, y = digits.train
    restored.fit(x[:600], y[:600], batch_size=200, epochs=1, verbose=0, shuffle=False)

    assert float(restored.mu.numpy()) == pytest.approx(float(straight.mu.numpy()), rel=1e-6)
    assert int(restored.optimizer.iterations.numpy()) == int(straight.optimizer.iterations.numpy())
    for a, b in zip(weights_of(restored), weights_of(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weights_interchange_with_sequential(digits):
    sequential = keras.Sequential(digits_net())
    model = ka.AltMinModel(digits_net())
    model.set_weights(sequential.get_weights())
    for a, b in zip(model.get_weights(), sequential.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dataset_input_and_early_stopping(digits):
    import tensorflow as tf

    model = compile_am(ka.AltMinModel(digits_net()))
    dataset = tf.data.Dataset.from_tensor_slices(digits.train).batch(128)
    history = model.fit(
        dataset, epochs=20, verbose=0, validation_data=digits.test,
        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)],
    )
    # the first epoch sets the baseline; the second cannot improve by 10: stop
    assert len(history.history["loss"]) == 2
    assert [tuple(c.shape)[1:] for c in model.codes] == [(32,), (32,)]


@pytest.mark.accuracy
def test_digits_reaches_paper_accuracy(digits):
    """The example's AM-Adam defaults on digits (64-100-100-10 with BatchNorm)."""
    model = compile_am(
        ka.AltMinModel(digits_net(hidden=(100, 100))),
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(
                0.008, decay_steps=8 * 8, decay_rate=0.5, staircase=True)),
    )
    model.fit(*digits.train, batch_size=200, epochs=50, verbose=0)
    accuracy = model.evaluate(*digits.test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy >= 0.96, accuracy
