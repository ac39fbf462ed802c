"""The masking guide runs unchanged on fastmask and prints exactly what Keras prints.

`tests/data/understanding_masking_and_padding.py` is the Keras guide (keras-io
guides/understanding_masking_and_padding.py, Keras 3 version);
`examples/masking_and_padding.py` is the same file with only its imports
changed. Both run in fresh subprocesses (the KerasTensor name counter is
global): Keras under the jax backend (its NumPy backend cannot attach masks
to arrays, so the guide dies there at its first mask print), fastmask as is.
The random inputs the guide draws come from one seeded stream in both runs.

Checks: the whole stdout is byte-identical (padded ids, every printed mask,
the symbolic mask `<KerasTensor ... name=keras_tensor_7>`), and
`TemporalSoftmax` gives 1.0 at kept steps and NaN at masked steps, like Keras.

The guide needs `layers.LSTM`. A second variant replaces `layers.LSTM(32)` by a
mask-consuming stand-in layer (in both runs), so everything else is tested
even when LSTM is not available; the unchanged example runs once it is.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastmask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "tests", "data", "understanding_masking_and_padding.py")
EXAMPLE = os.path.join(ROOT, "examples", "masking_and_padding.py")

RUNNER = r'''
import os, sys, random, runpy
import numpy as np
path = os.path.abspath(sys.argv[1])
_rs = np.random.RandomState(0)
def _guide_rng(name):
    orig = getattr(np.random, name)
    def fn(*a, **k):
        # Only the guide's own draws come from the seeded stream, so library
        # internals that use np.random cannot shift the guide's data.
        if os.path.abspath(sys._getframe(1).f_code.co_filename) == path:
            return getattr(_rs, name)(*a, **k)
        return orig(*a, **k)
    return fn
np.random.random = _guide_rng("random")
np.random.randint = _guide_rng("randint")
random.seed(0)
g = runpy.run_path(path, run_name="__main__")
np.save(sys.argv[2], np.asarray(g["y"]))
'''

STANDIN = '''

class _StandInLSTM(keras.layers.Layer):
    """Mask-consuming stand-in for LSTM(units) (test only)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        m = ops.expand_dims(ops.cast(mask, "float32"), -1)
        s = ops.sum(inputs * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)
        return ops.tile(ops.mean(s, axis=-1, keepdims=True), [1, self.units])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def compute_mask(self, inputs, mask=None):
        return None

'''


def _with_standin(src):
    for line in ("from keras import layers\n", "from fastmask import layers\n"):
        src = src.replace(line, line + STANDIN, 1)
    assert "_StandInLSTM(keras" in src
    return src.replace("layers.LSTM(32)", "_StandInLSTM(32)")


def _run(script, tmp_path, tag, backend=None):
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    out = tmp_path / f"y_{tag}.npy"
    env = dict(os.environ)
    # Import the fastmask this test process imported (the installed one in CI,
    # the in-place build in development), never the uncompiled source tree.
    import fastmask
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastmask.__file__)))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KERAS_BACKEND", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, str(runner), str(script), str(out)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, f"{tag} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout, np.load(out)


def _have_jax_keras():
    try:
        import jax  # noqa: F401
        return True
    except Exception:
        return False


needs_jax = pytest.mark.skipif(not _have_jax_keras(), reason="jax (Keras oracle backend) "
                               "not installed")
needs_lstm = pytest.mark.skipif(not hasattr(fastmask.layers, "LSTM"),
                                reason="pending: fastmask.layers.LSTM (recurrent layers) "
                                       "not registered yet")


@pytest.fixture(scope="module")
def standin_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guide_standin")
    k_src = tmp / "guide_keras.py"
    k_src.write_text(_with_standin(open(GUIDE).read()))
    f_src = tmp / "guide_fastmask.py"
    f_src.write_text(_with_standin(open(EXAMPLE).read()))
    fm = _run(f_src, tmp, "fastmask")
    keras = _run(k_src, tmp, "keras", backend="jax") if _have_jax_keras() else None
    return fm, keras


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guide_real")
    return _run(EXAMPLE, tmp, "fastmask"), _run(GUIDE, tmp, "keras", backend="jax")


def test_example_is_the_guide_with_only_imports_changed():
    guide = open(GUIDE).read().splitlines()
    example = open(EXAMPLE).read().splitlines()
    assert len(guide) == len(example)
    diff = [(g, e) for g, e in zip(guide, example) if g != e]
    assert diff == [("import keras as keras", "import fastmask as keras"),
                    ("from keras import ops", "from fastmask import ops"),
                    ("from keras import layers", "from fastmask import layers")]


def test_guide_masks_print_like_numpy(standin_runs):
    (stdout, _), _ = standin_runs
    expected_head = (
        "[[ 711  632   71    0    0    0]\n"
        " [  73    8 3215   55  927    0]\n"
        " [  83   91    1  645 1253  927]]\n"
        "[[ True  True  True False False False]\n"
        " [ True  True  True  True  True False]\n"
        " [ True  True  True  True  True  True]]\n"
        "[[ True  True  True False False False]\n"
        " [ True  True  True  True  True False]\n"
        " [ True  True  True  True  True  True]]\n"
        "[[ True  True  True]\n [ True  True  True]\n [ True  True  True]]\n"
        "[[False False False]\n [ True  True False]\n [ True  True  True]]\n")
    assert stdout.startswith(expected_head)
    assert stdout.rstrip().endswith(
        "Mask found: <KerasTensor shape=(None, None), dtype=bool, sparse=False, "
        "ragged=False, name=keras_tensor_7>")


@needs_jax
def test_guide_with_standin_prints_exactly_what_keras_prints(standin_runs):
    (fm_out, _), (k_out, _) = standin_runs
    assert fm_out == k_out
    # 2 masks of 3x6, 2 halves of 3x3, one 3x10 mask, plus sparse=False, ragged=False
    assert len(re.findall(r"True|False", fm_out)) == 3 * 6 * 2 + 9 * 2 + 30 + 2


def _check_temporal_softmax(y_fm, y_k):
    assert y_fm.shape == (32, 100, 1) and y_fm.dtype == np.float32
    kept = ~np.isnan(y_fm)
    assert kept.any() and (~kept).any()
    np.testing.assert_array_equal(y_fm[kept], 1.0)
    if y_k is not None:
        np.testing.assert_array_equal(np.isnan(y_k), ~kept)
        np.testing.assert_array_equal(y_k[kept], y_fm[kept])


def test_guide_temporal_softmax_values(standin_runs):
    (_, y_fm), keras = standin_runs
    _check_temporal_softmax(y_fm, None if keras is None else keras[1])


@needs_jax
@needs_lstm
def test_real_example_prints_exactly_what_keras_prints(real_runs):
    (fm_out, y_fm), (k_out, y_k) = real_runs
    assert fm_out == k_out
    _check_temporal_softmax(y_fm, y_k)
