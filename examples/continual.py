"""Continual learning: does AM forget less than backprop? (The paper only hypothesizes it.)

The data set is split into 5 tasks of 2 classes each (0/1, 2/3, ..., 8/9).
Every method trains on the tasks in sequence, from the same initial weights,
with one shared 10-way output; after each task it is tested on every task.
The result is a forgetting matrix per method, accuracy[i][j] = accuracy on
task j after training through task i, its mean over seeds in summary.md,
every entry in forgetting.csv and the accuracy on each task across the
sequence in curves.png. AM-mem's memory keeps the co-activations of earlier
tasks (unless --memory-decay), which is the mechanism that might help.

    python examples/continual.py --out results/continual
    python examples/continual.py --dataset mnist --hidden 500 500 --out results/continual_mnist
"""

import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

METHODS = ("adam", "am-adam", "am-mem")
FIELDS = ["method", "seed", "after_task", "task", "accuracy"]


def split_tasks(x, y, tasks):
    """`tasks` pairs of consecutive classes: [(x, y) of classes 0-1, 2-3, ...]."""
    return [(x[np.isin(y, classes)], y[np.isin(y, classes)])
            for classes in np.array_split(np.arange(2 * tasks), tasks)]


def build(num_inputs, hidden, num_classes):
    """Plain Dense blocks without bias, which every method (AM-mem too) trains."""
    layers = [keras.Input((num_inputs,))]
    layers += [keras.layers.Dense(units, use_bias=False, activation="relu") for units in hidden]
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers)


def forgetting(matrix):
    """Mean over earlier tasks of (best accuracy ever reached - final accuracy)."""
    matrix = np.asarray(matrix)
    tasks = len(matrix)
    if tasks < 2:
        return 0.0
    return float(np.mean([matrix[:, j].max() - matrix[-1, j] for j in range(tasks - 1)]))


def summarize(out, matrices, methods):
    lines = ["| method | final mean accuracy over tasks | forgetting | seeds |",
             "|---|---|---|---|"]
    blocks = []
    for method in methods:
        mine = np.array(matrices[method])
        final = [np.mean(m[-1]) for m in mine]
        forgot = [forgetting(m) for m in mine]
        lines.append(f"| {method} | {np.mean(final):.4f} ± {np.std(final):.4f} | "
                     f"{np.mean(forgot):.4f} ± {np.std(forgot):.4f} | {len(mine)} |")
        mean = mine.mean(axis=0)
        tasks = mean.shape[0]
        blocks.append(f"\n{method}: accuracy on task j (columns) after training through "
                      "task i (rows), mean over seeds\n\n| after \\ on | "
                      + " | ".join(str(j + 1) for j in range(tasks)) + " |\n|---|"
                      + "---|" * tasks + "\n"
                      + "\n".join(f"| {i + 1} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
                                  for i, row in enumerate(mean)))
    text = "\n".join(lines) + "\n" + "\n".join(blocks) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    return text


def plot(out, matrices, methods, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = len(matrices[methods[0]][0])
    figure, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.5), sharey=True)
    for axis, method in zip(np.atleast_1d(axes), methods):
        mean = np.mean(matrices[method], axis=0)
        for j in range(tasks):
            axis.plot(range(j + 1, tasks + 1), mean[j:, j], marker="o", label=f"task {j + 1}")
        axis.set(title=f"{method}: {title}", xlabel="trained through task",
                 xticks=range(1, tasks + 1))
        axis.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "curves.png"), dpi=120)
    plt.close(figure)


def make_parser():
    p = common.parser(__doc__.splitlines()[0], METHODS, epochs=10, batch_size=50)
    p.add_argument("--tasks", type=int, default=5)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    p.add_argument("--bcd-sweeps", type=int, default=5, help="AM-mem: BCD sweeps per batch")
    p.add_argument("--memory-decay", type=float, default=None,
                   help="AM-mem: exponential memory decay in (0, 1] (default: plain sum)")
    # Gentler codes than the fully connected example's (code lr 1.0, mu 0.003):
    # on two-class tasks those drive AM-mem's exact kernel solves to blow up.
    common.add_method_arguments(p, adam_lr=0.001, weight_lr=0.001, code_lr=0.3,
                                mu_initial=0.03, mu_max=0.3)
    return p


def load_data(args, validation_size=None):
    data = ka.datasets.load(args.dataset, data_dir=args.data_dir,
                            validation_size=validation_size)
    if data.num_classes < 2 * args.tasks:
        sys.exit(f"{args.dataset} has {data.num_classes} classes: at most "
                 f"{data.num_classes // 2} tasks of 2 (--tasks)")
    return data


def build_net(data, args, method="am-adam"):
    return build(data.train[0].shape[1], args.hidden, data.num_classes)


def am_options(args, method):
    if method == "am-mem":
        return dict(bcd_sweeps=args.bcd_sweeps, memory_decay=args.memory_decay)
    return {}


def train_sequence(model, train_tasks, test_tasks, args, seed, epochs=None, on_row=None):
    """Trains `model` on each task in turn and tests it on every task after each.

    Returns:
        The accuracy matrix: row i holds the accuracy on every task after
        training through task i.
    """
    matrix = []
    for after, (x, y) in enumerate(train_tasks):
        keras.utils.set_random_seed(seed + after)  # the same batches for every method
        model.fit(x, y, batch_size=args.batch_size, epochs=epochs or args.epochs, verbose=0)
        row = [model.evaluate(tx, ty, verbose=0, return_dict=True)["accuracy"]
               for tx, ty in test_tasks]
        matrix.append(row)
        if on_row:
            on_row(after, row)
    return matrix


def search_fit(args, data):
    """The searches' objective: after the whole task sequence, the mean
    accuracy over every task's validation images (what forgetting lowers).

    Returns a `fit(model, *args, epochs=None, **kwargs)` for the HyperModels;
    it trains on `data`'s tasks and ignores the arrays KerasTuner passes.
    """
    train_tasks = split_tasks(*data.train, args.tasks)
    validation_tasks = split_tasks(*data.validation, args.tasks)

    def fit(model, *unused, epochs=None, **unused_options):
        matrix = train_sequence(model, train_tasks, validation_tasks, args, seed=0,
                                epochs=epochs)
        return {"val_accuracy": float(np.mean(matrix[-1])),
                "val_forgetting": forgetting(matrix)}

    return fit


def main(argv=None):
    args = common.parse(make_parser(), argv)
    data = load_data(args)
    train_tasks = split_tasks(*data.train, args.tasks)
    test_tasks = split_tasks(*data.test, args.tasks)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "forgetting.csv")
    with open(path, "w", newline="") as f:
        csv.DictWriter(f, FIELDS).writeheader()
    matrices = {method: [] for method in args.methods}
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        initial = build_net(data, args)
        for method in args.methods:
            model = common.compile_method(method, initial, args, 1, **am_options(args, method))

            def write(after, row, method=method, seed=seed):
                with open(path, "a", newline="") as f:
                    writer = csv.DictWriter(f, FIELDS)
                    for task, accuracy in enumerate(row):
                        writer.writerow(dict(method=method, seed=seed, after_task=after + 1,
                                             task=task + 1, accuracy=float(accuracy)))

            matrix = train_sequence(model, train_tasks, test_tasks, args, seed, on_row=write)
            matrices[method].append(matrix)
            print(f"seed {seed} {method:8s} final accuracy per task "
                  + " ".join(f"{a:.3f}" for a in matrix[-1])
                  + f" forgetting {forgetting(matrix):.3f}", flush=True)
    print(summarize(args.out, matrices, args.methods))
    plot(args.out, matrices, args.methods, args.dataset)


if __name__ == "__main__":
    main()
