"""Running Python inside the checkout after `pip install .` must work.

The README's main job is `pip install . && python -m fastmask`, typed in the
checkout: there the unbuilt `fastmask/` source folder comes first on sys.path.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_import_in_checkout_uses_a_built_fastmask():
    res = _run("-c", "import fastmask, fastmask.layers; from fastmask.kernels import _openmp_helpers; "
                     "print(fastmask.__file__); print(fastmask.layers.LSTM.__module__)")
    assert res.returncode == 0, res.stderr[-3000:]
    path, lstm_module = res.stdout.split()
    assert lstm_module == "fastmask.layers.rnn.lstm"
    import fastmask
    assert os.path.dirname(path) == os.path.dirname(fastmask.__file__)


def test_main_job_starts_in_checkout():
    res = _run("-m", "fastmask", "--help")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "--no-bench" in res.stdout
