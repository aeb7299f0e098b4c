"""The penalty schedule of online alternating minimization."""

import keras


@keras.saving.register_keras_serializable(package="keras_altmin")
class MuSchedule:
    """How the penalty mu grows during training (ALGORITHM section 4).

    mu weighs the coupling between codes and layer outputs against the loss:
    the top code minimizes `loss / mu + ||c - c0||^2`, so a small mu lets the
    codes chase the loss and a large one keeps them near the forward pass.

        start of training:      mu = initial
        after every minibatch:  mu = min(mu + batch_increment, maximum)
        after every epoch:      mu = min(mu * epoch_multiplier, maximum)

    The value itself lives in the model (`AltMinModel.mu`, a non-trainable
    variable), so it is saved, restored and carried across `fit` calls; this
    object only holds the rule.

    Args:
        initial: mu at the start of training (> 0).
        batch_increment: added after each training batch (>= 0).
        epoch_multiplier: multiplies mu after each epoch (>= 1 keeps mu
            non-decreasing; any value > 0 is accepted).
        maximum: upper bound on mu (>= initial). Defaults to `10 * initial`,
            the reference code's choice.

    Example:

    >>> schedule = MuSchedule(initial=0.01, batch_increment=1e-5,
    ...                       epoch_multiplier=1.1, maximum=1.5)
    >>> round(schedule.after_batch(0.01), 6)
    0.01001
    >>> schedule.after_epoch(1.4)
    1.5
    """

    def __init__(
        self,
        initial=0.003,
        batch_increment=0.0,
        epoch_multiplier=1.0,
        maximum=None,
    ):
        maximum = 10.0 * initial if maximum is None else maximum
        _require(initial > 0, f"initial must be > 0, got {initial}")
        _require(
            batch_increment >= 0,
            f"batch_increment must be >= 0, got {batch_increment}",
        )
        _require(
            epoch_multiplier > 0,
            f"epoch_multiplier must be > 0, got {epoch_multiplier}",
        )
        _require(
            maximum >= initial,
            f"maximum ({maximum}) must be >= initial ({initial})",
        )
        self.initial = float(initial)
        self.batch_increment = float(batch_increment)
        self.epoch_multiplier = float(epoch_multiplier)
        self.maximum = float(maximum)

    def after_batch(self, mu):
        """mu after one more training batch (a tensor or a float)."""
        return _capped(mu + self.batch_increment, self.maximum)

    def after_epoch(self, mu):
        """mu after one more epoch (a tensor or a float)."""
        return _capped(mu * self.epoch_multiplier, self.maximum)

    def get_config(self):
        return {
            "initial": self.initial,
            "batch_increment": self.batch_increment,
            "epoch_multiplier": self.epoch_multiplier,
            "maximum": self.maximum,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"MuSchedule({args})"

    def __eq__(self, other):
        return (
            isinstance(other, MuSchedule)
            and self.get_config() == other.get_config()
        )


def _capped(value, maximum):
    if isinstance(value, (int, float)):
        return min(value, maximum)
    return keras.ops.minimum(value, maximum)


def _require(condition, message):
    if not condition:
        raise ValueError(f"MuSchedule: {message}.")
