"""KerasTuner searches: HyperModels, the search script, resuming, --hparams."""

import csv
import glob
import json
import os
import subprocess
import sys

import keras
import keras_tuner
import pytest

import keras_altmin as ka
from conftest import digits_net

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_altmin_hypermodel_names_the_paper_grid():
    hp = keras_tuner.HyperParameters()
    model = ka.tuning.AltMinHyperModel(lambda: digits_net()).build(hp)
    assert isinstance(model, ka.AltMinModel)
    assert set(hp.values) == {"weight_lr", "code_lr", "mu_batch_increment",
                              "mu_epoch_multiplier"}
    assert hp.values["weight_lr"] == 2e-2
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(2e-2)
    assert model.settings.code_lr == hp.values["code_lr"]
    assert model.settings.mu.batch_increment == hp.values["mu_batch_increment"]


def test_the_learning_rate_space_searches_weight_and_code_rates_on_a_log_scale():
    hp = keras_tuner.HyperParameters()
    hypermodel = ka.tuning.AltMinHyperModel(lambda: digits_net(),
                                            space=ka.tuning.LEARNING_RATE_SPACE)
    model = hypermodel.build(hp)
    assert set(hp.values) == {"weight_lr", "code_lr"}
    for name in ("weight_lr", "code_lr"):
        spec = hp.get_config()["space"][[p["config"]["name"] for p in
                                         hp.get_config()["space"]].index(name)]
        assert spec["config"]["sampling"] == "log"
    assert model.settings.code_lr == hp.values["code_lr"]
    assert model.settings.mu.initial == ka.tuning.AM_DEFAULTS["mu_initial"]


def test_hypermodels_report_the_final_not_the_best_validation_accuracy(digits):
    hypermodel = ka.tuning.BackpropHyperModel(lambda: digits_net(), optimizer="sgd")
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert set(hp.values) == {"sgd_lr"}
    logs = hypermodel.fit(hp, model, *digits.train, validation_data=digits.test,
                          epochs=3, batch_size=200, verbose=0)
    history = model.history.history
    assert logs["val_accuracy"] == history["val_accuracy"][-1]
    with pytest.raises(ValueError, match="validation_data"):
        hypermodel.fit(hp, model, *digits.train, epochs=1, verbose=0)


def search(out, *extra):
    import importlib.util

    spec = importlib.util.spec_from_file_location("search", os.path.join(ROOT, "tuning",
                                                                         "search.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    experiment = [] if "--experiment" in extra else ["--experiment", "fully_connected"]
    return module.main([*experiment, "--epochs", "1", "--out", out, *extra])


def trials(out):
    return sorted(glob.glob(os.path.join(out, "*", "trial_*", "trial.json")))


def test_search_writes_best_hparams_resumes_and_drives_the_example(tmp_path):
    out = str(tmp_path / "search")
    best = search(out, "--max-trials", "2")
    assert len(trials(out)) == 2
    with open(os.path.join(out, "best_hparams.json")) as f:
        assert json.load(f) == best
    first = {path: os.path.getmtime(path) for path in trials(out)}

    # the same command again: the finished trials are reloaded, not rerun
    assert search(out, "--max-trials", "2") == best
    assert {path: os.path.getmtime(path) for path in trials(out)} == first
    # a larger budget continues a search with one more trial (KerasTuner's
    # GridSearch cannot extend a reloaded grid, so this one is a random search)
    random_out = str(tmp_path / "random")
    search(random_out, "--max-trials", "2", "--tuner", "random")
    search(random_out, "--max-trials", "3", "--tuner", "random")
    assert len(trials(random_out)) == 3

    run = str(tmp_path / "run")
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(),
               PYTHONPATH=os.pathsep.join(sys.path))
    completed = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "fully_connected.py"),
         "--methods", "am-adam", "--epochs", "1", "--seeds", "1", "--early-batches", "0",
         "--hparams", os.path.join(out, "best_hparams.json"), "--out", run],
        env=env, check=True, capture_output=True, text=True, timeout=600)
    with open(os.path.join(run, "results.csv")) as f:
        assert {r["method"] for r in csv.DictReader(f)} == {"am-adam"}
    assert "am-adam" in completed.stdout


def test_a_higgs_search_streams_mock_rows_and_validates_on_held_out_rows(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    out = str(tmp_path / "higgs")
    with tfds.testing.mock_data(num_examples=400):
        best = search(out, "--experiment", "higgs", "--tuner", "random", "--max-trials", "2",
                      "--max-steps", "6", "--batch-size", "20", "--hidden", "8",
                      "--eval-rows", "50", "--validation-rows", "60")
    assert len(trials(out)) == 2
    assert set(best) == set(ka.tuning.PAPER_GRID)
    for path in trials(out):
        with open(path) as f:
            trial = json.load(f)
        accuracy = trial["metrics"]["metrics"]["val_accuracy"]["observations"][0]["value"][0]
        assert 0.0 <= accuracy <= 1.0


def test_a_continual_search_scores_the_whole_task_sequence(tmp_path):
    out = str(tmp_path / "continual")
    best = search(out, "--experiment", "continual", "--tuner", "random", "--max-trials", "2",
                  "--tasks", "2", "--hidden", "8", "--batch-size", "50")
    assert set(best) == set(ka.tuning.PAPER_GRID)
    for path in trials(out):
        with open(path) as f:
            metrics = json.load(f)["metrics"]["metrics"]
        accuracy = metrics["val_accuracy"]["observations"][0]["value"][0]
        forgetting = metrics["val_forgetting"]["observations"][0]["value"][0]
        assert 0.0 <= accuracy <= 1.0 and 0.0 <= forgetting <= 1.0
    assert len(trials(out)) == 2
