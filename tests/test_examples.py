"""Each example runs end to end in a CI-sized setting and writes its three outputs."""

import csv
import json
import os
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXAMPLES = {
    "fully_connected": (["--hidden", "16"], {"sgd", "adam", "am-adam", "am-mem", "am-adam-off",
                                             "am-mem-off"}),
    "lenet": ([], {"sgd", "adam", "am-adam"}),
    "binary_net": (["--hidden", "64", "64", "--batch-size", "50"], {"adam", "am-adam"}),
    "sequential_mnist": (["--hidden", "8"], {"sgd", "adam", "am-adam"}),
}
# AM-Adam on the RNN is not yet above chance after 2 epochs (README, Results).
UNTRAINED = {"sequential_mnist"}


def run_example(name, out, *extra):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(),
               PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", f"{name}.py"), "--epochs", "2",
         "--seeds", "1", "--early-batches", "3", "--out", out, *extra],
        env=env, check=True, capture_output=True, timeout=600,
    )
    with open(os.path.join(out, "results.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_writes_results_summary_and_plot(name, tmp_path):
    extra, methods = EXAMPLES[name]
    hparams = os.path.join(tmp_path, "best.json")
    with open(hparams, "w") as f:
        json.dump({"code_steps": 2}, f)
    out = os.path.join(tmp_path, "run")
    rows = run_example(name, out, "--hparams", hparams, *extra)
    assert {r["method"] for r in rows} == methods
    am = [r for r in rows if r["method"] == "am-adam" and r["split"] == "test"]
    assert [int(r["step"]) for r in am if r["epoch"] == "0"] == [0, 1, 2, 3]
    assert {r["epoch"] for r in am} == {"0", "1", "2"}
    if name not in UNTRAINED:
        assert float(am[-1]["accuracy"]) > 0.3  # well above chance (0.1) after 2 epochs
    with open(os.path.join(out, "summary.md")) as f:
        assert "| am-adam |" in f.read()
    assert os.path.getsize(os.path.join(out, "curves.png")) > 10_000


def load_example(name, folder="examples"):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"{folder}_{name}", os.path.join(ROOT, folder, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_higgs_streams_mock_data_and_evaluates_every_n_steps(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    higgs = load_example("higgs")
    out = os.path.join(tmp_path, "higgs")
    with tfds.testing.mock_data(num_examples=400):
        higgs.main(["--max-steps", "12", "--eval-every", "5", "--eval-rows", "100",
                    "--batch-size", "20", "--hidden", "16", "--out", out])
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    for method in ("sgd", "adam", "am-adam"):
        steps = [int(r["step"]) for r in rows if r["method"] == method]
        assert steps == [0, 5, 10, 12], method
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    assert os.path.getsize(os.path.join(out, "curves.png")) > 10_000


def test_higgs_without_data_stops_with_instructions(tmp_path):
    higgs = load_example("higgs")
    with pytest.raises(SystemExit, match="(?s)nothing was trained.*data_dir"):
        higgs.main(["--data-dir", str(tmp_path), "--no-download", "--out",
                    str(tmp_path / "out")])


def test_continual_writes_a_forgetting_matrix_per_method(tmp_path):
    continual = load_example("continual")
    out = os.path.join(tmp_path, "continual")
    continual.main(["--tasks", "3", "--epochs", "6", "--batch-size", "20", "--seeds", "1", "--hidden", "32", "32",
                    "--adam-lr", "0.003", "--weight-lr", "0.003",
                    "--out", out])
    with open(os.path.join(out, "forgetting.csv")) as f:
        rows = list(csv.DictReader(f))
    for method in ("adam", "am-adam", "am-mem"):
        mine = [r for r in rows if r["method"] == method]
        assert sorted((int(r["after_task"]), int(r["task"])) for r in mine) == [
            (i, j) for i in range(1, 4) for j in range(1, 4)]
        # the first task is learned (chance on a 10-way head: 0.1); later tasks
        # depend on how each method trades old tasks for new ones
        assert float(next(r["accuracy"] for r in mine
                          if r["after_task"] == "1" and r["task"] == "1")) > 0.5
        assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in mine)
    with open(os.path.join(out, "summary.md")) as f:
        assert "| am-mem |" in f.read()
    assert os.path.getsize(os.path.join(out, "curves.png")) > 10_000


def test_forgetting_measure():
    continual = load_example("continual")
    assert continual.forgetting([[1.0, 0.0], [0.25, 0.9]]) == pytest.approx(0.75)
    assert continual.forgetting([[0.5]]) == 0.0


@pytest.mark.parametrize("net", ["mlp", "rnn"])
def test_the_step_time_benchmark_reports_a_ratio_per_code_step_count(net, capsys):
    load_example("step_time", folder="benchmarks").main(["--net", net, "--samples", "64", "--batch-size", "32", "--epochs", "1",
                 "--rounds", "2", "--code-steps", "1", "2", "--time-steps", "8"])
    lines = [line for line in capsys.readouterr().out.splitlines() if "ratio to adam" in line]
    assert [line.split()[1 if net == "mlp" else 2] for line in lines] == [
        "code_steps=1", "code_steps=2"]
    assert all(line.count("rounds:") == 1 and len(line.split("rounds:")[1].split()) == 2
               for line in lines)
