"""The only backend-specific code of keras-altmin.

Two things differ between JAX, TensorFlow and PyTorch; everything else is
written once in `keras.ops`:

- `value_and_grad(fn)`: for `fn(xs) -> (value, aux)` over a list of tensors,
  a function returning `((value, aux), grads)` with one gradient per tensor.
  Only `xs` are differentiated: tensors `fn` closes over are constants.
- `run_train_step(model, step, *args)`: runs the stateful training step
  `step(data)` in the calling convention of the backend's trainer (JAX calls
  `train_step(state, data)` and expects the new state back).
"""

import keras

_BACKEND = keras.backend.backend()

if _BACKEND == "jax":
    from keras_altmin.backend.jax import run_train_step, value_and_grad
elif _BACKEND == "tensorflow":
    from keras_altmin.backend.tensorflow import run_train_step, value_and_grad
elif _BACKEND == "torch":
    from keras_altmin.backend.torch import run_train_step, value_and_grad
else:
    raise ImportError(
        f"keras-altmin supports the jax, tensorflow and torch backends; "
        f"KERAS_BACKEND is '{_BACKEND}'."
    )

__all__ = ["run_train_step", "value_and_grad"]
