"""Sliding-window max / average pooling over the steps axis, in NumPy.

    max_pool1d(x, pool_size, strides=None, padding="valid", data_format="channels_last")
    average_pool1d(x, pool_size, strides=None, padding="valid", data_format="channels_last")

Keras 3's semantics (its NumPy backend runs XLA's reduce_window): windows of
`pool_size` steps every `strides` steps (default `pool_size`); "same" pads
`total // 2` steps on the left and the rest on the right, padded steps never
win a max and are not counted in an average (the average divides by the
number of real steps in the window). Masks are ignored, as in Keras.

Each function makes `pool_size` vectorised passes over the input (one per
window tap, each a strided slice), writing the output in place; no window
array or padded copy is built. Float inputs keep their dtype (float16 too);
max pooling keeps integer and bool dtypes, average pooling of integers gives
float32. NaN propagates through both, as in XLA. A "valid" window longer than the
input gives an empty steps axis, as Keras's eager call does.
"""
import numpy as np

from ._validation import as_array

__all__ = ["max_pool1d", "average_pool1d", "pool1d_output_length"]


def pool1d_output_length(length, pool_size, strides, padding="valid"):
    """Output steps for `length` input steps (None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - pool_size) // strides + 1
    return (length - 1) // strides + 1 if length > 0 else 0


def _args(x, pool_size, strides, padding, data_format):
    x = as_array(x, "x")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"`x` must be a real numeric array. Received: x of dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"`x` must have rank 3 (batch, steps, channels). "
                         f"Received: x.shape={x.shape}")
    sizes = []
    for name, value in (("pool_size", pool_size), ("strides", strides)):
        if isinstance(value, (tuple, list)) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        sizes.append(int(value))
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    pool, stride = sizes
    axis = 2 if data_format == "channels_first" else 1
    length = x.shape[axis]
    padding = padding.lower()
    # A window longer than the input gives no output steps (an empty result, as Keras).
    out_length = max(pool1d_output_length(length, pool, stride, padding), 0)
    left = 0 if padding == "valid" else max((out_length - 1) * stride + pool - length, 0) // 2
    return x, pool, stride, axis, length, out_length, left


def _taps(pool, stride, length, out_length, left):
    """[(first output, end output, first input step)] of each window tap that hits the input."""
    taps = []
    for p in range(pool):
        shift = p - left                                   # input step of output i: i*s+shift
        lo = -(shift // stride) if shift < 0 else 0
        hi = min(out_length, (length - 1 - shift) // stride + 1) if length - 1 - shift >= 0 else 0
        if hi > lo:
            taps.append((lo, hi, lo * stride + shift))
    return taps


def _along(axis, sl):
    return (slice(None), sl) if axis == 1 else (slice(None), slice(None), sl)


def max_pool1d(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Max over each window of `pool_size` steps (see the module docstring)."""
    x, pool, stride, axis, length, out_length, left = _args(
        x, pool_size, pool_size if strides is None else strides, padding, data_format)
    shape = list(x.shape)
    shape[axis] = out_length
    out = np.empty(shape, x.dtype)
    if out.size == 0:
        return out
    if x.dtype.kind == "f":
        out[...] = -np.inf
    elif x.dtype.kind == "b":
        out[...] = False
    else:
        out[...] = np.iinfo(x.dtype).min
    for lo, hi, start in _taps(pool, stride, length, out_length, left):
        stop = start + (hi - lo - 1) * stride + 1
        dst = out[_along(axis, slice(lo, hi))]
        np.maximum(dst, x[_along(axis, slice(start, stop, stride))], out=dst)
    return out


def average_pool1d(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Mean over the real steps of each window of `pool_size` steps."""
    x, pool, stride, axis, length, out_length, left = _args(
        x, pool_size, pool_size if strides is None else strides, padding, data_format)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    shape = list(x.shape)
    shape[axis] = out_length
    out = np.zeros(shape, dtype)
    if out.size == 0:
        return out
    counts = np.zeros(out_length, dtype)
    for lo, hi, start in _taps(pool, stride, length, out_length, left):
        stop = start + (hi - lo - 1) * stride + 1
        dst = out[_along(axis, slice(lo, hi))]
        np.add(dst, x[_along(axis, slice(start, stop, stride))], out=dst, casting="unsafe")
        counts[lo:hi] += 1
    if padding.lower() == "valid":
        out /= dtype.type(pool)
    else:
        out /= counts[:, None] if axis == 1 else counts
    return out
