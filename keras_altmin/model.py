"""AltMinModel: a Keras model trained by online alternating minimization."""

import numbers
import re

import keras
from keras import ops

from keras_altmin import backend
from keras_altmin import blocks
from keras_altmin import memory
from keras_altmin import steps
from keras_altmin.schedules import MuSchedule

METHODS = ("am-adam", "am-mem")
BINARY_WEIGHT_LOSSES = ("mse", "hinge")
CODE_SWEEPS = ("backward", "jacobi")
DEFAULT_BCD_SWEEPS = 5
_NEEDS_TARGETS = (
    "AltMinModel.fit needs targets: pass `y` (or batches of (x, y)); the "
    "output block and the top code minimize the loss against them."
)

_REGULARIZER_ATTRIBUTES = (
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "beta_regularizer",
    "gamma_regularizer",
)


class AltMinSettings:
    """The knobs of the AM step, validated (see `AltMinModel.compile`)."""

    def __init__(
        self,
        method="am-adam",
        code_lr=0.3,
        code_momentum=0.9,
        code_steps=5,
        weight_steps=1,
        mu=None,
        code_l1=0.0,
        weight_l1=0.0,
        binary_weight_loss="mse",
        memory_decay=None,
        bcd_sweeps=None,
        code_sweep="backward",
    ):
        if method not in METHODS:
            raise ValueError(
                f"compile: method must be one of {METHODS}, got {method!r}."
            )
        if method != "am-mem":
            for name, value in (("memory_decay", memory_decay), ("bcd_sweeps", bcd_sweeps)):
                if value is not None:
                    raise ValueError(
                        f"compile: {name} applies to method='am-mem' only "
                        f"(method is {method!r})."
                    )
        else:
            if bcd_sweeps is None:
                bcd_sweeps = DEFAULT_BCD_SWEEPS
            _check_integer("bcd_sweeps", bcd_sweeps, minimum=1)
            if memory_decay is not None:
                _check_number("memory_decay", memory_decay, minimum=0.0, strict=True)
                if memory_decay > 1:
                    raise ValueError(
                        "compile: memory_decay must be in (0, 1] (or None for "
                        f"a plain sum), got {memory_decay}."
                    )
        _check_number("code_lr", code_lr, minimum=0.0, strict=True)
        _check_number("code_momentum", code_momentum, minimum=0.0)
        if code_momentum >= 1:
            raise ValueError(
                f"compile: code_momentum must be in [0, 1), got {code_momentum}."
            )
        _check_integer("code_steps", code_steps, minimum=0)
        _check_integer("weight_steps", weight_steps, minimum=1)
        _check_number("code_l1", code_l1, minimum=0.0)
        _check_number("weight_l1", weight_l1, minimum=0.0)
        if binary_weight_loss not in BINARY_WEIGHT_LOSSES:
            raise ValueError(
                "compile: binary_weight_loss must be one of "
                f"{BINARY_WEIGHT_LOSSES}, got {binary_weight_loss!r}."
            )
        if code_sweep not in CODE_SWEEPS:
            raise ValueError(
                f"compile: code_sweep must be one of {CODE_SWEEPS}, got {code_sweep!r}."
            )
        if mu is None:
            mu = MuSchedule()
        elif isinstance(mu, numbers.Real) and not isinstance(mu, bool):
            if mu <= 0:
                raise ValueError(f"compile: mu must be > 0, got {mu}.")
            mu = MuSchedule(initial=mu, maximum=mu)
        elif not isinstance(mu, MuSchedule):
            raise TypeError(
                "compile: mu must be a keras_altmin.MuSchedule or a positive "
                f"number (a constant penalty), got {mu!r}."
            )
        self.method = method
        self.code_lr = float(code_lr)
        self.code_momentum = float(code_momentum)
        self.code_steps = int(code_steps)
        self.weight_steps = int(weight_steps)
        self.mu = mu
        self.code_l1 = float(code_l1)
        self.weight_l1 = float(weight_l1)
        self.binary_weight_loss = binary_weight_loss
        self.memory_decay = None if memory_decay is None else float(memory_decay)
        self.bcd_sweeps = None if bcd_sweeps is None else int(bcd_sweeps)
        self.code_sweep = code_sweep

    def get_config(self):
        return {
            "method": self.method,
            "code_lr": self.code_lr,
            "code_momentum": self.code_momentum,
            "code_steps": self.code_steps,
            "weight_steps": self.weight_steps,
            "mu": self.mu,
            "code_l1": self.code_l1,
            "weight_l1": self.weight_l1,
            "binary_weight_loss": self.binary_weight_loss,
            "memory_decay": self.memory_decay,
            "bcd_sweeps": self.bcd_sweeps,
            "code_sweep": self.code_sweep,
        }


def _check_number(name, value, minimum, strict=False):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"compile: {name} must be a number, got {value!r}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(
            f"compile: {name} must be {relation} {minimum}, got {value}."
        )


def _check_integer(name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"compile: {name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"compile: {name} must be >= {minimum}, got {value}.")


class _TrainingState:
    """Python-side attributes the Keras tracker must not see."""

    def __init__(self):
        self.settings = None
        self.compile_config = None
        self.sizing_pending = False
        self.local_loss_trackers = []
        self.code_buffers = []
        self.plan_key = None
        self.plan = None
        self.memory = []  # _Memory per AM-mem block


@keras.saving.register_keras_serializable(package="keras_altmin")
class AltMinModel(keras.Sequential):
    """A sequential model trained by online alternating minimization.

    Built like `keras.Sequential`; `call`, `predict` and `evaluate` behave as
    for the same layers in a `keras.Sequential`. `fit` replaces backprop by
    the AM step of Choromanska et al. (ICML 2019): each batch, the
    pre-activation outputs of the hidden linear layers become free variables
    (codes), updated top-down against local objectives, then every block's
    weights take a step on its own local loss. No gradient crosses a block.

    Supported stacks: Dense, Conv1D and Conv2D layers (with or without bias
    and activation), a BatchNormalization right after one built without
    activation, and between them activation layers, pooling, Dropout,
    Flatten, Reshape and the binary `keras_altmin.layers.Sign`/`Step`.
    Anything else raises an error naming the layer.

    Example:

    ```python
    import keras
    import keras_altmin as ka

    model = ka.AltMinModel([
        keras.Input((64,)),
        keras.layers.Dense(100, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dense(10),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(0.008),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        mu=ka.MuSchedule(initial=0.003),
    )
    model.fit(x, y, batch_size=200, epochs=5)
    ```

    Attributes:
        mu: the current penalty, a non-trainable scalar variable.
        codes: the codes of the latest training batch, one tensor per hidden
            block (their storage: `code_variables`).
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(layers=layers, trainable=trainable, name=name)
        self._altmin = _TrainingState()
        self.mu = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(MuSchedule().initial),
            trainable=False,
            name="mu",
        )
        self._code_rows = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False,
            name="code_rows",
        )

    @classmethod
    def from_sequential(cls, model, name=None):
        """A twin of a `keras.Sequential`: same layers, copies of its weights.

        The twin owns new layer objects, so a backprop model and its AM twin
        start from identical weights and then train independently.

        Args:
            model: a `keras.Sequential`.
            name: name of the new model (default: the original's name with
                an `_altmin` suffix).

        Returns:
            An uncompiled `AltMinModel`.
        """
        if not isinstance(model, keras.Sequential):
            raise TypeError(
                "AltMinModel.from_sequential expects a keras.Sequential, got "
                f"{type(model).__name__}."
            )
        config = model.get_config()
        config["name"] = name or f"{model.name}_altmin"
        twin = cls.from_config(config)
        for source, target in zip(model.layers, twin.layers):
            if source.built:
                target.set_weights(source.get_weights())
        return twin

    # ------------------------------------------------------------------ compile

    def compile(
        self,
        optimizer="adam",
        loss=None,
        metrics=None,
        method="am-adam",
        code_lr=0.3,
        code_momentum=0.9,
        code_steps=5,
        weight_steps=1,
        mu=None,
        output_optimizer=None,
        code_l1=0.0,
        weight_l1=0.0,
        binary_weight_loss="mse",
        memory_decay=None,
        bcd_sweeps=None,
        code_sweep="backward",
        **kwargs,
    ):
        """Configures the model for alternating-minimization training.

        Args:
            optimizer: the weight optimizer of every block (AM-Adam: Adam).
                It may carry any learning-rate schedule; its iteration count
                advances once per training batch whatever `weight_steps` is.
                A `keras.optimizers.MultiOptimizer` is accepted as well.
            loss: the loss of the output block (required).
            metrics: as in `keras.Model.compile`, computed on the forward
                predictions of each batch.
            method: `"am-adam"` (every block's weights take steps of
                `optimizer`) or `"am-mem"` (hidden Dense blocks without bias
                fit their kernel to an accumulated co-activation memory by
                block-coordinate descent; the output block keeps `optimizer`).
            code_lr: step size of the code descent. For a SimpleRNN's codes
                it is a rate per element (each step's means times B * H,
                see `RecurrentPart.code_scale`), so smaller values suit it
                (0.02 on digit sequences).
            code_momentum: Nesterov momentum of the code descent, in [0, 1).
            code_steps: gradient steps per code and batch (>= 0).
            weight_steps: optimizer steps per block and batch (>= 1).
            mu: a `MuSchedule`, or a positive number for a constant penalty.
                Defaults to `MuSchedule()` (the reference code's 0.003 to
                0.03). Compiling resets `model.mu` to the schedule's start.
            output_optimizer: optional separate optimizer for the output
                block (combined with `optimizer` in a `MultiOptimizer`).
            code_l1: L1 penalty on the codes (scaled by 1/mu).
            weight_l1: L1 penalty on the hidden blocks' kernels.
            binary_weight_loss: the weight loss of a block whose code feeds
                a `Sign` or `Step` layer: `"mse"` (as every other block, the
                reference code's choice) or `"hinge"`, which only asks the
                block's output to have its code's sign.
            memory_decay: AM-mem: None (default) sums the co-activations of
                every batch; a value in (0, 1] keeps an exponential average.
            bcd_sweeps: AM-mem: at most this many block-coordinate descent
                sweeps per batch (default 5), fewer once no kernel entry
                moves by more than 1e-3. With `weight_l1` each updated
                column is soft-thresholded by it.
            code_sweep: how a SimpleRNN's per-step codes take their
                `code_steps`: `"backward"` (the default: c_T first, then each
                c_t against the updated c_{t+1}; one sweep carries the
                output's signal to the first step, at the price of T
                sequential solves) or `"jacobi"` (all steps at once, each
                against the current c_{t+1}; the signal moves one step back
                in time per code step). On digits as 64-step sequences the
                backward sweep measured better and steadier (README).
            **kwargs: passed to `keras.Model.compile` (`run_eagerly`,
                `jit_compile`, `steps_per_execution`, ...).
        """
        settings = AltMinSettings(
            method=method,
            code_lr=code_lr,
            code_momentum=code_momentum,
            code_steps=code_steps,
            weight_steps=weight_steps,
            mu=mu,
            code_l1=code_l1,
            weight_l1=weight_l1,
            binary_weight_loss=binary_weight_loss,
            memory_decay=memory_decay,
            bcd_sweeps=bcd_sweeps,
            code_sweep=code_sweep,
        )
        if loss is None:
            raise ValueError(
                "compile: AltMinModel needs a `loss`: the output block and "
                "the top code minimize it."
            )
        plan = self._plan()
        if binary_weight_loss == "hinge" and not any(
            block.feeds_binary for block in plan.blocks
        ):
            raise ValueError(
                "compile: binary_weight_loss='hinge' applies to hidden blocks "
                "whose code feeds a Sign or Step layer, and this model has "
                "none."
            )
        memory_kernels = _memory_kernels(plan) if method == "am-mem" else []
        weight_optimizer = keras.optimizers.get(optimizer)
        if output_optimizer is not None:
            weight_optimizer = _with_output_optimizer(
                weight_optimizer, keras.optimizers.get(output_optimizer), plan
            )
        super().compile(
            optimizer=weight_optimizer, loss=loss, metrics=metrics, **kwargs
        )
        config = dict(self._compile_config.config)
        config.update(settings.get_config())
        config.update(optimizer=optimizer, output_optimizer=output_optimizer)
        self._altmin.compile_config = config
        self._altmin.settings = settings
        self._altmin.local_loss_trackers = [
            keras.metrics.Mean(name=f"local_loss_{index + 1}")
            for index in range(len(plan.weight_parts))
        ]
        self.mu.assign(settings.mu.initial)
        self._reset_memory(memory_kernels)
        if self.built:
            # Every backend builds it for all trainable variables, even those
            # AM-mem solves without it, so saved optimizer state always matches.
            self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        if not self.compiled or self._altmin.compile_config is None:
            return {}
        return keras.saving.serialize_keras_object(self._altmin.compile_config)

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    @property
    def settings(self):
        """The validated AM settings given to `compile` (None before)."""
        return self._altmin.settings

    @property
    def metrics(self):
        return super().metrics + list(self._altmin.local_loss_trackers)

    def get_metrics_result(self):
        # The local losses belong to training only; `evaluate` leaves them out.
        local = {tracker.name for tracker in self._altmin.local_loss_trackers}
        return {
            name: value
            for name, value in super().get_metrics_result().items()
            if name not in local
        }

    # --------------------------------------------------------------- structure

    def _plan(self):
        """The blocks of the current layer stack (cut again if it changed)."""
        key = tuple(id(layer) for layer in self.layers)
        if self._altmin.plan_key != key:
            plan = blocks.cut(self.layers)
            for layer in self.layers:
                for attribute in _REGULARIZER_ATTRIBUTES:
                    if getattr(layer, attribute, None) is not None:
                        raise ValueError(
                            f"Layer '{layer.name}' has a {attribute}; the AM "
                            "weight step does not apply Keras regularizers. "
                            "Remove it (compile's weight_l1 adds an L1 "
                            "penalty on the hidden kernels)."
                        )
            self._altmin.plan_key, self._altmin.plan = key, plan
        return self._altmin.plan

    @property
    def weights(self):
        # The layers' weights only, as in the same keras.Sequential, so that
        # get_weights/set_weights interchange with it. mu and the code
        # storage are model state: see `mu`, `codes`, `non_trainable_variables`.
        state = {id(v) for v in self._own_state_variables()}
        return [w for w in super().weights if id(w) not in state]

    def _own_state_variables(self):
        state = [self.mu, self._code_rows] + list(self._altmin.code_buffers)
        for block_memory in self._altmin.memory:
            state += [block_memory.activations, block_memory.cross]
        return state

    def _reset_memory(self, kernels):
        """Fresh (zero) AM-mem memory for the Dense `kernels`; none for AM-Adam."""
        for block_memory in self._altmin.memory:
            self._untrack_variable(block_memory.activations)
            self._untrack_variable(block_memory.cross)
        self._altmin.memory = []
        for index, kernel in kernels:
            n_in, n_out = kernel.shape
            self._altmin.memory.append(_Memory(
                index, kernel,
                self.add_weight(shape=(n_in, n_in), initializer="zeros",
                                trainable=False, name=f"memory_a_{index + 1}"),
                self.add_weight(shape=(n_in, n_out), initializer="zeros",
                                trainable=False, name=f"memory_c_{index + 1}"),
            ))
        self.train_function = None

    @property
    def memory(self):
        """AM-mem's memory: `(A, C)` per hidden block, bottom to top (C = B^T)."""
        return [(m.activations, m.cross) for m in self._altmin.memory]

    @property
    def codes(self):
        """The codes of the latest training batch, bottom to top."""
        rows = int(ops.convert_to_numpy(self._code_rows))
        return [buffer.value[:rows] for buffer in self._altmin.code_buffers]

    @property
    def code_variables(self):
        """The non-trainable variables storing `codes` (first `rows` rows)."""
        return list(self._altmin.code_buffers)

    # Keras calls these at the start of fit/evaluate with the data iterator
    # (JAX and torch: _symbolic_build; TensorFlow: _maybe_symbolic_build).
    # They are the one place where the batch size is known outside the
    # compiled step, so the code storage is sized there.
    def _symbolic_build(self, iterator=None, data_batch=None):
        super()._symbolic_build(iterator=iterator, data_batch=data_batch)
        self._size_code_buffers(iterator, data_batch)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        self._size_code_buffers(iterator, data_batch)

    def _size_code_buffers(self, iterator, data_batch):
        # Only when a training call starts: evaluate() inside fit must not
        # change the model's variables while the step function holds them.
        if not self._altmin.sizing_pending or not self.built:
            return
        self._altmin.sizing_pending = False
        if not self._plan().blocks:
            return
        if data_batch is None and iterator is not None:
            for _, _, data_or_iterator in iterator:
                if isinstance(data_or_iterator, (list, tuple)):
                    data_batch = data_or_iterator[0]
                else:
                    data_batch = next(data_or_iterator)
                break
        if data_batch is not None:
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data_batch)
            self._allocate_code_buffers(tuple(x.shape))

    def _allocate_code_buffers(self, input_shape):
        """Sizes the code storage for batches of `input_shape[0]` rows."""
        rows = input_shape[0]
        buffers = self._altmin.code_buffers
        if rows is None or (buffers and buffers[0].shape[0] >= rows):
            return
        shapes = []
        shape = self._plan().input_part.output_shape(input_shape)
        for block in self._plan().blocks:
            shape = block.linear.output_shape(shape)
            shapes.append(shape)
            shape = block.nonlinear.output_shape(shape)
        for buffer in buffers:
            self._untrack_variable(buffer)
        self._altmin.code_buffers = [
            self.add_weight(
                shape=s, initializer="zeros", trainable=False,
                name=f"code_{index + 1}",
            )
            for index, s in enumerate(shapes)
        ]
        # The step functions close over the model's variables: retrace them.
        self.train_function = None
        self.test_function = None
        self.predict_function = None

    # ---------------------------------------------------------------- training

    def fit(self, *args, **kwargs):
        x = kwargs.get("x", args[0] if args else None)
        y = kwargs.get("y", args[1] if len(args) > 1 else None)
        if y is None and hasattr(x, "shape"):
            raise ValueError(_NEEDS_TARGETS)
        callbacks = kwargs.get("callbacks")
        advance = _AdvanceMuEachEpoch()
        if isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks.callbacks.insert(0, advance)
            advance.set_model(self)
        else:
            kwargs["callbacks"] = [advance] + list(callbacks or [])
        self._altmin.sizing_pending = True
        return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        self._altmin.sizing_pending = True
        return super().train_on_batch(*args, **kwargs)

    def train_step(self, *args):
        return backend.run_train_step(self, self._altmin_step, *args)

    def _altmin_step(self, data):
        """One AM step on a batch, reading and assigning model variables."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(_NEEDS_TARGETS)
        settings = self._altmin.settings
        plan = self._plan()

        def loss_fn(y_true, y_pred):
            return self._compile_loss(y_true, y_pred, sample_weight)

        layer_variables = [v for layer in self.layers for v in layer.variables]
        values = steps.snapshot(layer_variables)
        updates = {}
        forward_codes, y_pred = steps.forward(plan, x, values, updates)
        mu = ops.convert_to_tensor(self.mu)
        codes = steps.update_codes(
            plan, x, forward_codes, y, values, loss_fn, mu, settings
        )
        inputs = steps.block_inputs(plan, x, codes, values)
        solved = {id(m.kernel) for m in self._altmin.memory}
        trainable = [v for v in self.trainable_variables if id(v) not in solved]
        for step_index in range(settings.weight_steps):
            if step_index:
                values.update(steps.snapshot(trainable))
                _rewind_iterations(self.optimizer)
            local_losses, grads = steps.weight_gradients(
                plan, inputs, codes, y, values, loss_fn, trainable,
                settings.weight_l1, settings.binary_weight_loss,
            )
            self.optimizer.apply(grads, trainable)
        for block_memory in self._altmin.memory:
            self._memory_step(block_memory, inputs, codes, values)

        for variable in layer_variables:
            if id(variable) in updates and not variable.trainable:
                variable.assign(updates[id(variable)])
        self.mu.assign(settings.mu.after_batch(mu))
        self._store_codes(codes)

        self._loss_tracker.update_state(
            loss_fn(y, y_pred), sample_weight=ops.shape(x)[0]
        )
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        for tracker, loss in zip(self._altmin.local_loss_trackers, local_losses):
            tracker.update_state(loss)
            logs[tracker.name] = tracker.result()
        logs["mu"] = ops.convert_to_tensor(self.mu)
        return logs

    def _memory_step(self, block_memory, inputs, codes, values):
        """AM-mem: accumulate the block's co-activations, then BCD on its kernel."""
        settings = self._altmin.settings
        index = block_memory.index
        aa, ac = memory.co_activations(inputs[index], codes[index])
        a = memory.accumulate(block_memory.activations.value, aa, settings.memory_decay)
        c = memory.accumulate(block_memory.cross.value, ac, settings.memory_decay)
        block_memory.activations.assign(a)
        block_memory.cross.assign(c)
        kernel, _ = memory.bcd(
            values[id(block_memory.kernel)], a, c, settings.bcd_sweeps,
            settings.weight_l1,
        )
        block_memory.kernel.assign(kernel)

    def _store_codes(self, codes):
        buffers = self._altmin.code_buffers
        if not buffers:
            return
        for buffer, code in zip(buffers, codes):
            capacity = buffer.shape[0]
            start = [0] * len(buffer.shape)
            buffer.assign(ops.slice_update(buffer.value, start, code[:capacity]))
        rows = ops.minimum(ops.shape(codes[0])[0], buffers[0].shape[0])
        self._code_rows.assign(ops.cast(rows, "int32"))

    # ------------------------------------------------------------------ saving

    def save_own_variables(self, store):
        # Codes are per-batch scratch and their size depends on the batch.
        store["mu"] = ops.convert_to_numpy(self.mu)
        for block_memory in self._altmin.memory:
            for variable in (block_memory.activations, block_memory.cross):
                store[variable.name] = ops.convert_to_numpy(variable)

    def load_own_variables(self, store):
        self.mu.assign(store["mu"])
        for block_memory in self._altmin.memory:
            for variable in (block_memory.activations, block_memory.cross):
                if variable.name not in store:
                    raise ValueError(
                        f"AltMinModel: the saved model has no AM-mem memory "
                        f"'{variable.name}' (was it saved with another method?)."
                    )
                variable.assign(store[variable.name])


class _Memory:
    """AM-mem state of one hidden block: its kernel and memory variables."""

    def __init__(self, index, kernel, activations, cross):
        self.index = index
        self.kernel = kernel
        self.activations = activations  # A = sum a^T a
        self.cross = cross  # C = sum a^T c (the spec's B, transposed)


def _memory_kernels(plan):
    """`(block index, Dense kernel)` of every hidden block, which AM-mem solves.

    Raises:
        ValueError: naming a block that is not a single Dense without bias.
    """
    kernels = []
    for index, block in enumerate(plan.blocks):
        if not block.linear.layers:
            raise ValueError(
                "compile: method='am-mem' fits hidden Dense blocks; this model's "
                f"hidden block {index + 1} is a recurrent layer's output code. "
                "Use method='am-adam'."
            )
        layer = block.linear.layers[0]
        problem = None
        if not isinstance(layer, keras.layers.Dense):
            problem = f"is a {type(layer).__name__}"
        elif layer.use_bias:
            problem = "has a bias"
        elif len(block.linear.layers) > 1:
            problem = (
                f"is followed by {type(block.linear.layers[1]).__name__} "
                f"'{block.linear.layers[1].name}'"
            )
        elif not layer.built:
            problem = "is not built yet (give the model a keras.Input)"
        if problem:
            raise ValueError(
                f"compile: method='am-mem' solves every hidden block by "
                f"block-coordinate descent on a linear least-squares "
                f"surrogate, which needs a Dense layer without bias and "
                f"without BatchNormalization; hidden block {index + 1} "
                f"(layer '{layer.name}') {problem}. Build it with "
                f"Dense(..., use_bias=False) and no BatchNormalization, or "
                f"use method='am-adam'."
            )
        kernels.append((index, layer.kernel))
    return kernels


def _with_output_optimizer(optimizer, output_optimizer, plan):
    """A MultiOptimizer: `output_optimizer` for the output block, else `optimizer`."""
    if isinstance(optimizer, keras.optimizers.MultiOptimizer):
        raise ValueError(
            "compile: pass either output_optimizer or a MultiOptimizer as "
            "optimizer, not both."
        )
    patterns = {
        rf"(?:.*/)?{re.escape(layer.name)}/[^/]+": output_optimizer
        for layer in plan.output.layers
        if layer.trainable_variables or not layer.built
    }
    return keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(optimizer, patterns)
    )


def _rewind_iterations(optimizer):
    """Undoes one count of `optimizer.iterations` (and of any inner optimizer)."""
    inner = getattr(optimizer, "optimizers", None) or []
    for opt in [optimizer] + list(inner):
        opt.iterations.assign(opt.iterations - 1)


class _AdvanceMuEachEpoch(keras.callbacks.Callback):
    """Applies the MuSchedule's epoch rule; `AltMinModel.fit` adds it itself."""

    def on_epoch_end(self, epoch, logs=None):
        schedule = self.model.settings.mu
        self.model.mu.assign(schedule.after_epoch(self.model.mu.value))
