import csv
import json
import os
import subprocess
import sys

import keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_fully_connected_example_writes_results_summary_and_plot(tmp_path):
    hparams = os.path.join(tmp_path, "best.json")
    with open(hparams, "w") as f:
        json.dump({"code_steps": 2, "weight_lr": 0.01}, f)
    out = os.path.join(tmp_path, "run")
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(),
               PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "fully_connected.py"),
         "--epochs", "2", "--seeds", "1", "--early-batches", "3", "--hidden", "16",
         "--hparams", hparams, "--out", out],
        env=env, check=True, capture_output=True, timeout=600,
    )
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert {r["method"] for r in rows} == {"sgd", "adam", "am-adam"}
    am = [r for r in rows if r["method"] == "am-adam" and r["split"] == "test"]
    assert [int(r["step"]) for r in am if r["epoch"] == "0"] == [0, 1, 2, 3]
    assert {r["epoch"] for r in am} == {"0", "1", "2"}
    assert float(am[-1]["accuracy"]) > 0.3  # well above chance (0.1) after 2 epochs
    with open(os.path.join(out, "summary.md")) as f:
        assert "| am-adam |" in f.read()
    assert os.path.getsize(os.path.join(out, "curves.png")) > 10_000
