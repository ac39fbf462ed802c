"""keras-io examples trained in Keras 3.15.1, loaded unchanged in fastmask (issue 14).

`tests/keras_io/` holds the model code of eleven public keras-io examples (twelve
cases: lstm_vs_cnn has an LSTM and a CNN model), written once as
`define(keras, layers, ops)`: the Keras side and the fastmask side run the same
text, only the module passed in differs. `scripts/make_keras_io_models.py`
trains each in Keras (2 short epochs on synthetic data shaped like the
example's: weights moved away from their initial values, BatchNormalization's
moving statistics moved), saves `<case>.keras` and `<case>.weights.h5`, and
stores inputs with Keras's predictions. The session fixture below runs it once
into a cache directory (`keras_io.cache_dir`: ~/.cache/fastmask-tests/keras_io/
<keras version>-<backend>/, or $FASTMASK_KERAS_IO_CACHE) whenever that directory
has no manifest for the current sources, so nothing binary is committed and CI
regenerates in its fresh checkout.

The oracle is Keras on JAX (`FASTMASK_KERAS_IO_BACKEND` picks another): Keras's
NumPy backend, the oracle of the other test files, builds functional graphs by
running layers on uninitialised arrays, so it cannot build the transformer
examples (their position Embedding gets garbage ids).

Per case:
- `.keras` route: `fastmask.saving.load_model(path, custom_objects=<the
  fastmask classes>)`, predict on the stored inputs.
- weights route: build the model from the same code in fastmask,
  `load_weights(<case>.weights.h5)`, predict.
- masked models: padded inputs (pre, post, holes, a fully padded row).

Tolerance: float32 within 1e-5 (the product rule), relative to the size of the
output: `assert_allclose(got, keras, rtol=1e-5, atol=1e-5 * max(1, max|keras|))`.
XLA and NumPy/BLAS sum in different orders, so each matmul differs by a few
float32 ulps; probabilities (softmax/sigmoid outputs, within [0, 1]) get an
absolute 1e-5, unbounded outputs (logits, regression values, the autoencoder's
reconstruction, a LayerNormalization output) 1e-5 of their largest magnitude.

Cases that need a feature main does not have yet are strict xfails naming it
(`MISSING_ON_MAIN`): they start passing, and must then be un-marked, when the
branch with the feature is merged.
"""
import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmask
import keras_io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "make_keras_io_models.py")
BACKEND = os.environ.get("FASTMASK_KERAS_IO_BACKEND", "jax")
BACKEND_MODULE = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}

# case -> the missing feature that makes it fail on main (strict xfail; issue 14's
# item numbers). Drop an entry when the branch bringing the feature is merged.
MISSING_ON_MAIN = {}

# The examples' own code draws Keras's warnings, which fastmask gives too: `input_shape=`
# on a Sequential's first layer, and custom layers without a `build()` built at load.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
    pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning"),
]


def _cases(only_masked=False):
    params = []
    for case in keras_io.CASES:
        if only_masked and not keras_io.module(case).MASKED:
            continue
        marks = ()
        if case in MISSING_ON_MAIN:
            marks = pytest.mark.xfail(strict=True, reason=MISSING_ON_MAIN[case])
        params.append(pytest.param(case, marks=marks, id=case))
    return params


@pytest.fixture(scope="session")
def trained():
    """The cache directory with every case's files, generated when missing or stale."""
    pytest.importorskip("h5py")
    if BACKEND in BACKEND_MODULE:
        pytest.importorskip(BACKEND_MODULE[BACKEND])
    out = keras_io.cache_dir(importlib.metadata.version("keras"), BACKEND)
    digest = keras_io.source_digest(SCRIPT)
    if not _up_to_date(out, digest):
        env = {**os.environ, "KERAS_BACKEND": BACKEND}
        run = subprocess.run([sys.executable, SCRIPT, "--out", out], env=env,
                             capture_output=True, text=True)
        if run.returncode != 0 or not _up_to_date(out, digest):
            pytest.fail(f"{SCRIPT} failed (exit {run.returncode}):\n{run.stderr[-4000:]}")
    return out


def _up_to_date(out, digest):
    """True when `out` holds every case, made from the current sources."""
    try:
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    return manifest.get("digest") == digest and set(keras_io.CASES) <= set(manifest["cases"])


def _stored(trained, case, prefix):
    """(inputs, keras predictions) stored under x*/y* or mx*/my*: single arrays
    stay arrays, several become lists."""
    with np.load(os.path.join(trained, f"{case}.npz")) as z:
        def group(p):
            keys = sorted((k for k in z.files if k.startswith(p + "_")),
                          key=lambda k: int(k.rsplit("_", 1)[1]))
            return [z[k] for k in keys]
        xs, ys = group(prefix + "x" if prefix else "x"), group(prefix + "y" if prefix else "y")
    return (xs[0] if len(xs) == 1 else xs), ys


def _assert_like_keras(got, expected):
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g = np.asarray(g)
        assert g.dtype == np.float32, g.dtype
        assert g.shape == e.shape
        atol = 1e-5 * max(1.0, float(np.max(np.abs(e))))
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=atol)


def _load(trained, case):
    ex = keras_io.example(case, fastmask)
    return fastmask.saving.load_model(os.path.join(trained, f"{case}.keras"),
                                      custom_objects=ex.custom_objects)


@pytest.mark.parametrize("case", _cases())
def test_keras_file_predicts_like_keras(trained, case):
    x, expected = _stored(trained, case, "")
    model = _load(trained, case)
    _assert_like_keras(model.predict(x, verbose=0), expected)


@pytest.mark.parametrize("case", _cases())
def test_weights_file_predicts_like_keras(trained, case):
    x, expected = _stored(trained, case, "")
    model = keras_io.example(case, fastmask).build()
    model.load_weights(os.path.join(trained, f"{case}.weights.h5"))
    _assert_like_keras(model.predict(x, verbose=0), expected)


@pytest.mark.parametrize("case", _cases(only_masked=True))
def test_padded_inputs_predict_like_keras(trained, case):
    x, expected = _stored(trained, case, "m")
    assert np.any(np.all(x == 0, axis=-1)), "the stored padded inputs lost their all-padding row"
    model = _load(trained, case)
    _assert_like_keras(model.predict(x, verbose=0), expected)


def test_training_moved_the_weights(trained):
    """The stored models are trained, not initial: in the Conv1D/BatchNormalization
    model every BatchNormalization variable (gamma 1, beta 0, moving mean 0,
    moving variance 1 at build) has moved."""
    h5py = pytest.importorskip("h5py")
    path = os.path.join(trained, "timeseries_classification_from_scratch.weights.h5")
    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.append((name, obj[()]))
                     if isinstance(obj, h5py.Dataset) and "batch_normalization" in name
                     else None)
    assert len(found) == 12, [n for n, _ in found]  # 3 layers x 4 variables
    unmoved = [n for n, v in found if np.allclose(v, 0) or np.allclose(v, 1)]
    assert not unmoved
