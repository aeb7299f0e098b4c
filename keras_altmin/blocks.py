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
from keras import ops

from keras_altmin.layers import BINARY_LAYERS

LINEAR_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)
RECURRENT_LAYERS = (keras.layers.SimpleRNN,)
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
    return ", ".join(cls.__name__ for cls in LINEAR_LAYERS + RECURRENT_LAYERS)


def supported_layers_message():
    names = [cls.__name__ for cls in LINEAR_LAYERS + RECURRENT_LAYERS + NORMALIZATION_LAYERS]
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


def _direct_call(step):
    """`fn(x, values)` computing `step` straight from `values`, or None.

    Keras's `Layer.__call__` (name scopes, autocasting, masks, the stateless
    scope around it) costs more than the matmul itself on small layers in
    eager backends (torch), and the AM step calls each layer several times
    per batch. Plain float Dense and Conv layers and layers without
    variables or a `training` argument are computed directly; anything else
    (quantized or LoRA layers, causal padding, mixed precision,
    BatchNormalization, Dropout, ...) goes through Keras as usual.
    """
    linear_only = isinstance(step, _LinearMap)
    layer = step.layer if linear_only else step
    if not isinstance(layer, keras.layers.Layer):
        return lambda x, values: step(x)
    if layer.compute_dtype != layer.variable_dtype:
        return None
    if type(layer) is keras.layers.Dense:
        if layer.quantization_mode or layer.lora_enabled:
            return None
        activation = None if linear_only else layer.activation

        def dense(x, values):
            kernel = values[id(layer.kernel)]
            x = ops.matmul(ops.cast(x, kernel.dtype), kernel)
            if layer.use_bias:
                x = x + values[id(layer.bias)]
            return x if activation is None else activation(x)

        return dense
    if type(layer) in (keras.layers.Conv1D, keras.layers.Conv2D):
        if layer.padding == "causal" or layer.lora_enabled:
            return None
        activation = None if linear_only else layer.activation
        channels_last = layer.data_format == "channels_last"
        bias_shape = ((1,) * (layer.rank + 1) + (layer.filters,) if channels_last
                      else (1, layer.filters) + (1,) * layer.rank)

        def convolution(x, values):
            kernel = values[id(layer.kernel)]
            x = layer.convolution_op(ops.cast(x, kernel.dtype), kernel)
            if layer.use_bias:
                x = x + ops.reshape(values[id(layer.bias)], bias_shape)
            return x if activation is None else activation(x)

        return convolution
    takes_training = getattr(layer, "_call_has_training_arg", True)  # Keras-private
    if not layer.variables and not takes_training and not linear_only:
        return lambda x, values: layer.call(x)
    return None


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
        direct = [_direct_call(step) for step in self.steps]
        self._direct = direct if all(fn is not None for fn in direct) else None

    @property
    def variables(self):
        return [v for layer in self.layers for v in layer.variables]

    @property
    def trainable_variables(self):
        return [v for layer in self.layers for v in layer.trainable_variables]

    def output_shape(self, input_shape):
        """The shape this part maps `input_shape` to."""
        shape = tuple(input_shape)
        for step in self.steps:
            step = step.layer if isinstance(step, _LinearMap) else step
            if hasattr(step, "compute_output_shape"):
                shape = tuple(step.compute_output_shape(shape))
        return shape

    @property
    def kernel(self):
        """The kernel of the part's linear layer (None for an identity part)."""
        return getattr(self.layers[0], "kernel", None) if self.layers else None

    def proximity(self, code, anchor):
        """mean((c - c^0)^2): keeps a code near its forward value."""
        return ops.mean(ops.square(code - anchor))

    def fit_loss(self, inputs, code, values):
        """The weight step's local loss: mean((f(a) - c)^2)."""
        return ops.mean(ops.square(self(inputs, values) - code))

    def code_energy(self, inputs, code, values):
        """Terms of the code step inside the part itself (none for a feedforward part)."""
        return 0.0

    def code_scale(self, code):
        """What the code objective is multiplied by before descending on it (None: as specified)."""
        return None

    def __bool__(self):
        return bool(self.steps)

    def __call__(self, x, values, training=True, updates=None):
        if not self.steps:
            return x
        if self._direct is not None:
            for fn in self._direct:
                x = fn(x, values)
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


class RecurrentPart(Part):
    """A SimpleRNN as a linear part whose code holds every step's pre-activation (ALGORITHM 8).

        c_t = x_t W_x + tanh(c_{t-1}) W_h + b,   tanh(c_0) = 0,   t = 1..T

    The code is one batch x T x H tensor. Every term below is a sum over time
    steps of per-step means, so each c_t is its own code as in the spec, and
    nothing is differentiated through the recurrence: the weight step fits
    all steps at once from the codes, and the code step of c_t sees only
    c_{t+1}, held fixed: at its updated value in the backward sweep
    (`backward_sweep`), at its current one in a Jacobi sweep over all steps
    at once (`code_energy`).
    """

    def __init__(self, layer):
        super().__init__([layer])
        self.layer = layer

    @property
    def kernel(self):
        return self.layer.cell.kernel

    def _weights(self, values):
        cell = self.layer.cell
        return (
            values[id(cell.kernel)],
            values[id(cell.recurrent_kernel)],
            values[id(cell.bias)],
        )

    def __call__(self, x, values, training=True, updates=None):
        w_x, w_h, b = self._weights(values)
        driven = ops.transpose(ops.matmul(x, w_x) + b, (1, 0, 2))  # time-major

        def step(state, drive):
            code = drive + ops.matmul(state, w_h)
            return ops.tanh(code), code

        start = ops.zeros_like(driven[0])
        _, codes = ops.scan(step, start, driven)
        return ops.transpose(codes, (1, 0, 2))

    def predictions(self, x, code, values):
        """x_t W_x + tanh(c_{t-1}) W_h + b for every t: what each c_t should be."""
        w_x, w_h, b = self._weights(values)
        previous = ops.concatenate(
            [ops.zeros_like(code[:, :1]), ops.tanh(code[:, :-1])], axis=1
        )
        return ops.matmul(x, w_x) + ops.matmul(previous, w_h) + b

    @staticmethod
    def _per_step_sum(squared):
        return ops.sum(ops.mean(squared, axis=(0, 2)))

    def proximity(self, code, anchor):
        return self._per_step_sum(ops.square(code - anchor))

    def fit_loss(self, inputs, code, values):
        """sum_t mean((c_t - x_t W_x - tanh(c_{t-1}) W_h - b)^2), all steps at once."""
        return self._per_step_sum(ops.square(self.predictions(inputs, code, values) - code))

    def code_energy(self, inputs, code, values):
        """sum_{t<T} mean((c_{t+1} - x_{t+1} W_x - tanh(c_t) W_h - b)^2), c_{t+1} fixed."""
        predicted = self.predictions(inputs, code, values)[:, 1:]
        return self._per_step_sum(ops.square(ops.stop_gradient(code[:, 1:]) - predicted))

    def backward_sweep(self, x, anchor, last_objective, values, descend):
        """Updates c_T, then c_{T-1}, ..., c_1, each against the updated c_{t+1}.

        c_T minimizes `last_objective(c_T)` (its output term) plus its
        proximity term; every earlier c_t minimizes

            mean((c_t - c_t^0)^2) + mean((c_{t+1} - x_{t+1} W_x - tanh(c_t) W_h - b)^2)

        with `descend(objective, start)`, c_{t+1} already updated (one sweep
        carries the signal from the output back to the first step).
        """
        _, w_h, _ = self._weights(values)
        driven = self.predictions(x, ops.zeros_like(anchor), values)  # x_t W_x + b
        last = descend(
            lambda c: last_objective(c) + ops.mean(ops.square(c - anchor[:, -1])),
            anchor[:, -1],
        )

        def step(following, pair):
            start, drive = pair

            def objective(c):
                fit = following - drive - ops.matmul(ops.tanh(c), w_h)
                return ops.mean(ops.square(c - start)) + ops.mean(ops.square(fit))

            new = descend(objective, start)
            return new, new

        time_major = [ops.transpose(t, (1, 0, 2)) for t in (anchor[:, :-1], driven[:, 1:])]
        _, earlier = ops.scan(step, last, tuple(time_major), reverse=True)
        return ops.concatenate([ops.transpose(earlier, (1, 0, 2)), last[:, None]], axis=1)

    def code_scale(self, code):
        """B * H, the element count of one step: the code step descends per element.

        Every step's terms are means over its B x H elements, so a gradient
        step of `code_lr` on them moves c_t by about code_lr * 2 / (B * H) of
        its residual. A feedforward block still learns from such tiny moves
        (Adam normalizes each block's gradient on its own), but all steps
        share one W_h: c_{t-1} moves B*H times less than c_t, and only the
        last step or two would teach the recurrence. Scaling by B * H (which
        leaves the minimizer unchanged) makes `code_lr` a per-element rate, so
        each step's move is a fixed fraction of the next one's.
        """
        shape = ops.shape(code)
        return ops.cast(shape[0] * shape[2], code.dtype)

    def output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.layer.units)


class _LastStepTanh:
    """h_T = tanh(c_T): what a SimpleRNN outputs from its codes."""

    def __call__(self, code):
        return ops.tanh(code[:, -1])

    def compute_output_shape(self, shape):
        return (shape[0], shape[2])


def _check_recurrent(layer, is_first):
    problems = []
    if not is_first:
        problems.append("it must be the first linear layer of the stack")
    if layer.cell.activation is not keras.activations.tanh:
        problems.append("activation must be tanh")
    if not layer.cell.use_bias:
        problems.append("use_bias must be True")
    for flag in ("return_sequences", "return_state", "go_backwards", "stateful"):
        if getattr(layer, flag):
            problems.append(f"{flag} must be False")
    if layer.cell.dropout or layer.cell.recurrent_dropout:
        problems.append("dropout and recurrent_dropout must be 0")
    if problems:
        raise ValueError(
            f"Layer '{layer.name}' (SimpleRNN) cannot be trained by alternating "
            "minimization as built: " + "; ".join(problems) + "."
        )


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
        if isinstance(first, RECURRENT_LAYERS):
            # Two codes: every step's pre-activation, then the output h_T, an
            # auxiliary variable that cuts the chain from the loss to the
            # recurrence (its "linear part" is the identity, with no weights).
            blocks.append(Block(RecurrentPart(first), Part([_LastStepTanh()])))
            blocks.append(Block(Part([]), Part(pending)))
            return
        if has_activation(first):
            linear_steps = [_LinearMap(first)] + linear_layers[1:]
            nonlinear_steps = [first.activation] + pending
        else:
            linear_steps = list(linear_layers)
            nonlinear_steps = list(pending)
        blocks.append(Block(Part(linear_steps), Part(nonlinear_steps)))

    for layer in layers:
        if isinstance(layer, RECURRENT_LAYERS):
            _check_recurrent(layer, is_first=not linear_layers)
        if isinstance(layer, LINEAR_LAYERS + RECURRENT_LAYERS):
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
    if linear_layers and isinstance(linear_layers[0], RECURRENT_LAYERS):
        raise ValueError(
            f"Layer '{linear_layers[0].name}' (SimpleRNN) needs a Dense "
            "classifier after it: the output block is a Dense layer."
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
