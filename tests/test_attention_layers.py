"""Softmax, GlobalAveragePooling1D/GlobalMaxPooling1D, Attention and MultiHeadAttention
layers against Keras 3.15.1 (numpy backend): values, masks, weights, configs, errors."""
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import layers as L
from fastmask.kernels import _attention, _pooling, _softmax
from isa_variants import isa_fixture
from oracle import SHAPES, compare_layer, flat, k_set_mask, keras, mask_cases

# Every test runs under each instruction-set variant (FASTMASK_ISA), module by
# module; one this CPU cannot execute is a skip that says why.
isa = isa_fixture(_attention, _pooling, _softmax)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------- Softmax
def test_softmax_case_11_and_broadcast_masks(rng):
    x = np.array([[1, 2, 5, 1], [1, 1, 1, 1], [3, 1, 2, 4]], np.float32)
    m = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    out, _ = compare_layer(keras().layers.Softmax(), L.Softmax(), x, mask=m, check_mask=False)
    np.testing.assert_allclose(out, [[.268941, .731059, 0, 0], [0, 0, 0, 0],
                                     [.236883, .032059, .087144, .643914]], atol=1e-6)
    x4 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for mshape in ((2, 1, 1, 5), (4, 5), (5,), (2, 3, 4, 1)):
        m = rng.random(mshape) < 0.5
        compare_layer(keras().layers.Softmax(), L.Softmax(), x4, mask=m, check_mask=False)
    for axis in (1, (2, 3), [-1]):
        compare_layer(keras().layers.Softmax(axis=axis), L.Softmax(axis=axis), x4,
                      mask=rng.random((2, 1, 4, 5)) < 0.5, check_mask=False)


def test_softmax_auto_mask_error_and_passthrough(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    m = np.array([[1, 1, 0], [1, 0, 0]], bool)
    with pytest.raises(ValueError, match="broadcastable"):
        quiet(keras().layers.Softmax(), k_set_mask(x, m))
    with pytest.raises(ValueError, match="broadcastable"):
        L.Softmax()(fastmask.with_mask(x, m))
    out = L.Softmax()(fastmask.with_mask(x, m), mask=m[..., None])
    np.testing.assert_array_equal(fastmask.get_mask(out), m[..., None])
    with pytest.raises(ValueError, match="more dimensions"):
        L.Softmax()(x, mask=np.ones((1, 2, 3, 4), bool))
    with pytest.warns(UserWarning, match="has size 1"):
        L.Softmax()(np.ones((2, 1), np.float32))
    cfg = L.Softmax(axis=(1, 2)).get_config()
    assert cfg["axis"] == (1, 2) and L.Softmax.from_config(cfg).axis == (1, 2)


# --------------------------------------------------------------------- pooling
@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_gap_matches_keras(rng, b, t, data_format):
    shape = (b, t, 3) if data_format == "channels_last" else (b, 3, t)
    x = rng.standard_normal(shape).astype(np.float32)
    for keepdims in (False, True):
        for kind, m in mask_cases(rng, b, t):
            k = keras().layers.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
            f = L.GlobalAveragePooling1D(data_format=data_format, keepdims=keepdims)
            quiet(compare_layer, k, f, x, input_mask=m)        # auto mask; output mask None
            if m is not None:
                quiet(compare_layer, k, f, x, mask=m)


def test_gap_case_14_and_empty_value():
    x = np.array([[[1], [2], [100]], [[3], [5], [7]]], np.float32)
    m = np.array([[1, 1, 0], [0, 0, 0]], bool)
    np.testing.assert_array_equal(L.GlobalAveragePooling1D()(x, mask=m), [[1.5], [np.nan]])
    zero = L.GlobalAveragePooling1D(empty_value=0.0)
    np.testing.assert_array_equal(zero(x, mask=m), [[1.5], [0.0]])
    cfg = zero.get_config()
    assert cfg["empty_value"] == 0.0
    assert "empty_value" not in L.GlobalAveragePooling1D().get_config()
    assert L.GlobalAveragePooling1D.from_config(cfg).empty_value == 0.0
    with pytest.raises(ValueError, match="data_format"):
        L.GlobalAveragePooling1D(data_format="nchw")
    with pytest.raises(ValueError, match="mask"):
        L.GlobalAveragePooling1D()(x, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError):
        L.GlobalAveragePooling1D()(np.ones((2, 3), np.float32))


def test_gmp_ignores_mask_like_keras_and_masked_variant():
    x = np.array([[[1], [2], [100]], [[3], [5], [7]]], np.float32)
    m = np.array([[1, 1, 0], [0, 0, 0]], bool)
    with pytest.warns(UserWarning, match="does not support masking"):
        out = L.GlobalMaxPooling1D()(fastmask.with_mask(x, m))
    np.testing.assert_array_equal(out, [[100], [7]])
    assert fastmask.get_mask(out) is None
    kout = quiet(keras().layers.GlobalMaxPooling1D(), k_set_mask(x, m))
    np.testing.assert_array_equal(out, kout)
    with pytest.raises(TypeError, match="mask"):
        L.GlobalMaxPooling1D()(x, mask=m)
    masked = L.GlobalMaxPooling1D(masked=True, empty_value=-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = masked(fastmask.with_mask(x, m))
    np.testing.assert_array_equal(out, [[2], [-1]])
    assert fastmask.get_mask(out) is None
    np.testing.assert_array_equal(masked(x, mask=m), [[2], [-1]])
    again = L.GlobalMaxPooling1D.from_config(masked.get_config())
    np.testing.assert_array_equal(again(x, mask=m), [[2], [-1]])
    xc = np.ascontiguousarray(x.transpose(0, 2, 1))
    np.testing.assert_array_equal(
        L.GlobalMaxPooling1D(data_format="channels_first", masked=True, keepdims=True)(xc, mask=m),
        [[[2]], [[0]]])


# ------------------------------------------------------------------- Attention
def test_attention_case_12():
    q = np.array([[[1, 0], [0, 1]]], np.float32)
    v = np.ones((1, 2, 2), np.float32)
    m = [np.array([[True, False]]), np.array([[True, False]])]
    out, scores = L.Attention()([q, v], mask=m, return_attention_scores=True)
    np.testing.assert_array_equal(out, [[[1, 1], [0, 0]]])
    np.testing.assert_array_equal(scores, [[[1, 0], [1, 0]]])


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
@pytest.mark.parametrize("use_scale", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_keras(rng, score_mode, use_scale, causal):
    for (b, t) in SHAPES:
        q = rng.standard_normal((b, t, 4)).astype(np.float32)
        v = rng.standard_normal((b, t + 1, 4)).astype(np.float32)
        k = rng.standard_normal((b, t + 1, 4)).astype(np.float32)
        for (_, qm), (_, vm) in zip(mask_cases(rng, b, t), mask_cases(rng, b, t + 1)):
            ka = keras().layers.Attention(use_scale=use_scale, score_mode=score_mode)
            fa = L.Attention(use_scale=use_scale, score_mode=score_mode)
            kw = dict(return_attention_scores=True, use_causal_mask=causal)
            compare_layer(ka, fa, [q, v, k], input_mask=[qm, vm, None], call_kwargs=kw)
            if qm is not None and vm is not None:
                compare_layer(ka, fa, [q, v], mask=[qm, vm], call_kwargs=kw)


def test_attention_dropout_and_errors(rng):
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    fa = L.Attention(dropout=0.5, seed=1)
    out, w = fa([q, q], training=True, return_attention_scores=True)
    assert out.shape == (2, 3, 4) and w.shape == (2, 3, 3)
    # As Keras: the weights returned are those applied, after dropout (each dropped to 0
    # or scaled by 1/keep), and the output is their product with the values.
    assert (w == 0).any() and not np.allclose(w.sum(-1), 1.0)
    np.testing.assert_allclose(out, np.matmul(w, q), rtol=1e-5, atol=1e-6)
    _, w_ref = L.Attention()([q, q], return_attention_scores=True)
    kept = w != 0
    np.testing.assert_allclose(w[kept], w_ref[kept] * 2.0, rtol=1e-5)
    inf = fa([q, q])
    np.testing.assert_allclose(inf, L.Attention()([q, q]), rtol=1e-6)
    with pytest.raises(ValueError, match="list of inputs"):
        L.Attention()(q)
    with pytest.raises(ValueError, match="length 2 or 3"):
        L.Attention()([q])
    with pytest.raises(ValueError, match="mask must be a list"):
        L.Attention()([q, q], mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="add")
    cfg = L.Attention(use_scale=True, score_mode="concat", dropout=0.1).get_config()
    assert L.Attention.from_config(cfg).score_mode == "concat"


# ------------------------------------------------------------ MultiHeadAttention
def _pair(rng, b=3, t=5, s=6, e=8, **kw):
    k = quiet(keras().layers.MultiHeadAttention, **kw)
    f = L.MultiHeadAttention(**kw)
    return k, f


@pytest.mark.parametrize("scores", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_mha_masks_from_inputs_match_keras(rng, scores, causal):
    for (b, t) in SHAPES:
        q = rng.standard_normal((b, t, 8)).astype(np.float32)
        v = rng.standard_normal((b, t + 2, 6)).astype(np.float32)
        for (kind, qm), (_, vm) in zip(mask_cases(rng, b, t), mask_cases(rng, b, t + 2)):
            k, f = _pair(rng, num_heads=2, key_dim=4, value_dim=3)
            kq, kv = k_set_mask(q, qm), k_set_mask(v, vm)
            kout = quiet(k, kq, kv, return_attention_scores=scores, use_causal_mask=causal)
            f(q, v)
            f.set_weights(k.get_weights())
            fq = fastmask.with_mask(q, qm) if qm is not None else q
            fv = fastmask.with_mask(v, vm) if vm is not None else v
            fout = f(fq, fv, return_attention_scores=scores, use_causal_mask=causal)
            ko, fo = (kout[0], fout[0]) if scores else (kout, fout)
            np.testing.assert_allclose(fo, np.asarray(ko), rtol=1e-5, atol=1e-5, err_msg=kind)
            if scores:
                np.testing.assert_allclose(fout[1], np.asarray(kout[1]), rtol=1e-5, atol=1e-6)
            fm = fastmask.get_mask(fo)
            assert (fm is None) == (qm is None)
            if qm is not None:
                np.testing.assert_array_equal(fm, qm)


@pytest.mark.parametrize("kw", [
    dict(num_heads=2, key_dim=3),
    dict(num_heads=1, key_dim=4, value_dim=2, output_shape=(2, 3)),
    dict(num_heads=3, key_dim=2, use_bias=False, output_shape=5),
    dict(num_heads=2, key_dim=4, use_gate=True),
    dict(num_heads=2, key_dim=4, sliding_window=2),
    dict(num_heads=2, key_dim=4, dropout=0.3),          # Softmax path also at inference
])
def test_mha_options_match_keras(rng, kw):
    q = rng.standard_normal((3, 5, 8)).astype(np.float32)
    v = rng.standard_normal((3, 6, 7)).astype(np.float32)
    key = rng.standard_normal((3, 6, 4)).astype(np.float32)
    am = rng.random((3, 5, 6)) < 0.7
    am[0, 0] = False
    for causal in (False, True):
        k, f = _pair(rng, **kw)
        kout = quiet(k, q, v, key, attention_mask=am, use_causal_mask=causal)
        f(q, v, key)
        assert [w.shape for w in f.get_weights()] == [w.shape for w in k.get_weights()]
        f.set_weights(k.get_weights())
        fout = f(q, v, key, attention_mask=am, use_causal_mask=causal)
        np.testing.assert_allclose(fout, np.asarray(kout), rtol=1e-5, atol=1e-5)


def test_mha_case_15_auto_masks_equal_attention_mask(rng):
    ids = rng.integers(1, 9, (3, 6))
    ids[0, 4:] = 0
    ids[1, 1:] = 0
    emb = L.Embedding(10, 8, mask_zero=True)
    x = emb(ids)
    f = L.MultiHeadAttention(2, 4)
    qm = ids != 0
    for causal in (False, True):
        auto = f(x, x, use_causal_mask=causal)
        plain = np.asarray(x)
        explicit = f(plain, plain, attention_mask=qm[:, :, None] & qm[:, None, :],
                     use_causal_mask=causal)
        np.testing.assert_allclose(auto, explicit, rtol=1e-6, atol=1e-7)


def test_mha_dropout_training_and_errors(rng):
    q = rng.standard_normal((2, 4, 6)).astype(np.float32)
    f = L.MultiHeadAttention(2, 3, dropout=0.5, seed=0)
    out, w = f(q, q, training=True, return_attention_scores=True)
    assert out.shape == (2, 4, 6) and w.shape == (2, 2, 4, 4)
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="key_dim"):
        L.MultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match="value_dim"):
        L.MultiHeadAttention(2, 4, value_dim=0)
    with pytest.raises(ValueError, match="except the last one"):
        L.MultiHeadAttention(2, 4)(q, q, q[:, :3])
    with pytest.raises(ValueError, match="attention_mask"):
        L.MultiHeadAttention(2, 4)(q, q, attention_mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="attention_axes"):
        L.MultiHeadAttention(2, 4, attention_axes="time")


def test_mha_attention_axes_and_nd_inputs(rng):
    """N-D inputs and `attention_axes` as in Keras, including its rank-3 quirk: without
    dropout or returned scores, rank-3 inputs attend over time whatever the axes say."""
    cases = [((2, 5, 4), (2, 6, 4), (2,), {}),
             ((2, 5, 4), (2, 5, 4), (2,), {"return_attention_scores": True}),
             ((2, 3, 4, 5), (2, 3, 2, 5), (2,), {}),
             ((2, 3, 4, 5), (2, 3, 4, 5), None, {"return_attention_scores": True}),
             ((2, 3, 4, 5), (2, 3, 4, 5), (1, 2), {}),
             ((2, 2, 3, 4, 5), (2, 2, 3, 4, 5), (-3, -2), {}),
             ((2, 3, 4, 5), (2, 3, 4, 5), (1,), {"use_causal_mask": True})]
    for q_shape, v_shape, axes, kw in cases:
        q = rng.standard_normal(q_shape).astype(np.float32)
        v = rng.standard_normal(v_shape).astype(np.float32)
        k_layer = keras().layers.MultiHeadAttention(2, 3, attention_axes=axes)
        f_layer = L.MultiHeadAttention(2, 3, attention_axes=axes)
        k_out = k_layer(q, v, **kw)
        f_layer.build(q.shape, v.shape)
        f_layer.set_weights([np.asarray(w) for w in k_layer.get_weights()])
        f_out = f_layer(q, v, **kw)
        for a, b in zip(flat(f_out), flat(k_out)):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)
        assert f_layer.get_config()["attention_axes"] == k_layer.get_config()["attention_axes"]


def test_mha_config_roundtrip_and_functional(rng):
    f = L.MultiHeadAttention(2, 4, value_dim=3, output_shape=(5,), use_bias=False, seed=3)
    g = L.MultiHeadAttention.from_config(f.get_config())
    assert g.get_config() == f.get_config()
    ids = fastmask.layers.Input(shape=(6,), dtype="int32")
    x = L.Embedding(10, 8, mask_zero=True)(ids)
    y = L.MultiHeadAttention(2, 4)(x, x)
    z = L.GlobalAveragePooling1D(empty_value=0.0)(y)
    model = fastmask.Model(ids, z)
    data = rng.integers(0, 10, (3, 6))
    data[0] = 0
    out = model(data)
    assert out.shape == (3, 8) and np.all(out[0] == 0) and np.all(np.isfinite(out))


def test_multi_head_attention_rank_2_inputs_value_error_where_keras_index_error():
    """Keras 3.15.1 fails on rank-2 inputs deep in its Softmax (IndexError, 'tuple index
    out of range'); fastmask says what is wrong, as a ValueError (README differences)."""
    x = np.ones((2, 4), np.float32)
    with pytest.raises(IndexError):
        keras().layers.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)
    with pytest.raises(ValueError, match=r"MultiHeadAttention needs inputs of rank 3 or more.*"
                                         r"Received: query_shape=\(2, 4\)"):
        L.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape, heads, key_dim, value_dim, output_shape", [
    ((2, 7, 5), 2, 3, None, None), ((1, 64, 32), 4, 32, None, None),
    ((3, 17, 8), 3, 5, 6, (2, 3)), ((1, 1, 4), 1, 4, None, None), ((2, 40, 6), 2, 9, 2, 7)])
def test_mha_self_attention_prepared_path_is_the_general_path(
        monkeypatch, rng, dtype, causal, shape, heads, key_dim, value_dim, output_shape):
    """`mha(x, x)` without masks runs its `PreparedSelfAttention` (kept per shape in the
    weight cache) and gives the general fused path's result bit for bit, also into a
    caller's array (predict's rows) and after a weight changes."""
    import importlib
    att = importlib.import_module("fastmask.kernels.attention")
    layer = L.MultiHeadAttention(heads, key_dim, value_dim=value_dim,
                                 output_shape=output_shape, dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    layer(x, x)
    taken = []
    real = att.PreparedSelfAttention.__call__
    monkeypatch.setattr(att.PreparedSelfAttention, "__call__",
                        lambda self, *a, **k: taken.append(1) or real(self, *a, **k))
    y = layer(x, x, use_causal_mask=causal)
    into = np.full(y.shape, np.nan, dtype)
    y_into = layer._call_into(into, x, x, use_causal_mask=causal)
    assert taken == [1, 1] and y_into is into
    with monkeypatch.context() as m:
        m.setattr(L.MultiHeadAttention, "_self_attention", lambda *a: None)
        ref = layer(x, x, use_causal_mask=causal)
        layer.set_weights([w * 0.5 for w in layer.get_weights()])
        ref2 = layer(x, x, use_causal_mask=causal)
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(into, ref)
    np.testing.assert_array_equal(layer(x, x, use_causal_mask=causal), ref2)
    assert len(taken) == 3 and y.dtype == np.dtype(dtype)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("causal", [False, True])
def test_mha_self_attention_batch_chunks_change_no_bit(monkeypatch, rng, causal, n_threads):
    """`PreparedSelfAttention` runs the batch in chunks (projections, attention and output
    projection per chunk, into the output's rows): chunks of 1, 2 or 3 (the last one
    short) and the whole batch give the same bits, also into a caller's array; the chunk
    follows `_SELF_CHUNK_BYTES` and `_SELF_CHUNK_ITEMS`."""
    import importlib
    att = importlib.import_module("fastmask.kernels.attention")
    layer = L.MultiHeadAttention(2, 5, value_dim=3, output_shape=(4,))
    x = rng.standard_normal((7, 11, 6)).astype(np.float32)
    layer(x, x)
    prep = att.prepare_self_attention(layer._weights_dict(np.dtype(np.float32)), x.shape,
                                      np.float32, causal)
    assert prep.sample_bytes == 11 * (2 * 2 * 5 + 2 * 3) * 4
    results, chunks = [], []
    real_qkv = type(prep.qkv).__call__
    monkeypatch.setattr(type(prep.qkv), "__call__", lambda self, xx, *a, **k: (
        chunks.append(xx.shape[0]) if self is prep.qkv else None) or real_qkv(self, xx, *a, **k))
    # (chunk bytes, items per thread) -> samples per chunk at 1 and at 2 threads
    # (2 heads: ceil(items * threads / 2) samples, at least; 7 is the whole batch)
    # (5 per chunk is 2 chunks: 4 + 3, not 5 + 2)
    for chunk_bytes, items, want in ((1, 1, (1, 1)), (1, 3, (2, 3)), (1, 10, (4, 7)),
                                     (1 << 40, 1, (7, 7))):
        monkeypatch.setattr(att, "_SELF_CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(att, "_SELF_CHUNK_ITEMS", items)
        bc = prep.batch_chunk(n_threads)
        assert bc == want[n_threads - 1]
        del chunks[:]
        y = prep(x, n_threads=n_threads)
        assert chunks == [bc * 11] * (7 // bc) + ([7 % bc * 11] if 7 % bc else [])
        into = np.full(y.shape, np.nan, np.float32)
        assert prep(x, out=into, n_threads=n_threads) is into
        np.testing.assert_array_equal(into, y)
        results.append(y)
    assert results[0].shape == (7, 11, 4)
    for y in results[1:]:
        np.testing.assert_array_equal(y, results[0])
    with monkeypatch.context() as m:
        m.setattr(L.MultiHeadAttention, "_self_attention", lambda *a: None)
        np.testing.assert_array_equal(layer(x, x, use_causal_mask=causal), results[0])


def test_mha_self_attention_prepared_path_declines(monkeypatch, rng):
    """Masks, another key/value array, a layout the micro-kernel does not take (more
    keys than SMALL_MAX_KEYS) or an input of another shape run the general path, with
    its results."""
    import importlib
    att = importlib.import_module("fastmask.kernels.attention")
    layer = L.MultiHeadAttention(2, 4)
    x = rng.standard_normal((2, 9, 6)).astype(np.float32)
    base = layer(x, x)
    w = layer._weights_dict(np.dtype(np.float32))
    assert att.prepare_self_attention(w, x.shape, np.float32) is not None
    monkeypatch.setattr(att, "SMALL_MAX_KEYS", 8)
    assert att.prepare_self_attention(w, x.shape, np.float32) is None
    prep = att.prepare_self_attention(w, (2, 8, 6), np.float32)
    assert prep(x, None) is None and prep(x[:, :8], None) is None   # shape; not C order
    monkeypatch.setattr(att, "SMALL_MAX_KEYS", 7)
    assert prep(np.ascontiguousarray(x[:, :8]), None) is None        # settings moved
    monkeypatch.setattr(att, "SMALL_MAX_KEYS", 512)
    np.testing.assert_array_equal(layer(x, x), base)
    with monkeypatch.context() as m:
        m.setattr(att.PreparedSelfAttention, "__call__",
                  lambda *a, **k: pytest.fail("prepared path taken"))
        mask = rng.random((2, 9)) < 0.7
        mask[:, 0] = True
        xm = fastmask.with_mask(x, mask)
        ym = layer(xm, xm)
        np.testing.assert_array_equal(layer(x, x, value_mask=mask), layer(x, xm))
        assert ym.shape == x.shape and np.isfinite(ym).all()
        layer(x, x.copy())
        layer(x, x, attention_mask=np.ones((2, 9, 9), bool))
        layer(x, x, return_attention_scores=True)
