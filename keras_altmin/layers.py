"""Non-differentiable activations with a straight-through gradient.

Their forward values are binary, so backprop through them has a zero
gradient almost everywhere; the straight-through estimator (STE) treats them
as the identity in the backward pass. Plain Keras backprop on a model with
these layers is therefore the STE baseline of the paper's binary network,
while `AltMinModel` only ever differentiates through them locally, in the
code step of the block they sit in (ALGORITHM section 6).
"""

import keras
from keras import ops

def straight_through(x, forward_value):
    """`forward_value` in the forward pass, the identity in the backward pass.

        y = stop_gradient(v) + (x - stop_gradient(x)),   dy/dx = 1

    `x - stop_gradient(x)` is exactly zero, so `y` equals `forward_value`
    bit for bit.
    """
    return ops.stop_gradient(forward_value) + (x - ops.stop_gradient(x))


@keras.saving.register_keras_serializable(package="keras_altmin")
class Sign(keras.layers.Layer):
    """+1 where `x >= 0`, -1 elsewhere, with a straight-through gradient.

    Example:

    ```python
    layer = keras_altmin.layers.Sign()
    layer(np.array([-2.0, 0.0, 0.5]))   # [-1., 1., 1.]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        ones = ops.ones_like(inputs)
        return straight_through(inputs, ops.where(inputs >= 0, ones, -ones))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_altmin")
class Step(keras.layers.Layer):
    """1 where `x >= 0`, 0 elsewhere (the Heaviside step), with a straight-through gradient.

    Example:

    ```python
    layer = keras_altmin.layers.Step()
    layer(np.array([-2.0, 0.0, 0.5]))   # [0., 1., 1.]
    ```
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return straight_through(
            inputs, ops.cast(inputs >= 0, self.compute_dtype)
        )

    def compute_output_shape(self, input_shape):
        return input_shape


BINARY_LAYERS = (Sign, Step)
