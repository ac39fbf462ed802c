"""Plain NumPy references shared by the reliability tests (battery, properties)."""
import math

import numpy as np


def sdpa_ref(q, k, v, key_mask=None, query_mask=None, attention_mask=None, causal=False,
             fully_masked="zeros", scale=None):
    """Masked scaled dot-product attention, layout (B, T, H, D), computed in float64.

    A key j is attended by query i iff key_mask[b, j], query_mask[b, i],
    attention_mask (broadcast to (B, H, Tq, S); rank 3 = (B, Tq, S) shared by the
    heads) and, if causal, j <= i. Rows with no attended key: weights 0 ("zeros")
    or 1/S ("uniform", Keras's dot_product_attention path).
    """
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    B, T, H, D = q.shape
    S = k.shape[1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = np.einsum("bthd,bshd->bhts", q64, k64) * scale
    allow = np.ones((B, H, T, S), bool)
    if key_mask is not None:
        allow &= np.asarray(key_mask, bool)[:, None, None, :]
    if query_mask is not None:
        allow &= np.asarray(query_mask, bool)[:, None, :, None]
    if attention_mask is not None:
        am = np.asarray(attention_mask, bool)
        am = am[:, None] if am.ndim == 3 else am
        allow &= np.broadcast_to(am, allow.shape)
    if causal:
        allow &= np.tril(np.ones((T, S), bool))
    any_ = allow.any(-1, keepdims=True)
    y = np.where(allow, s, -np.inf)
    e = np.exp(y - np.where(any_, y.max(-1, keepdims=True, initial=-np.inf), 0))
    w = np.where(any_, e / np.where(any_, e.sum(-1, keepdims=True), 1), 0.0)
    if fully_masked == "uniform":
        w = np.where(any_, w, 1.0 / S)
    return np.einsum("bhts,bshd->bthd", w, v64).astype(np.result_type(q, k, v))


def mha_ref(query, value, key=None, *, query_kernel, key_kernel, value_kernel, output_kernel,
            query_bias=None, key_bias=None, value_bias=None, output_bias=None,
            query_mask=None, value_mask=None, attention_mask=None, causal=False,
            fully_masked="uniform"):
    """Keras's MultiHeadAttention forward (weights in Keras's layout) in float64."""
    key = value if key is None else key

    def proj(x, w, b):
        y = np.einsum("bte,ehd->bthd", np.asarray(x, np.float64), np.asarray(w, np.float64))
        return y if b is None else y + np.asarray(b, np.float64)

    qp, kp, vp = (proj(query, query_kernel, query_bias), proj(key, key_kernel, key_bias),
                  proj(value, value_kernel, value_bias))
    ctx = sdpa_ref(qp, kp, vp, key_mask=value_mask, query_mask=query_mask,
                   attention_mask=attention_mask, causal=causal, fully_masked=fully_masked)
    out = np.einsum("bthd,hdo->bto", ctx.astype(np.float64),
                    np.asarray(output_kernel, np.float64).reshape(
                        output_kernel.shape[0], output_kernel.shape[1], -1))
    out = out.reshape(out.shape[:2] + tuple(output_kernel.shape[2:]))
    if output_bias is not None:
        out = out + np.asarray(output_bias, np.float64)
    return out.astype(np.asarray(query).dtype)
