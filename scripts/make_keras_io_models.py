"""Train the keras-io example models of `tests/keras_io/` in Keras and save them.

For each case of `tests/keras_io.CASES`, in Keras (3.15.1; backend
$KERAS_BACKEND, JAX when unset): `keras.utils.set_random_seed(0)`, build the
example's model, train it 2 short epochs on synthetic data shaped like the
example's (so the weights are not the initial ones and BatchNormalization's
moving statistics have moved), then write

    <case>.keras         the model (`model.save`)
    <case>.weights.h5    its weights (`model.save_weights`)
    <case>.npz           x*/y*: inputs and Keras's predictions (x_0, x_1 ... for
                         several inputs, y_0, y_1 ... for several outputs);
                         mx*/my*: padded inputs and predictions (masked models)

and last `manifest.json` (Keras version, backend, the sources' digest, seconds
and parameters per case). `tests/test_keras_io_models.py` runs this script when
its cache directory has no manifest with the current digest.

Usage: python scripts/make_keras_io_models.py [--out DIR] [--cases a,b]
(default DIR: $FASTMASK_KERAS_IO_CACHE, else
~/.cache/fastmask-tests/keras_io/<keras version>-<backend>/).
"""
import argparse
import json
import os
import shutil
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import numpy as np  # noqa: E402

import keras_io  # noqa: E402

TRAIN_SAMPLES = 64
BATCH_SIZE = 16
EPOCHS = 2
EVAL_SAMPLES = 8


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _arrays(prefix, values):
    return {f"{prefix}_{i}": np.asarray(v) for i, v in enumerate(_as_list(values))}


def make_case(keras, case, out):
    """Train, save and predict one case; returns its manifest entry."""
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    mod = keras_io.module(case)
    model = keras_io.example(case, keras).build()
    compile_args = (mod.compile_args(keras) if hasattr(mod, "compile_args")
                    else {"optimizer": "adam", "loss": mod.LOSS})
    model.compile(**compile_args)
    rng = np.random.default_rng(0)
    x = keras_io.inputs(case, TRAIN_SAMPLES, rng)
    y = keras_io.targets(case, x, rng)
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    model.save(os.path.join(out, f"{case}.keras"))
    model.save_weights(os.path.join(out, f"{case}.weights.h5"))

    rng = np.random.default_rng(1)
    arrays = {}
    xe = keras_io.inputs(case, EVAL_SAMPLES, rng)
    arrays.update(_arrays("x", xe))
    arrays.update(_arrays("y", model.predict(xe, verbose=0)))
    xm = keras_io.masked_inputs(case, rng)
    if xm is not None:
        arrays.update(_arrays("mx", xm))
        arrays.update(_arrays("my", model.predict(xm, verbose=0)))
    np.savez(os.path.join(out, f"{case}.npz"), **arrays)
    return {"seconds": round(time.perf_counter() - start, 2),
            "params": int(model.count_params())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="output directory (see the module docstring)")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    args = parser.parse_args(argv)

    import keras

    backend = keras.backend.backend()
    out = args.out or keras_io.cache_dir(keras.__version__, backend)
    cases = args.cases.split(",") if args.cases else list(keras_io.CASES)
    unknown = [c for c in cases if c not in keras_io.CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {list(keras_io.CASES)}")

    # Write into a fresh sibling directory and move it into place at the end, so a
    # reader never sees a half-written cache.
    tmp = f"{out.rstrip(os.sep)}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    manifest = {"keras": keras.__version__, "backend": backend,
                "digest": keras_io.source_digest(os.path.abspath(__file__)),
                "epochs": EPOCHS, "train_samples": TRAIN_SAMPLES, "cases": {}}
    total = time.perf_counter()
    for case in cases:
        manifest["cases"][case] = make_case(keras, case, tmp)
        print(f"{case}: {manifest['cases'][case]}", flush=True)
    manifest["seconds"] = round(time.perf_counter() - total, 2)
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    os.replace(tmp, out)
    print(f"wrote {len(cases)} cases to {out} in {manifest['seconds']} s")
    return out


if __name__ == "__main__":
    main()
