"""masked_attention / multi_head_attention / linear: Keras 3.15.1 conformance (both
MultiHeadAttention paths), NumPy reference, threads, layouts and errors."""
import warnings

import numpy as np
import pytest

import fastmask.kernels.attention as A
from fastmask.kernels import _attention
from fastmask.kernels import masked_attention, multi_head_attention
from isa_variants import isa_fixture
from oracle import keras

# Every test runs under each instruction-set variant (FASTMASK_ISA), module by
# module; one this CPU cannot execute is a skip that says why.
isa = isa_fixture(_attention)


@pytest.fixture(autouse=True, params=["small-gemm", "blas"])
def gemm_path(request, monkeypatch):
    """Every test under both per-head GEMM paths of sdpa_flat: dense's small-GEMM
    micro-kernel (K^T and V packed per head; the default up to SMALL_MAX_KEYS keys)
    and BLAS."""
    monkeypatch.setattr(A, "SMALL_GEMM", request.param == "small-gemm")
    monkeypatch.setattr(A, "SMALL_MAX_KEYS", 1 << 30)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def reference(q, k, v, allowed, scale, fully_masked):
    """q (B,T,H,D), k (B,S,H,D), v (B,S,H,Dv), allowed (B,H,T,S) -> (out BTHD, weights BHTS)."""
    logits = np.einsum("bthd,bshd->bhts", q.astype(np.float64), k.astype(np.float64)) * scale
    fill = A.SOFTMAX_FILL if fully_masked == "zeros" else A.DOT_PRODUCT_FILL
    y = np.where(allowed, logits, fill)
    e = np.exp(y - y.max(-1, keepdims=True))
    w = e / e.sum(-1, keepdims=True)
    if fully_masked == "zeros":
        w = np.where(allowed, w, 0)
    out = np.einsum("bhts,bshd->bthd", w, v.astype(np.float64))
    return out, w


def allowed_mask(B, H, T, S, km=None, qm=None, am=None, causal=False):
    a = np.ones((B, H, T, S), bool)
    if km is not None:
        a &= km[:, None, None, :]
    if qm is not None:
        a &= qm[:, None, :, None]
    if am is not None:
        a &= am if am.ndim == 4 else am[:, None]
    if causal:
        a &= np.tril(np.ones((T, S), bool))
    return a


def data(rng, B=3, T=5, S=6, H=2, D=4, Dv=3, dtype=np.float32):
    q = rng.standard_normal((B, T, H, D)).astype(dtype)
    k = rng.standard_normal((B, S, H, D)).astype(dtype)
    v = rng.standard_normal((B, S, H, Dv)).astype(dtype)
    km = rng.random((B, S)) < 0.7
    km[1] = False
    qm = rng.random((B, T)) < 0.7
    return q, k, v, km, qm


@pytest.mark.parametrize("fully_masked", ["zeros", "uniform"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(rng, fully_masked, causal, dtype, monkeypatch):
    monkeypatch.setattr(A, "_COMPACT_MIN_SAVING", 0.0)     # always skip padding when masked
    q, k, v, km, qm = data(rng, dtype=dtype)
    am = rng.random((3, 5, 6)) < 0.8
    B, T, H, D = q.shape
    S = k.shape[1]
    for kw in ({}, {"key_mask": km}, {"query_mask": qm}, {"attention_mask": am},
               {"key_mask": km, "query_mask": qm, "attention_mask": am[:, None]}):
        allowed = allowed_mask(B, H, T, S, kw.get("key_mask"), kw.get("query_mask"),
                               kw.get("attention_mask"), causal)
        out, w = masked_attention(q, k, v, causal=causal, fully_masked=fully_masked,
                                  return_weights=True, **kw)
        ro, rw = reference(q, k, v, allowed, 1 / np.sqrt(D), fully_masked)
        tol = 2e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(w, rw, rtol=tol * 10, atol=tol)
        np.testing.assert_allclose(out, ro, rtol=tol * 10, atol=tol * 10)
        assert out.dtype == dtype and w.dtype == dtype
        # without weights: padding skipped (queries with no key: mean of the values)
        out2 = masked_attention(q, k, v, causal=causal, fully_masked=fully_masked, **kw)
        np.testing.assert_allclose(out2, out, rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("D,S", [(1, 1), (3, 4), (5, 17), (7, 37), (8, 33), (13, 64), (32, 200),
                                 (5, 301)])
def test_odd_head_sizes_and_key_counts(rng, D, S):
    """K^T is packed in 4 x 4 transposes plus scalar edges (csrc/fm_pack.h): head
    sizes and key counts that are not multiples of 4 (or of the panel) hit the edges."""
    q, k, v, km, qm = data(rng, B=2, T=9, S=S, H=3, D=D, Dv=D + 2)
    k = np.ascontiguousarray(k)
    for kw in ({}, {"key_mask": km}):
        allowed = allowed_mask(2, 3, 9, S, kw.get("key_mask"), None, None, False)
        out, w = masked_attention(q, k, v, return_weights=True, **kw)
        ro, rw = reference(q, k, v, allowed, 1 / np.sqrt(D), "zeros")
        np.testing.assert_allclose(w, rw, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(out, ro, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(masked_attention(q, k, v, **kw), ro, rtol=2e-5, atol=2e-5)


def test_layouts_and_chunks(rng, monkeypatch):
    q, k, v, km, qm = data(rng, B=2, T=40, S=33, H=3)
    want = masked_attention(q, k, v, key_mask=km, causal=True)
    tr = lambda a: np.ascontiguousarray(a.transpose(0, 2, 1, 3))
    got = masked_attention(tr(q), tr(k), tr(v), key_mask=km, causal=True, layout="BHTD")
    np.testing.assert_allclose(tr(got), want, rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(A, "_CHUNK_ELEMS", 1)        # 16-row chunks of the scores
    np.testing.assert_allclose(masked_attention(q, k, v, key_mask=km, causal=True), want,
                               rtol=1e-6, atol=1e-6)
    # rank 3 = one head
    o3 = masked_attention(q[:, :, 0], k[:, :, 0], v[:, :, 0], key_mask=km, scale=0.5)
    o4 = masked_attention(q[:, :, :1], k[:, :, :1], v[:, :, :1], key_mask=km, scale=0.5)
    np.testing.assert_allclose(o3, o4[:, :, 0], rtol=1e-6)


def test_matches_keras_dot_product_attention(rng):
    kops = keras().ops
    q, k, v, km, qm = data(rng, B=2, T=5, S=5, H=2, D=4, Dv=4)
    mask = (qm[:, :, None] & km[:, None, :])[:, None]
    for causal in (False, True):
        want = np.asarray(kops.dot_product_attention(q, k, v, mask=mask, is_causal=causal))
        got = masked_attention(q, k, v, key_mask=km, query_mask=qm, causal=causal,
                               fully_masked="uniform")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


def _keras_mha(H, D, **kw):
    return keras().layers.MultiHeadAttention(H, D, **kw)


def _weights(mha):
    W = mha.get_weights()
    names = ["query_kernel", "query_bias", "key_kernel", "key_bias", "value_kernel",
             "value_bias", "output_kernel", "output_bias"]
    return dict(zip(names, W)) if len(W) == 8 else dict(zip(names[::2], W))


@pytest.mark.parametrize("scores", [False, True])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_mha_matches_keras(rng, scores, causal, use_bias):
    B, T, S, E = 3, 5, 6, 8
    q = rng.standard_normal((B, T, E)).astype(np.float32)
    v = rng.standard_normal((B, S, 7)).astype(np.float32)
    key = rng.standard_normal((B, S, 5)).astype(np.float32)
    qm = rng.random((B, T)) < 0.7
    qm[0] = False
    vm = rng.random((B, S)) < 0.7
    vm[1] = False
    km = rng.random((B, S)) < 0.8
    mha = _keras_mha(2, 4, value_dim=3, output_shape=(2, 3), use_bias=use_bias)
    am = qm[:, :, None] & vm[:, None, :] & km[:, None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mha(q, v, key, attention_mask=am, return_attention_scores=scores,
                use_causal_mask=causal)
    got = multi_head_attention(q, v, key, **_weights(mha), query_mask=qm, value_mask=vm,
                               key_mask=km, causal=causal,
                               fully_masked="zeros" if scores else "uniform",
                               return_weights=scores)
    if scores:
        np.testing.assert_allclose(got[0], np.asarray(r[0]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got[1], np.asarray(r[1]), rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(got, np.asarray(r), rtol=1e-5, atol=1e-5)


def test_fully_masked_rows_conventions(rng):
    q, k, v, km, qm = data(rng)
    qm[:] = True
    qm[0, 0] = False
    z = masked_attention(q, k, v, query_mask=qm, fully_masked="zeros")
    u = masked_attention(q, k, v, query_mask=qm, fully_masked="uniform")
    np.testing.assert_array_equal(z[0, 0], 0)
    np.testing.assert_allclose(u[0, 0], v[0].mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(z[:, 1:], u[:, 1:], rtol=1e-6)
    z = masked_attention(q, k, v, key_mask=km, fully_masked="zeros")   # batch 1: no key
    np.testing.assert_array_equal(z[1], 0)


def test_threads_bit_identical(rng, monkeypatch):
    monkeypatch.setattr(_attention, "MIN_FLOPS_PER_THREAD", 1)   # threads on small inputs
    q, k, v, km, qm = data(rng, B=4, T=17, S=19, H=3)
    ref = masked_attention(q, k, v, key_mask=km, query_mask=qm, causal=True, n_threads=1)
    for t in (2, 5):
        np.testing.assert_array_equal(
            masked_attention(q, k, v, key_mask=km, query_mask=qm, causal=True, n_threads=t), ref)
    x = rng.standard_normal((37, 11)).astype(np.float32)
    w = rng.standard_normal((11, 2, 3)).astype(np.float32)
    b = rng.standard_normal((2, 3)).astype(np.float32)
    lin = A.linear(x, w, b, n_threads=1)
    np.testing.assert_allclose(lin, (x @ w.reshape(11, 6) + b.reshape(6)).reshape(37, 2, 3),
                               rtol=1e-5, atol=1e-5)
    for t in (2, 3):
        np.testing.assert_array_equal(A.linear(x, w, b, n_threads=t), lin)


def test_degenerate_sizes(rng):
    q, k, v, km, qm = data(rng, T=1, S=1)
    out = masked_attention(q, k, v, key_mask=km)
    np.testing.assert_allclose(out[0], np.where(km[0, 0], v[0, 0], 0)[None], rtol=1e-6)
    q0 = np.zeros((2, 0, 1, 4), np.float32)
    assert masked_attention(q0, k[:2, :, :1], v[:2, :, :1]).shape == (2, 0, 1, 3)


def test_bad_input(rng):
    q, k, v, km, qm = data(rng)
    with pytest.raises(ValueError, match="same length"):
        masked_attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="last dimension"):
        masked_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="batch and head"):
        masked_attention(q, k[:2], v[:2])
    with pytest.raises(ValueError, match="key_mask"):
        masked_attention(q, k, v, key_mask=km[:, :5])
    with pytest.raises(ValueError, match="query_mask"):
        masked_attention(q, k, v, query_mask=km)
    with pytest.raises(ValueError, match="attention_mask"):
        masked_attention(q, k, v, attention_mask=np.ones((3, 5, 5), bool))
    with pytest.raises(ValueError, match="attention_mask"):
        masked_attention(q, k, v, attention_mask=np.ones(6, bool))
    with pytest.raises(ValueError, match="fully_masked"):
        masked_attention(q, k, v, fully_masked="nan")
    with pytest.raises(ValueError, match="layout"):
        masked_attention(q, k, v, layout="TBHD")
    with pytest.raises(ValueError, match="key"):
        masked_attention(q, k[:, :, :, None], v)
    with pytest.raises(TypeError, match="scale"):
        masked_attention(q, k, v, scale="x")
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    kk = rng.standard_normal((4, 2, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="value.*key"):
        multi_head_attention(x, x, x[:, :2], query_kernel=kk, key_kernel=kk, value_kernel=kk,
                             output_kernel=rng.standard_normal((2, 2, 4)))
    with pytest.raises(ValueError, match="kernel"):
        A.linear(x, kk[:3])


def _mha_weights(rng, E=8, H=2, D=4, Dv=3, O=(5,)):
    return dict(query_kernel=rng.standard_normal((E, H, D)).astype(np.float32),
                query_bias=rng.standard_normal((H, D)).astype(np.float32),
                key_kernel=rng.standard_normal((E, H, D)).astype(np.float32),
                key_bias=rng.standard_normal((H, D)).astype(np.float32),
                value_kernel=rng.standard_normal((E, H, Dv)).astype(np.float32),
                value_bias=rng.standard_normal((H, Dv)).astype(np.float32),
                output_kernel=rng.standard_normal((H, Dv) + O).astype(np.float32),
                output_bias=rng.standard_normal(O).astype(np.float32))


@pytest.mark.parametrize("fully_masked", ["uniform", "zeros"])
def test_mha_padding_skipped_equals_full_path(rng, fully_masked, monkeypatch):
    """The compact path (kept rows only) against the plain path (return_weights=True)."""
    w = _mha_weights(rng)
    x = rng.standard_normal((4, 7, 8)).astype(np.float32)
    qm = rng.random((4, 7)) < 0.6
    qm[0] = False
    km = rng.random((4, 7)) < 0.6
    km[1] = False
    am = rng.random((4, 7, 7)) < 0.8
    for kw in (dict(query_mask=qm, value_mask=qm), dict(value_mask=km),
               dict(query_mask=qm, key_mask=km, attention_mask=am, causal=True),
               dict(query_mask=qm, causal=True)):
        full, _ = multi_head_attention(x, x, **w, **kw, fully_masked=fully_masked,
                                       return_weights=True)
        fast = multi_head_attention(x, x, **w, **kw, fully_masked=fully_masked)
        np.testing.assert_allclose(fast, full, rtol=2e-5, atol=2e-5)
        monkeypatch.setattr(A, "_COMPACT_MARGIN", {np.dtype(np.float32): 1e30})
        again = multi_head_attention(x, x, **w, **kw, fully_masked=fully_masked)  # all fall back
        np.testing.assert_allclose(again, full, rtol=2e-5, atol=2e-5)
        monkeypatch.undo()


def test_mha_padding_skipped_keeps_keras_fill_semantics(rng, monkeypatch):
    """Logits below Keras's -1e9 fill: the masked fills win there, so the compact
    path (which drops masked keys) must detect it and fall back."""
    w = _mha_weights(rng, E=2, H=1, D=1, Dv=1, O=(1,))
    for n in ("query", "key"):
        w[n + "_kernel"][:] = 1.0
        w[n + "_bias"][:] = 0
    x = np.zeros((1, 3, 2), np.float32)
    x[0, :, 0] = 5e4
    x[0, :, 1] = [1.0, 2.0, 3.0]
    q = x.copy()
    q[0, :, 0] = -4e4                       # logits -2e9, below the fill
    km = np.array([[True, True, False]])
    full, _ = multi_head_attention(q, x, **w, value_mask=km, fully_masked="zeros",
                                   return_weights=True)
    fast = multi_head_attention(q, x, **w, value_mask=km, fully_masked="zeros")
    np.testing.assert_allclose(fast, full, rtol=1e-5)
    monkeypatch.setattr(A, "_COMPACT_MARGIN", {np.dtype(np.float32): -np.inf})
    wrong = multi_head_attention(q, x, **w, value_mask=km, fully_masked="zeros")
    assert not np.allclose(wrong, full)     # without the check the result would differ


def test_mha_bit_identical_across_threads(rng, monkeypatch):
    monkeypatch.setattr(_attention, "MIN_FLOPS_PER_THREAD", 1)
    w = _mha_weights(rng, E=16, H=2, D=8, Dv=8, O=(16,))
    x = rng.standard_normal((5, 150, 16)).astype(np.float32)     # 750 rows: several GEMM blocks
    m = np.arange(150)[None, :] < rng.integers(1, 151, 5)[:, None]
    for kw in ({}, dict(query_mask=m, value_mask=m), dict(value_mask=m, causal=True)):
        ref = multi_head_attention(x, x, **w, **kw, n_threads=1)
        for t in (2, 3):
            np.testing.assert_array_equal(multi_head_attention(x, x, **w, **kw, n_threads=t), ref)


# --------------------------------------------------------- issue 16: fused projections, out=
def _mha_reference(xq, xv, w, allowed, fully_masked):
    """Independent float64 MultiHeadAttention forward (einsum projections)."""
    f = {k: None if v is None else np.asarray(v, np.float64) for k, v in w.items()}
    q = np.einsum("bte,ehd->bthd", xq, f["query_kernel"]) + f["query_bias"]
    k = np.einsum("bte,ehd->bthd", xv, f["key_kernel"]) + f["key_bias"]
    v = np.einsum("bte,ehd->bthd", xv, f["value_kernel"]) + f["value_bias"]
    ctx, _ = reference(q, k, v, allowed, 1 / np.sqrt(q.shape[-1]), fully_masked)
    return np.einsum("bthd,hdo->bto", ctx, f["output_kernel"]) + f["output_bias"]


@pytest.mark.parametrize("same", [True, False])
@pytest.mark.parametrize("masks", ["none", "causal", "attention_mask"])
def test_mha_fused_projections_match_reference(rng, same, masks):
    """Self-attention (query is value is key) projects Q|K|V in one GEMM and attends
    from strided views of it; separate arrays take one GEMM each: both equal an
    einsum reference."""
    w = _mha_weights(rng, E=8, H=3, D=4, Dv=5, O=(6,))
    x = rng.standard_normal((4, 9, 8)).astype(np.float32)
    xv = x if same else x.copy()
    am = rng.random((4, 9, 9)) < 0.7
    kw = {"none": {}, "causal": dict(causal=True),
          "attention_mask": dict(attention_mask=am)}[masks]
    allowed = allowed_mask(4, 3, 9, 9, am=am if masks == "attention_mask" else None,
                           causal=masks == "causal")
    got = multi_head_attention(x, xv, **w, **kw)
    np.testing.assert_allclose(got, _mha_reference(x, xv, w, allowed, "uniform"),
                               rtol=2e-5, atol=2e-5)
    out = np.full_like(got, np.nan)
    assert multi_head_attention(x, xv, **w, **kw, out=out) is out
    np.testing.assert_array_equal(out, got)


def test_mha_out_with_masks_and_bad_out(rng):
    w = _mha_weights(rng)
    x = rng.standard_normal((3, 7, 8)).astype(np.float32)
    m = np.arange(7)[None, :] < np.array([[7], [3], [5]])
    ref = multi_head_attention(x, x, **w, query_mask=m, value_mask=m)
    out = np.empty((3, 7, 5), np.float32)
    assert multi_head_attention(x, x, **w, query_mask=m, value_mask=m, out=out) is out
    np.testing.assert_array_equal(out, ref)
    for bad, exc in ((np.empty((3, 7, 6), np.float32), ValueError),
                     (np.empty((3, 7, 5), np.float64), ValueError),
                     (np.empty((5, 7, 3), np.float32).T, ValueError), ([0.0], TypeError)):
        with pytest.raises(exc, match="`out`"):
            multi_head_attention(x, x, **w, out=bad)
    buf = np.zeros(3 * 7 * 8, np.float32)
    xb = buf.reshape(3, 7, 8)
    xb[...] = x
    w8 = dict(w, output_kernel=w["output_kernel"][..., :1].repeat(8, -1),
              output_bias=np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="must not overlap"):
        multi_head_attention(xb, xb, **w8, out=xb)
    # an empty batch or query (the early return) fills `out` too, and checks it
    for shape in ((0, 7, 8), (3, 0, 8)):
        xe = np.zeros(shape, np.float32)
        out = np.full(shape[:2] + (5,), np.nan, np.float32)
        assert multi_head_attention(xe, x[:shape[0]] if shape[0] else xe, **w, out=out) is out
        with pytest.raises(ValueError, match="`out`"):
            multi_head_attention(xe, x[:shape[0]] if shape[0] else xe, **w,
                                 out=np.empty(shape[:2] + (6,), np.float32))


@pytest.mark.parametrize("layout", ["BTHD", "BHTD"])
def test_masked_attention_out(rng, layout):
    q, k, v, km, qm = data(rng)
    if layout == "BHTD":
        q, k, v = (a.transpose(0, 2, 1, 3).copy() for a in (q, k, v))
    ref = masked_attention(q, k, v, key_mask=km, query_mask=qm, layout=layout)
    out = np.full(ref.shape, np.nan, np.float32)
    assert masked_attention(q, k, v, key_mask=km, query_mask=qm, layout=layout, out=out) is out
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError, match="`out`"):
        masked_attention(q, k, v, layout=layout, out=np.empty(ref.shape, np.float64))
    with pytest.raises(ValueError, match="must not overlap"):
        masked_attention(q, q, q, layout=layout, out=q)


def test_linear_out(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    kk = rng.standard_normal((6, 2, 3)).astype(np.float32)
    b = rng.standard_normal((2, 3)).astype(np.float32)
    ref = np.einsum("bte,ehd->bthd", x.astype(np.float64), kk) + b
    out = np.empty((4, 5, 2, 3), np.float32)
    assert A.linear(x, kk, b, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="`out`"):
        A.linear(x, kk, b, out=np.empty((4, 5, 6), np.float32))


def _peak_bytes(fn):
    import tracemalloc
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_default_paths_allocate_no_score_tensor(rng):
    """Without returned scores nothing of size (B, H, T, S) is allocated: the scores
    live in per-thread (rows, S) blocks. Also for MultiHeadAttention(dropout > 0)
    at inference (Keras's Softmax path, zero weights for fully masked rows)."""
    import fastmask
    B, T, E, H, D = 4, 256, 16, 4, 4
    scores_bytes = B * H * T * T * 4                     # 4 MiB
    w = _mha_weights(rng, E=E, H=H, D=D, Dv=D, O=(E,))
    x = rng.standard_normal((B, T, E)).astype(np.float32)
    out = np.empty((B, T, E), np.float32)
    multi_head_attention(x, x, **w, causal=True, out=out)
    assert _peak_bytes(lambda: multi_head_attention(x, x, **w, causal=True, out=out)) \
        < scores_bytes / 4
    layer = fastmask.layers.MultiHeadAttention(H, D, dropout=0.1)
    layer(x, x)
    assert _peak_bytes(lambda: layer(x, x, use_causal_mask=True)) < scores_bytes / 4
    with_scores = _peak_bytes(lambda: layer(x, x, return_attention_scores=True))
    assert with_scores >= scores_bytes                  # the check can fail
