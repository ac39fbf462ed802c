"""README command 1 (`python -m fastmask`) on a machine with only fastmask's base dependencies.

The tour must never end in a traceback: a part that needs an optional package that is
missing prints one line saying what to install, and the tour and the speed table go on.
Packages are made missing in the child process by a `sitecustomize` that puts None in
`sys.modules` for them (importing one then raises ModuleNotFoundError, and
`importlib.util.find_spec` answers None, as for a package that is not installed).
"""
import os
import subprocess
import sys

import pytest

import fastmask.tour

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(tmp_path, missing=(), args=("--budget", "0.01")):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\nsys.modules.update(dict.fromkeys(%r))\n" % (list(missing),))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "fastmask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_main_command_without_h5py_or_keras_prints_the_tour_and_the_table(tmp_path):
    res = run_main(tmp_path, missing=("h5py", "keras", "jax", "torch", "tensorflow"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stdout + res.stderr
    out = res.stdout
    assert "== 5. Masked softmax" in out                 # the tour ran to its end
    serving = out[out.index("== 6. Serving"):out.index("== 7. Speed")]
    skipped = [line for line in serving.splitlines() if line.startswith("(skipped:")]
    assert len(skipped) == 1 and "h5py" in skipped[0] and "pip install" in skipped[0], serving
    table = out[out.index("== 7. Speed"):]
    assert "pad_sequences" in table and "masked_softmax" in table, table


def test_main_command_serves_the_shipped_model_without_keras(tmp_path):
    pytest.importorskip("h5py")
    res = run_main(tmp_path, missing=("keras",), args=("--no-bench",))
    assert res.returncode == 0, res.stderr[-3000:]
    serving = res.stdout[res.stdout.index("== 6. Serving"):]
    assert "Keras is not installed here" in serving and "pip install" in serving
    assert "same answer for pre and post padding" in serving
    assert "(skipped:" not in serving


def _needs(name):
    raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_run_optional_prints_one_line_for_a_missing_package():
    lines = []
    assert fastmask.tour.run_optional(_needs, "h5py", print_fn=lines.append) is None
    assert lines == ["(skipped: this part needs h5py, which is not installed here; "
                     "`pip install h5py` adds it)"]
    lines.clear()
    fastmask.tour.run_optional(_needs, "somepkg.sub", print_fn=lines.append)
    assert lines and "`pip install somepkg`" in lines[0]


def test_run_optional_lets_real_errors_through():
    with pytest.raises(ModuleNotFoundError):             # fastmask itself broken: not hidden
        fastmask.tour.run_optional(_needs, "fastmask.kernels._nothing", print_fn=print)

    def fails():
        raise ValueError("a bug")
    with pytest.raises(ValueError, match="a bug"):
        fastmask.tour.run_optional(fails, print_fn=print)

    def plain_import_error():
        raise ImportError("undefined symbol: fm_x")
    with pytest.raises(ImportError, match="undefined symbol"):
        fastmask.tour.run_optional(plain_import_error, print_fn=print)
