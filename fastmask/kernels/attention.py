"""Masked scaled dot-product attention, and Keras's multi-head attention forward.

    masked_attention(query, key, value, *, key_mask=None, query_mask=None,
                     attention_mask=None, causal=False, scale=None,
                     layout="BTHD", fully_masked="zeros", return_weights=False,
                     n_threads=None)
    multi_head_attention(query, value, key, kernels..., masks..., n_threads=None)

Masks are boolean, True = attend (Keras's convention; torch's key_padding_mask
is the opposite). A key j is attended by query i iff key_mask[b, j] and
query_mask[b, i] and attention_mask[b, h, i, j] and (not causal or j <= i).

Rows with no attended key ("fully masked", e.g. padded queries) follow one of
Keras's two MultiHeadAttention paths:
  fully_masked="zeros":   the Softmax-layer path (return_attention_scores or
                          dropout): weights 0, output 0.
  fully_masked="uniform": ops.dot_product_attention (the default path):
                          masked logits -0.7 * 3.38953e38, weights 1/S, output
                          the mean of the values.
Rows with at least one attended key agree between the two.

Work: one GEMM pair per (batch, head) around the fused masked softmax, with
per-thread scratch of at most `chunk_rows x S` scores; the GEMMs are dense's
small-GEMM micro-kernel up to SMALL_MAX_KEYS keys (see there), else BLAS,
single threaded inside the OpenMP loop.
"""
import contextlib
import math
import numbers
import sys

import numpy as np

from ._threads import blas_threads, effective_num_threads
from ._validation import _describe, as_float_array, as_mask, as_mask_array, check_out
from . import _attention, _dense
from .dense import dense, use_small_gemm

__all__ = ["masked_attention", "multi_head_attention", "linear", "DOT_PRODUCT_FILL",
           "SOFTMAX_FILL"]

# Kernel modes (csrc/fm_softmax.h).
_REPLACE, _SUBTRACT = 0, 1
_dense_settings = sys.modules[__package__ + ".dense"]   # its module globals, read live
# Keras's fills: backend/numpy/nn.py _get_large_negative (float32), and
# layers/activations/softmax.py _large_negative_number.
DOT_PRODUCT_FILL = float(np.float32(3.38953e38 * -0.7))
SOFTMAX_FILL = -1e9
# Query rows per scores block: about 256 KiB of float32 scratch per thread.
_CHUNK_ELEMS = 1 << 16
_EMPTY_U8 = np.zeros(1, dtype=np.uint8)
# Joined Q|K|V projections per thread in one chunk of `PreparedSelfAttention`'s batch
# (about L2-sized with the chunk's other rows). Measured on the 2-core AVX2 machine
# (2026-12-07), MultiHeadAttention(x, x) at batch 1024 vs the whole batch at once:
# 0.75x the time at (64, 4 x 32) and 0.84x at (200, 2 x 32) with chunks of 8-16 samples.
_SELF_CHUNK_BYTES = 1 << 20
_SELF_CHUNK_ITEMS = 8
# The per-head GEMMs of sdpa_flat on dense's small-GEMM micro-kernel (when dense would
# take it for their shapes: a K = S panel of V fits L1, S <= 512 keys in float32 on
# AVX2, and there are at most SMALL_MAX_KEYS keys) instead of BLAS; False: always BLAS
# (tests, benchmarks). Measured on the 2-core AVX2 machine (2026-12-07, same process,
# alternating, small/BLAS time): whole keras-io models: NER (T 64, 4 heads x 32) 0.79 /
# 0.81 / 0.94 at batch 1024 / 32 / 1, mini-GPT (T 80, 2 x 128, causal) 0.99;
# MultiHeadAttention alone, after K^T, V and Q were staged by vectorised copies
# (csrc/fm_pack.h; with scalar staging T 200 was 1.04 and the limit 128 keys):
# (64, 200, 2 x 32) 0.96-0.98 at 1 and 2 threads, (8, 384, 2 x 32) 0.68,
# (16, 256, 4 x 64) 0.64. Inside a model BLAS also runs small GEMMs slower (this
# OpenBLAS's state-dependent speed, see kernels/dense.py).
SMALL_GEMM = True
SMALL_MAX_KEYS = 512


def _bool_array(mask, name, shape):
    """`mask` checked (dtype, NaN, shape) as a C-contiguous uint8 view."""
    return as_mask(mask, name, shape).view(np.uint8)


def _attention_mask(mask, B, H, Tq, S):
    """(uint8 array, strides (b, h, i, j)) of a mask broadcastable to (B, H, Tq, S).

    Rank 4: (B|1, H|1, Tq|1, S|1). Rank 3: (B|1, Tq|1, S|1), Keras's
    MultiHeadAttention attention_mask (shared by heads). Rank 2: (Tq|1, S|1).
    """
    m = as_mask_array(mask, "attention_mask")
    if m.ndim == 3:
        m = m[:, None]
    elif m.ndim == 2:
        m = m[None, None]
    elif m.ndim != 4:
        raise ValueError(f"`attention_mask` must have rank 2, 3 or 4. Received: "
                         f"attention_mask.shape={m.shape}")
    full = (B, H, Tq, S)
    if any(md != 1 and md != fd for md, fd in zip(m.shape, full)):
        raise ValueError(f"`attention_mask` must broadcast to (batch, heads, query_len, key_len) "
                         f"= {full}. Received: attention_mask.shape={np.asarray(mask).shape}")
    m = np.ascontiguousarray(m if m.dtype == bool else m.astype(bool)).view(np.uint8)
    strides = [0 if m.shape[d] == 1 else m.strides[d] for d in range(4)]
    return m.reshape(-1), strides


def _heads_view(x, name, layout, ndim):
    """(B, T, H, D) strides in elements of C-contiguous x for the layout."""
    if x.ndim != ndim:
        raise ValueError(f"`{name}` must have rank {ndim} like `query`. "
                         f"Received: {name}.shape={x.shape}")
    if ndim == 3:
        B, T, D = x.shape
        return (B, T, 1, D), (T * D, 0, D)
    if layout == "BTHD":
        B, T, H, D = x.shape
        return (B, T, H, D), (T * H * D, D, H * D)       # batch, head, row strides
    B, H, T, D = x.shape
    return (B, T, H, D), (H * T * D, T * D, D)


def _single_threaded_blas(already):
    """BLAS limited to one thread (OpenMP threads call it), unless the caller did."""
    return contextlib.nullcontext() if already else blas_threads(1)


def _sdpa(query, key, value, *, key_mask, query_mask, attention_mask, causal, scale, layout,
          mode, fill, zero_masked, zero_qrows, return_weights, n_threads, blas_limited=False,
          compact=False, out=None):
    """Validated masked attention: the kernel driver behind masked_attention and the
    layers. mode/fill/zero_masked select the softmax convention (Keras's Softmax
    layer, dot_product_attention or Attention's subtraction); zero_qrows zeroes the
    output of masked queries instead of masking their rows; compact allows the
    padding-skipping path (no weights returned); out: the caller's output buffer
    (query's layout, last dim Dv; checked here)."""
    if layout not in ("BTHD", "BHTD"):
        raise ValueError(f"`layout` must be 'BTHD' or 'BHTD'. Received: layout={layout!r}")
    q = as_float_array(query, "query")
    k = as_float_array(key, "key")
    v = as_float_array(value, "value")
    if q.ndim not in (3, 4):
        raise ValueError(f"`query` must have rank 3 (batch, time, dim) or 4 (batch, time, heads, "
                         f"dim). Received: query.shape={q.shape}")
    dtype = np.result_type(q.dtype, k.dtype, v.dtype)
    q, k, v = (np.ascontiguousarray(a, dtype=dtype) for a in (q, k, v))
    (B, Tq, H, D), (q_bs, q_hs, q_rs) = _heads_view(q, "query", layout, q.ndim)
    (Bk, S, Hk, Dk), (k_bs, k_hs, k_rs) = _heads_view(k, "key", layout, q.ndim)
    (Bv, Sv, Hv, Dv), (v_bs, v_hs, v_rs) = _heads_view(v, "value", layout, q.ndim)
    if (Bk, Hk) != (B, H) or (Bv, Hv) != (B, H):
        raise ValueError(f"`query`, `key` and `value` must have the same batch and head sizes. "
                         f"Received: query.shape={q.shape}, key.shape={k.shape}, "
                         f"value.shape={v.shape}")
    if Sv != S:
        raise ValueError(f"`key` and `value` must have the same length. Received: "
                         f"key.shape={k.shape}, value.shape={v.shape}")
    if Dk != D:
        raise ValueError(f"`query` and `key` must have the same last dimension. Received: "
                         f"query.shape={q.shape}, key.shape={k.shape}")
    if scale is None:
        scale = 1.0 / math.sqrt(D) if D > 0 else 1.0
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"`scale` must be a real number or None. Received: scale={scale!r}")
    km = None if key_mask is None else _bool_array(key_mask, "key_mask", (B, S))
    qm = None if query_mask is None else _bool_array(query_mask, "query_mask", (B, Tq))
    if q.ndim == 3:
        o_shape, o_strides = (B, Tq, Dv), (Tq * Dv, 0, Dv)
    elif layout == "BTHD":
        o_shape, o_strides = (B, Tq, H, Dv), (Tq * H * Dv, Dv, H * Dv)
    else:
        o_shape, o_strides = (B, H, Tq, Dv), (H * Tq * Dv, Tq * Dv, Dv)
    if out is not None:
        check_out(out, o_shape, dtype, (q, k, v))
    if (compact and mode == _REPLACE and not return_weights and not zero_qrows
            and _compact_pays(qm, km)):
        with _single_threaded_blas(blas_limited):
            res = _sdpa_compact(q, k, v, layout, km, qm, attention_mask, causal, scale, fill,
                                zero_masked, effective_num_threads(n_threads))
        if out is None:
            return res
        np.copyto(out, res)
        return out
    am, ast = (None, [0, 0, 0, 0]) if attention_mask is None else \
        _attention_mask(attention_mask, B, H, Tq, S)
    if out is None:
        out = np.empty(o_shape, dtype)
    weights = None
    if return_weights:
        weights = np.empty((B, H, Tq, S) if q.ndim == 4 else (B, Tq, S), dtype)
    _sdpa_core((q, (q_bs, q_hs, q_rs)), (k, (k_bs, k_hs, k_rs)), (v, (v_bs, v_hs, v_rs)),
               (out, o_strides), weights, B, H, Tq, S, D, Dv, km, qm, am, ast, causal,
               zero_qrows, mode, fill, zero_masked, scale, n_threads, blas_limited)
    return (out, weights) if return_weights else out


def _sdpa_core(q, k, v, out, weights, B, H, Tq, S, D, Dv, km, qm, am, ast, causal, zero_qrows,
               mode, fill, zero_masked, scale, n_threads, blas_limited):
    """sdpa_flat on checked arrays. q, k, v, out: (array, (batch, head, row) strides in
    elements from its first element); the arrays' rows may be strided (e.g. views
    into one fused Q|K|V projection) but each D (Dv) values are contiguous.
    weights: None or a C-contiguous (B, H, Tq, S) array. Scores live in one
    (chunk, S) block of per-thread scratch; nothing of size (B, H, Tq, S) is
    allocated unless weights are asked for."""
    (q, (q_bs, q_hs, q_rs)), (k, (k_bs, k_hs, k_rs)) = q, k
    (v, (v_bs, v_hs, v_rs)), (out, o_strides) = v, out
    dtype = out.dtype
    return_weights = weights is not None
    if B * H * Tq == 0:
        out[...] = 0
        return
    n_threads = max(1, min(effective_num_threads(n_threads), B * H))
    chunk = max(16, _CHUNK_ELEMS // max(S, 1))
    chunk = min(chunk, Tq)
    scratch = np.empty(1 if return_weights else n_threads * chunk * max(S, 1), dtype)
    mrows = np.empty(n_threads * max(S, 1), np.uint8)
    dummy = np.zeros(1, dtype)
    # Per-head GEMMs on the small-GEMM micro-kernel when its panels (K = D for the
    # scores, K = S for weights @ V) fit in L1, as dense() chooses; else BLAS.
    panel, gemm_scratch = 0, None
    if (SMALL_GEMM and 0 < S <= SMALL_MAX_KEYS and D > 0 and use_small_gemm(1, D, 1, dtype)
            and use_small_gemm(1, S, 1, dtype)):
        panel = _dense.panel_width(dtype == np.float64)
        gemm_scratch = np.empty(
            n_threads * _attention.small_gemm_scratch(S, D, Dv, chunk, panel), dtype)
    with _single_threaded_blas(blas_limited):
        _attention.sdpa_flat(
            _flat(q, dummy), q_bs, q_hs, q_rs,
            _flat(k, dummy), k_bs, k_hs, k_rs,
            _flat(v, dummy), v_bs, v_hs, v_rs,
            _flat(out, dummy), *o_strides,
            weights.reshape(-1) if return_weights and weights.size else dummy,
            return_weights and weights.size > 0, out.size > 0,
            B, H, Tq, S, D, Dv,
            _EMPTY_U8 if km is None else km.reshape(-1), km is not None, S,
            _EMPTY_U8 if qm is None else qm.reshape(-1), qm is not None, Tq,
            _EMPTY_U8 if am is None else am, am is not None, *ast,
            bool(causal), bool(zero_qrows), mode, float(fill), bool(zero_masked),
            float(scale), chunk, scratch, mrows, n_threads, panel, gemm_scratch)


def _flat(a, dummy):
    """A 1-D view from a's first element to (at least) its last (a C-contiguous array,
    or a strided view whose rows are contiguous, e.g. columns of a fused projection:
    `_project` hands those over as `_Strided`, which carry it)."""
    if a.size == 0:
        return dummy
    if type(a) is _Strided and a.flat_from_first is not None:
        return a.flat_from_first
    if a.flags.c_contiguous:
        return a.reshape(-1)
    last = sum((n - 1) * st for n, st in zip(a.shape, a.strides)) // a.itemsize + 1
    return np.lib.stride_tricks.as_strided(a, shape=(last,), strides=(a.itemsize,),
                                           writeable=a.flags.writeable)


def _fully_masked_mode(fully_masked):
    """(fill, zero_masked) of Keras's two MultiHeadAttention paths."""
    if fully_masked == "zeros":
        return SOFTMAX_FILL, True
    if fully_masked == "uniform":
        return DOT_PRODUCT_FILL, False
    raise ValueError(f"`fully_masked` must be 'zeros' or 'uniform'. Received: "
                     f"fully_masked={fully_masked!r}")


def masked_attention(query, key, value, *, key_mask=None, query_mask=None, attention_mask=None,
                     causal=False, scale=None, layout="BTHD", fully_masked="zeros",
                     return_weights=False, out=None, n_threads=None):
    """softmax(scale * Q K^T, masked) V per batch and head.

    Args:
        query: (B, Tq, H, D) for layout "BTHD" (Keras's projected layout),
            (B, H, Tq, D) for "BHTD" (torch's), or (B, Tq, D) for one head.
        key: like query with length S; value: like key with last dim Dv.
        key_mask: (B, S) bool, True = attend to this key.
        query_mask: (B, Tq) bool; a False query attends to nothing (its row
            is fully masked; see `fully_masked`).
        attention_mask: bool, broadcastable to (B, H, Tq, S); rank 3 means
            (B, Tq, S) shared by all heads (Keras's MultiHeadAttention).
        causal: also mask keys after the query (j > i), top-left aligned.
        scale: logit scale; None = 1/sqrt(D).
        fully_masked: "zeros" or "uniform" (see the module docstring).
        return_weights: also return the attention weights (B, H, Tq, S)
            ((B, Tq, S) for rank-3 inputs).
        out: optional output buffer: C-contiguous, writeable, of the output's
            shape and dtype, not overlapping query, key or value. Without
            return_weights the scores only ever live in per-thread scratch
            (one block of query rows x S per thread).

    Returns:
        Output in query's layout with last dim Dv (and the weights).
    """
    fill, zero_masked = _fully_masked_mode(fully_masked)
    return _sdpa(query, key, value, key_mask=key_mask, query_mask=query_mask,
                 attention_mask=attention_mask, causal=causal, scale=scale, layout=layout,
                 mode=_REPLACE, fill=fill, zero_masked=zero_masked, zero_qrows=False,
                 return_weights=return_weights, n_threads=n_threads, compact=True, out=out)


def linear(x, kernel, bias=None, *, out=None, n_threads=None, blas_limited=False,
           packed=None):
    """x (..., E) @ kernel (E, *out) + bias (*out) -> (..., *out): `fastmask.kernels.dense`
    (blocks of rows on OpenMP threads, each a single-threaded BLAS GEMM with the
    bias in its output pass; BLAS's own threads would otherwise spin next to
    fastmask's on a machine with few cores). out: optional (..., *out) buffer.
    packed: optional `pack_kernel` of the (E, prod(out)) kernel (dense's `packed=`).
    """
    x = as_float_array(x, "x", min_ndim=1)
    k = np.ascontiguousarray(kernel, dtype=x.dtype)
    E = x.shape[-1]
    if k.ndim < 1 or k.shape[0] != E:
        raise ValueError(f"`kernel` must have shape ({E}, ...) for x.shape={x.shape}. "
                         f"Received: kernel.shape={k.shape}")
    out_tail = k.shape[1:]
    N = math.prod(out_tail)
    M = x.size // E if E else math.prod(x.shape[:-1])
    b = None
    if bias is not None:
        b = np.ascontiguousarray(bias, dtype=x.dtype)
        if b.size != N:
            raise ValueError(f"`bias` must have {N} elements (shape {out_tail}). "
                             f"Received: bias.shape={b.shape}")
    shape = x.shape[:-1] + out_tail
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    else:
        check_out(out, shape, x.dtype, [a for a in (x, k, b) if a is not None])
    if M == 0 or N == 0:
        return out
    dense(x.reshape(M, E), k.reshape(E, N), None if b is None else b.reshape(N),
          out=out.reshape(M, N), n_threads=n_threads, blas_limited=blas_limited, packed=packed)
    return out


def multi_head_attention(query, value, key=None, *, query_kernel, key_kernel, value_kernel,
                         output_kernel, query_bias=None, key_bias=None, value_bias=None,
                         output_bias=None, query_mask=None, value_mask=None, key_mask=None,
                         attention_mask=None, causal=False, fully_masked="uniform",
                         return_weights=False, out=None, n_threads=None):
    """Keras MultiHeadAttention forward (attention over axis 1) with Keras's weight layout.

    Args:
        query (B, Tq, E), value (B, S, Ev), key (B, S, Ek) (None: value).
        query_kernel (E, H, D), key_kernel (Ek, H, D), value_kernel (Ev, H, Dv),
        output_kernel (H, Dv, *O); biases (H, D), (H, D), (H, Dv), (*O) or None.
        query_mask (B, Tq), value_mask/key_mask (B, S), attention_mask (B, Tq, S):
            combined as Keras does (all must allow), plus `causal`.
        fully_masked: "uniform" (Keras's default dot_product_attention path)
            or "zeros" (its Softmax path, used when scores are returned).
        return_weights: also return the weights (B, H, Tq, S).
        out: optional (B, Tq, *O) output buffer (C-contiguous, writeable, not
            overlapping the inputs). Projections of the same input run as one
            GEMM; the scores of a (batch, head) live in per-thread scratch.

    Returns:
        (B, Tq, *O) float array (and the weights).
    """
    key = value if key is None else key
    v_in = as_float_array(value, "value", ndim=3)
    q_in = v_in if query is value else as_float_array(query, "query", ndim=3)
    k_in = v_in if key is value else as_float_array(key, "key", ndim=3)
    if k_in.shape[:2] != v_in.shape[:2]:
        raise ValueError(f"All dimensions of `value` and `key`, except the last one, must be "
                         f"equal. Received: value.shape={v_in.shape}, key.shape={k_in.shape}")
    if q_in.shape[0] != v_in.shape[0]:
        raise ValueError(f"`query` and `value` must have the same batch size. Received: "
                         f"query.shape={q_in.shape}, value.shape={v_in.shape}")
    n = effective_num_threads(n_threads)
    B, Tq, S = q_in.shape[0], q_in.shape[1], v_in.shape[1]
    if B == 0 or Tq == 0:  # nothing to attend from: an empty result of the right shape
        y = np.zeros((B, Tq) + np.shape(output_kernel)[2:], q_in.dtype)
        if out is not None:
            y = check_out(out, y.shape, y.dtype, (q_in, k_in, v_in))
            y[...] = 0
        if return_weights:
            return y, np.zeros((B, np.shape(query_kernel)[1], Tq, S), q_in.dtype)
        return y
    km = None
    for mk, nm in ((value_mask, "value_mask"), (key_mask, "key_mask")):
        if mk is not None:
            mk = _bool_array(mk, nm, (B, S)).view(bool)
            km = mk if km is None else (km & mk)
    qm = None if query_mask is None else _bool_array(query_mask, "query_mask", (B, Tq)).view(bool)
    weights = dict(query_kernel=query_kernel, query_bias=query_bias, key_kernel=key_kernel,
                   key_bias=key_bias, value_kernel=value_kernel, value_bias=value_bias,
                   output_kernel=output_kernel, output_bias=output_bias)
    with blas_threads(1):
        if not return_weights:
            y = _mha_compact(q_in, k_in, v_in, weights, qm, km, attention_mask, causal,
                             fully_masked, n)
            if y is not None:
                if out is None:
                    return y
                check_out(out, y.shape, y.dtype, (q_in, k_in, v_in))
                np.copyto(out, y)
                return out
        fill, zero_masked = _fully_masked_mode(fully_masked)
        res = _mha_plain(q_in, k_in, v_in, weights, qm, km, attention_mask, causal, fill,
                         zero_masked, return_weights, n, out=out)
    return res


class _Strided(np.ndarray):
    """A (B, T, H, D) column view of a fused projection's C-contiguous output that
    also holds `flat_from_first`: the output's 1-D view from this view's first
    element on (what `_flat` would build with as_strided, ~5 us a call). Views
    made from it (reshape, slicing) do not inherit it."""
    flat_from_first = None

    def __array_finalize__(self, obj):
        self.flat_from_first = None


def _strided_view(out2d, c0, shape):
    """out2d[..., c0:c0+c] reshaped to `shape`, as a `_Strided` (see there)."""
    view = out2d[..., c0:c0 + math.prod(shape[2:])].reshape(shape).view(_Strided)
    view.flat_from_first = out2d.reshape(-1)[c0:]
    return view


def _project(src, w, dtype, n):
    """Q, K, V projections {name: (B, T, H, D) view} of src {"query": xq, "key": xk,
    "value": xv}: projections of the same array run as one GEMM on the concatenated
    kernels (x read once, one output buffer whose column ranges are the views).
    w: the weights dict of multi_head_attention. Call with BLAS limited to 1."""
    groups = [["query"], ["key"], ["value"]]
    if src["key"] is src["value"]:
        groups = [["query"], ["key", "value"]]
        if src["query"] is src["value"]:
            groups = [["query", "key", "value"]]
    proj = {}
    for g in groups:
        x = src[g[0]]
        kernels = [np.asarray(w[nm + "_kernel"], dtype) for nm in g]
        if any(k.ndim != 3 or k.shape[0] != x.shape[-1] for k in kernels):
            raise ValueError("`query_kernel`, `key_kernel` and `value_kernel` must have shape "
                             f"(dim, num_heads, head_dim) with dim = the input's last axis "
                             f"({x.shape[-1]}). Received: "
                             + ", ".join(f"{nm}_kernel.shape={k.shape}"
                                         for nm, k in zip(g, kernels)))
        out = _prepared_linear(w, tuple(g), x, dtype, n)
        if out is None:
            join = w.get("join") or join_projections
            kernel, bias = join(w, tuple(g), dtype)
            packed = w["pack"](tuple(g), kernel, dtype) if "pack" in w else None
            out = linear(x, kernel, bias, n_threads=n, blas_limited=True, packed=packed)
        c0 = 0
        for nm, k in zip(g, kernels):
            c = k.shape[1] * k.shape[2]
            shape = out.shape[:-1] + k.shape[1:]
            proj[nm] = (_strided_view(out, c0, shape) if out.ndim == 3 and out.flags.c_contiguous
                        else out[..., c0:c0 + c].reshape(shape))
            c0 += c
    return proj


def _prepared_linear(w, names, x, dtype, n, out=None):
    """x (..., E) @ the joined kernels `names` (+ bias) through the `PreparedDense` a
    layer keeps (`w["prepared"]`, see `kernels.dense.prepare_dense`): (..., N), written
    into `out` (checked by the caller) when given; None when `w` has none or x is not a
    C-contiguous array of `dtype` (the caller then runs `linear`)."""
    prepared = w.get("prepared")
    if prepared is None or type(x) is not np.ndarray or x.dtype != dtype \
            or not (x.flags.c_contiguous and x.flags.aligned) or x.ndim < 1:
        return None
    dense = prepared(names, dtype)
    K, N = dense.w.shape
    if x.shape[-1] != K:
        return None
    lead = x.shape[:-1]
    M = math.prod(lead)
    y = dense(x.reshape(M, K), out=None if out is None else out.reshape(M, N), n_threads=n)
    return y.reshape(lead + (N,)) if out is None else out


def join_projections(w, names, dtype):
    """(kernel (E, sum of H*D), bias (sum of H*D,) or None): the projections `names`
    (of "query", "key", "value") of the weights dict `w` of `multi_head_attention`,
    joined side by side in `dtype` so that one GEMM computes them all (a missing
    bias is zeros). One name: views of its own kernel and bias when the dtype fits.
    `w["join"]` (optional, same signature) replaces this function: a layer passes
    one that keeps the result until its weights change."""
    flat = [np.asarray(w[nm + "_kernel"], dtype) for nm in names]
    flat = [k.reshape(k.shape[0], math.prod(k.shape[1:])) for k in flat]
    if all(w[nm + "_bias"] is None for nm in names):
        bias = None
    else:
        bias = np.concatenate([np.zeros(k.shape[1], dtype) if w[nm + "_bias"] is None
                               else np.asarray(w[nm + "_bias"], dtype).reshape(-1)
                               for nm, k in zip(names, flat)])
    return (flat[0] if len(names) == 1 else np.concatenate(flat, axis=1)), bias


def _bthd_strides(a):
    """(batch, head, row) strides in elements of a (B, T, H, D) view."""
    it = a.itemsize
    return a.strides[0] // it, a.strides[2] // it, a.strides[1] // it


def _mha_plain(q_in, k_in, v_in, w, qm, km, attention_mask, causal, fill, zero_masked,
               return_weights, n, out=None):
    """MultiHeadAttention forward over every position: fused projections (`_project`),
    attention straight from the projections' strided views (scores in per-thread
    scratch unless return_weights), output projection into `out` (None: a new
    array). Returns y or (y, weights). Call with BLAS limited to 1."""
    dtype = q_in.dtype
    if not (q_in.shape[0] == k_in.shape[0] == v_in.shape[0]) or k_in.shape[1] != v_in.shape[1]:
        raise ValueError(f"`query`, `key` and `value` must have the same batch size, and `key` "
                         f"and `value` the same length. Received: query.shape={q_in.shape}, "
                         f"key.shape={k_in.shape}, value.shape={v_in.shape}")
    p = _project({"query": q_in, "key": k_in, "value": v_in}, w, dtype, n)
    Q, K, V = p["query"], p["key"], p["value"]
    B, Tq, H, D = Q.shape
    S, Dv = K.shape[1], V.shape[3]
    if K.shape[2:] != (H, D) or V.shape[2] != H:
        raise ValueError(f"Projected query/key/value heads do not match: query {Q.shape[2:]}, "
                         f"key {K.shape[2:]}, value {V.shape[2:]}.")
    ok = np.asarray(w["output_kernel"])
    if ok.ndim < 2 or ok.shape[:2] != (H, Dv):
        raise ValueError(f"`output_kernel` must have shape (num_heads, head_dim, ...) = "
                         f"{(H, Dv)} + (...). Received: output_kernel.shape={ok.shape}")
    if out is not None:
        check_out(out, (B, Tq) + ok.shape[2:], dtype, (q_in, k_in, v_in))
    am, ast = (None, [0, 0, 0, 0]) if attention_mask is None else \
        _attention_mask(attention_mask, B, H, Tq, S)
    ctx = np.empty((B, Tq, H, Dv), dtype)
    weights = np.empty((B, H, Tq, S), dtype) if return_weights else None
    _sdpa_core((Q, _bthd_strides(Q)), (K, _bthd_strides(K)), (V, _bthd_strides(V)),
               (ctx, (Tq * H * Dv, Dv, H * Dv)), weights, B, H, Tq, S, D, Dv,
               None if km is None else np.ascontiguousarray(km).view(np.uint8),
               None if qm is None else np.ascontiguousarray(qm).view(np.uint8),
               am, ast, causal, False, _REPLACE, fill, zero_masked,
               1.0 / math.sqrt(float(D)) if D else 1.0, n, True)
    y = _prepared_linear(w, ("output",), ctx.reshape(B, Tq, H * Dv), dtype, n, out=out)
    if y is None:
        ok = ok.reshape((H * Dv,) + ok.shape[2:])
        packed = w["pack"](("output",), ok, dtype) if "pack" in w else None
        y = linear(ctx.reshape(B, Tq, H * Dv), ok, w["output_bias"], out=out, n_threads=n,
                   blas_limited=True, packed=packed)
    elif out is None and ok.ndim != 3:       # (H, Dv, *O) with O not one axis
        y = y.reshape((B, Tq) + ok.shape[2:])
    return (y, weights) if return_weights else y


class PreparedSelfAttention:
    """`_mha_plain` for one input x (B, T, E) attending to itself (query, key and value
    the same array; no masks, no scores returned, causal or not) with everything that
    depends only on the weights and the shape worked out once: the joined Q|K|V and the
    output projections as `PreparedDense`s, the heads' strides in the projection's
    output, the chunking and the GEMM path. At batch 1 `_mha_plain`'s generality cost
    more than its kernels. Made by `prepare_self_attention` for the small-GEMM path
    only; immutable, any number of threads may call one. `__call__` computes what
    `_mha_plain` computes, bit for bit.

    The batch runs in chunks of `batch_chunk` samples (`_SELF_CHUNK_BYTES` of joined
    Q|K|V projections per thread): each chunk is projected, attended and projected back
    into its rows of the output before the next, through buffers made once per call, so
    the (B*T, 3*H*D) projections never exist whole (at (1024, 64, 4 x 32) they were
    100 MB, written to memory and read back: the chunked call takes 0.75x the time).
    Every row and (sample, head) is computed as in one piece (the kernels' results do
    not depend on the rows they run with), so chunking changes no bit."""

    __slots__ = ("qkv", "proj", "shape", "dtype", "H", "D", "Dv", "y_shape", "causal",
                 "fill", "zero_masked", "scale", "chunk", "panel", "per_thread", "path",
                 "sample_bytes")

    def batch_chunk(self, n_threads):
        """Samples per chunk at n_threads threads (at most B): about
        `_SELF_CHUNK_BYTES` of projections per thread, and at least `_SELF_CHUNK_ITEMS`
        (sample, head) pairs per thread (fewer left threads idle at the chunk's end),
        the batch cut into chunks of equal size."""
        B = self.shape[0]
        per = max((_SELF_CHUNK_BYTES * n_threads) // self.sample_bytes,
                  -(-_SELF_CHUNK_ITEMS * n_threads // self.H), 1)
        n_chunks = -(-B // per)
        return -(-B // n_chunks)      # chunks of equal size (32 by 10: 8, not 10 + 2)

    def __call__(self, x, out=None, n_threads=None):
        """y (B, T, *output dims) for x (B, T, E), a C-contiguous aligned array of this
        shape and dtype (anything else: None, the caller takes the general path), or
        None when the GEMM path chosen at preparation no longer applies. out: None or an
        array of y's shape and dtype the caller has checked (`usable_out`)."""
        if not (type(x) is np.ndarray and x.shape == self.shape and x.dtype == self.dtype
                and x.flags.c_contiguous and x.flags.aligned) or self.path != _path_key():
            return None
        B, T, E = self.shape
        H, D, Dv, dtype = self.H, self.D, self.Dv, self.dtype
        n = effective_num_threads(n_threads)
        if out is None:
            out = np.empty(self.y_shape, dtype)
        bc = self.batch_chunk(n)
        cols = 2 * H * D + H * Dv
        y = np.empty(bc * T * cols, dtype)                  # a chunk's joined Q|K|V
        ctx = np.empty(bc * T * H * Dv, dtype)              # its heads' outputs
        nt = max(1, min(n, bc * H))
        chunk = self.chunk
        dummy = _EMPTY_U8
        scratch = np.empty(nt * chunk * T, dtype)
        mask_rows = np.empty(nt * T, np.uint8)
        gemm_scratch = np.empty(nt * self.per_thread, dtype)
        no_weights = np.zeros(1, dtype)
        x2 = x.reshape(B * T, E)
        y2 = out.reshape(B * T, -1)
        for b0 in range(0, B, bc):
            nb = min(bc, B - b0)
            rows = nb * T
            yc = y[:rows * cols]
            self.qkv(x2[b0 * T:b0 * T + rows], out=yc.reshape(rows, cols), n_threads=n)
            _attention.sdpa_flat(
                yc, T * cols, D, cols,
                yc[H * D:], T * cols, D, cols,
                yc[2 * H * D:], T * cols, Dv, cols,
                ctx, T * H * Dv, Dv, H * Dv,
                no_weights, False, True,
                nb, H, T, T, D, Dv,
                dummy, False, T, dummy, False, T, dummy, False, 0, 0, 0, 0,
                self.causal, False, _REPLACE, self.fill, self.zero_masked,
                self.scale, chunk, scratch, mask_rows, nt, self.panel, gemm_scratch)
            self.proj(ctx[:rows * H * Dv].reshape(rows, H * Dv),
                      out=y2[b0 * T:b0 * T + rows], n_threads=n)
        return out


def _path_key():
    """The module settings the small-GEMM choice of attention depends on."""
    return (SMALL_GEMM, SMALL_MAX_KEYS, _dense_settings.FORCE_PATH, _dense_settings.SMALL_GEMM,
            _dense_settings.SMALL_MAX_PANEL_BYTES)


def prepare_self_attention(w, shape, dtype, causal=False, fully_masked="uniform"):
    """A `PreparedSelfAttention` for inputs of `shape` (B, T, E) in `dtype` (float32 or
    float64) and the weights dict `w` of `multi_head_attention` (with its `prepared`
    function, as MultiHeadAttention's `_weights_dict` gives), or None when the
    attention would not run on the small-GEMM micro-kernel (then `_mha_plain` runs)."""
    dtype = np.dtype(dtype)
    B, T, E = shape
    qk, vk, ok = (np.asarray(w[nm + "_kernel"]) for nm in ("query", "value", "output"))
    prepared = w.get("prepared")
    if (prepared is None or dtype.itemsize < 4 or qk.ndim != 3 or vk.ndim != 3
            or np.asarray(w["key_kernel"]).shape != qk.shape or qk.shape[0] != E
            or vk.shape[0] != E or vk.shape[1] != qk.shape[1] or ok.ndim < 2
            or ok.shape[:2] != vk.shape[1:] or min(B, T, E) <= 0):
        return None
    H, D, Dv = qk.shape[1], qk.shape[2], vk.shape[2]
    if not (SMALL_GEMM and T <= SMALL_MAX_KEYS and D > 0 and Dv > 0
            and use_small_gemm(1, D, 1, dtype) and use_small_gemm(1, T, 1, dtype)):
        return None
    prep = PreparedSelfAttention()
    prep.qkv = prepared(("query", "key", "value"), dtype)
    prep.proj = prepared(("output",), dtype)
    prep.shape, prep.dtype, prep.H, prep.D, prep.Dv = (B, T, E), dtype, H, D, Dv
    prep.y_shape = (B, T) + ok.shape[2:]
    prep.causal = bool(causal)
    fill, zero_masked = _fully_masked_mode(fully_masked)
    prep.fill, prep.zero_masked = float(fill), bool(zero_masked)
    prep.scale = 1.0 / math.sqrt(float(D))
    prep.chunk = min(max(16, _CHUNK_ELEMS // T), T)
    prep.panel = _dense.panel_width(dtype == np.float64)
    prep.per_thread = _attention.small_gemm_scratch(T, D, Dv, prep.chunk, prep.panel)
    prep.path = _path_key()
    prep.sample_bytes = T * (2 * H * D + H * Dv) * dtype.itemsize
    return prep


# Exactness margin of the compact path: masked logits (at the fill value) lower
# than the row's max by more than this contribute exactly 0 to a float32
# (float64) softmax, so dropping them changes nothing.
_COMPACT_MARGIN = {np.dtype(np.float32): 110.0, np.dtype(np.float64): 750.0}


def _mha_compact(q_in, k_in, v_in, w, qm, km, attention_mask, causal, fully_masked, n):
    """MultiHeadAttention forward that skips padding: only kept query rows and
    kept key/value rows are projected and attended (Keras's masked logits
    contribute exact zeros, and a query that sees no key gets the mean of all
    values (uniform) or nothing (zeros), computed without its Q row). Returns
    None when nothing is masked (the plain path is as fast). A batch element
    whose result could differ from Keras's (logits within the margin of the
    fill value) is recomputed by the plain path. Call with BLAS limited to 1."""
    if qm is None and km is None:
        return None
    B, T, S = q_in.shape[0], q_in.shape[1], v_in.shape[1]
    qkeep, kkeep, bq, tq, qoff, bk, sk, koff = _keep_index(qm, km, B, T, S)
    if qkeep.all() and kkeep.all():
        return None
    fill, zero_masked = _fully_masked_mode(fully_masked)
    dtype = q_in.dtype
    xk = k_in[bk, sk]
    xv = xk if v_in is k_in else v_in[bk, sk]
    xq = xv if (q_in is v_in and np.array_equal(qkeep, kkeep)) else q_in[bq, tq]
    proj = _project({"query": xq, "key": xk, "value": xv}, w, dtype, n)
    H, D, Dv = proj["query"].shape[-2], proj["query"].shape[-1], proj["value"].shape[-1]
    if proj["key"].shape[-2:] != (H, D) or proj["value"].shape[-2] != H:
        raise ValueError(f"Projected query/key/value heads do not match: query "
                         f"{proj['query'].shape[-2:]}, key {proj['key'].shape[-2:]}, "
                         f"value {proj['value'].shape[-2:]}.")
    proj = {nm: a.reshape(a.shape[0], a.shape[1] * a.shape[2]) for nm, a in proj.items()}
    Q, K, V = proj["query"], proj["key"], proj["value"]
    ok = np.asarray(w["output_kernel"])
    if ok.ndim < 2 or ok.shape[:2] != (H, Dv):
        raise ValueError(f"`output_kernel` must have shape (num_heads, head_dim, ...) = "
                         f"{(H, Dv)} + (...). Received: output_kernel.shape={ok.shape}")
    ok2 = ok.reshape((H * Dv,) + ok.shape[2:])
    packed = w["pack"](("output",), ok2, dtype) if "pack" in w else None
    # Output of a query that sees no key: mean of all S values (uniform), or 0.
    if zero_masked:
        empty = np.zeros((B, H, Dv), dtype)
    else:
        empty = linear(v_in.mean(axis=1, dtype=dtype), w["value_kernel"], w["value_bias"],
                       n_threads=n, blas_limited=True).astype(dtype, copy=False)
    ctx, fallback = _compact_core(Q, K, V, qoff, koff, tq, sk, T, S, attention_mask, causal,
                                  empty, fill, zero_masked, 1.0 / math.sqrt(float(D)) if D else 1.0,
                                  n, H)
    out_tail = ok.shape[2:]
    y = np.empty((B, T) + out_tail, dtype)
    if len(bq):
        y[bq, tq] = linear(ctx.reshape(len(bq), H * Dv), ok2, w["output_bias"], n_threads=n,
                           blas_limited=True, packed=packed)
    pb, pt = np.nonzero(~qkeep)
    if len(pb):
        pad = linear(empty.reshape(B, H * Dv), ok2, w["output_bias"], n_threads=n,
                     blas_limited=True, packed=packed)
        y[pb, pt] = pad[pb]
    for b in fallback:
        sl = slice(b, b + 1)
        qp = linear(q_in[sl], w["query_kernel"], w["query_bias"], n_threads=n, blas_limited=True)
        kp = linear(k_in[sl], w["key_kernel"], w["key_bias"], n_threads=n, blas_limited=True)
        vp = linear(v_in[sl], w["value_kernel"], w["value_bias"], n_threads=n, blas_limited=True)
        ctx_b = _sdpa(qp, kp, vp, key_mask=None if km is None else km[sl],
                      query_mask=None if qm is None else qm[sl],
                      attention_mask=_batch_slice(attention_mask, b, B), causal=causal,
                      scale=1.0 / math.sqrt(float(D)) if D else 1.0,
                      layout="BTHD", mode=_REPLACE, fill=fill, zero_masked=zero_masked,
                      zero_qrows=False, return_weights=False, n_threads=n, blas_limited=True)
        y[b] = linear(ctx_b.reshape(1, T, H * Dv), ok2, w["output_bias"], n_threads=n,
                      blas_limited=True)[0]
    return y


def _batch_slice(attention_mask, b, B):
    """attention_mask for batch element b alone (rank 3/4 masks with a batch axis)."""
    if attention_mask is None:
        return None
    m = np.asarray(attention_mask)
    if m.ndim in (3, 4) and m.shape[0] == B:
        return m[b:b + 1]
    return m


def _keep_index(qm, km, B, T, S):
    """Positions kept by the query and key masks: (bq, tq, qoff, bk, sk, koff)."""
    qkeep = np.ones((B, T), bool) if qm is None else qm.astype(bool, copy=False)
    kkeep = np.ones((B, S), bool) if km is None else km.astype(bool, copy=False)
    bq, tq = np.nonzero(qkeep)
    bk, sk = np.nonzero(kkeep)
    qoff = np.zeros(B + 1, np.int64)
    np.cumsum(qkeep.sum(axis=1), out=qoff[1:])
    koff = np.zeros(B + 1, np.int64)
    np.cumsum(kkeep.sum(axis=1), out=koff[1:])
    return qkeep, kkeep, bq, tq, qoff, bk, sk, koff


def _rows(a):
    """(flat view from a's first element, row stride) of a 2-D array whose rows are
    contiguous (C-contiguous, or a column slice of a C-contiguous array)."""
    if a.size == 0:
        return np.zeros(1, a.dtype), max(a.shape[1], 1)
    rs = a.strides[0] // a.itemsize
    flat = np.lib.stride_tricks.as_strided(a, shape=((a.shape[0] - 1) * rs + a.shape[1],),
                                           strides=(a.itemsize,), writeable=False)
    return flat, rs


def _compact_core(Q, K, V, qoff, koff, tq, sk, T, S, attention_mask, causal, empty, fill,
                  zero_masked, scale, n, heads):
    """Attention over kept rows gathered batch by batch (offsets qoff/koff, original
    positions tq/sk): Q (Nq, H*D), K (Nk, H*D), V (Nk, H*Dv), each with contiguous
    rows (views into one fused projection are fine). Returns (ctx (Nq, H, Dv),
    indices of batch elements to recompute by the full path)."""
    B = len(qoff) - 1
    H = heads
    D, Dv = Q.shape[1] // H, V.shape[1] // H
    dtype = Q.dtype
    if attention_mask is None:
        am, ast = None, [0, 0, 0, 0]
    else:
        am, ast = _attention_mask(attention_mask, B, H, T, S)
    nt = max(1, min(n, B * H))
    max_nk = int((koff[1:] - koff[:-1]).max()) if B else 0
    chunk = max(16, _CHUNK_ELEMS // max(max_nk, 1))
    scratch = np.empty(nt * chunk * max(max_nk, 1), dtype)
    mrows = np.empty(nt * (max(max_nk, 1) + chunk), np.uint8)
    fallback = np.zeros(max(B, 1), np.uint8)
    ctx = np.empty((len(tq), H, Dv), dtype)
    dummy = np.zeros(1, dtype)
    if len(tq):
        (qb, q_rs), (kb, k_rs), (vb, v_rs) = _rows(Q), _rows(K), _rows(V)
        _attention.sdpa_compact_flat(
            qb, kb, vb, q_rs, k_rs, v_rs, ctx.reshape(-1) if ctx.size else dummy,
            qoff, koff, tq.astype(np.int64), sk.astype(np.int64), B, H, D, Dv, S,
            _EMPTY_U8 if am is None else am, am is not None, *ast, bool(causal),
            np.ascontiguousarray(empty, dtype).reshape(-1) if empty.size else dummy,
            fill, zero_masked, scale, _COMPACT_MARGIN[np.dtype(dtype)], chunk,
            scratch, mrows, fallback, nt)
    return ctx, np.flatnonzero(fallback[:B])


# Skip padding in masked_attention only when it removes at least this fraction
# of the score matrix (gathering q, k, v and scattering the output cost a pass).
_COMPACT_MIN_SAVING = 0.3


def _compact_pays(qm, km):
    if (qm is not None and not qm.any()) or (km is not None and not km.any()):
        return False  # nothing kept: the full path gives Keras's fully-masked values
    q_frac = 1.0 if qm is None else float(np.count_nonzero(qm)) / max(qm.size, 1)
    k_frac = 1.0 if km is None else float(np.count_nonzero(km)) / max(km.size, 1)
    return q_frac * k_frac <= 1.0 - _COMPACT_MIN_SAVING


def _bthd(x, layout):
    """A (B, T, H, D) view of a rank-3 (one head) or rank-4 array in `layout`."""
    if x.ndim == 3:
        return x[:, :, None, :]
    return x if layout == "BTHD" else x.transpose(0, 2, 1, 3)


def _sdpa_compact(q, k, v, layout, km, qm, attention_mask, causal, scale, fill, zero_masked, n):
    """masked_attention over the kept queries and keys only (gathered), same result."""
    qv, kv, vv = _bthd(q, layout), _bthd(k, layout), _bthd(v, layout)
    B, T, H, D = qv.shape
    S, Dv = kv.shape[1], vv.shape[3]
    qkeep, kkeep, bq, tq, qoff, bk, sk, koff = _keep_index(qm, km, B, T, S)
    Q, K, V = qv[bq, tq], kv[bk, sk], vv[bk, sk]
    dtype = q.dtype
    empty = (np.zeros((B, H, Dv), dtype) if zero_masked
             else vv.mean(axis=1, dtype=dtype).astype(dtype, copy=False))
    ctx, fallback = _compact_core(Q.reshape(len(tq), -1), K.reshape(len(sk), -1),
                                  V.reshape(len(sk), -1), qoff, koff, tq, sk, T, S,
                                  attention_mask, causal, empty, fill, zero_masked, scale, n, H)
    out = np.empty(q.shape[:-1] + (Dv,), dtype)
    ov = _bthd(out, layout)
    ov[bq, tq] = ctx
    pb, pt = np.nonzero(~qkeep)
    ov[pb, pt] = empty[pb]
    for b in fallback:
        sl = slice(b, b + 1)
        ov[b] = _bthd(_sdpa(q[sl], k[sl], v[sl], key_mask=None if km is None else km[sl],
                            query_mask=None if qm is None else qm[sl],
                            attention_mask=_batch_slice(attention_mask, b, B), causal=causal,
                            scale=scale, layout=layout, mode=_REPLACE, fill=fill,
                            zero_masked=zero_masked, zero_qrows=False, return_weights=False,
                            n_threads=n, blas_limited=True), layout)[0]
    return out
