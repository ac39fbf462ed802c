"""Keras 3 model files in fastmask: `.keras`, `.weights.h5`, `from_keras`, custom layers.

Five models are built in Keras 3.15.1 (NumPy backend) with random weights
(biases included) and in fastmask with the same code; every path between them
is checked on padded batches (pre, post, holes, with a fully padded row):
outputs within 1e-5 and output masks equal.

  bilstm   Embedding(mask_zero) -> Bidirectional(LSTM, return_sequences) -> GAP1D -> Dense
  gru      Masking -> GRU -> Dense                           (float input)
  mha      Embedding -> MultiHeadAttention(self) -> LayerNormalization -> GMP1D -> Dense
  concat   two id inputs -> Embedding each -> Concatenate(axis=1) -> LSTM(seq) -> Dense
           (output carries the concatenated mask)
  custom   Embedding -> MaskedDense (registered, mask-aware) -> LSTM -> Dense
"""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, saving
from fastmask.saving.keras_h5 import WeightsFileError, weight_paths
from oracle import assert_masks_equal, assert_outputs_close, k_get_mask, keras

# The "mha" model puts GlobalMaxPooling1D (no masking) after a masked sequence: Keras and
# fastmask both warn that it drops the mask, on every call. Not what these tests check.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Layer '.*' \\(of type GlobalMaxPooling1D\\) was passed an input with a mask"
    ":UserWarning")

h5py = pytest.importorskip("h5py")

VOCAB, T, T2, B = 30, 9, 5, 6


# --------------------------------------------------------------------------- custom layers

def masked_dense_class(M):
    """A mask-aware Dense-like layer written over module M (keras or fastmask),
    registered as "FastmaskTest>MaskedDense" in M: the Keras class and its fastmask
    twin are the same text, and files name it by that registered name."""

    @M.saving.register_keras_serializable(package="FastmaskTest", name="MaskedDense")
    class MaskedDense(M.layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.supports_masking = True

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

        def call(self, x, mask=None):
            y = M.ops.tanh(M.ops.matmul(x, self.kernel) + self.bias)
            if mask is not None:
                y = y * M.ops.expand_dims(M.ops.cast(mask, y.dtype), -1)
            return y

        def compute_mask(self, inputs, mask=None):
            return mask

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return MaskedDense


_CUSTOM = {}


def custom(M):
    """M's MaskedDense; the first call registers both (a Keras file then loads in fastmask)."""
    if not _CUSTOM:
        _CUSTOM["keras"], _CUSTOM["fastmask"] = masked_dense_class(keras()), \
            masked_dense_class(fastmask)
    return _CUSTOM["fastmask" if M is fastmask else "keras"]


# --------------------------------------------------------------------------- models

def build(name, M):
    """The model `name` written with module M (keras or fastmask)."""
    L = M.layers
    if name == "bilstm":
        inp = M.Input((None,), dtype="int32")
        x = L.Embedding(VOCAB, 8, mask_zero=True)(inp)
        x = L.Bidirectional(L.LSTM(6, return_sequences=True))(x)
        x = L.GlobalAveragePooling1D()(x)
        return M.Model(inp, L.Dense(3)(x))
    if name == "gru":
        return M.Sequential([M.Input((None, 4)), L.Masking(), L.GRU(5), L.Dense(2)])
    if name == "mha":
        inp = M.Input((None,), dtype="int32")
        x = L.Embedding(VOCAB, 8, mask_zero=True)(inp)
        x = L.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
        x = L.LayerNormalization()(x)
        x = L.GlobalMaxPooling1D()(x)      # drops the mask, with Keras's warning (see below)
        return M.Model(inp, L.Dense(3)(x))
    if name == "concat":
        a = M.Input((None,), dtype="int32", name="ids_a")
        b = M.Input((None,), dtype="int32", name="ids_b")
        xa = L.Embedding(VOCAB, 6, mask_zero=True)(a)
        xb = L.Embedding(VOCAB, 6, mask_zero=True)(b)
        x = L.Concatenate(axis=1)([xa, xb])
        x = L.LSTM(5, return_sequences=True)(x)
        return M.Model([a, b], L.Dense(2)(x))
    if name == "custom":
        inp = M.Input((None,), dtype="int32")
        x = L.Embedding(VOCAB, 8, mask_zero=True)(inp)
        x = custom(M)(6)(x)
        x = L.LSTM(5)(x)
        return M.Model(inp, L.Dense(2)(x))
    raise ValueError(name)


MODELS = ("bilstm", "gru", "mha", "concat", "custom")


def randomize(model, seed):
    """Random (non-zero) values for every weight, biases included."""
    rng = np.random.default_rng(seed)
    model.set_weights([0.4 * rng.standard_normal(np.shape(w)).astype("float32")
                       for w in model.get_weights()])


def _ids(rng, t, kind):
    lengths = rng.integers(1, t + 1, size=B)
    steps = np.arange(t)[None, :]
    if kind == "post":
        keep = steps < lengths[:, None]
    elif kind == "pre":
        keep = steps >= (t - lengths)[:, None]
    else:  # holes
        keep = rng.random((B, t)) < 0.6
        keep[np.arange(B), rng.integers(0, t, size=B)] = True
    keep[-1] = False                        # one fully padded row
    return np.where(keep, rng.integers(1, VOCAB, size=(B, t)), 0).astype("int32")


def batches(name, seed=0):
    """[(kind, input)] for the model `name`: pre, post and holes padding."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in ("pre", "post", "holes"):
        if name == "gru":
            ids = _ids(rng, T, kind)
            x = rng.standard_normal((B, T, 4)).astype("float32") * (ids != 0)[..., None]
            out.append((kind, x))
        elif name == "concat":
            out.append((kind, [_ids(rng, T, kind), _ids(rng, T2, kind)]))
        else:
            out.append((kind, _ids(rng, T, kind)))
    return out


def assert_same(k_model, f_model, name, seed=0):
    """Outputs (1e-5) and output masks (exact) of the two models on every batch kind."""
    for kind, x in batches(name, seed):
        k_out = k_model(x)
        f_out = f_model(x)
        assert_outputs_close(k_out, f_out, what=f"{name}/{kind} output")
        assert_masks_equal([k_get_mask(k_out)], [get_mask(f_out)], what=f"{name}/{kind} mask")


def keras_model(name, seed=1):
    k = build(name, keras())
    randomize(k, seed)
    return k


def fm_model(name, seed=2):
    f = build(name, fastmask)
    randomize(f, seed)
    return f


# --------------------------------------------------------------------------- Keras -> fastmask

@pytest.mark.parametrize("name", MODELS)
def test_keras_archive_loads_in_fastmask(name, tmp_path):
    k = keras_model(name)
    path = tmp_path / f"{name}.keras"
    k.save(path)
    f = fastmask.models.load_model(path)
    assert type(f).__name__ == type(k).__name__
    assert [w.shape for w in f.weights] == [tuple(w.shape) for w in k.weights]
    assert_same(k, f, name)
    # compile= is accepted (and ignored); the alias in fastmask.saving is the same function.
    assert saving.load_model is fastmask.models.load_model
    g = saving.load_model(str(path), compile=False)
    assert_outputs_close(f(batches(name)[0][1]), g(batches(name)[0][1]))


@pytest.mark.parametrize("name", MODELS)
def test_weights_h5_both_ways(name, tmp_path):
    k, f = keras_model(name), fm_model(name)
    path = tmp_path / "k.weights.h5"
    k.save_weights(path)
    f.load_weights(path)
    assert_same(k, f, name)
    randomize(f, 5)
    path = tmp_path / "f.weights.h5"
    f.save_weights(path)
    k.load_weights(path)
    assert_same(k, f, name)


@pytest.mark.parametrize("name", MODELS)
def test_from_keras(name):
    k = keras_model(name)
    f = fastmask.models.from_keras(k)
    assert f is not k and f.name == k.name
    assert [layer.name for layer in f.layers] == [layer.name for layer in k.layers]
    assert_same(k, f, name)


@pytest.mark.parametrize("name", MODELS)
def test_h5_layout_is_keras_layout(name, tmp_path):
    """Same groups, same datasets, same shapes as the file Keras writes for the model."""
    k, f = keras_model(name), fm_model(name)
    k.save_weights(tmp_path / "k.weights.h5")
    f.save_weights(tmp_path / "f.weights.h5")

    def listing(path):
        out = {}
        with h5py.File(path, "r") as h:
            h.visititems(lambda n, o: out.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset)
                         else None)
        return out

    assert listing(tmp_path / "f.weights.h5") == listing(tmp_path / "k.weights.h5")


# --------------------------------------------------------------------------- fastmask -> Keras

@pytest.mark.parametrize("name", MODELS)
def test_fastmask_archive_loads_in_keras(name, tmp_path):
    f = fm_model(name)
    path = tmp_path / f"{name}.keras"
    f.save(path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(zf.read("metadata.json"))["keras_version"] == "3.15.1"
    k = keras().saving.load_model(path)
    assert_same(k, f, name)
    g = fastmask.models.load_model(path)            # and back
    assert_same(k, g, name)


def test_save_to_directory_and_file_objects(tmp_path):
    f = fm_model("bilstm")
    f.save(tmp_path / "unzipped", zipped=False)
    assert sorted(os.listdir(tmp_path / "unzipped")) == ["config.json", "metadata.json",
                                                         "model.weights.h5"]
    g = fastmask.models.load_model(tmp_path / "unzipped")
    buf = io.BytesIO()
    f.save(buf)
    buf.seek(0)
    h = fastmask.models.load_model(buf)
    x = batches("bilstm")[0][1]
    assert_outputs_close(f(x), g(x))
    assert_outputs_close(f(x), h(x))
    with pytest.raises(ValueError, match=".keras"):
        f.save(tmp_path / "m.h5")
    with pytest.raises(FileExistsError):
        f.save(tmp_path / "m.keras")
        f.save(tmp_path / "m.keras", overwrite=False)
    f.load_weights(tmp_path / "m.keras")               # weights of an archive


# --------------------------------------------------------------------------- custom layers

def test_custom_layer_keeps_masking_behaviour(tmp_path):
    """The registered mask-aware layer comes back with supports_masking and compute_mask."""
    k = keras_model("custom")
    k.save(tmp_path / "c.keras")
    f = fastmask.models.load_model(tmp_path / "c.keras")
    layer = f.layers[2]
    assert type(layer) is custom(fastmask) and layer.supports_masking
    ids = batches("custom")[1][1]
    emb = f.layers[1](ids)
    np.testing.assert_array_equal(get_mask(layer(emb)), ids != 0)
    # Without the registration the class is unknown: a clear error...
    config = json.loads(zipfile.ZipFile(tmp_path / "c.keras").read("config.json"))
    entry = next(e for e in config["config"]["layers"] if e["class_name"] == "MaskedDense")
    entry["registered_name"] = "Elsewhere>MaskedDense"
    entry["class_name"] = "UnknownMaskedDense"
    bad = tmp_path / "unknown.keras"
    with zipfile.ZipFile(tmp_path / "c.keras") as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            data = json.dumps(config) if item == "config.json" else src.read(item)
            dst.writestr(item, data)
    with pytest.raises(TypeError, match="UnknownMaskedDense.*register_keras_serializable"):
        fastmask.models.load_model(bad)
    # ...that custom_objects= (by registered name or class name) resolves.
    g = fastmask.models.load_model(bad, custom_objects={"UnknownMaskedDense":
                                                        custom(fastmask)})
    assert_same(k, g, "custom")


def test_supports_masking_set_after_construction_round_trips(tmp_path):
    """kr#15510: a supports_masking flag set on the instance survives save/load."""
    @saving.register_serializable(package="FastmaskTest")
    class Scale(fastmask.layers.Layer):
        def call(self, x):
            return 2.0 * x

    inp = fastmask.Input((None,), dtype="int32")
    x = fastmask.layers.Embedding(VOCAB, 3, mask_zero=True)(inp)
    scale = Scale()
    assert not scale.supports_masking
    scale.supports_masking = True
    x = scale(x)
    model = fastmask.Model(inp, fastmask.layers.LSTM(2)(x))
    model.save(tmp_path / "s.keras")
    loaded = fastmask.models.load_model(tmp_path / "s.keras")
    assert loaded.layers[2].supports_masking
    ids = batches("bilstm")[2][1]
    assert_outputs_close(model(ids), loaded(ids))
    assert saving.get_registered_name(Scale) == "FastmaskTest>Scale"
    assert saving.get_registered_object("FastmaskTest>Scale") is Scale


def test_custom_object_scope(tmp_path):
    k = keras_model("custom")
    k.save(tmp_path / "c.keras")
    cls = custom(fastmask)
    with saving.custom_object_scope({"FastmaskTest>MaskedDense": cls}):
        f = fastmask.models.load_model(tmp_path / "c.keras")
    assert type(f.layers[2]) is cls
    with pytest.raises(TypeError, match="dict"):
        fastmask.models.load_model(tmp_path / "c.keras", custom_objects=[cls])


# --------------------------------------------------------------------------- bad input

def _weights_before(model):
    return [w.numpy() for w in model.weights]


def _unchanged(model, before):
    return all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))


def test_truncated_and_corrupt_archives(tmp_path):
    k = keras_model("bilstm")
    k.save(tmp_path / "ok.keras")
    data = (tmp_path / "ok.keras").read_bytes()
    (tmp_path / "trunc.keras").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="trunc.keras.*(not a valid|corrupt)"):
        fastmask.models.load_model(tmp_path / "trunc.keras")
    flipped = bytearray(data)
    start = data.index(b"HDF")            # inside the stored weights member
    for i in range(start + 200, start + 400):
        flipped[i] ^= 0xFF
    (tmp_path / "flipped.keras").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt"):
        fastmask.models.load_model(tmp_path / "flipped.keras")
    (tmp_path / "noise.keras").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="not a valid `.keras` archive"):
        fastmask.models.load_model(tmp_path / "noise.keras")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(ValueError, match="without a `config.json`"):
        fastmask.models.load_model(tmp_path / "empty.keras")
    with zipfile.ZipFile(tmp_path / "badjson.keras", "w") as zf:
        zf.writestr("config.json", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        fastmask.models.load_model(tmp_path / "badjson.keras")
    # An HDF5 member that is not HDF5.
    with zipfile.ZipFile(tmp_path / "ok.keras") as src, \
            zipfile.ZipFile(tmp_path / "badh5.keras", "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.h5", b"\x00" * 4096)
    with pytest.raises(ValueError, match="not a readable HDF5"):
        fastmask.models.load_model(tmp_path / "badh5.keras")
    with pytest.raises(FileNotFoundError):
        fastmask.models.load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="load_weights"):
        fastmask.models.load_model(_touch(tmp_path / "w.weights.h5"))
    with pytest.raises(ValueError, match="legacy"):
        fastmask.models.load_model(_touch(tmp_path / "old.h5"))


def _touch(path):
    path.write_bytes(b"")
    return path


def _archive_with_weights(archive, weights_file, out):
    """`out`: a .keras archive with `archive`'s config.json and `weights_file` as weights."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.h5", open(weights_file, "rb").read())


def test_weights_of_another_architecture(tmp_path):
    keras_model("mha").save_weights(tmp_path / "mha.weights.h5")
    f = fm_model("bilstm")
    before = _weights_before(f)
    with pytest.raises(WeightsFileError, match="does not match") as err:
        f.load_weights(tmp_path / "mha.weights.h5")
    msg = str(err.value)
    assert "forward_layer/cell" in msg and "multi_head_attention" in msg
    assert "Nothing was loaded" in msg
    assert _unchanged(f, before)
    # Same layer types, other sizes: the shapes are named.
    other = fastmask.Sequential([fastmask.Input((None, 4)), fastmask.layers.Masking(),
                                 fastmask.layers.GRU(5), fastmask.layers.Dense(3)])
    randomize(other, 3)
    other.save_weights(tmp_path / "other.weights.h5")
    g = fm_model("gru")
    before = _weights_before(g)
    with pytest.raises(ValueError, match=r"'layers/dense/vars'.*shape \(5, 2\).*\(5, 3\)"):
        g.load_weights(tmp_path / "other.weights.h5")
    assert _unchanged(g, before)
    # skip_mismatch: mismatched layers are skipped with a warning, the rest loads.
    with pytest.warns(UserWarning, match="skipped"):
        g.load_weights(tmp_path / "other.weights.h5", skip_mismatch=True)
    for a, b in zip(g.layers[1].weights, other.layers[1].weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(g.layers[2].kernel, before[-2])
    # An archive whose config and weights disagree is refused whole.
    k = keras_model("gru")
    k.save(tmp_path / "gru.keras")
    _archive_with_weights(tmp_path / "gru.keras", tmp_path / "other.weights.h5",
                          tmp_path / "mixed.keras")
    with pytest.raises(ValueError, match="mixed.keras"):
        fastmask.models.load_model(tmp_path / "mixed.keras")


def test_missing_weight(tmp_path):
    k = keras_model("bilstm")
    k.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5", "a") as h:
        del h["layers/bidirectional/backward_layer/cell/vars/2"]
    f = fm_model("bilstm")
    before = _weights_before(f)
    with pytest.raises(ValueError, match="backward_layer/cell.*3 weight.*holds 2"):
        f.load_weights(tmp_path / "k.weights.h5")
    assert _unchanged(f, before)
    with h5py.File(tmp_path / "k.weights.h5", "a") as h:
        del h["layers/dense"]
    with pytest.raises(ValueError, match="at 'layers/dense/vars'.*has none there"):
        f.load_weights(tmp_path / "k.weights.h5")
    assert _unchanged(f, before)
    # Inside an archive: load_model raises, no model is returned.
    k.save(tmp_path / "k.keras")
    _archive_with_weights(tmp_path / "k.keras", tmp_path / "k.weights.h5",
                          tmp_path / "holed.keras")
    with pytest.raises(ValueError, match="holed.keras"):
        fastmask.models.load_model(tmp_path / "holed.keras")


def test_unsupported_layer_is_named(tmp_path):
    K = keras()
    k = K.Sequential([K.Input((None, 3)), K.layers.SeparableConv1D(2, 2), K.layers.Dense(1)])
    k.save(tmp_path / "conv.keras")
    with pytest.raises(TypeError, match="'SeparableConv1D'.*not support.*Bidirectional.*LSTM"):
        fastmask.models.load_model(tmp_path / "conv.keras")
    with pytest.raises(TypeError, match="'SeparableConv1D'"):
        fastmask.models.from_keras(k)
    with pytest.raises(TypeError, match="Keras 3 model"):
        fastmask.models.from_keras(fm_model("gru"))


def test_unbuilt_models_and_bad_paths(tmp_path):
    unbuilt = fastmask.Sequential([fastmask.layers.Dense(2)])
    with pytest.raises(ValueError, match="has not yet been built"):
        unbuilt.load_weights(_h5_of(fm_model("gru"), tmp_path))
    with pytest.raises(ValueError, match="weights.h5"):
        fm_model("gru").save_weights(tmp_path / "w.txt")


def _h5_of(model, tmp_path):
    path = tmp_path / "any.weights.h5"
    model.save_weights(path)
    return path


def test_missing_h5py_message(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"fastmask\[keras\]"):
        fm_model("gru").save(tmp_path / "m.keras")


def test_weight_paths_follow_keras_attribute_walk():
    f = fm_model("bilstm")
    paths = [p for p, _, own in weight_paths(f) if own]
    assert paths == ["layers/embedding", "layers/bidirectional/backward_layer/cell",
                     "layers/bidirectional/forward_layer/cell", "layers/dense"]


# --------------------------------------------------------------------------- the demo

def test_shipped_demo_model_and_serve_demo():
    from fastmask.tour import shipped_model_path
    path = shipped_model_path()
    assert os.path.getsize(path) < 200_000
    with np.load(path + ".npz") as data:
        ids, recorded = data["ids"], data["keras"]
    k = keras().saving.load_model(path)
    f = fastmask.models.load_model(path)
    assert_outputs_close(k(ids), f(ids))
    assert_outputs_close(recorded, f(ids))
    lines = []
    result = fastmask.models.serve_demo(print_fn=lines.append, train=False)
    assert result["source"] == "shipped file" and result["max_abs_diff_vs_keras"] < 1e-5
    assert result["pre_post_max_diff"] < 1e-6
    np.testing.assert_array_equal(result["mask"], ids != 0)
    assert any("mask (1 = token)" in line for line in lines)


def test_serve_demo_trains_in_keras():
    import importlib.util
    if not any(importlib.util.find_spec(b) for b in ("jax", "torch", "tensorflow")):
        pytest.skip("no Keras training backend installed")
    lines = []
    result = fastmask.models.serve_demo(print_fn=lines.append, train=True, epochs=1)
    assert result["source"].startswith("trained in Keras")
    assert result["max_abs_diff_vs_keras"] < 1e-5
    assert not os.path.exists(result["path"])          # temporary files removed


# --------------------------------------------------------------------------- more formats

def test_lambda_layers_need_safe_mode_off(tmp_path):
    K = keras()
    k = K.Sequential([K.Input((None, 3)), K.layers.Lambda(lambda t: t * 2.0 + 1.0),
                      K.layers.Dense(2)])
    k.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        fastmask.models.load_model(tmp_path / "lam.keras")
    f = fastmask.models.load_model(tmp_path / "lam.keras", safe_mode=False)
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype("float32")
    assert_outputs_close(k(x), f(x))
    f.save(tmp_path / "lam_fm.keras")                   # and back to Keras
    k2 = K.saving.load_model(tmp_path / "lam_fm.keras", safe_mode=False)
    assert_outputs_close(k2(x), f(x))


def test_extra_non_layer_state_is_ignored(tmp_path):
    """Optimizer/metric state Keras keeps next to `layers/` is not model weights."""
    k = keras_model("gru")
    k.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5", "a") as h:
        h.create_dataset("optimizer/vars/0", data=np.zeros(3))
    f = fm_model("gru")
    f.load_weights(tmp_path / "k.weights.h5")
    assert_same(k, f, "gru")
    (tmp_path / "w.weights.json").write_text("{}")
    with pytest.raises(ValueError, match="sharded"):
        f.load_weights(tmp_path / "w.weights.json")


def _random_stack(draw_layers, units, vocab=VOCAB):
    from fastmask import layers as L
    stack = [fastmask.Input((None,), dtype="int32"), L.Embedding(vocab, units, mask_zero=True)]
    for kind in draw_layers:
        stack.append({"lstm": lambda: L.LSTM(units, return_sequences=True),
                      "gru": lambda: L.GRU(units, return_sequences=True),
                      "rnn": lambda: L.SimpleRNN(units, return_sequences=True),
                      "bi": lambda: L.Bidirectional(L.LSTM(units, return_sequences=True),
                                                    merge_mode="sum"),
                      "dense": lambda: L.Dense(units, activation="tanh"),
                      "td": lambda: L.TimeDistributed(L.Dense(units)),
                      "ln": lambda: L.LayerNormalization(),
                      "cells": lambda: L.RNN([L.GRUCell(units), L.LSTMCell(units)],
                                             return_sequences=True)}[kind]())
    return fastmask.Sequential(stack)


def test_round_trip_property(tmp_path):
    """Random stacks: .keras, .weights.h5 and pickle round trips give identical outputs."""
    import pickle

    from hypothesis import given, strategies as st

    kinds = st.sampled_from(["lstm", "gru", "rnn", "bi", "dense", "td", "ln", "cells"])

    @given(st.lists(kinds, min_size=1, max_size=4), st.integers(1, 5), st.integers(0, 2 ** 16))
    def check(kinds_drawn, units, seed):
        model = _random_stack(kinds_drawn, units)
        randomize(model, seed)
        ids = _ids(np.random.default_rng(seed), T, ("pre", "post", "holes")[seed % 3])
        ref = model(ids)
        model.save(tmp_path / "r.keras")
        loaded = fastmask.models.load_model(tmp_path / "r.keras")
        np.testing.assert_array_equal(loaded(ids), ref)
        np.testing.assert_array_equal(get_mask(loaded(ids)), get_mask(ref))
        assert [p for p, _, _ in weight_paths(loaded)] == [p for p, _, _ in weight_paths(model)]
        other = _random_stack(kinds_drawn, units)
        other.load_weights(_h5_of(model, tmp_path))
        np.testing.assert_array_equal(other(ids), ref)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(model))(ids), ref)

    check()


def test_keras_2_13_layout_is_read(tmp_path):
    """`.keras` files of Keras 2.13 name the layer list `_layer_checkpoint_dependencies`."""
    k = keras_model("gru")
    k.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5", "a") as h:
        h.move("layers", "_layer_checkpoint_dependencies")
    f = fm_model("gru")
    f.load_weights(tmp_path / "k.weights.h5")
    assert_same(k, f, "gru")


def test_failed_save_leaves_no_file(tmp_path):
    """A layer whose save_own_variables raises: Keras 3.15.1 leaves a partial `.keras`
    archive without weights (keras_port saving_lib test_save_model_exception_raised, a
    deliberate xfail); fastmask leaves no file and no temporary file (README differences)."""
    class RaiseOnSave(fastmask.layers.Dense):
        def save_own_variables(self, store):
            raise ValueError("cannot save")

    model = fastmask.Sequential([fastmask.Input((3,)), RaiseOnSave(2)])
    path = tmp_path / "model.keras"
    with pytest.raises(ValueError, match="cannot save"):
        model.save(path)
    assert os.listdir(tmp_path) == []


def test_sequential_built_on_first_call_keeps_integer_input_dtype():
    """Keras 3.15.1 records a float32 input for a Sequential built by its first call, even
    on int32 ids; fastmask keeps the ids' dtype (README differences)."""
    ids = np.array([[1, 2, 0], [3, 0, 0]], np.int32)
    models = []
    for M in (keras(), fastmask):
        model = M.Sequential([M.layers.Embedding(5, 2, mask_zero=True), M.layers.Dense(1)])
        model(ids)
        models.append(model)
    k_model, f_model = models
    assert k_model.inputs[0].dtype == "float32"
    assert f_model.inputs[0].dtype == "int32"
