"""The tour that `python -m fastmask` prints, and `serve_demo()`.

`tour()` walks the workflow of Keras's guide *Understanding masking & padding*
with fastmask (padding, mask generation, mask propagation, masked layers),
printing the masks at each step; `serve()` runs `serve_demo()`; `speed_table()`
times the kernels against their NumPy reference (`_speed_table.py`).

A section that needs an optional package that is not installed prints one line
saying what to install, and the tour goes on (`run_optional`).

`serve_demo()`: train a tiny masked model in Keras, serve it with fastmask.
The workflow fastmask is for: train in Keras, save a `.keras` file, load it
with `fastmask.models.load_model` in a process that has no TensorFlow, JAX or
PyTorch, and predict. When Keras and a training backend (jax, torch or
tensorflow) are installed, the model is trained just now in a separate
Keras process (`fastmask._tour_train`); otherwise the small file shipped with
fastmask (`fastmask/data/small_masked_model.keras`, made by
`examples/make_small_model.py`) is served.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import fastmask as keras
from fastmask import layers, ops

__all__ = ["tour", "serve", "speed_table", "serve_demo", "shipped_model_path",
           "train_demo_model", "run_optional"]

# What to install for a package a section may need (pip names and pins).
INSTALL_HINTS = {
    "h5py": "pip install h5py",
    "keras": 'pip install "keras==3.15.1" jax',
    "jax": "pip install jax",
    "scipy": "pip install scipy",
    "threadpoolctl": "pip install threadpoolctl",
}


def section(title):
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def run_optional(fn, *args, print_fn=print):
    """`fn(*args)`; if it needs a package that is not installed, print one line saying what to
    install and return None instead of raising.

    Only a missing package outside fastmask counts (an ImportError naming it, or one of
    fastmask's own "... needs X. Install it with `pip install ...`" errors); any other error,
    and an ImportError of fastmask itself, propagates.
    """
    try:
        return fn(*args)
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        if top == "fastmask" or (not top and "pip install" not in str(exc)):
            raise
        if top:
            hint = INSTALL_HINTS.get(top, f"pip install {top}")
            print_fn(f"(skipped: this part needs {top}, which is not installed here; "
                     f"`{hint}` adds it)")
        else:
            print_fn(f"(skipped: {exc})")
        return None


def tour():
    section("1. Padding variable-length sequences")
    raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded, mask = keras.utils.pad_sequences(raw_inputs, padding="post", return_mask=True)
    print('pad_sequences(raw_inputs, padding="post"):')
    print(padded)
    print("the mask it wrote (return_mask=True), True = real token:")
    print(mask)
    values = np.concatenate([np.asarray(s, dtype=np.int32) for s in raw_inputs])
    lengths = [len(s) for s in raw_inputs]
    ragged = keras.utils.pad_ragged(values, lengths=lengths, maxlen=4, padding="post",
                                    truncating="post")
    print("pad_ragged(flat values, lengths=[3, 5, 6], maxlen=4, post/post) -- no Python lists:")
    print(ragged)
    print("mask_from_lengths([3, 5, 6], padding='pre'):")
    print(keras.utils.mask_from_lengths(lengths, padding="pre"))

    section("2. Mask-generating layers: Embedding(mask_zero=True) and Masking")
    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded)
    print("Embedding output", masked_output.shape, "carries _keras_mask:")
    print(masked_output._keras_mask)
    features = ops.cast(ops.tile(ops.expand_dims(padded, axis=-1), [1, 1, 10]), "float32")
    masked_embedding = layers.Masking()(features)
    print("Masking()(x) mask, read with fastmask.get_mask:")
    print(keras.get_mask(masked_embedding))
    print("a NumPy operation never leaks the mask: get_mask(x * 1) ->",
          keras.get_mask(masked_embedding * 1))

    section("3. Mask propagation through Sequential and Functional models")
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    print("symbolic mask:", x._keras_mask)
    x = layers.Dense(8, activation="relu")(x)          # passes the mask through
    seq = layers.LSTM(8, return_sequences=True)(x)     # consumes and keeps it
    outputs = layers.GlobalAveragePooling1D()(seq)     # consumes and ends it
    model = keras.Model(inputs, outputs)
    y = model(padded)
    print("Functional Embedding -> Dense -> LSTM(return_sequences) -> GlobalAveragePooling1D:",
          y.shape, "output mask:", keras.get_mask(y))
    inner = keras.Model(inputs, seq)
    print("mask after the LSTM (return_sequences=True):")
    print(keras.get_mask(inner(padded)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flat = layers.Flatten()(masked_embedding)
    print("Flatten drops the mask, with Keras's warning:", keras.get_mask(flat),
          "|", str(caught[0].message)[:60] + "..." if caught else "")

    section("4. Masked recurrence: padding side does not change the answer")
    lstm = layers.LSTM(4)
    post = keras.utils.pad_sequences(raw_inputs, padding="post")
    pre = keras.utils.pad_sequences(raw_inputs, padding="pre")
    emb = layers.Embedding(input_dim=5000, output_dim=6, mask_zero=True)
    out_post, out_pre = lstm(emb(post)), lstm(emb(pre))
    print("LSTM last state, post-padded batch:\n", out_post)
    print("max |post - pre| =", float(np.max(np.abs(out_post - out_pre))))

    section("5. Masked softmax: a fully-masked row gives zeros, not NaN")
    logits = np.array([[1.0, 2.0, 5.0, 1.0], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    smask = np.array([[True, True, False, False], [False] * 4])
    print(layers.Softmax()(logits, mask=smask))


def serve():
    section("6. Serving a Keras-trained masked model with fastmask")
    serve_demo()


def speed_table(budget):
    from ._speed_table import Case, quick_table
    from fastmask import kernels

    rng = np.random.default_rng(0)
    lists = [rng.integers(1, 1000, size=n).tolist() for n in rng.integers(1, 201, size=20000)]
    lengths = rng.integers(1, 201, size=20000)
    values = rng.integers(1, 1000, size=int(lengths.sum())).astype(np.int32)
    x = rng.standard_normal((64, 256, 128)).astype(np.float32)
    x[:, 200:] = 0.0
    ids = rng.integers(0, 10000, size=(64, 256))
    table = rng.standard_normal((10000, 128)).astype(np.float32)
    scores = rng.standard_normal((64, 8, 128, 128)).astype(np.float32)
    key_mask = rng.random((64, 1, 1, 128)) < 0.8
    seq = rng.standard_normal((32, 50, 64)).astype(np.float32)
    rmask = keras.utils.mask_from_lengths(rng.integers(1, 51, size=32), maxlen=50)
    K = (rng.standard_normal((64, 512)) * 0.1).astype(np.float32)
    R = (rng.standard_normal((128, 512)) * 0.1).astype(np.float32)
    b = np.zeros(512, np.float32)

    def np_pad(seqs, maxlen=200):
        out = np.zeros((len(seqs), maxlen), np.int32)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s[:maxlen]
        return out

    def np_softmax(s, m):
        z = np.where(m, s, -1e9)
        e = np.exp(z - z.max(-1, keepdims=True))
        return np.where(m, e / e.sum(-1, keepdims=True), 0)

    def np_lstm(x, m):
        from fastmask.kernels.recurrent import rnn_reference
        return rnn_reference("lstm", x, K, R, b, mask=m)

    offsets = np.concatenate([[0], np.cumsum(lengths)])
    cases = [
        Case("padding", "pad_sequences", "20k lists, len 1..200",
             {"fastmask": lambda: keras.utils.pad_sequences(lists, maxlen=200, padding="post"),
              "numpy": lambda: np_pad(lists)}),
        Case("padding", "pad_ragged", "20k rows, flat values",
             {"fastmask": lambda: keras.utils.pad_ragged(values, lengths=lengths, maxlen=200,
                                                         padding="post"),
              "numpy": lambda: np_pad([values[offsets[i]:offsets[i + 1]]
                                       for i in range(len(lengths))])}),
        Case("masking", "Masking mask+zeroed", "(64, 256, 128)",
             {"fastmask": lambda: kernels.masking(x),
              "numpy": lambda: (lambda m: (np.where(m[..., None], x, 0), m))(np.any(x != 0, -1))}),
        Case("masking", "Embedding mask_zero", "ids (64, 256), dim 128",
             {"fastmask": lambda: kernels.embedding(ids, table, mask_zero=True),
              "numpy": lambda: (np.take(table, ids, axis=0), ids != 0)}),
        Case("recurrent", "LSTM masked", "B32 T50 F64 u128",
             {"fastmask": lambda: kernels.lstm(seq, K, R, b, mask=rmask),
              "numpy": lambda: np_lstm(seq, rmask)}),
        Case("softmax", "masked_softmax", "(64, 8, 128, 128)",
             {"fastmask": lambda: kernels.masked_softmax(scores, key_mask),
              "numpy": lambda: np_softmax(scores, key_mask)}),
    ]
    print(quick_table(cases, budget=budget))


# ----------------------------------------------------------------- serve_demo

_BACKENDS = ("jax", "torch", "tensorflow")


def shipped_model_path():
    """Path of the `.keras` file shipped in the package (fastmask/data/)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
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
    proc = subprocess.run([sys.executable, "-m", "fastmask._tour_train", os.fspath(out),
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
    from ._tour_train import demo_batch
    from .core.tensor import get_mask
    from .models import load_model

    facts, keras_pred = None, None
    tmp = None
    automatic = train is None
    if automatic:
        train = _training_backend() is not None
    try:
        if train:
            tmp = tempfile.TemporaryDirectory(prefix="fastmask-demo-")
            path = os.path.join(tmp.name, "small_masked_model.keras")
            t0 = time.perf_counter()
            try:
                facts = train_demo_model(path, backend=backend, epochs=epochs)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                if not automatic:
                    raise
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
                print_fn(f"(training in Keras failed here: {reason[:120]}; serving the "
                         "shipped model instead)")
                train = False
        if train:
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
                     "by examples/make_small_model.py)" + (
                         "" if _training_backend() else
                         ": Keras is not installed here, so no model is trained now ("
                         f"`{INSTALL_HINTS['keras']}` adds it)"))
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
