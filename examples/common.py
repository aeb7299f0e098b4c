"""What every example shares: the command line, the runs, results.csv,
summary.md and curves.png (DESIGN, "Examples, results, plots")."""

import argparse
import csv
import json
import os
import time

import keras
import numpy as np

import keras_altmin as ka

FIELDS = ["method", "seed", "epoch", "step", "split", "accuracy", "loss", "seconds"]


def parser(description, methods, epochs, batch_size):
    """An ArgumentParser with the options every example takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", default="digits", choices=ka.datasets.NAMES)
    p.add_argument("--data-dir", default=None, help="tensorflow-datasets directory")
    p.add_argument("--methods", default=",".join(methods),
                   help=f"comma-separated, from {','.join(methods)}")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--early-batches", type=int, default=50,
                   help="evaluate after each of the first N minibatches")
    p.add_argument("--out", default="results/example", help="output directory")
    p.add_argument("--hparams", default=None,
                   help="JSON file of hyperparameters (as written by tuning/search.py)")
    return p


def parse(p):
    """Parses the command line; values in --hparams override the defaults
    (an explicit command-line flag still wins)."""
    args = p.parse_args()
    if args.hparams:
        with open(args.hparams) as f:
            hparams = json.load(f)
        defaults = {action.dest: action.default for action in p._actions}
        for name, value in hparams.items():
            dest = name.replace("-", "_")
            if dest in defaults and getattr(args, dest) == defaults[dest]:
                setattr(args, dest, value)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    return args


class EarlyEvaluation(keras.callbacks.Callback):
    """Test accuracy after each of the first `batches` minibatches."""

    def __init__(self, x, y, batches, record, timing):
        super().__init__()
        self.x, self.y, self.batches, self.record = x, y, batches, record
        self.timing = timing
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 0 and batch < self.batches:
            started = time.perf_counter()
            if hasattr(self.model, "jax_state_sync"):
                self.model.jax_state_sync()
            result = self.model.evaluate(self.x, self.y, verbose=0, return_dict=True)
            self.record(epoch=0, step=batch + 1, split="test", **result)
            # keep evaluation time out of the epoch time
            self.timing.started += time.perf_counter() - started


class EpochEvaluation(keras.callbacks.Callback):
    """Train loss/accuracy and test accuracy after every epoch, with the time."""

    def __init__(self, x, y, record, steps_per_epoch):
        super().__init__()
        self.x, self.y, self.record = x, y, record
        self.steps_per_epoch = steps_per_epoch
        self.seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += time.perf_counter() - self.started
        step = (epoch + 1) * self.steps_per_epoch
        self.record(epoch=epoch + 1, step=step, split="train",
                    accuracy=logs.get("accuracy"), loss=logs.get("loss"))
        result = self.model.evaluate(self.x, self.y, verbose=0, return_dict=True)
        self.record(epoch=epoch + 1, step=step, split="test", **result)


class Results:
    """Rows of results.csv, written as they come so an interrupted run keeps them."""

    def __init__(self, out):
        os.makedirs(out, exist_ok=True)
        self.out = out
        self.rows = []
        self.path = os.path.join(out, "results.csv")
        with open(self.path, "w", newline="") as f:
            csv.DictWriter(f, FIELDS).writeheader()

    def recorder(self, method, seed, clock):
        def record(epoch, step, split, accuracy=None, loss=None, **_):
            row = dict(method=method, seed=seed, epoch=epoch, step=step, split=split,
                       accuracy=_number(accuracy), loss=_number(loss),
                       seconds=round(clock.seconds, 3))
            self.rows.append(row)
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, FIELDS).writerow(row)
        return record


def _number(value):
    return None if value is None else float(value)


def train(model, data, args, results, method, seed):
    """Fits `model` on `data` with the evaluations every example reports."""
    x, y = data.train
    steps_per_epoch = int(np.ceil(len(x) / args.batch_size))
    timing = EpochEvaluation(*data.test, None, steps_per_epoch)
    record = results.recorder(method, seed, timing)
    timing.record = record
    record(epoch=0, step=0, split="test",
           **model.evaluate(*data.test, verbose=0, return_dict=True))
    callbacks = [EarlyEvaluation(*data.test, args.early_batches, record, timing), timing]
    keras.utils.set_random_seed(seed)  # the same batch order for every method
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0,
              callbacks=callbacks)
    return timing.seconds


def summarize(results, methods, checkpoints=(8,)):
    """summary.md: final test accuracy (mean, std over seeds), early accuracy, time."""
    rows = results.rows
    lines = ["| method | final test accuracy (mean ± std) | seeds | "
             + " | ".join(f"after {c} batches" for c in checkpoints)
             + " | seconds / epoch |",
             "|---|---|---|" + "---|" * len(checkpoints) + "---|"]
    for method in methods:
        mine = [r for r in rows if r["method"] == method and r["split"] == "test"]
        if not mine:
            continue
        last_epoch = max(r["epoch"] for r in mine)
        final = [r["accuracy"] for r in mine if r["epoch"] == last_epoch and r["step"] > 0
                 and r["epoch"] > 0]
        early = []
        for checkpoint in checkpoints:
            at = [r["accuracy"] for r in mine if r["epoch"] == 0 and r["step"] == checkpoint]
            early.append(f"{np.mean(at):.4f}" if at else "n/a")
        epochs = max(last_epoch, 1)
        seconds = [max(r["seconds"] for r in mine if r["seed"] == s) / epochs
                   for s in sorted({r["seed"] for r in mine})]
        lines.append(f"| {method} | {np.mean(final):.4f} ± {np.std(final):.4f} | {len(final)} | "
                     + " | ".join(early) + f" | {np.mean(seconds):.3f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results.out, "summary.md"), "w") as f:
        f.write(text)
    return text


def plot(results, methods, title):
    """curves.png: accuracy over the first minibatches, then over epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (early, late) = plt.subplots(1, 2, figsize=(11, 4))
    for method in methods:
        mine = [r for r in results.rows if r["method"] == method and r["split"] == "test"]
        if not mine:
            continue
        for axis, rows, key in (
            (early, [r for r in mine if r["epoch"] == 0], "step"),
            (late, [r for r in mine if r["epoch"] > 0 or r["step"] == 0], "epoch"),
        ):
            xs = sorted({r[key] for r in rows})
            values = [[r["accuracy"] for r in rows if r[key] == v] for v in xs]
            mean = np.array([np.mean(v) for v in values])
            spread = np.array([np.std(v) for v in values])
            axis.plot(xs, mean, label=method)
            axis.fill_between(xs, mean - spread, mean + spread, alpha=0.2)
    early.set(xlabel="minibatches (first epoch)", ylabel="test accuracy", title=title)
    late.set(xlabel="epochs", ylabel="test accuracy", title=title)
    for axis in (early, late):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(results.out, "curves.png"), dpi=120)
    plt.close(figure)
