"""Masked softmax with Keras's semantics, as a plain NumPy function.

    masked_softmax(x, mask=None, axis=-1, out=None, n_threads=None)

Keras (layers/activations/softmax.py, numpy backend):
    y = where(mask, x, -1e9)            (-3e4 for float16 input)
    out = softmax(y, axis)              (exp(y - max) / sum)
    out = where(mask, out, 0)
so masked entries are exactly 0 and a fully masked row is all zeros. A NaN or
+inf logit among the kept entries, or a row whose kept logits are all -inf
with nothing masked, gives NaN on the row's kept entries, as in NumPy.
"""
import math

import numpy as np

from ._threads import effective_num_threads
from ._validation import _describe, as_float_array, as_mask_array
from . import _softmax

__all__ = ["masked_softmax"]

_REPLACE, _SUBTRACT, _LSE_INF = 0, 1, 2
_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_U8 = np.zeros(1, dtype=np.uint8)


def keras_mask_fill(dtype):
    """Keras's large negative number for masked logits (Softmax layer)."""
    return -3e4 if np.dtype(dtype) == np.float16 else -1e9


def _normalize_axis(axis, ndim):
    """`axis` as a sorted tuple of non-negative ints (ValueError/TypeError otherwise)."""
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"`axis` {a} is out of bounds for an input of rank {ndim}. "
                             f"Received: axis={axis!r}")
        out.append(a % ndim)
    if not out:
        raise ValueError(f"`axis` must name at least one axis. Received: axis={axis!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"`axis` has repeated axes. Received: axis={axis!r}")
    return tuple(sorted(out))


def as_broadcast_mask(mask, shape, name="mask"):
    """`mask` as a C-contiguous uint8 array (1 = keep) of rank len(shape).

    Keras's rule (Softmax.call): the mask may not have more dimensions than
    the input, and each trailing mask dimension must be 1 or equal the
    input's. Bool masks are used as is; other numeric masks keep `mask > 0.5`
    (Keras's Softmax rule); other dtypes and NaN raise (`check_mask_values`).
    """
    m = as_mask_array(mask, name)
    if m.ndim > len(shape):
        raise ValueError(f"The `{name}` must be broadcastable to `inputs` and must not have more "
                         f"dimensions. Received: inputs.shape={tuple(shape)}, "
                         f"{name}.shape={m.shape}")
    for md, xd in zip(m.shape[::-1], tuple(shape)[::-1]):
        if md != 1 and md != xd:
            raise ValueError(f"The `{name}` must be broadcastable to `inputs`. Each mask dimension "
                             f"must be 1 or match the corresponding input dimension. Received: "
                             f"inputs.shape={tuple(shape)}, {name}.shape={m.shape}")
    if m.dtype.kind != "b":
        m = m > 0.5
    m = m.reshape((1,) * (len(shape) - m.ndim) + m.shape)
    return np.ascontiguousarray(m).view(np.uint8)


def _collapse(shape, strides):
    """Merge adjacent dims (C order) whose strides allow it; drop size-1 dims."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    out = []
    for n, s in dims:
        if out and out[-1][1] == s * n:
            out[-1] = (out[-1][0] * n, s)
        else:
            out.append((n, s))
    return out


def _mask_layout(m, shape, axis):
    """Element strides of mask `m` (broadcast to `shape`) for the kernel:
    (mask, outer_shape, outer_strides, m_ls, m_is)."""
    ndim = len(shape)
    inner = range(axis + 1, ndim)
    full = [m.shape[d] == shape[d] or shape[d] == 1 for d in inner]
    bcast = [m.shape[d] == 1 or shape[d] == 1 for d in inner]
    if not (all(full) or all(bcast)):
        # Mixed inner broadcasting: expand the inner dims so they form one block.
        target = m.shape[:axis + 1] + tuple(shape[axis + 1:])
        m = np.ascontiguousarray(np.broadcast_to(m, target))
    elem = [s // m.itemsize for s in m.strides]
    mstr = [0 if m.shape[d] == 1 else elem[d] for d in range(ndim)]
    outer = _collapse(shape[:axis], mstr[:axis])
    outer_shape = np.array([n for n, _ in outer], dtype=np.int64)
    outer_strides = np.array([s for _, s in outer], dtype=np.int64)
    m_ls = mstr[axis]
    inner_size = math.prod(shape[axis + 1:])
    m_is = 1 if (inner_size > 1 and any(mstr[d] for d in inner)) else 0
    return m.reshape(-1), outer_shape, outer_strides, m_ls, m_is


def _softmax_call(x, m, axis, out, mode, fill, zero_masked, n_threads):
    """Run the kernel on C-contiguous `x` over the single axis `axis`."""
    shape = x.shape
    n_outer = math.prod(shape[:axis])
    n_axis = shape[axis]
    n_inner = math.prod(shape[axis + 1:])
    if m is None:
        mflat, oshape, ostr, m_ls, m_is = _EMPTY_U8, _EMPTY_I64, _EMPTY_I64, 0, 0
    elif m.shape == shape:      # full mask: rows of the mask follow the rows of x
        mflat, m_ls, m_is = m.reshape(-1), n_inner, 1 if n_inner > 1 else 0
        oshape = np.array([n_outer], np.int64)
        ostr = np.array([n_axis * n_inner], np.int64)
    else:
        mflat, oshape, ostr, m_ls, m_is = _mask_layout(m, shape, axis)
    _softmax.masked_softmax_flat(
        x.reshape(-1), out.reshape(-1), n_outer, n_axis, n_inner,
        mflat if mflat.size else _EMPTY_U8, m is not None, oshape, ostr, m_ls, m_is,
        mode, float(fill), bool(zero_masked), effective_num_threads(n_threads))
    return out


def _check_out(out, x):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"`out` must be a NumPy array. Received: out={_describe(out)}")
    if out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise ValueError(f"`out` must be a writeable C-contiguous array of shape {x.shape} and "
                         f"dtype {x.dtype}. Received: out={_describe(out)}")
    return out


def _masked_softmax(x, mask, axis, *, mode, fill, zero_masked, out=None, n_threads=None):
    """Shared driver: validation, axis handling, tuple axes by transposition."""
    xa = as_float_array(x, "x", min_ndim=1)
    if fill is None:
        fill = keras_mask_fill(getattr(x, "dtype", xa.dtype))
    axes = _normalize_axis(axis, xa.ndim)
    m = None if mask is None else as_broadcast_mask(mask, xa.shape)
    if out is not None:
        out = _check_out(out, xa)
        if out is not xa and np.shares_memory(out, xa) and not (
                out.__array_interface__["data"][0] == xa.__array_interface__["data"][0]
                and out.strides == xa.strides):
            xa = xa.copy()  # `out` partially overlaps `x`: read from a copy
    if xa.size == 0:
        return np.empty_like(xa) if out is None else out
    if len(axes) == 1:
        if out is None:
            out = np.empty_like(xa)
        return _softmax_call(xa, m, axes[0], out, mode, fill, zero_masked, n_threads)
    # Several axes: one softmax over their product (Keras: exp(x - logsumexp)).
    keep = [d for d in range(xa.ndim) if d not in axes]
    perm = keep + list(axes)
    first = len(keep)
    adjacent = axes == tuple(range(axes[0], axes[-1] + 1))
    if adjacent:
        perm = list(range(xa.ndim))
        first = axes[0]
    xt = np.ascontiguousarray(xa.transpose(perm))
    merged = xt.shape[:first] + (-1,) + xt.shape[first + len(axes):]
    xt = xt.reshape(merged)
    mt = None
    if m is not None:
        mt = np.broadcast_to(m, xa.shape).transpose(perm)
        # Keep broadcast dims outside the merged axes; materialise inside.
        tgt = tuple(1 if (m.shape[p] == 1 and p not in axes) else xa.shape[p] for p in perm)
        mt = np.ascontiguousarray(np.broadcast_to(m.transpose(perm), tgt)).reshape(
            tgt[:first] + (-1,) + tgt[first + len(axes):])
    res = np.empty_like(xt)
    _softmax_call(xt, mt, first, res, mode | _LSE_INF, fill, zero_masked, n_threads)
    res = res.reshape([xa.shape[p] for p in perm]).transpose(np.argsort(perm))
    if out is None:
        return np.ascontiguousarray(res)
    np.copyto(out, res)
    return out


def masked_softmax(x, mask=None, axis=-1, *, out=None, n_threads=None):
    """Softmax of `x` along `axis` with Keras's boolean mask (True = keep).

    Args:
        x: float array (float32/float64 kept; float16, ints and bools computed
            as float32), any rank >= 1; may be non-contiguous or read-only.
        mask: None, or a bool/numeric array broadcastable to `x` the Keras way:
            rank <= x's, each trailing dimension 1 or equal to x's. Non-bool
            masks keep `mask > 0.5`.
        axis: int or tuple of ints (a tuple normalises over all of them, like
            `keras.layers.Softmax(axis=(...))`).
        out: optional C-contiguous array of x's shape and (float) dtype to
            write into; may be `x` itself for an in-place softmax.
        n_threads: OpenMP threads (None: fastmask's setting).

    Returns:
        Array of x's shape, float32 or float64: masked entries are 0 and a
        fully masked row is all zeros.
    """
    return _masked_softmax(x, mask, axis, mode=_REPLACE, fill=None, zero_masked=True,
                           out=out, n_threads=n_threads)
