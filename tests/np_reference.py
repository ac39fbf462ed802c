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


# ----------------------------------------------------------------- recurrences
# An oracle for the recurrent kernels that shares no code with fastmask (no
# `_prepare`, no fastmask import): Keras 3.15.1's cell equations
# (keras/src/layers/rnn/lstm.py, gru.py, simple_rnn.py) and its numpy-backend
# loop (keras/src/backend/numpy/rnn.py), written out per gate in float64.

def _hard_sigmoid(v):
    return np.clip(v / 6.0 + 0.5, 0.0, 1.0)


def _sigmoid(v):
    with np.errstate(over="ignore"):       # exp(-v) = inf gives the right 0
        return 1.0 / (1.0 + np.exp(-v))


RNN_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda v: np.maximum(v, 0.0),
    "hard_sigmoid": _hard_sigmoid,
    "linear": lambda v: v,
    None: lambda v: v,
}


def _act(a):
    return a if callable(a) else RNN_ACTIVATIONS[a]


def _gates(w, n):
    """Split the last axis of a Keras weight into its n gate blocks (Keras order)."""
    u = w.shape[-1] // n
    return [w[..., g * u:(g + 1) * u] for g in range(n)]


def lstm_cell_ref(x_t, h, c, kernel, recurrent_kernel, bias, act, ract):
    """Keras LSTMCell.call: gates i, f, c, o -> (h', c')."""
    wx, wh = _gates(kernel, 4), _gates(recurrent_kernel, 4)
    b = _gates(bias, 4) if bias is not None else [0.0] * 4
    i, f, g, o = (x_t @ wx[n] + h @ wh[n] + b[n] for n in range(4))
    c_new = ract(f) * c + ract(i) * act(g)
    return ract(o) * act(c_new), c_new


def gru_cell_ref(x_t, h, kernel, recurrent_kernel, bias, act, ract, reset_after):
    """Keras GRUCell.call: gates z, r, h; reset applied after (default) or before the
    recurrent matmul; bias (2, 3U) [input; recurrent] when reset_after."""
    wx, wh = _gates(kernel, 3), _gates(recurrent_kernel, 3)
    if bias is None:
        bx, bh = [0.0] * 3, [0.0] * 3
    elif reset_after:
        bx, bh = _gates(bias[0], 3), _gates(bias[1], 3)
    else:
        bx, bh = _gates(bias, 3), [0.0] * 3
    z = ract(x_t @ wx[0] + bx[0] + h @ wh[0] + bh[0])
    r = ract(x_t @ wx[1] + bx[1] + h @ wh[1] + bh[1])
    if reset_after:
        cand = act(x_t @ wx[2] + bx[2] + r * (h @ wh[2] + bh[2]))
    else:
        cand = act(x_t @ wx[2] + bx[2] + (r * h) @ wh[2])
    return z * h + (1.0 - z) * cand


def simple_rnn_cell_ref(x_t, h, kernel, recurrent_kernel, bias, act):
    """Keras SimpleRNNCell.call: act(x W + b + h U)."""
    pre = x_t @ kernel + (0.0 if bias is None else bias)
    return act(pre + h @ recurrent_kernel)


def rnn_ref(cell, x, kernel, recurrent_kernel, bias=None, mask=None, initial_state=None, *,
            go_backwards=False, return_sequences=False, zero_output_for_mask=False,
            unroll=False, activation="tanh", recurrent_activation="sigmoid",
            reset_after=True):
    """Keras's masked recurrence in float64: cell "lstm", "gru" or "simple_rnn".

    x (B, T, F); weights in Keras's layouts; mask (B, T) bool or None;
    initial_state a list of (B, U) arrays or None (zeros). Returns
    (output, h) or (output, h, c) for LSTM, in float64: output (B, T, U) in
    processing order with return_sequences, else the last processed step's
    output. At a masked step the states keep their value; the output is the
    previous h (non-unrolled loop), 0 (`zero_output_for_mask`), or the previous
    output, 0 before the first (`unroll=True`, Keras's unrolled loop, which
    ignores zero_output_for_mask).
    """
    f64 = lambda a: None if a is None else np.asarray(a, np.float64)  # noqa: E731
    x, kernel, recurrent_kernel, bias = f64(x), f64(kernel), f64(recurrent_kernel), f64(bias)
    B, T, _ = x.shape
    U = recurrent_kernel.shape[0]
    act, ract = _act(activation), _act(recurrent_activation)
    n_states = 2 if cell == "lstm" else 1
    if initial_state is None:
        states = [np.zeros((B, U)) for _ in range(n_states)]
    else:
        given = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        states = [f64(s).copy() for s in given]
    keep_all = np.ones((B, T), bool) if mask is None else np.asarray(mask).astype(bool)
    outputs = np.zeros((B, T, U))
    prev_out = np.zeros((B, U))
    for step in range(T):
        t = T - 1 - step if go_backwards else step
        x_t, keep = x[:, t], keep_all[:, t][:, None]
        if cell == "lstm":
            new = list(lstm_cell_ref(x_t, states[0], states[1], kernel, recurrent_kernel, bias,
                                     act, ract))
        elif cell == "gru":
            new = [gru_cell_ref(x_t, states[0], kernel, recurrent_kernel, bias, act, ract,
                                reset_after)]
        elif cell == "simple_rnn":
            new = [simple_rnn_cell_ref(x_t, states[0], kernel, recurrent_kernel, bias, act)]
        else:
            raise ValueError(f"unknown cell {cell!r}")
        if unroll:
            out = np.where(keep, new[0], prev_out)
        elif zero_output_for_mask:
            out = np.where(keep, new[0], 0.0)
        else:
            out = np.where(keep, new[0], states[0])
        states = [np.where(keep, n, s) for n, s in zip(new, states)]
        outputs[:, step] = out
        prev_out = out
    result = outputs if return_sequences else outputs[:, -1]
    return (result, *states)


def dense_activation_ref(name, y):
    """Activation `name` of the fused Dense kernel (and gelu) in plain NumPy."""
    if name in (None, "linear"):
        return y
    if name == "relu":
        return np.maximum(y, 0)
    if name == "tanh":
        return np.tanh(y)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if name == "hard_sigmoid":
        return np.clip(y / 6 + 0.5, 0, 1)
    if name == "softmax":
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "gelu":
        from scipy.special import erf
        return 0.5 * y * (1 + erf(y / math.sqrt(2)))
    raise AssertionError(name)
