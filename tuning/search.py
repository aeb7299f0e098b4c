"""Hyperparameter searches with KerasTuner, for every example (the paper's protocol).

Trains on 5/6 of the training set, selects by the final accuracy on the other
1/6, with `--executions` initializations per setting; the search spaces are
the paper's (keras_altmin.tuning). The KerasTuner project lives under
`--out`, so running the same command again resumes an interrupted search
instead of restarting it (a random or Bayesian search resumed with a larger
`--max-trials` goes on to it; KerasTuner's GridSearch does not save where it is
in the grid, so a reloaded grid search only reports). Writes `OUT/best_hparams.json`, which every example
takes as `--hparams`:

    python tuning/search.py --experiment fully_connected --tuner grid --max-trials 10 --out results/search_fc
    python examples/fully_connected.py --methods am-adam --hparams results/search_fc/best_hparams.json

An experiment joins by adding an entry to SPACES; its example module provides
`make_parser()`, `load_data(args, validation_size)`, `build_net(data, args,
method)` and optionally `am_options(args, method)`, `fit_data(args, data)`
(what `fit` trains on, when not the arrays `data.train` in `--batch-size`
batches: HIGGS streams `--max-steps` batches) and `search_fit(args, data)`
(a whole trial's training when it is not one `fit`: continual learning's task
sequence, scored by the final mean validation accuracy over all tasks).
Options this script does not know go to the example's parser:

    python tuning/search.py --experiment higgs --tuner random --max-trials 10 --out results/search_higgs --data-dir DIR --max-steps 2000 --validation-rows 100000
"""

import argparse
import importlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import keras  # noqa: E402
import keras_tuner  # noqa: E402

import common  # noqa: E402
import keras_altmin as ka  # noqa: E402

# experiment -> method -> search space (see keras_altmin.tuning)
SPACES = {
    "fully_connected": {"am": ka.tuning.PAPER_GRID, "adam": None, "sgd": None},
    "lenet": {"am": ka.tuning.PAPER_GRID, "adam": None, "sgd": None},
    "binary_net": {"am": ka.tuning.PAPER_GRID, "adam": None},
    "sequential_mnist": {"am": ka.tuning.RNN_GRID, "adam": None, "sgd": None},
    "higgs": {"am": ka.tuning.PAPER_GRID, "adam": None, "sgd": None},
    "continual": {"am": ka.tuning.PAPER_GRID, "adam": None},
}
TUNERS = {
    "grid": keras_tuner.GridSearch,
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "hyperband": keras_tuner.Hyperband,
}
AM_NAMES = ("weight_lr", "code_lr", "code_steps", "mu_initial", "mu_batch_increment",
            "mu_epoch_multiplier", "mu_max")


def hypermodel(example, method, args, data, steps_per_epoch, space="paper"):
    def net():
        return example.build_net(data, args, method)

    fit_function = example.search_fit(args, data) if hasattr(example, "search_fit") else None
    if method in ("adam", "sgd"):
        return ka.tuning.BackpropHyperModel(net, optimizer=method, momentum=args.sgd_momentum,
                                            fit_function=fit_function)
    options = example.am_options(args, method) if hasattr(example, "am_options") else {}
    # An example's per-method AM knobs (a code lr for AM-mem) are the defaults of
    # the names the space does not search.
    defaults = {name: options.pop(name, getattr(args, name)) for name in AM_NAMES}
    return ka.tuning.AltMinHyperModel(
        net,
        space=SPACES[args.experiment]["am"] if space == "paper" else ka.tuning.LEARNING_RATE_SPACE,
        defaults=defaults,
        method=method,
        compile_options=options,
        weight_lr_schedule=lambda lr: common.epoch_decay(lr, 0.5, args.lr_halve_every,
                                                         steps_per_epoch),
        fit_function=fit_function,
    )


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", required=True, choices=sorted(SPACES))
    p.add_argument("--method", default="am-adam",
                   help="am-adam, am-mem (where the example has it), adam or sgd")
    p.add_argument("--tuner", default="grid", choices=sorted(TUNERS))
    p.add_argument("--space", default="paper", choices=("paper", "learning-rates"),
                   help="AM: the paper's grid for the experiment, or log-uniform weight "
                        "and code learning rates (Appendix D's Bayesian search)")
    p.add_argument("--max-trials", type=int, default=10)
    p.add_argument("--executions", type=int, default=1,
                   help="initializations per setting (their accuracies are averaged)")
    p.add_argument("--dataset", default=None, help="default: the example's (digits; higgs)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=None, help="default: the example's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    return p.parse_known_args(argv)


def main(argv=None):
    options, example_argv = parse(argv)
    if options.method not in SPACES[options.experiment] and not (
            options.method.startswith("am") and "am" in SPACES[options.experiment]):
        sys.exit(f"--method {options.method} is not searched for {options.experiment}.")
    example = importlib.import_module(options.experiment)
    if options.dataset:
        example_argv += ["--dataset", options.dataset]
    if options.data_dir:
        example_argv += ["--data-dir", options.data_dir]
    args = common.parse(example.make_parser(), example_argv)
    args.experiment = options.experiment
    epochs = options.epochs or args.epochs
    data = example.load_data(args, validation_size=1 / 6)
    if hasattr(example, "fit_data"):
        fit_inputs, fit_options = example.fit_data(args, data)
    else:
        fit_inputs, fit_options = data.train, dict(batch_size=args.batch_size)
    steps_per_epoch = fit_options.get("steps_per_epoch") or -(
        -len(data.train[0]) // args.batch_size)

    keras.utils.set_random_seed(options.seed)
    tuner_class = TUNERS[options.tuner]
    extra = {"max_epochs": epochs} if options.tuner == "hyperband" else {
        "max_trials": options.max_trials}
    tuner = tuner_class(
        hypermodel(example, options.method, args, data, steps_per_epoch, options.space),
        objective=keras_tuner.Objective("val_accuracy", direction="max"),
        executions_per_trial=options.executions,
        directory=options.out,
        project_name=f"{options.experiment}_{options.method}_{args.dataset}"
                     + ("" if options.space == "paper" else f"_{options.space}"),
        overwrite=False,  # an existing project resumes
        seed=options.seed,
        **extra,
    )
    if options.tuner != "hyperband":
        # a reloaded oracle keeps its old budget; a resumed search may raise it
        tuner.oracle.max_trials = options.max_trials
    tuner.search(*fit_inputs, validation_data=data.validation, epochs=epochs, verbose=0,
                 **fit_options)
    tuner.results_summary(num_trials=5)
    best = tuner.get_best_hyperparameters(1)[0].values
    path = os.path.join(options.out, "best_hparams.json")
    with open(path, "w") as f:
        json.dump(best, f, indent=2, sort_keys=True)
    print(f"best hyperparameters -> {path}: {best}")
    return best


if __name__ == "__main__":
    main()
