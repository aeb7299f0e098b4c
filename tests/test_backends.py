import os
import subprocess
import sys

import keras
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND_MODULES = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}


def _installed(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def test_three_backends_give_the_same_weights_after_ten_steps(tmp_path):
    """This backend runs in process; the others, where installed, in subprocesses."""
    from cross_backend_run import ten_steps

    here = [np.asarray(w) for w in ten_steps()]
    others = [b for b in BACKEND_MODULES if b != keras.backend.backend()]
    others = [b for b in others if _installed(BACKEND_MODULES[b])]
    if not others:
        pytest.skip("no other Keras backend installed to compare with")
    for name in others:
        out = os.path.join(tmp_path, f"{name}.npz")
        env = dict(os.environ, KERAS_BACKEND=name, PYTHONPATH=os.pathsep.join(sys.path))
        subprocess.run(
            [sys.executable, os.path.join(HERE, "cross_backend_run.py"), out],
            env=env, check=True, capture_output=True,
        )
        theirs = np.load(out)
        assert len(theirs.files) == len(here)
        for index, mine in enumerate(here):
            np.testing.assert_allclose(
                mine, theirs[f"arr_{index}"], rtol=1e-4, atol=1e-5,
                err_msg=f"weight {index}: {keras.backend.backend()} vs {name}",
            )
