"""Family "models": end-to-end `predict` of a Keras-trained masked model.

The model (issue 6's first model), built in Keras 3 with random weights and
converted with `fastmask.models.from_keras`:

    Embedding(1000, 64, mask_zero=True) -> Bidirectional(LSTM(64, return_sequences=True))
        -> GlobalAveragePooling1D -> Dense(8)

on ids (64, 100), post-padded, lengths 20..100; `model.predict(ids, batch_size=64,
verbose=0)` on both sides (Keras's data adapter and fastmask's batching
included: what a serving loop calls).

Peers:
* "keras": Keras 3 on its NumPy backend, in this process.
* "keras-torch": Keras 3 on its torch backend (CPU). A Keras backend is fixed
  per process, so this peer is a server process (started on its first call,
  fed the same `.keras` file and ids) that runs `model.predict` each time the
  peer is called: the measured time is the real call plus a pipe round trip
  (~0.1 ms). The server sets `torch.set_num_threads` to the harness's thread
  count for every call; its first answer is checked against fastmask's
  predictions (1e-4), so the peer computes the same thing.
"""
import atexit
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastmask
from harness import Case, Target, peer_keras, pytest_params

FAMILY = "models"

_SERVER = r'''
import sys, numpy as np, keras, torch
model = keras.saving.load_model(sys.argv[1])
ids = np.load(sys.argv[2])
batch = int(sys.argv[3])
np.save(sys.argv[4], np.asarray(model.predict(ids, batch_size=batch, verbose=0)))
threads = None
print("ready", flush=True)
for line in sys.stdin:
    t = int(line)
    if t != threads:
        torch.set_num_threads(t)
        threads = t
    model.predict(ids, batch_size=batch, verbose=0)
    print("ok", flush=True)
'''


def build(K, vocab, emb, units):
    inp = K.Input((None,), dtype="int32")
    x = K.layers.Embedding(vocab, emb, mask_zero=True)(inp)
    x = K.layers.Bidirectional(K.layers.LSTM(units, return_sequences=True))(x)
    x = K.layers.GlobalAveragePooling1D()(x)
    return K.Model(inp, K.layers.Dense(8)(x))


class KerasTorchPeer:
    """Callable timing Keras-torch `predict` in a server process (see the module docstring)."""

    def __init__(self, keras_model, ids, batch, expected):
        self.dir = tempfile.TemporaryDirectory(prefix="fastmask-bench-models-")
        self.model_path = os.path.join(self.dir.name, "model.keras")
        keras_model.save(self.model_path)
        self.ids_path = os.path.join(self.dir.name, "ids.npy")
        np.save(self.ids_path, ids)
        self.batch = batch
        self.expected = expected
        self.proc = None

    def start(self):
        out = os.path.join(self.dir.name, "pred.npy")
        env = dict(os.environ, KERAS_BACKEND="torch")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, self.model_path, self.ids_path, str(self.batch), out],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env)
        atexit.register(self.close)
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the Keras-torch server did not start")
        got = np.load(out)
        if not np.allclose(got, self.expected, atol=1e-4, equal_nan=True):
            self.close()
            raise RuntimeError("Keras-torch predictions differ from fastmask's (max |diff| "
                               f"{np.nanmax(np.abs(got - self.expected)):.2e})")

    def __call__(self):
        if self.proc is None:
            self.start()
        self.proc.stdin.write(f"{fastmask.get_num_threads()}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the Keras-torch server stopped")

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:   # noqa: BLE001
                self.proc.kill()
            self.proc = None


def cases(quick=False):
    keras = peer_keras()
    if keras is None:
        return []      # the model is built in Keras (the point of this family)
    B, T, vocab, emb, units = (16, 20, 200, 16, 16) if quick else (64, 100, 1000, 64, 64)
    rng = np.random.default_rng(0)
    k_model = build(keras, vocab, emb, units)
    k_model.set_weights([0.3 * rng.standard_normal(np.shape(w)).astype("float32")
                         for w in k_model.get_weights()])
    model = fastmask.models.from_keras(k_model)
    lengths = rng.integers(max(1, T // 5), T + 1, size=B)
    ids = np.where(np.arange(T)[None, :] < lengths[:, None],
                   rng.integers(1, vocab, size=(B, T)), 0).astype("int32")
    expected = model.predict(ids, batch_size=B, verbose=0)
    np.testing.assert_allclose(expected, k_model.predict(ids, batch_size=B, verbose=0),
                               atol=1e-4)
    impls = {"fastmask": lambda: model.predict(ids, batch_size=B, verbose=0),
             "keras": lambda: k_model.predict(ids, batch_size=B, verbose=0)}
    targets = [Target("keras", 5.0)]
    if importlib.util.find_spec("torch") is not None:
        impls["keras-torch"] = KerasTorchPeer(k_model, ids, B, expected)
        targets.append(Target("keras-torch", 1.5))
    return [Case(FAMILY, "predict Embedding>BiLSTM>GAP>Dense",
                 f"ids ({B}, {T}) post-padded, lengths {T // 5}..{T}; emb {emb}, "
                 f"BiLSTM {units}, batch_size {B}",
                 impls=impls, targets=targets)]


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
