import jax
import keras


def value_and_grad(fn):
    return jax.value_and_grad(fn, has_aux=True)


def run_train_step(model, step, state, data):
    """Runs the stateful `step(data)` on JAX's explicit training state.

    Every variable the step reads or assigns is mapped to its value in
    `state` through a `StatelessScope`; the values it holds afterwards are
    the new state, as `BaseOptimizer.stateless_apply` does for one optimizer.
    """
    variables = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    mapping = [
        (variable, value)
        for group, values in zip(variables, state)
        for variable, value in zip(group, values)
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = tuple(
        [
            _current_value(scope, variable, value)
            for variable, value in zip(group, values)
        ]
        for group, values in zip(variables, state)
    )
    return logs, new_state


def _current_value(scope, variable, old_value):
    value = scope.get_current_value(variable)
    return old_value if value is None else value
