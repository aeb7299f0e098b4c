"""KerasTuner HyperModels for alternating minimization and its backprop baselines.

The search spaces are the paper's (Choromanska et al. 2019): Appendix B's grid
for the fully connected and convolutional nets (weight lr 2e-2 .. 2e-5, batch
mu increment 1e-2 / 1e-5 / 1e-7, epoch mu multiplier 1 / 1.1, code lr 0.1 / 1),
Appendix C's for RNNs, and Appendix D's Bayesian search over learning rates
for the baselines (and, as `LEARNING_RATE_SPACE`, for AM's weight and code
learning rates). Every hyperparameter is named as the examples' command-line
options (`weight_lr`, `code_lr`, `mu_initial`, `mu_batch_increment`,
`mu_epoch_multiplier`, `mu_max`, `code_steps`, `adam_lr`, `sgd_lr`), so the
best values found drive an example through `--hparams`.

The paper's protocol: train on 5/6 of the training set, select by the *final*
validation accuracy on the other 1/6, several initializations per setting
(KerasTuner's `executions_per_trial`). `fit` here reports the last epoch's
`val_accuracy`, not the best one, for that reason.

Example:

```python
import keras_tuner
import keras_altmin as ka

hypermodel = ka.tuning.AltMinHyperModel(lambda: [
    keras.Input((64,)), keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10)])
tuner = keras_tuner.GridSearch(hypermodel, objective="val_accuracy", max_trials=10,
                               directory="search", project_name="digits")
tuner.search(x_train, y_train, validation_data=(x_val, y_val), batch_size=200, epochs=50)
```
"""

import keras
import keras_tuner

from keras_altmin.model import AltMinModel
from keras_altmin.schedules import MuSchedule

# name -> ("choice", values) | ("log", min, max) | ("int", min, max)
PAPER_GRID = {
    "weight_lr": ("choice", [2e-2, 2e-3, 2e-4, 2e-5]),
    "code_lr": ("choice", [0.1, 1.0]),
    "mu_batch_increment": ("choice", [1e-2, 1e-5, 1e-7]),
    "mu_epoch_multiplier": ("choice", [1.0, 1.1]),
}
RNN_GRID = {
    "weight_lr": ("choice", [5e-3, 1e-3, 1e-4]),
    "mu_initial": ("choice", [0.01]),
    "mu_max": ("choice", [1.0, 10.0]),
    "mu_batch_increment": ("choice", [1e-2, 1e-4]),
    "mu_epoch_multiplier": ("choice", [1.0, 1.1]),
}
# Appendix D's Bayesian search over learning rates, for AM: log-uniform
# weight and code learning rates, every other knob at its default.
LEARNING_RATE_SPACE = {
    "weight_lr": ("log", 1e-4, 5e-2),
    "code_lr": ("log", 0.03, 3.0),
}
BASELINE_SPACE = {
    "adam_lr": ("log", 1e-5, 1e-1),
    "sgd_lr": ("log", 1e-4, 1.0),
}

AM_DEFAULTS = dict(
    weight_lr=0.008, code_lr=0.3, code_steps=5, mu_initial=0.003,
    mu_batch_increment=0.0, mu_epoch_multiplier=1.0, mu_max=0.03,
)


def hyperparameter(hp, name, spec):
    """Declares `name` on `hp` from a space entry and returns its value."""
    kind = spec[0]
    if kind == "choice":
        return hp.Choice(name, list(spec[1]), ordered=True)
    if kind == "log":
        return hp.Float(name, spec[1], spec[2], sampling="log")
    if kind == "int":
        return hp.Int(name, spec[1], spec[2])
    raise ValueError(f"tuning: unknown kind {kind!r} for {name!r}; use choice, log or int.")


def _values(hp, space, defaults):
    values = dict(defaults)
    for name, spec in space.items():
        values[name] = hyperparameter(hp, name, spec)
    return values


def _new_model(layers, from_sequential, from_layers):
    made = layers()
    if isinstance(made, keras.Sequential):
        return from_sequential(made)
    return from_layers(made)


def _final_logs(fit_function, model, *args, **kwargs):
    if fit_function is not None:
        logs = fit_function(model, *args, **kwargs)
    else:
        history = model.fit(*args, **kwargs)
        logs = {name: values[-1] for name, values in history.history.items()}
    if "val_accuracy" not in logs:
        raise ValueError(
            "tuning: the protocol selects by final validation accuracy; pass "
            "validation_data and compile with metrics=['accuracy']."
        )
    return logs


class AltMinHyperModel(keras_tuner.HyperModel):
    """Builds and compiles an `AltMinModel` from named hyperparameters.

    Args:
        layers: a function returning the layer list, or a `keras.Sequential`
            whose twin is trained (a new one per call).
        space: the searched hyperparameters (default `PAPER_GRID`); names not
            in it take `defaults`.
        defaults: fixed values of the other AM hyperparameters (default
            `AM_DEFAULTS`, the reference code's).
        method: "am-adam" or "am-mem".
        loss: the compiled loss (default sparse categorical cross-entropy on
            logits).
        compile_options: further `compile` arguments (e.g. `bcd_sweeps`).
        weight_lr_schedule: optional function from `weight_lr` to the
            optimizer's learning rate (a number or a Keras schedule).
        fit_function: optional `fit_function(model, *args, **kwargs)`
            returning the trial's final logs (with `val_accuracy`), for
            experiments that are not one `model.fit` (a task sequence).
            Default: `model.fit` and its last epoch's logs.
    """

    def __init__(self, layers, space=None, defaults=None, method="am-adam", loss=None,
                 compile_options=None, weight_lr_schedule=None, fit_function=None,
                 name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.fit_function = fit_function
        self.layers = layers
        self.space = dict(PAPER_GRID if space is None else space)
        self.defaults = dict(AM_DEFAULTS, **(defaults or {}))
        self.method = method
        self.loss = loss
        self.compile_options = dict(compile_options or {})
        self.weight_lr_schedule = weight_lr_schedule

    def build(self, hp):
        values = _values(hp, self.space, self.defaults)
        learning_rate = values["weight_lr"]
        if self.weight_lr_schedule is not None:
            learning_rate = self.weight_lr_schedule(learning_rate)
        model = _new_model(self.layers, AltMinModel.from_sequential, AltMinModel)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=self.loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            method=self.method,
            code_lr=values["code_lr"],
            code_steps=int(values["code_steps"]),
            mu=MuSchedule(
                initial=values["mu_initial"],
                batch_increment=values["mu_batch_increment"],
                epoch_multiplier=values["mu_epoch_multiplier"],
                maximum=max(values["mu_max"], values["mu_initial"]),
            ),
            **self.compile_options,
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        return _final_logs(self.fit_function, model, *args, **kwargs)


class BackpropHyperModel(keras_tuner.HyperModel):
    """The baselines: the same layers trained by backprop with SGD or Adam.

    Args:
        layers: a function returning the layer list or a `keras.Sequential`.
        optimizer: "adam" or "sgd"; its learning rate (`adam_lr`/`sgd_lr`)
            is searched on a log scale (the paper's Appendix D).
        momentum: SGD's momentum.
        loss: as in `AltMinHyperModel`.
        fit_function: as in `AltMinHyperModel`.
    """

    def __init__(self, layers, optimizer="adam", momentum=0.9, loss=None, fit_function=None,
                 name=None, tunable=True):
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"tuning: optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
        super().__init__(name=name, tunable=tunable)
        self.layers = layers
        self.optimizer = optimizer
        self.momentum = momentum
        self.loss = loss
        self.fit_function = fit_function

    def build(self, hp):
        name = f"{self.optimizer}_lr"
        learning_rate = hyperparameter(hp, name, BASELINE_SPACE[name])
        if self.optimizer == "adam":
            optimizer = keras.optimizers.Adam(learning_rate)
        else:
            optimizer = keras.optimizers.SGD(learning_rate, momentum=self.momentum)
        model = _new_model(self.layers, lambda seq: seq, keras.Sequential)
        model.compile(
            optimizer=optimizer,
            loss=self.loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        return _final_logs(self.fit_function, model, *args, **kwargs)
