"""Masked LSTM / GRU / SimpleRNN forward passes as plain functions (NumPy in, NumPy out).

Semantics are those of Keras 3.15.1's generic RNN loop on the numpy backend
(`keras/src/backend/numpy/rnn.py`, `unroll=False` unless `unroll=True`):

* `x` (B, T, F) float32/float64, `mask` (B, T) bool (True = keep) or None.
* Weights have Keras's layouts: `kernel` (F, NG*U), `recurrent_kernel`
  (U, NG*U), gate blocks in Keras order (LSTM i, f, c, o; GRU z, r, h;
  SimpleRNN one block). Bias: LSTM (4U,), SimpleRNN (U,), GRU (2, 3U) when
  `reset_after` (row 0 input bias, row 1 recurrent bias) else (3U,).
  `bias=None` means no bias (`use_bias=False`).
* States freeze at masked steps (h and c). The output at a masked step is the
  previous h (the initial state before the first valid step), or 0 with
  `zero_output_for_mask=True`. `unroll=True` reproduces Keras's unrolled
  numpy loop instead: the previous *output* (0 before the first valid step)
  and `zero_output_for_mask` is ignored.
* `go_backwards=True` walks t = T-1..0; outputs are returned in processing
  order (reversed time), the mask is not reversed.
* Returns `(output, h)` (`(output, h, c)` for LSTM) where `output` is the
  (B, T, U) sequence with `return_sequences=True`, else the last processed
  output (B, U). A fully masked row returns its initial state as h (and c)
  and, as output, the initial h (0 with `zero_output_for_mask` or `unroll`).

Activations "tanh", "sigmoid", "relu", "hard_sigmoid", "linear"/None (and the
matching Keras/fastmask activation functions) run in the compiled kernel;
any other name or callable runs `rnn_reference`, the NumPy loop that is also
the tests' oracle (same formulas and operation order as Keras's cells).

The compiled kernel only does work for unmasked (b, t) pairs and uses
`n_threads` OpenMP threads (see fastmask/kernels/_recurrent.pyx for the design).
"""
import numbers

import numpy as np

from . import _recurrent
from ._threads import effective_num_threads
from ._validation import as_array, as_float_array, as_mask
from ..utils import mask_from_lengths

__all__ = ["lstm", "gru", "simple_rnn", "rnn_reference", "C_ACTIVATIONS"]

C_ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu", "hard_sigmoid")
_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
_N_STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}


# ---------------------------------------------------------------- activations
def _np_linear(x):
    return x


def _np_tanh(x):
    return np.tanh(x)


def _np_sigmoid(x):
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):     # exp(-x) = inf for x << 0 gives exactly 0, as intended
        return one / (one + np.exp(-x))


def _np_relu(x):
    return np.maximum(x, x.dtype.type(0))


def _np_hard_sigmoid(x):
    x = x / x.dtype.type(6) + x.dtype.type(0.5)
    return np.where(x <= 0, x.dtype.type(0), np.where(x >= 1, x.dtype.type(1), x))


_NP_ACTIVATIONS = {"linear": _np_linear, "tanh": _np_tanh, "sigmoid": _np_sigmoid,
                   "relu": _np_relu, "hard_sigmoid": _np_hard_sigmoid}


def resolve_activation(activation, name="activation"):
    """(C name or None, NumPy callable) for a name, None ("linear") or a callable."""
    if activation is None:
        return "linear", _np_linear
    if isinstance(activation, str):
        if activation in _NP_ACTIVATIONS:
            return activation, _NP_ACTIVATIONS[activation]
        try:
            from .. import activations as _acts
            fn = _acts.get(activation)
        except (ImportError, AttributeError, ValueError, TypeError):
            fn = None
        if fn is None:
            raise ValueError(f"Unknown `{name}`: expected one of {C_ACTIVATIONS}, None or a "
                             f"callable. Received: {name}={activation!r}")
        return None, fn
    if callable(activation):
        fname = getattr(activation, "__name__", None)
        module = getattr(activation, "__module__", "") or ""
        if fname in _NP_ACTIVATIONS and (module.startswith("keras") or
                                         module.startswith("fastmask")):
            return fname, _NP_ACTIVATIONS[fname]
        return None, activation
    raise TypeError(f"`{name}` must be a str, None or a callable. "
                    f"Received: {name}={activation!r} (of type {type(activation).__name__})")


# ----------------------------------------------------------------- validation
def _flag(value, name):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")


def _mask_from_lengths(mask, lengths, padding, B, T):
    """The (B, T) mask that `lengths` (B,) ints in [0, T] and `padding` describe, or `mask`."""
    if lengths is None:
        if padding is not None:
            raise ValueError(f"`padding` goes with `lengths` (it says on which side of each "
                             f"row the padding is). Received: padding={padding!r}, "
                             f"lengths=None")
        return mask
    if mask is not None:
        raise ValueError("Pass either `mask` or `lengths`, not both.")
    padding = "post" if padding is None else padding
    n = as_array(lengths, "lengths")
    if n.dtype.kind not in "iu":
        raise TypeError(f"`lengths` must be an array of integers. "
                        f"Received: lengths of dtype {n.dtype}")
    if n.shape != (B,):
        raise ValueError(f"`lengths` must have shape (batch,) = ({B},). "
                         f"Received: lengths.shape={n.shape}")
    bad = np.flatnonzero((n < 0) | (n > T))
    if bad.size:
        raise ValueError(f"`lengths` must be in [0, timesteps] = [0, {T}]. "
                         f"Received: lengths[{bad[0]}]={n[bad[0]]}")
    return mask_from_lengths(n, maxlen=T, padding=padding, n_threads=1)


def _prepare(cell, x, kernel, recurrent_kernel, bias, mask, initial_state, reset_after,
             lengths=None, padding=None):
    """Validate and convert; returns a dict of contiguous arrays of x's float dtype."""
    x = as_float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"`x` must have rank 3 (batch, timesteps, features). "
                         f"Received: x.shape={x.shape}")
    B, T, F = x.shape
    if T == 0:
        raise ValueError(f"`x` must have at least one timestep. Received: x.shape={x.shape}")
    dt = x.dtype
    ng = _GATES[cell]
    rk = as_float_array(recurrent_kernel, "recurrent_kernel", dtype=dt)
    if rk.ndim != 2 or rk.shape[0] < 1 or rk.shape[1] != ng * rk.shape[0]:
        raise ValueError(f"`recurrent_kernel` must have shape (units, {ng} * units) with "
                         f"units >= 1 for {cell}. Received: recurrent_kernel.shape={rk.shape}")
    U = rk.shape[0]
    k = as_float_array(kernel, "kernel", dtype=dt)
    if k.shape != (F, ng * U):
        raise ValueError(f"`kernel` must have shape (features, {ng} * units) = {(F, ng * U)} "
                         f"for x.shape={x.shape} and units={U}. Received: kernel.shape={k.shape}")
    bias_rows = _bias_rows(cell, bias, U, dt, reset_after)
    mask = _mask_from_lengths(mask, lengths, padding, B, T)
    m = None
    if mask is not None:
        m = as_mask(mask, "mask", (B, T))
    states = _initial_state(cell, initial_state, B, U, dt)
    return dict(x=x, kernel=k, recurrent_kernel=rk, bias_rows=bias_rows, mask=m,
                states=states, B=B, T=T, F=F, U=U)


def _bias_rows(cell, bias, U, dt, reset_after):
    """The bias as (rows, U) in the layout fm_recurrent.h expects (zeros if None)."""
    if cell == "gru":
        shape = (2, 3 * U) if reset_after else (3 * U,)
    else:
        shape = (_GATES[cell] * U,)
    if bias is None:
        b = np.zeros(shape, dtype=dt)
    else:
        b = as_float_array(bias, "bias", dtype=dt)
        if b.shape != shape:
            hint = " (reset_after=True: (2, 3 * units))" if cell == "gru" else ""
            raise ValueError(f"`bias` must have shape {shape} for {cell}{hint}. "
                             f"Received: bias.shape={b.shape}")
    if cell == "gru" and reset_after:
        b0, b1 = b[0].reshape(3, U), b[1].reshape(3, U)
        return np.ascontiguousarray(np.stack([b0[0] + b1[0], b0[1] + b1[1], b0[2], b1[2]]))
    return np.ascontiguousarray(b.reshape(-1, U))


def _initial_state(cell, initial_state, B, U, dt):
    n = _N_STATES[cell]
    if initial_state is None:
        return [np.zeros((B, U), dtype=dt) for _ in range(n)]
    if isinstance(initial_state, (list, tuple)):
        states = list(initial_state)
    elif n == 1:
        states = [initial_state]
    else:
        raise ValueError(f"`initial_state` must be a list of {n} arrays (h, c) for {cell}. "
                         f"Received: initial_state of type {type(initial_state).__name__}")
    if len(states) != n:
        raise ValueError(f"`initial_state` must hold {n} state(s) for {cell}, each of shape "
                         f"(batch, units) = {(B, U)}. Received {len(states)} state(s).")
    out = []
    for i, s in enumerate(states):
        a = as_float_array(s, f"initial_state[{i}]", dtype=dt)
        if a.shape != (B, U):
            raise ValueError(f"`initial_state[{i}]` must have shape (batch, units) = {(B, U)}. "
                             f"Received: initial_state[{i}].shape={a.shape}")
        out.append(a)
    return out


# ------------------------------------------------------------------ reference
def _step_fn(cell, kernel, rk, bias, reset_after, act, ract):
    """Keras's cell `call` (implementation 2) as a NumPy function (x_t, states) -> (out, states)."""
    U = rk.shape[0]
    if cell == "lstm":
        def step(xt, states):
            h, c = states
            z = xt @ kernel
            z = z + h @ rk
            if bias is not None:
                z = z + bias
            i, f = ract(z[:, :U]), ract(z[:, U:2 * U])
            c = f * c + i * act(z[:, 2 * U:3 * U])
            o = ract(z[:, 3 * U:])
            h = o * act(c)
            return h, [h, c]
    elif cell == "gru":
        if bias is not None and reset_after:
            in_b, rec_b = bias[0], bias[1]
        else:
            in_b, rec_b = bias, None

        def step(xt, states):
            h = states[0]
            mx = xt @ kernel
            if in_b is not None:
                mx = mx + in_b
            x_z, x_r, x_h = mx[:, :U], mx[:, U:2 * U], mx[:, 2 * U:]
            if reset_after:
                inner = h @ rk
                if rec_b is not None:
                    inner = inner + rec_b
            else:
                inner = h @ rk[:, :2 * U]
            z = ract(x_z + inner[:, :U])
            r = ract(x_r + inner[:, U:2 * U])
            if reset_after:
                rh = r * inner[:, 2 * U:]
            else:
                rh = (r * h) @ rk[:, 2 * U:]
            hh = act(x_h + rh)
            h = z * h + (1 - z) * hh
            return h, [h]
    else:
        def step(xt, states):
            h = xt @ kernel
            if bias is not None:
                h = h + bias
            out = act(h + states[0] @ rk)
            return out, [out]
    return step


def rnn_reference(cell, x, kernel, recurrent_kernel, bias=None, mask=None, initial_state=None,
                  *, go_backwards=False, return_sequences=False, zero_output_for_mask=False,
                  unroll=False, activation="tanh", recurrent_activation="sigmoid",
                  reset_after=True):
    """Keras's numpy-backend loop in plain NumPy (any activation callable).

    `cell` is "lstm", "gru" or "simple_rnn"; arguments and results as `lstm`/`gru`/
    `simple_rnn`. Every step computes the full batch, like Keras.
    """
    if cell not in _GATES:
        raise ValueError(f"`cell` must be one of {tuple(_GATES)}. Received: cell={cell!r}")
    p = _prepare(cell, x, kernel, recurrent_kernel, bias, mask, initial_state, reset_after)
    return _reference_run(cell, p, bias, go_backwards, return_sequences, zero_output_for_mask,
                          unroll, resolve_activation(activation)[1],
                          resolve_activation(recurrent_activation, "recurrent_activation")[1],
                          reset_after)


def _reference_run(cell, p, bias, go_backwards, return_sequences, zero_output_for_mask, unroll,
                   act, ract, reset_after):
    x, T, U = p["x"], p["T"], p["U"]
    dt = x.dtype
    b = None if bias is None else np.asarray(bias, dtype=dt)
    step = _step_fn(cell, p["kernel"], p["recurrent_kernel"], b, reset_after, act, ract)
    states = [s.copy() for s in p["states"]]
    mask = p["mask"]
    outputs = np.empty((p["B"], T, U), dtype=dt) if return_sequences else None
    prev = np.zeros((p["B"], U), dtype=dt)
    o = prev
    for s in range(T):
        t = T - 1 - s if go_backwards else s
        out, new_states = step(x[:, t], states)
        if mask is None:
            o, states = out, new_states
        else:
            m = mask[:, t][:, None]
            if unroll:
                o = np.where(m, out, prev)
            elif zero_output_for_mask:
                o = np.where(m, out, np.zeros_like(out))
            else:
                o = np.where(m, out, states[0])
            states = [np.where(m, ns, st) for ns, st in zip(new_states, states)]
        prev = o
        if return_sequences:
            outputs[:, s] = o
    result = outputs if return_sequences else np.ascontiguousarray(o, dtype=dt)
    return (result, *[np.asarray(st, dtype=dt) for st in states])


# ------------------------------------------------------------------- kernels
def _last_output(h, mask, go_backwards, zero_output_for_mask, unroll):
    """Output of the last processed step, derived from the final h."""
    if mask is None:
        return h
    last_valid = mask[:, 0] if go_backwards else mask[:, -1]
    if last_valid.all():
        return h
    if unroll:
        keep = mask.any(axis=1)
    elif zero_output_for_mask:
        keep = last_valid
    else:
        return h
    return np.where(keep[:, None], h, h.dtype.type(0))


def _problem(cell, p, packed, go_backwards, return_sequences, zero_output_for_mask, unroll,
             act_c, ract_c, reset_after):
    """The compiled kernel's `Problem` for `_prepare`'s checked arrays p (`packed`
    used when it fits, else the weights packed now)."""
    if packed is None or not packed.matches(_recurrent.CELLS[cell], reset_after, p["F"],
                                            p["U"], p["x"].dtype):
        packed = _recurrent.pack(cell, p["kernel"], p["recurrent_kernel"], reset_after)
    mask_u8 = None if p["mask"] is None else p["mask"].view(np.uint8)
    h0 = p["states"][0]
    c0 = p["states"][1] if cell == "lstm" else h0
    return _recurrent.problem(cell, p["x"], packed, p["bias_rows"], h0, c0, mask_u8,
                              go_backwards, return_sequences, zero_output_for_mask, unroll,
                              act_c, ract_c)


def _result(cell, out, h, c, mask, go_backwards, return_sequences, zero_output_for_mask,
            unroll):
    """`_run`'s return value from the kernel's (out, h, c)."""
    if not return_sequences:
        out = _last_output(h, mask, go_backwards, zero_output_for_mask, unroll)
    return (out, h, c) if cell == "lstm" else (out, h)


def _run(cell, x, kernel, recurrent_kernel, bias, mask, initial_state, go_backwards,
         return_sequences, zero_output_for_mask, unroll, activation, recurrent_activation,
         reset_after, n_threads, packed=None, lengths=None, padding=None):
    go_backwards = _flag(go_backwards, "go_backwards")
    return_sequences = _flag(return_sequences, "return_sequences")
    zero_output_for_mask = _flag(zero_output_for_mask, "zero_output_for_mask")
    unroll = _flag(unroll, "unroll")
    reset_after = _flag(reset_after, "reset_after")
    act_c, act_np = resolve_activation(activation, "activation")
    ract_c, ract_np = resolve_activation(recurrent_activation, "recurrent_activation")
    n_threads = effective_num_threads(n_threads)
    p = _prepare(cell, x, kernel, recurrent_kernel, bias, mask, initial_state, reset_after,
                 lengths, padding)
    if act_c is None or ract_c is None:
        return _reference_run(cell, p, bias, go_backwards, return_sequences,
                              zero_output_for_mask, unroll, act_np, ract_np, reset_after)
    problem = _problem(cell, p, packed, go_backwards, return_sequences, zero_output_for_mask,
                       unroll, act_c, ract_c, reset_after)
    out, h, c = _recurrent.forward_many([problem], n_threads)[0]
    return _result(cell, out, h, c, p["mask"], go_backwards, return_sequences,
                   zero_output_for_mask, unroll)


def prepare(cell, x, kernel, recurrent_kernel, bias, *, go_backwards, return_sequences,
            zero_output_for_mask, unroll, activation, recurrent_activation, reset_after,
            packed=None):
    """The recurrence `_run(cell, x', kernel, ...)` would run, checked and laid out
    once for inputs x' of x's shape and dtype (`run_prepared` calls it with any mask
    and initial state): a `_recurrent.Recurrence`, or None when an activation is
    not compiled (`_run` runs those in NumPy)."""
    flags = [_flag(v, n) for v, n in ((go_backwards, "go_backwards"),
                                      (return_sequences, "return_sequences"),
                                      (zero_output_for_mask, "zero_output_for_mask"),
                                      (unroll, "unroll"), (reset_after, "reset_after"))]
    act_c = resolve_activation(activation, "activation")[0]
    ract_c = resolve_activation(recurrent_activation, "recurrent_activation")[0]
    if act_c is None or ract_c is None:
        return None
    p = _prepare(cell, x, kernel, recurrent_kernel, bias, None, None, flags[4])
    return _recurrent.Recurrence(_problem(cell, p, packed, *flags[:4], act_c, ract_c,
                                          flags[4]))


def run_prepared(recurrence, cell, x, mask, initial_state, n_threads=None):
    """`_run`'s result for a `prepare`d recurrence on x (its shape and dtype), mask
    ((B, T) bool or None) and initial_state (None: zeros, or the states `_run`
    takes); None when the call is better run by `_run` (the batch split into parts,
    or arrays that do not fit the recurrence)."""
    if type(x) is not np.ndarray or x.dtype != recurrence.dtype or x.shape != (
            recurrence.B, recurrence.T, recurrence.F) or not (x.flags.c_contiguous
                                                           and x.flags.aligned):
        return None
    m = None
    if mask is not None:
        if not (type(mask) is np.ndarray and mask.dtype == np.bool_
                and mask.shape == x.shape[:2] and mask.flags.c_contiguous):
            return None
        m = mask.view(np.uint8)
    h0 = c0 = None
    if initial_state is not None:
        states = _initial_state(cell, initial_state, recurrence.B, recurrence.U, x.dtype)
        h0, c0 = states[0], (states[1] if cell == "lstm" else None)
    res = recurrence(x, h0, c0, m, effective_num_threads(n_threads))
    if res is None:
        return None
    return _result(cell, *res, mask, recurrence.go_backwards, recurrence.return_sequences,
                   recurrence.zero_output_for_mask, recurrence.unroll)


def run_repeated(recurrence, cell, x, n_threads=None):
    """`run_prepared(recurrence, cell, np.repeat(x[:, None], T, axis=1), None, None)`
    for x (B, F) of the recurrence's dtype (its input at every step, as RepeatVector
    makes it) without making the repeated array: each row's input projections are
    computed once, not once a step. The same results, bit for bit."""
    res = recurrence(np.ascontiguousarray(x), None, None, None,
                     effective_num_threads(n_threads), True)
    return _result(cell, *res, None, recurrence.go_backwards, recurrence.return_sequences,
                   recurrence.zero_output_for_mask, recurrence.unroll)


def _run_many(cell, x, specs, mask, return_sequences, zero_output_for_mask, unroll,
              n_threads, concat=False):
    """Several recurrences of the same cell type over the same x and mask, run in
    one OpenMP team (each thread takes whole recurrences or batch parts of them:
    no barrier). Used by Bidirectional: specs[1] is the backward half with
    out_time=True (its sequence output comes back in time order).

    specs: [dict(kernel, recurrent_kernel, bias, initial_state, go_backwards,
    activation, recurrent_activation, reset_after, out_time, packed)]; `packed`
    (optional, from `pack_weights`) is used when it matches the call.
    Returns (results as `_run` gives them, the (B, T, n * U) concat buffer or
    None), or None when an activation needs the NumPy reference loop.
    """
    n_threads = effective_num_threads(n_threads)
    preps, problems = [], []
    for sp in specs:
        act_c = resolve_activation(sp["activation"], "activation")[0]
        ract_c = resolve_activation(sp["recurrent_activation"], "recurrent_activation")[0]
        if act_c is None or ract_c is None:
            return None
        p = _prepare(cell, x, sp["kernel"], sp["recurrent_kernel"], sp["bias"], mask,
                     sp["initial_state"], sp["reset_after"])
        preps.append((p, act_c, ract_c))
    B, T, U = preps[0][0]["B"], preps[0][0]["T"], preps[0][0]["U"]
    buf = None
    if concat and return_sequences:
        buf = np.empty((B, T, len(specs) * U), dtype=preps[0][0]["x"].dtype)
    for i, (sp, (p, act_c, ract_c)) in enumerate(zip(specs, preps)):
        packed = sp.get("packed")
        if packed is None or not packed.matches(_recurrent.CELLS[cell], sp["reset_after"],
                                                p["F"], p["U"], p["x"].dtype):
            packed = _recurrent.pack(cell, p["kernel"], p["recurrent_kernel"], sp["reset_after"])
        mask_u8 = None if p["mask"] is None else p["mask"].view(np.uint8)
        h0 = p["states"][0]
        c0 = p["states"][1] if cell == "lstm" else h0
        problems.append(_recurrent.problem(
            cell, p["x"], packed, p["bias_rows"], h0, c0, mask_u8, sp["go_backwards"],
            return_sequences, zero_output_for_mask, unroll, act_c, ract_c,
            out=buf, out_offset=i * U, out_time=sp.get("out_time", False)))
    results = []
    for sp, (p, _, _), (out, h, c) in zip(specs, preps,
                                           _recurrent.forward_many(problems, n_threads)):
        if not return_sequences:
            out = _last_output(h, p["mask"], sp["go_backwards"], zero_output_for_mask, unroll)
        results.append((out, h, c) if cell == "lstm" else (out, h))
    return results, buf


def pack_weights(cell, kernel, recurrent_kernel, reset_after=True, dtype=np.float32):
    """`kernel` (F, NG*U) and `recurrent_kernel` (U, NG*U) packed for the compiled kernel
    (what `_run` would pack on each call), in `dtype`; pass it back as `packed=` for as
    long as the weights do not change (`_run` checks that it fits the call and packs
    afresh when it does not: other shapes, dtype or ISA)."""
    if cell not in _GATES:
        raise ValueError(f"`cell` must be one of {tuple(_GATES)}. Received: cell={cell!r}")
    dt = np.dtype(dtype)
    ng = _GATES[cell]
    rk = as_float_array(recurrent_kernel, "recurrent_kernel", dtype=dt)
    k = as_float_array(kernel, "kernel", dtype=dt)
    if rk.ndim != 2 or rk.shape[0] < 1 or rk.shape[1] != ng * rk.shape[0] or k.ndim != 2 \
            or k.shape[1] != rk.shape[1]:
        raise ValueError(f"`kernel` and `recurrent_kernel` must have shapes (features, {ng} * "
                         f"units) and (units, {ng} * units) for {cell}. Received: "
                         f"kernel.shape={k.shape}, recurrent_kernel.shape={rk.shape}")
    return _recurrent.pack(cell, k, rk, _flag(reset_after, "reset_after"))


def isa_in_use():
    """The instruction-set variant the compiled recurrent kernels run now."""
    return _recurrent.isa_in_use()


def lstm(x, kernel, recurrent_kernel, bias=None, mask=None, initial_state=None, *,
         go_backwards=False, return_sequences=False, zero_output_for_mask=False, unroll=False,
         activation="tanh", recurrent_activation="sigmoid", lengths=None, padding=None,
         n_threads=None):
    """Masked LSTM forward pass -> (output, h, c).

    x (B, T, F); kernel (F, 4U); recurrent_kernel (U, 4U); bias (4U,) or None;
    mask (B, T) bool or None; initial_state [h0 (B, U), c0 (B, U)] or None.
    Instead of `mask`: `lengths` (B,) ints in [0, T], the valid steps at the
    start of each row (`padding="post"`, the default) or at its end ("pre",
    the layout of `pad_sequences`' default).
    output: (B, T, U) with return_sequences (processing order) else (B, U).
    Dtype: x's float dtype (float32/float64); weights are cast to it.
    """
    return _run("lstm", x, kernel, recurrent_kernel, bias, mask, initial_state, go_backwards,
                return_sequences, zero_output_for_mask, unroll, activation,
                recurrent_activation, True, n_threads, lengths=lengths, padding=padding)


def gru(x, kernel, recurrent_kernel, bias=None, mask=None, initial_state=None, *,
        go_backwards=False, return_sequences=False, zero_output_for_mask=False, unroll=False,
        activation="tanh", recurrent_activation="sigmoid", reset_after=True, lengths=None,
        padding=None, n_threads=None):
    """Masked GRU forward pass -> (output, h).

    x (B, T, F); kernel (F, 3U); recurrent_kernel (U, 3U); bias (2, 3U) if
    reset_after else (3U,), or None; mask (B, T) bool or None (or `lengths`
    and `padding`, as in `lstm`); initial_state h0 (B, U) (or [h0]) or None.
    """
    return _run("gru", x, kernel, recurrent_kernel, bias, mask, initial_state, go_backwards,
                return_sequences, zero_output_for_mask, unroll, activation,
                recurrent_activation, reset_after, n_threads, lengths=lengths, padding=padding)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, mask=None, initial_state=None, *,
               go_backwards=False, return_sequences=False, zero_output_for_mask=False,
               unroll=False, activation="tanh", lengths=None, padding=None, n_threads=None):
    """Masked SimpleRNN forward pass -> (output, h).

    x (B, T, F); kernel (F, U); recurrent_kernel (U, U); bias (U,) or None;
    mask (B, T) bool or None (or `lengths` and `padding`, as in `lstm`);
    initial_state h0 (B, U) (or [h0]) or None.
    """
    return _run("simple_rnn", x, kernel, recurrent_kernel, bias, mask, initial_state,
                go_backwards, return_sequences, zero_output_for_mask, unroll, activation,
                "sigmoid", True, n_threads, lengths=lengths, padding=padding)
