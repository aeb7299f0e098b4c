"""Cutting a stack of layers into the blocks of alternating minimization.

ALGORITHM section 1: walking the stack from input to output, every *linear
part* (a Dense, Conv1D or Conv2D layer, with a BatchNormalization right after
it) ends a block;
everything between two linear parts is a *nonlinear part*. A Dense layer built
with an `activation` is split: its linear map belongs to the linear part and
its activation opens the next nonlinear part.

    x --g_0--> a_0 --f_1--> c_1 --g_1--> a_1 --f_2--> c_2 ... --g_L--> a_L --h--> y_hat

`g_0` holds layers before the first linear part (Flatten, Reshape, ...),
`c_l` are the codes, and `h` (the output block) is the last linear part with
everything after it, called as the user wrote it.

New kinds of linear layer join by adding their class to `LINEAR_LAYERS`; new
parameter-free nonlinearities join `NONLINEAR_LAYERS`.
"""

import dataclasses

import keras

from keras_altmin.layers import BINARY_LAYERS

LINEAR_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)
NORMALIZATION_LAYERS = (keras.layers.BatchNormalization,)
NONLINEAR_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    keras.layers.Dropout,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
) + BINARY_LAYERS


def linear_layer_names():
    return ", ".join(cls.__name__ for cls in LINEAR_LAYERS)


def supported_layers_message():
    names = [cls.__name__ for cls in LINEAR_LAYERS + NORMALIZATION_LAYERS]
    names += [cls.__name__ for cls in NONLINEAR_LAYERS]
    return (
        "AltMinModel supports a plain stack of: "
        + ", ".join(names)
        + " (BatchNormalization only directly after a linear layer built "
        "without an activation)."
    )


def register_nonlinear_layer(cls):
    """Lets AltMinModel place a parameter-free layer class in nonlinear parts.

    Returns the class, so it can be used as a decorator.
    """
    global NONLINEAR_LAYERS
    if cls not in NONLINEAR_LAYERS:
        NONLINEAR_LAYERS = NONLINEAR_LAYERS + (cls,)
    return cls


def has_activation(layer):
    activation = getattr(layer, "activation", None)
    return activation is not None and activation is not keras.activations.linear


class _LinearMap:
    """Calls a linear layer without the activation it was built with."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x, training):
        activation = self.layer.activation
        self.layer.activation = None
        try:
            return self.layer(x, training=training)
        finally:
            self.layer.activation = activation


class Part:
    """An ordered run of layers (or split-off activations) used as one function.

    `part(x, values, training)` calls the layers with their variables read
    from `values` (a dict from `id(variable)` to a tensor) instead of the
    variables themselves, so that the same part can be evaluated with
    candidate weights or differentiated without touching model state. Updates
    the layers make to their non-trainable variables (BatchNormalization's
    moving statistics, dropout seeds) land in `updates` when it is given and
    are otherwise dropped.
    """

    def __init__(self, steps=()):
        self.steps = list(steps)
        self.layers = []
        for step in self.steps:
            layer = step.layer if isinstance(step, _LinearMap) else step
            if isinstance(layer, keras.layers.Layer):
                self.layers.append(layer)

    @property
    def variables(self):
        return [v for layer in self.layers for v in layer.variables]

    @property
    def trainable_variables(self):
        return [v for layer in self.layers for v in layer.trainable_variables]

    def output_shape(self, input_shape):
        """The shape this part maps `input_shape` to."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def __bool__(self):
        return bool(self.steps)

    def __call__(self, x, values, training=True, updates=None):
        if not self.steps:
            return x
        mapping = [(v, values[id(v)]) for v in self.variables]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            for step in self.steps:
                if isinstance(step, (keras.layers.Layer, _LinearMap)):
                    x = step(x, training=training)
                else:
                    x = step(x)
        if updates is not None:
            for layer in self.layers:
                for v in layer.non_trainable_variables:
                    new_value = scope.get_current_value(v)
                    if new_value is not None:
                        updates[id(v)] = new_value
        return x


@dataclasses.dataclass
class Block:
    """One hidden block: its linear part f_l and the nonlinear part g_l after it."""

    linear: Part
    nonlinear: Part

    @property
    def feeds_binary(self):
        """Whether a Sign or Step layer reads this block's code."""
        return any(isinstance(layer, BINARY_LAYERS) for layer in self.nonlinear.layers)


@dataclasses.dataclass
class Plan:
    """A layer stack cut into `input_part` g_0, hidden `blocks` and `output` h."""

    input_part: Part
    blocks: list
    output: Part

    @property
    def parts(self):
        parts = [self.input_part]
        for block in self.blocks:
            parts += [block.linear, block.nonlinear]
        return parts + [self.output]

    @property
    def weight_parts(self):
        """The parts whose weights the weight step trains, top block last."""
        return [block.linear for block in self.blocks] + [self.output]


def cut(layers):
    """Cuts a list of Keras layers into a `Plan`.

    Args:
        layers: the layers of a sequential stack, input to output, without
            the `InputLayer`.

    Returns:
        A `Plan` with one `Block` per code and the output part.

    Raises:
        ValueError: naming the first layer that does not fit the scheme.
    """
    input_steps = None
    blocks = []
    linear_layers = []  # the linear part being collected
    pending = []  # nonlinear steps since the last linear part

    def close_block():
        first = linear_layers[0]
        if has_activation(first):
            linear_steps = [_LinearMap(first)] + linear_layers[1:]
            nonlinear_steps = [first.activation] + pending
        else:
            linear_steps = list(linear_layers)
            nonlinear_steps = list(pending)
        blocks.append(Block(Part(linear_steps), Part(nonlinear_steps)))

    for layer in layers:
        if isinstance(layer, LINEAR_LAYERS):
            if linear_layers:
                close_block()
            else:
                input_steps = list(pending)
            linear_layers = [layer]
            pending = []
        elif isinstance(layer, NORMALIZATION_LAYERS):
            follows_linear = (
                len(linear_layers) == 1
                and not pending
                and not has_activation(linear_layers[0])
            )
            if not follows_linear:
                raise ValueError(
                    f"Layer '{layer.name}' ({type(layer).__name__}) must "
                    f"come directly after a linear layer ({linear_layer_names()}) "
                    "built without an activation, where it joins that layer's "
                    "linear part. "
                    "Here it follows "
                    + (
                        f"'{pending[-1].name}'"
                        if pending and hasattr(pending[-1], "name")
                        else f"the activation of '{linear_layers[0].name}'"
                        if linear_layers
                        else "no linear layer"
                    )
                    + ". " + supported_layers_message()
                )
            linear_layers.append(layer)
        elif isinstance(layer, NONLINEAR_LAYERS):
            pending.append(layer)
        else:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) cannot be "
                "trained by alternating minimization. "
                + supported_layers_message()
            )
    if not linear_layers:
        raise ValueError(
            f"AltMinModel needs at least one linear layer ({linear_layer_names()}); got "
            f"{[layer.name for layer in layers]}. " + supported_layers_message()
        )
    return Plan(
        input_part=Part(input_steps),
        blocks=blocks,
        output=Part(linear_layers + pending),
    )
