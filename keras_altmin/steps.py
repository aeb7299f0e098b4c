"""One step of online alternating minimization, written once in `keras.ops`.

The functions here are pure: they read layer weights from `values` (a dict
from `id(variable)` to a tensor, see `blocks.Part`) and return tensors. The
model (`model.py`) snapshots its variables into `values`, calls these, and
writes the results back.

Every gradient is taken through a single block: the code step of block l
differentiates only through g_l and f_{l+1} (or g_L and h), the weight step
of block l only through f_l, with every other quantity a constant. So no
gradient ever flows from one block into another.
"""

from keras import ops

from keras_altmin import backend
from keras_altmin.blocks import RecurrentPart


def forward(plan, x, values, updates=None, training=True):
    """Runs the stack block by block (ALGORITHM 2.1).

    Returns:
        `(codes, y_pred)`: the code c_l^0 of every hidden block and the output.
    """
    a = plan.input_part(x, values, training, updates)
    codes = []
    for block in plan.blocks:
        code = block.linear(a, values, training, updates)
        codes.append(code)
        a = block.nonlinear(code, values, training, updates)
    return codes, plan.output(a, values, training, updates)


def nesterov_descent(objective, start, learning_rate, momentum, steps):
    """Minimizes `objective(c)` from `start` by gradient descent with Nesterov momentum.

        v_1 = g_1,   v_k = momentum * v_{k-1} + g_k,   c <- c - lr * (g_k + momentum * v_k)

    The momentum buffer starts empty on every call (ALGORITHM 2.2).
    """
    grad_fn = backend.value_and_grad(lambda cs: (objective(cs[0]), ()))
    c = start
    velocity = None
    for _ in range(steps):
        _, (grad,) = grad_fn([c])
        velocity = grad if velocity is None else momentum * velocity + grad
        c = c - learning_rate * (grad + momentum * velocity)
    return c


def update_codes(plan, x, codes, y, values, loss_fn, mu, settings):
    """Updates the codes top-down (ALGORITHM 2.2).

    Args:
        plan: the `blocks.Plan`.
        x: the inputs of the batch.
        codes: the forward codes c_l^0, bottom to top.
        y: the targets of the batch.
        values: variable values (see `blocks.Part`).
        loss_fn: `loss_fn(y, y_pred)`, the compiled loss.
        mu: the current penalty (a scalar tensor).
        settings: an object with `code_lr`, `code_momentum`, `code_steps`,
            `code_l1` and `code_sweep` (how a recurrent block's per-step codes
            are updated: "backward" in time or "jacobi", all at once).

    Returns:
        The updated codes, bottom to top.
    """
    updated = list(codes)
    # Only a first, recurrent part has code terms of its own (which read x).
    first_input = plan.input_part(x, values)

    def descend(objective, start, scale=None):
        def energy(c):
            value = objective(c)
            if settings.code_l1:
                value = value + settings.code_l1 / mu * ops.mean(ops.abs(c))
            return value if scale is None else scale * value

        return nesterov_descent(
            energy, start, settings.code_lr, settings.code_momentum, settings.code_steps
        )

    for index in reversed(range(len(codes))):
        block = plan.blocks[index]
        anchor = codes[index]
        if index == len(codes) - 1:

            def fit(c, block=block):
                a = block.nonlinear(c, values)
                return loss_fn(y, plan.output(a, values)) / mu

        else:
            above = plan.blocks[index + 1].linear
            target = updated[index + 1]

            def fit(c, block=block, above=above, target=target):
                prediction = above(block.nonlinear(c, values), values)
                return ops.mean(ops.square(prediction - target))

        scale = block.linear.code_scale(anchor)
        if isinstance(block.linear, RecurrentPart) and settings.code_sweep == "backward":
            # The recurrent nonlinear part reads only the last step, so the
            # fit of c_T alone is `fit` of a one-step sequence.
            updated[index] = block.linear.backward_sweep(
                first_input, anchor, lambda c, fit=fit: fit(c[:, None]), values,
                lambda objective, start, scale=scale: descend(objective, start, scale),
            )
            continue

        def objective(c, fit=fit, anchor=anchor, block=block,
                      a=first_input if index == 0 else None):
            energy = fit(c) + block.linear.proximity(c, anchor)
            return energy + block.linear.code_energy(a, c, values)

        updated[index] = descend(objective, anchor, scale)
    return updated


def block_inputs(plan, x, codes, values):
    """The input of every weight part: g_0(x), then g_l(c_l) for each code."""
    inputs = [plan.input_part(x, values)]
    for block, code in zip(plan.blocks, codes):
        inputs.append(block.nonlinear(code, values))
    return inputs


def hinge(prediction, code):
    """mean(relu(-f_l(a) * sign(c_l))): the prediction only needs c_l's sign."""
    target_sign = ops.where(code >= 0, 1.0, -1.0)
    return ops.mean(ops.relu(-prediction * target_sign))


def local_losses(
    plan, inputs, codes, y, values, loss_fn, weight_l1=0.0, binary_loss="mse"
):
    """The local objective of every block (ALGORITHM 2.3), bottom to top.

    block l:       mean((f_l(a_{l-1}) - c_l)^2) [+ weight_l1 * mean(|W_l|)]
    output block:  loss(y, h(a_L))

    With `binary_loss="hinge"`, a block whose code feeds a Sign or Step layer
    fits the code's sign only: `hinge(f_l(a_{l-1}), c_l)` (ALGORITHM 6).
    """
    losses = []
    for block, a, code in zip(plan.blocks, inputs, codes):
        if binary_loss == "hinge" and block.feeds_binary:
            loss = hinge(block.linear(a, values), code)
        else:
            loss = block.linear.fit_loss(a, code, values)
        kernel = block.linear.kernel
        if weight_l1 and kernel is not None:
            loss = loss + weight_l1 * ops.mean(ops.abs(values[id(kernel)]))
        losses.append(loss)
    losses.append(loss_fn(y, plan.output(inputs[-1], values)))
    return losses


def weight_gradients(
    plan, inputs, codes, y, values, loss_fn, variables, weight_l1, binary_loss
):
    """Gradients of the sum of local losses with respect to `variables`.

    Each local loss depends on the weights of its own block only, so one
    gradient of the sum holds every block's own gradient, and one application
    of an element-wise optimizer to it updates the blocks independently.

    Returns:
        `(losses, grads)`: the local losses (bottom to top) and one gradient
        per variable.
    """

    def total(candidate):
        trial = dict(values)
        trial.update({id(v): t for v, t in zip(variables, candidate)})
        losses = local_losses(
            plan, inputs, codes, y, trial, loss_fn, weight_l1, binary_loss
        )
        return ops.sum(ops.stack(losses)), losses

    (_, losses), grads = backend.value_and_grad(total)(
        [values[id(v)] for v in variables]
    )
    return losses, grads


def snapshot(variables):
    """The current values of `variables`, keyed by `id(variable)`."""
    return {id(v): ops.stop_gradient(ops.convert_to_tensor(v)) for v in variables}

