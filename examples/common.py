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


METHOD_DEFAULTS = dict(
    sgd_lr=0.05, sgd_momentum=0.9, sgd_decay=1.0, adam_lr=0.008,
    weight_lr=0.008, lr_halve_every=0, code_lr=0.3, code_momentum=0.9, code_steps=5,
    weight_steps=1, mu_initial=0.003, mu_batch_increment=0.0, mu_epoch_multiplier=1.0,
    mu_max=0.03,
)


def add_method_arguments(p, **defaults):
    """The knobs of the baselines and of AM, with an example's own defaults."""
    unknown = set(defaults) - set(METHOD_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown method arguments {sorted(unknown)}")
    d = dict(METHOD_DEFAULTS, **defaults)
    g = p.add_argument_group("methods")
    g.add_argument("--sgd-lr", type=float, default=d["sgd_lr"])
    g.add_argument("--sgd-momentum", type=float, default=d["sgd_momentum"])
    g.add_argument("--sgd-decay", type=float, default=d["sgd_decay"],
                   help="multiply the SGD learning rate by this after every epoch")
    g.add_argument("--adam-lr", type=float, default=d["adam_lr"])
    g.add_argument("--weight-lr", type=float, default=d["weight_lr"],
                   help="AM: learning rate of the weight optimizer (Adam)")
    g.add_argument("--lr-halve-every", type=int, default=d["lr_halve_every"],
                   help="AM: halve the weight lr every N epochs (0: never)")
    g.add_argument("--code-lr", type=float, default=d["code_lr"],
                   help="AM: code learning rate (None: the example's choice per method)")
    g.add_argument("--code-momentum", type=float, default=d["code_momentum"])
    g.add_argument("--code-steps", type=int, default=d["code_steps"])
    g.add_argument("--weight-steps", type=int, default=d["weight_steps"])
    g.add_argument("--mu-initial", type=float, default=d["mu_initial"])
    g.add_argument("--mu-batch-increment", type=float, default=d["mu_batch_increment"])
    g.add_argument("--mu-epoch-multiplier", type=float, default=d["mu_epoch_multiplier"])
    g.add_argument("--mu-max", type=float, default=d["mu_max"])
    return p


def epoch_decay(learning_rate, rate, every_epochs, steps_per_epoch):
    """`learning_rate` multiplied by `rate` every `every_epochs` epochs."""
    if rate == 1.0 or not every_epochs:
        return learning_rate
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=every_epochs * steps_per_epoch, decay_rate=rate,
        staircase=True)


def compile_method(method, initial, args, steps_per_epoch, **am_options):
    """A compiled twin of the `keras.Sequential` `initial` (same weights) for `method`.

    "sgd" and "adam" train by backprop; "am-adam", "am-mem" and their "-off"
    variants by alternating minimization, with `am_options` passed to compile
    (they override the settings made from `args`, e.g. a per-method code_lr).
    """
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if method in ("sgd", "adam"):
        model = keras.models.clone_model(initial)
        model.set_weights(initial.get_weights())
        if method == "sgd":
            optimizer = keras.optimizers.SGD(
                epoch_decay(args.sgd_lr, args.sgd_decay, 1, steps_per_epoch),
                momentum=args.sgd_momentum)
        else:
            optimizer = keras.optimizers.Adam(args.adam_lr)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return model
    model = ka.AltMinModel.from_sequential(initial)
    settings = dict(
        code_lr=args.code_lr, code_momentum=args.code_momentum,
        code_steps=args.code_steps, weight_steps=args.weight_steps,
        mu=ka.MuSchedule(initial=args.mu_initial, batch_increment=args.mu_batch_increment,
                         epoch_multiplier=args.mu_epoch_multiplier, maximum=args.mu_max),
    )
    settings.update(am_options)  # an example's per-method choices win
    model.compile(
        optimizer=keras.optimizers.Adam(
            epoch_decay(args.weight_lr, 0.5, args.lr_halve_every, steps_per_epoch)),
        loss=loss, metrics=["accuracy"], method=method.removesuffix("-off"), **settings,
    )
    return model


def run(args, data, build, am_options=None, variant=None):
    """Trains every method of `args.methods` from `build()`'s weights, per seed.

    Methods ending in "-off" (the offline variants) take the whole training
    set as one batch, so one step per epoch. `am_options` (a dict, or a
    function of the method giving one) go to the AM methods' compile. `variant(method, initial)` may
    return the net a method trains instead of `initial` (with its weights).
    """
    results = Results(args.out)
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        initial = build()
        for method in args.methods:
            options = {}
            if method.startswith("am"):
                options = am_options(method) if callable(am_options) else am_options or {}
            batch_size = len(data.train[0]) if method.endswith("-off") else args.batch_size
            steps_per_epoch = -(-len(data.train[0]) // batch_size)
            net = variant(method, initial) if variant else initial
            model = compile_method(method, net, args, steps_per_epoch, **options)
            seconds = train(model, data, args, results, method, seed, batch_size)
            final = [r for r in results.rows if r["method"] == method and r["seed"] == seed
                     and r["split"] == "test"][-1]
            print(f"seed {seed} {method:8s} test accuracy {final['accuracy']:.4f} "
                  f"({seconds:.1f} s)", flush=True)
    return results


def run_example(example, title, **plot_options):
    """An example's whole run: its command line, data, every method and seed, summary and plot.

    `example` is the script's module, providing `make_parser()`,
    `load_data(args)`, `build_net(data, args)` and optionally
    `am_options(args, method)` and `variant(method, initial)`; `title(args)`
    names the plot.
    """
    args = parse(example.make_parser())
    data = example.load_data(args)
    options = getattr(example, "am_options", None)
    results = run(args, data, lambda: example.build_net(data, args),
                  am_options=(lambda method: options(args, method)) if options else None,
                  variant=getattr(example, "variant", None))
    print(summarize(results, args.methods))
    plot(results, args.methods, title(args), **plot_options)
    return results


def parse(p, argv=None):
    """Parses the command line; values in --hparams override the defaults
    (an explicit command-line flag still wins)."""
    args = p.parse_args(argv)
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


class Clock:
    """Seconds of training so far (what results.csv records)."""

    seconds = 0.0


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


def train(model, data, args, results, method, seed, batch_size=None):
    """Fits `model` on `data` with the evaluations every example reports."""
    x, y = data.train
    batch_size = batch_size or args.batch_size
    steps_per_epoch = int(np.ceil(len(x) / batch_size))
    timing = EpochEvaluation(*data.test, None, steps_per_epoch)
    record = results.recorder(method, seed, timing)
    timing.record = record
    record(epoch=0, step=0, split="test",
           **model.evaluate(*data.test, verbose=0, return_dict=True))
    callbacks = [EarlyEvaluation(*data.test, args.early_batches, record, timing), timing]
    keras.utils.set_random_seed(seed)  # the same batch order for every method
    model.fit(x, y, batch_size=batch_size, epochs=args.epochs, verbose=0,
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
        seeds = sorted({r["seed"] for r in mine})
        final = [max((r for r in mine if r["seed"] == s),
                     key=lambda r: (r["epoch"], r["step"]))["accuracy"] for s in seeds]
        early = []
        for checkpoint in checkpoints:
            at = [r["accuracy"] for r in mine if r["epoch"] == 0 and r["step"] == checkpoint]
            early.append(f"{np.mean(at):.4f}" if at else "n/a")
        epochs = max(last_epoch, 1)
        seconds = [max(r["seconds"] for r in mine if r["seed"] == s) / epochs for s in seeds]
        lines.append(f"| {method} | {np.mean(final):.4f} ± {np.std(final):.4f} | {len(final)} | "
                     + " | ".join(early) + f" | {np.mean(seconds):.3f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results.out, "summary.md"), "w") as f:
        f.write(text)
    return text


def _reference_lines(axis, lines):
    for value, label in lines:
        axis.axhline(value, color="gray", linestyle="--", linewidth=1)
        axis.annotate(label, (0, value), xycoords=("axes fraction", "data"),
                      textcoords="offset points", xytext=(4, 3), fontsize=8, color="gray")


def _mean_and_spread(axis, rows, key, label, error=False):
    xs = sorted({r[key] for r in rows})
    values = [[1.0 - r["accuracy"] if error else r["accuracy"]
               for r in rows if r[key] == v] for v in xs]
    mean = np.array([np.mean(v) for v in values])
    spread = np.array([np.std(v) for v in values])
    axis.plot(xs, mean, label=label)
    axis.fill_between(xs, mean - spread, mean + spread, alpha=0.2)


def plot_steps(results, methods, title, lines=()):
    """curves.png for streamed training: test accuracy against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for method in methods:
        mine = [r for r in results.rows if r["method"] == method and r["split"] == "test"]
        if mine:
            _mean_and_spread(axis, mine, "step", method)
    _reference_lines(axis, lines)
    axis.set(xlabel="minibatches", ylabel="test accuracy", title=title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(results.out, "curves.png"), dpi=120)
    plt.close(figure)


def plot(results, methods, title, error=False, lines=()):
    """curves.png: accuracy over the first minibatches, then over epochs.

    `error=True` plots the test error (1 - accuracy) instead; `lines` are
    `(value, label)` reference levels drawn across the epoch plot.
    """
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
            _mean_and_spread(axis, rows, key, method, error)
    _reference_lines(late, lines)
    ylabel = "test error" if error else "test accuracy"
    early.set(xlabel="minibatches (first epoch)", ylabel=ylabel, title=title)
    late.set(xlabel="epochs", ylabel=ylabel, title=title)
    for axis in (early, late):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(results.out, "curves.png"), dpi=120)
    plt.close(figure)
