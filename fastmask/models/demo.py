"""`serve_demo()`: train a tiny masked model in Keras, serve it with fastmask.

The workflow fastmask is for: train in Keras, save a `.keras` file, load it
with `fastmask.models.load_model` in a process that has no TensorFlow, JAX or
PyTorch, and predict. When Keras and a training backend (jax, torch or
tensorflow) are installed, the model is trained just now in a separate
Keras process (`fastmask.models._demo_train`); otherwise the small file
shipped with fastmask (`fastmask/data/small_masked_model.keras`, made by
`examples/make_small_model.py`) is served.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["serve_demo", "shipped_model_path", "train_demo_model"]

_BACKENDS = ("jax", "torch", "tensorflow")


def shipped_model_path():
    """Path of the `.keras` file shipped in the package (fastmask/data/)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "small_masked_model.keras")


def _training_backend():
    if importlib.util.find_spec("keras") is None:
        return None
    for name in _BACKENDS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def train_demo_model(out, backend=None, epochs=5, timeout=600):
    """Train the demo model in a Keras subprocess; returns its facts (dict) or raises.

    Writes `out` (`.keras`) and `out + ".npz"` (demo batch, Keras's predictions).
    """
    backend = backend or _training_backend()
    if backend is None:
        raise RuntimeError("Keras with a training backend (jax, torch or tensorflow) is not "
                           "installed.")
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run([sys.executable, "-m", "fastmask.models._demo_train", os.fspath(out),
                           str(epochs)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"training in Keras ({backend}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve_demo(print_fn=print, train=None, backend=None, epochs=5):
    """Train (or take the shipped) tiny masked Keras model, serve it with fastmask, print it.

    Args:
        print_fn: where lines go (default `print`).
        train: True: train in Keras (error if it cannot); False: use the
            shipped file; None (default): train when Keras and a training
            backend are installed, else use the shipped file.
        backend: Keras backend to train with (default: jax, torch or
            tensorflow, the first installed).
        epochs: training epochs.

    Returns:
        dict with the model path, where it came from, fastmask's predictions,
        the input masks, and the largest difference from Keras's predictions
        (when the model was trained just now).
    """
    from . import load_model
    from .._tensor import get_mask
    from ._demo_train import demo_batch

    facts, keras_pred = None, None
    tmp = None
    if train is None:
        train = _training_backend() is not None
    try:
        if train:
            tmp = tempfile.TemporaryDirectory(prefix="fastmask-demo-")
            path = os.path.join(tmp.name, "small_masked_model.keras")
            t0 = time.perf_counter()
            facts = train_demo_model(path, backend=backend, epochs=epochs)
            with np.load(path + ".npz") as data:
                ids, keras_pred = data["ids"], data["keras"]
            print_fn(f"Trained in Keras {facts['keras_version']} ({facts['backend']} backend, "
                     f"separate process, {facts['epochs']} epochs, "
                     f"{time.perf_counter() - t0:.1f} s): test accuracy "
                     f"{facts['test_accuracy']:.3f}; saved {os.path.basename(path)}")
            source = f"trained in Keras ({facts['backend']})"
        else:
            path = shipped_model_path()
            if not os.path.exists(path):
                raise FileNotFoundError(f"The shipped demo model is missing: {path}")
            ids = demo_batch()
            print_fn(f"Serving the model shipped with fastmask ({os.path.basename(path)}, made "
                     "by examples/make_small_model.py)" + ("" if _training_backend() else
                                                           ": Keras is not installed here"))
            if os.path.exists(path + ".npz"):
                with np.load(path + ".npz") as data:
                    ids, keras_pred = data["ids"], data["keras"]
                print_fn("  (the 'keras' column: Keras's predictions recorded when the file "
                         "was made)")
            source = "shipped file"

        t0 = time.perf_counter()
        model = load_model(path)
        load_s = time.perf_counter() - t0
        n_params = sum(int(np.prod(w.shape)) for w in model.weights)
        print_fn(f"fastmask.models.load_model: {type(model).__name__} '{model.name}' "
                 f"({' -> '.join(type(l).__name__ for l in model.layers)}), {n_params} "
                 f"parameters, loaded in {load_s * 1e3:.0f} ms")
        pred = np.asarray(model.predict(ids, verbose=0))[:, 0]
        mask = get_mask(model.layers[0](ids))
        print_fn("P(sequence contains token 7), each sequence padded after and before:")
        header = f"  {'padding':8} {'mask (1 = token)':18} {'fastmask':>9}"
        if keras_pred is not None:
            header += f" {'keras':>9}"
        print_fn(header)
        for i in range(len(ids)):
            tokens = " ".join(str(t) for t in ids[i] if t)
            if i % 2 == 0:
                print_fn(f"  tokens [{tokens}]")
            line = (f"  {'post' if i % 2 == 0 else 'pre':8} "
                    f"{''.join('1' if m else '0' for m in mask[i]):18} {pred[i]:9.4f}")
            if keras_pred is not None:
                line += f" {float(keras_pred[i, 0]):9.4f}"
            print_fn(line)
        result = {"path": path, "source": source, "ids": ids, "mask": np.asarray(mask),
                  "predictions": pred, "facts": facts,
                  "pre_post_max_diff": float(np.abs(pred[0::2] - pred[1::2]).max())}
        print_fn(f"same answer for pre and post padding: max |post - pre| = "
                 f"{result['pre_post_max_diff']:.2e}")
        if keras_pred is not None:
            diff = float(np.abs(pred - np.asarray(keras_pred)[:, 0]).max())
            result["max_abs_diff_vs_keras"] = diff
            print_fn(f"fastmask vs Keras predictions: max |difference| = {diff:.2e}")
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()
