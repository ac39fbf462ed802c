"""Sequential / Functional / subclassed / nested models vs Keras 3.15.1."""
import io
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, layers, with_mask
from oracle import (assert_masks_equal, assert_outputs_close, k_get_mask, k_set_mask, keras,
                    keras_symbolic_masks, mask_cases)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _ids(rng, b=4, t=7, vocab=9, kind="post"):
    ids = rng.integers(1, vocab, (b, t))
    for i, (_, m) in enumerate(mask_cases(rng, b, t, kinds=(kind,))):
        if m is not None:
            ids[~m] = 0
    return ids


def _stack(M, with_input):
    return [M.Input((None,), dtype="int32")] * with_input + [
        M.layers.Embedding(9, 4, mask_zero=True), M.layers.Dense(5, activation="tanh"),
        M.layers.LayerNormalization(), M.layers.TimeDistributed(M.layers.Dense(3)),
        M.layers.Dense(2)]


@pytest.mark.parametrize("with_input", [True, False])
@pytest.mark.parametrize("kind", ["post", "pre", "holes", "all_masked_row"])
def test_sequential_matches_keras(with_input, kind):
    rng = np.random.default_rng(1)
    ids = _ids(rng, kind=kind)
    k = keras().Sequential(_stack(keras(), with_input))
    f = fastmask.Sequential(_stack(fastmask, with_input))
    k_out = k(ids)
    f(ids)
    assert [w.shape for w in f.weights] == [tuple(w.shape) for w in k.weights]
    f.set_weights(k.get_weights())
    f_out = f(ids)
    assert_outputs_close(k_out, f_out)
    assert_masks_equal([k_get_mask(k_out)], [get_mask(f_out)])
    np.testing.assert_array_equal(get_mask(f_out), ids != 0)


def test_sequential_masking_float_input_and_explicit_mask():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0
    k = keras().Sequential([keras().layers.Masking(), keras().layers.Dense(3)])
    f = fastmask.Sequential([layers.Masking(), layers.Dense(3)])
    k_out = k(x)
    f(x)
    f.set_weights(k.get_weights())
    f_out = f(x)
    assert_outputs_close(k_out, f_out)
    assert_masks_equal([k_get_mask(k_out)], [get_mask(f_out)])
    # A mask given to the model is attached to its input (Keras's Functional.call).
    g = fastmask.Sequential([fastmask.Input((5, 2)), layers.Dense(3)])
    m = np.array([[True, False, True, True, True]] * 3)
    with pytest.warns(UserWarning, match="of type Sequential"):   # as Keras: models
        out = g(x, mask=m)                                         # do not "support" masks
    np.testing.assert_array_equal(get_mask(out), m)


def _functional(M):
    ids = M.Input((None,), dtype="int32", name="ids")
    feats = M.Input((None, 3), name="feats")
    e = M.layers.Embedding(9, 3, mask_zero=True)(ids)
    mf = M.layers.Masking()(feats)
    s = M.layers.Add()([e, mf])
    h = M.layers.Dense(4, activation="relu")(s)
    c = M.layers.Concatenate(axis=1)([h, M.layers.Dense(4)(feats)])
    out1 = M.layers.Dense(2)(h)
    out2 = M.layers.TimeDistributed(M.layers.Dense(1))(c)
    return [ids, feats], [out1, out2, e]


@pytest.mark.parametrize("kind", ["post", "holes", "all_masked_row"])
def test_functional_multi_input_multi_output_matches_keras(kind):
    rng = np.random.default_rng(3)
    ids = _ids(rng, b=3, t=5, kind=kind)
    feats = rng.standard_normal((3, 5, 3)).astype(np.float32)
    feats[1, 2] = 0
    k_in, k_out = _functional(keras())
    f_in, f_out = _functional(fastmask)
    f_model = fastmask.Model(f_in, f_out)
    k_model = keras().Model(k_in, k_out)
    assert [w.shape for w in f_model.weights] == [tuple(w.shape) for w in k_model.weights]
    assert [type(x).__name__ for x in f_model.layers] == \
        [type(x).__name__ for x in k_model.layers]
    f_model.set_weights(k_model.get_weights())
    k_vals, k_masks = keras_symbolic_masks(k_in, k_out, [ids, feats])
    f_vals = f_model([ids, feats])
    f_dict = f_model({"ids": ids, "feats": feats})
    assert isinstance(f_vals, list) and len(f_vals) == 3
    assert_outputs_close(k_vals, f_vals)
    assert_outputs_close(f_vals, f_dict)
    assert_masks_equal(k_masks, [get_mask(v) for v in f_vals])
    assert [hasattr(o, "_keras_mask") for o in k_out] == \
        [hasattr(o, "_keras_mask") for o in f_out]


@pytest.mark.filterwarnings("ignore:Layer 'sequential")
def test_nested_models_keep_the_mask():
    rng = np.random.default_rng(4)
    ids = _ids(rng)
    results = []
    for M in (keras(), fastmask):
        inner = M.Sequential([M.layers.Dense(4), M.layers.Dense(3)])
        inner_f_in = M.Input((None, 3))
        inner_f = M.Model(inner_f_in, M.layers.Dense(2)(inner_f_in))
        inp = M.Input((None,), dtype="int32")
        x = M.layers.Embedding(9, 3, mask_zero=True)(inp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = inner_f(inner(x))
            outer = M.Sequential([M.layers.Embedding(9, 3, mask_zero=True),
                                  M.Sequential([M.layers.Dense(3)])])
        results.append((M.Model(inp, y), outer))
    (km, ko), (fm, fo) = results
    fm.set_weights(km.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_val, f_val = km(ids), fm(ids)
        k_o, f_o = ko(ids), fo(ids)
    fo.set_weights(ko.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_o = fo(ids)
    assert_outputs_close(k_val, f_val)
    assert_outputs_close(k_o, f_o)
    assert_masks_equal([k_get_mask(k_val), k_get_mask(k_o)], [get_mask(f_val), get_mask(f_o)])
    np.testing.assert_array_equal(get_mask(f_val), ids != 0)
    # A model is not mask-supporting itself: Keras's warning when it gets a masked input.
    with pytest.warns(UserWarning, match="of type Sequential"):
        fastmask.Sequential([layers.Dense(2)])(with_mask(np.ones((1, 2, 2), np.float32),
                                                         np.ones((1, 2), bool)))


def test_subclassed_model():
    class Tagger(fastmask.Model):
        def __init__(self, vocab=9, units=4, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(vocab, units, mask_zero=True)
            self.blocks = [layers.Dense(units, activation="relu"), layers.Dense(2)]

        def call(self, inputs, training=None):
            x = self.embedding(inputs)
            for block in self.blocks:
                x = block(x)
            return x

    rng = np.random.default_rng(5)
    ids = _ids(rng)
    model = Tagger(units=6, name="tagger")
    out = model(ids)
    np.testing.assert_array_equal(get_mask(out), ids != 0)
    assert [w.shape for w in model.weights] == [(9, 6), (6, 6), (6,), (6, 2), (2,)]
    assert model.get_config()["units"] == 6
    clone = Tagger.from_config(model.get_config())
    clone(ids)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(ids), out)
    np.testing.assert_array_equal(model.predict(ids, batch_size=3, verbose=0), out)
    assert len(model.layers) == 3


def test_predict_batches_masks_and_progress_bar(capsys):
    rng = np.random.default_rng(6)
    ids = _ids(rng, b=70, t=6)
    model = fastmask.Sequential([fastmask.Input((None,), dtype="int32"),
                                 layers.Embedding(9, 3, mask_zero=True), layers.Dense(2)])
    full = model(ids)
    for bs in (1, 32, 70, 100):
        pred = model.predict(ids, batch_size=bs, verbose=0)
        np.testing.assert_allclose(pred, full, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(get_mask(pred), ids != 0)
    assert capsys.readouterr().out == ""
    model.predict(ids, verbose=1)
    out = capsys.readouterr().out
    assert "3/3" in out and "\u2501" * 20 in out and "/step" in out
    model.predict(ids, verbose=2)
    assert capsys.readouterr().out.count("\n") == 1
    model.predict(ids)        # "auto": short runs print nothing
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(ids, batch_size=0)
    with pytest.raises(ValueError, match="non-empty"):
        model.predict(ids[:0])


def test_summary_like_keras():
    inp = fastmask.Input((None,), dtype="int32")
    x = layers.Embedding(50, 4, mask_zero=True, name="emb")(inp)
    out = layers.Add(name="sum")([layers.Dense(3, name="d1")(x), layers.Dense(3, name="d2")(x)])
    model = fastmask.Model(inp, out, name="net")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "net"'
    for piece in ("emb (Embedding)", "(None, None, 4)", "200", "d1[0][0]", "Connected to",
                  " Total params: 230 (920.00 B)", " Trainable params: 230 (920.00 B)",
                  " Non-trainable params: 0 (0.00 B)"):
        assert piece in text, piece
    seq = fastmask.Sequential([layers.Dense(2)])
    buf = io.StringIO()
    seq.summary(print_fn=lambda s: buf.write(s + "\n"))
    assert "0 (unbuilt)" in buf.getvalue() and "?" in buf.getvalue()


def test_weights_io_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    ids = _ids(rng)
    a = fastmask.Sequential(_stack(fastmask, True))
    b = fastmask.Sequential(_stack(fastmask, True))
    path = tmp_path / "m.weights.npz"
    a.save_weights(path)
    b.load_weights(path)
    np.testing.assert_array_equal(a(ids), b(ids))
    with pytest.raises(FileExistsError):
        a.save_weights(path, overwrite=False)
    a.save_weights(tmp_path / "m.weights.h5")   # Keras's layout: tests/test_keras_models.py
    c = fastmask.Sequential(_stack(fastmask, True))
    c.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(a(ids), c(ids))
    with pytest.raises(ValueError, match="holds"):
        fastmask.Sequential([fastmask.Input((3,)), layers.Dense(2)]).load_weights(path)
    weights = a.get_weights()
    weights[0] = weights[0][:, :2]
    with pytest.raises(ValueError, match="weight shape"):
        b.set_weights(weights)
    with pytest.raises(ValueError, match="expecting"):
        b.set_weights(weights[:-1])


def test_config_round_trips_and_keras_cross_loading():
    rng = np.random.default_rng(8)
    ids = _ids(rng, b=3, t=5)
    feats = rng.standard_normal((3, 5, 3)).astype(np.float32)
    f_in, f_out = _functional(fastmask)
    model = fastmask.Model(f_in, f_out, name="multi")
    clone = fastmask.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert_outputs_close(model([ids, feats]), clone([ids, feats]))
    assert [get_mask(v) is None for v in clone([ids, feats])] == [False, False, False]
    # A Keras Functional config loads in fastmask (and gives Keras's numbers).
    k_in, k_out = _functional(keras())
    k_model = keras().Model(k_in, k_out)
    from_keras = fastmask.Model.from_config(k_model.get_config())
    from_keras.set_weights(k_model.get_weights())
    k_vals, k_masks = keras_symbolic_masks(k_in, k_out, [ids, feats])
    vals = from_keras([ids, feats])
    assert_outputs_close(k_vals, vals)
    assert_masks_equal(k_masks, [get_mask(v) for v in vals])
    # Sequential both ways.
    seq = fastmask.Sequential(_stack(fastmask, True), name="s")
    cfg = seq.get_config()
    assert cfg["build_input_shape"] == (None, None)
    seq2 = fastmask.Sequential.from_config(cfg)
    seq2.set_weights(seq.get_weights())
    np.testing.assert_array_equal(seq(ids), seq2(ids))
    k_seq = keras().Sequential(_stack(keras(), True))
    f_seq = fastmask.Sequential.from_config(k_seq.get_config())
    f_seq.set_weights(k_seq.get_weights())
    k_val = k_seq(ids)
    assert_outputs_close(k_val, f_seq(ids))
    assert keras().Sequential.from_config(seq.get_config()).count_params() == \
        seq.count_params()


def test_functional_errors():
    inp = fastmask.Input((None, 3))
    model = fastmask.Model(inp, layers.Dense(2)(inp))
    with pytest.raises(ValueError, match="expects 1 .*input"):
        model([np.ones((1, 2, 3)), np.ones((1, 2, 3))])
    with pytest.raises(ValueError, match=r"expected shape=\(None, None, 3\)"):
        model(np.ones((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="incompatible shape"):
        model(np.ones((1, 2, 3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="must be KerasTensors"):
        fastmask.Model(np.ones(3), layers.Dense(2)(inp))
    other = fastmask.Input((None, 3))
    with pytest.raises(ValueError, match="not connected to `inputs`"):
        fastmask.Model(inp, layers.Add()([layers.Dense(3)(inp), other]))
    with pytest.raises(ValueError, match="unique names"):
        fastmask.Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")])


def test_ops_on_symbolic_tensors_inside_functional_models():
    from fastmask import ops
    inp = fastmask.Input((None,), dtype="int32")
    x = layers.Embedding(9, 3, mask_zero=True)(inp)
    y = ops.relu(x) * 2.0 + 1.0
    z = ops.sum(y, axis=-1)
    model = fastmask.Model(inp, [y, z])
    ids = np.array([[1, 2, 0]])
    emb = np.asarray(model.layers[1].embeddings)
    yv, zv = model(ids)
    np.testing.assert_allclose(yv, np.maximum(emb[ids], 0) * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(zv, yv.sum(-1), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="Lambda"):
        model.get_config()


def test_sequential_built_on_first_call_keeps_integer_dtypes():
    """README: "A Sequential model built on its first call keeps integer input dtypes"
    (Keras would convert them to the first layer's float dtype). An int64 id above
    2**24 (not representable in float32) passes through exactly; the built input is
    int64; an Embedding stack gives what the same stack with an int32 Input gives;
    float inputs are still cast to the first layer's dtype, as in Keras."""
    big = np.array([[2 ** 24 + 1, 7, 0]], np.int64)
    model = fastmask.Sequential([layers.Lambda(lambda x: x % 1000)])
    out = model(big)
    assert np.asarray(out).dtype.kind == "i"
    np.testing.assert_array_equal(out, [[217, 7, 0]])          # float32 would give 216
    assert "int64" in str(model.inputs[0].dtype)
    for dtype in ("int32", "int64", "uint8"):
        rng = np.random.default_rng(5)
        ids = _ids(rng).astype(dtype)
        lazy = fastmask.Sequential(_stack(fastmask, False))
        eager = fastmask.Sequential(_stack(fastmask, True))
        lazy(ids)
        lazy.set_weights(eager.get_weights())
        assert dtype in str(lazy.inputs[0].dtype)
        np.testing.assert_array_equal(lazy(ids), eager(ids))
        np.testing.assert_array_equal(get_mask(lazy(ids)), ids != 0)
    floats = fastmask.Sequential([layers.Lambda(lambda x: x * 1)])
    assert np.asarray(floats(np.ones((1, 2), np.float64))).dtype == np.float32
