import torch
from keras import tree


def value_and_grad(fn):
    def wrapped(xs):
        xs = [x.detach().requires_grad_(True) for x in xs]
        with torch.enable_grad():
            value, aux = fn(xs)
            grads = torch.autograd.grad(value, xs, allow_unused=True)
        grads = [
            torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs)
        ]
        aux = tree.map_structure(
            lambda t: t.detach() if isinstance(t, torch.Tensor) else t, aux
        )
        return (value.detach(), aux), grads

    return wrapped


def run_train_step(model, step, data):
    return step(data)
