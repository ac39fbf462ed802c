"""Masked reductions over the time axis, as plain NumPy functions.

    masked_mean(x, mask=None, axis=1, *, empty_value=0.0, keepdims=False, n_threads=None)
    masked_sum / masked_max / masked_min (same signature)

x has shape (batch, ..., time, ...) with the time axis at `axis` (>= 1) and
mask shape (batch, time) (True = keep; numeric masks keep nonzero entries, as
Keras's cast to bool). The reduction runs over the kept time steps only.
A sample with no kept step gets `empty_value` (default 0.0; pass np.nan for
keras.layers.GlobalAveragePooling1D's 0/0). NaN inputs propagate through
max/min as in NumPy. One pass over x; masked steps are not read.
"""
import math
import numbers

import numpy as np

from ._threads import effective_num_threads
from ._validation import as_float_array, as_mask
from . import _pooling

__all__ = ["masked_mean", "masked_sum", "masked_max", "masked_min"]

_SUM, _MEAN, _MAX, _MIN = 0, 1, 2, 3
_NO_MASK = np.zeros(1, dtype=np.uint8)


def _reduce(x, mask, axis, op, empty_value, keepdims, n_threads):
    xa = as_float_array(x, "x")
    if xa.ndim < 2:
        raise ValueError(f"`x` must have rank >= 2 (batch, time, ...). "
                         f"Received: x.shape={xa.shape}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"`axis` must be an int. Received: axis={axis!r}")
    ax = int(axis)
    if not -xa.ndim <= ax < xa.ndim or ax % xa.ndim == 0:
        raise ValueError(f"`axis` must name a time axis after the batch axis (1 <= axis < "
                         f"{xa.ndim}, or negative). Received: axis={axis!r}")
    ax %= xa.ndim
    if isinstance(empty_value, bool) or not isinstance(empty_value, numbers.Real):
        raise TypeError(f"`empty_value` must be a real number. "
                        f"Received: empty_value={empty_value!r}")
    n_batch, n_time = xa.shape[0], xa.shape[ax]
    if mask is None:
        m = _NO_MASK
    else:
        m = as_mask(mask, "mask", (n_batch, n_time)).view(np.uint8).reshape(-1)
    n_pre = math.prod(xa.shape[1:ax])        # math.prod: np.prod cost ~10 us a call
    n_post = math.prod(xa.shape[ax + 1:])
    out_shape = xa.shape[:ax] + xa.shape[ax + 1:]
    out = np.empty(out_shape, dtype=xa.dtype)
    _pooling.masked_reduce_flat(xa.reshape(-1), m if m.size else _NO_MASK, mask is not None,
                                n_batch, n_pre, n_time, n_post, op, float(empty_value),
                                out.reshape(-1), effective_num_threads(n_threads))
    return np.expand_dims(out, ax) if keepdims else out


def masked_sum(x, mask=None, axis=1, *, empty_value=0.0, keepdims=False, n_threads=None):
    """Sum of x over its kept time steps: (batch, ..., time, ...) -> without `axis`.

    Sums accumulate in float64 (float32 input: float32 only within groups of 16
    kept steps), so the result keeps float32 accuracy at any length (the mean
    of 2**25 float32 ones is exactly 1.0). Same bits for any thread count.
    """
    return _reduce(x, mask, axis, _SUM, empty_value, keepdims, n_threads)


def masked_mean(x, mask=None, axis=1, *, empty_value=0.0, keepdims=False, n_threads=None):
    """Mean of x over its kept time steps (sum / count); `empty_value` if none kept.

    With empty_value=np.nan this is keras.layers.GlobalAveragePooling1D's result.
    """
    return _reduce(x, mask, axis, _MEAN, empty_value, keepdims, n_threads)


def masked_max(x, mask=None, axis=1, *, empty_value=0.0, keepdims=False, n_threads=None):
    """Max of x over its kept time steps (NaN propagates); `empty_value` if none kept."""
    return _reduce(x, mask, axis, _MAX, empty_value, keepdims, n_threads)


def masked_min(x, mask=None, axis=1, *, empty_value=0.0, keepdims=False, n_threads=None):
    """Min of x over its kept time steps (NaN propagates); `empty_value` if none kept."""
    return _reduce(x, mask, axis, _MIN, empty_value, keepdims, n_threads)
