"""`keras.ops.math` over NumPy: logsumexp, top_k, segment reductions, FFTs, and
fastmask's masked reductions over a time axis (the kernels of `fastmask.kernels`).

Each op is `@op(rule)` (see `symbolic.py`). FFTs take and return `(real, imag)`
pairs, as Keras's.
"""
import numpy as np

from ..core.shape_inference import shape_of
from ..kernels import pooling as _pooling_kernels
from .dtypes import FLOATX, as_array, float_array
from .symbolic import canonical_axis, op, probe_dtype, reduce_shape, reduction, spec

__all__ = ["logsumexp", "top_k", "segment_sum", "segment_max", "rfft", "fft2",
           "masked_mean", "masked_sum", "masked_max", "masked_min"]


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@op(reduction)
def logsumexp(x, axis=None, keepdims=False):
    x = float_array(x)
    m = np.max(x, axis=_axis(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=_axis(axis), keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_axis(axis))


def _top_k_rule(fn, x, k, sorted=True):
    shape = shape_of(x)
    if shape[-1] is not None and k > shape[-1]:
        raise ValueError(f"`k` must be at most the size of the last axis ({shape[-1]}). "
                         f"Received: k={k}")
    out = shape[:-1] + (k,)
    return spec(out, x.dtype), spec(out, "int64")


@op(_top_k_rule)
def top_k(x, k, sorted=True):
    """(values, indices) of the `k` largest entries along the last axis (largest first).

    Indices are int64, as Keras's NumPy backend gives them (its symbolic spec says int32).
    """
    x = as_array(x)
    if k > x.shape[-1]:
        raise ValueError(f"`k` must be at most the size of the last axis ({x.shape[-1]}). "
                         f"Received: k={k}")
    if sorted:
        # Descending, ties lower index first (as jax/tf; Keras's NumPy backend leaves ties in
        # argsort's order): a stable ascending sort of the reversed axis, read backwards.
        n = x.shape[-1]
        indices = (n - 1) - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    else:
        indices = np.argpartition(x, -k, axis=-1)[..., -k:]
    return np.take_along_axis(x, indices, axis=-1), indices.astype("int64")


def _segment_rule(fn, data, segment_ids, num_segments=None, sorted=False):
    dshape, ishape = shape_of(data), shape_of(segment_ids)
    if len(ishape) != 1:
        raise ValueError(f"Argument `segment_ids` should be an 1-D vector, got shape: "
                         f"{len(ishape)}. Received: segment_ids.shape={ishape}")
    if ishape[0] is not None and dshape[0] is not None and ishape[0] != dshape[0]:
        raise ValueError("Argument `segment_ids` and `data` should have same leading "
                         f"dimension. Got {ishape} v.s. {dshape}.")
    dtype = probe_dtype(fn, data, np.zeros(1, "int32"), 1)
    return spec((num_segments,) + tuple(dshape[1:]), dtype)


def _segment_reduce(data, segment_ids, num_segments, reduce, fill):
    """`reduce` of the rows of `data` per segment id into `num_segments` rows of `fill`
    (ids < 0 or >= num_segments are dropped), in NumPy's dtype of `data` with `fill`."""
    data, segment_ids = as_array(data), as_array(segment_ids)
    if segment_ids.ndim != 1:
        raise ValueError(f"Argument `segment_ids` should be an 1-D vector, got shape: "
                         f"{segment_ids.ndim}. Received: segment_ids.shape={segment_ids.shape}")
    if segment_ids.shape[0] != data.shape[0]:
        raise ValueError("Argument `segment_ids` and `data` should have same leading "
                         f"dimension. Got {segment_ids.shape} v.s. {data.shape}.")
    if num_segments is None:
        num_segments = int(np.max(segment_ids)) + 1 if segment_ids.size else 0
    keep = (segment_ids >= 0) & (segment_ids < num_segments)
    out = np.full((num_segments,) + data.shape[1:], fill,
                  dtype=np.result_type(data.dtype, fill))
    reduce.at(out, segment_ids[keep], data[keep])
    return out


@op(_segment_rule)
def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of `data` per segment id (ids < 0 or >= num_segments dropped)."""
    return _segment_reduce(data, segment_ids, num_segments, np.add, 0)


@op(_segment_rule)
def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of the rows of `data` per segment id; -inf for an empty segment (so integer
    data gives float64, as Keras's NumPy backend)."""
    return _segment_reduce(data, segment_ids, num_segments, np.maximum, -np.inf)


def _complex_pair(x, name="x"):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError("Input `x` should be a tuple of two tensors - real and imaginary. "
                         f"Received: {name}={x}")
    real, imag = as_array(x[0]), as_array(x[1])
    if real.shape != imag.shape:
        raise ValueError("Input `x` should be a tuple of two tensors - real and imaginary. "
                         "Both the real and imaginary parts should have the same shape. "
                         f"Received: x[0].shape = {real.shape}, x[1].shape = {imag.shape}")
    if real.dtype.kind != "f" or imag.dtype.kind != "f":
        raise ValueError("At least one tensor in input `x` is not of type float. "
                         f"Received: x={x}.")
    return real, imag


def _rfft_rule(fn, x, fft_length=None):
    shape = shape_of(x)
    n = shape[-1] if fft_length is None else fft_length
    out = shape[:-1] + (None if n is None else n // 2 + 1,)
    return spec(out, x.dtype), spec(out, x.dtype)


@op(_rfft_rule)
def rfft(x, fft_length=None):
    """FFT of a real signal along the last axis: `(real, imag)`, each `n // 2 + 1` long,
    in `x`'s dtype (Keras's rule)."""
    x = as_array(x)
    out = np.fft.rfft(x, n=fft_length, axis=-1)
    return np.real(out).astype(x.dtype), np.imag(out).astype(x.dtype)


def _fft2_rule(fn, x):
    real, imag = x
    shape = shape_of(real)
    if len(shape) < 2:
        raise ValueError(f"Input `x` must have rank >= 2 for `fft2`. Received: "
                         f"x[0].shape={shape}")
    return spec(shape, FLOATX), spec(shape, FLOATX)


@op(_fft2_rule)
def fft2(x):
    """2-D FFT over the last two axes of the complex `(real, imag)` pair: `(real, imag)`,
    float32 (as Keras's NumPy backend, which computes it in JAX's complex64)."""
    real, imag = _complex_pair(x)
    out = np.fft.fft2(real + 1j * imag, axes=(-2, -1))
    return np.real(out).astype(FLOATX), np.imag(out).astype(FLOATX)


def _masked_reduce_rule(fn, x, mask=None, axis=1, *, keepdims=False, **kwargs):
    dtype = x.dtype if x.dtype in ("float32", "float64") else FLOATX
    return spec(reduce_shape(shape_of(x), canonical_axis(axis, len(shape_of(x))), keepdims),
                dtype)


masked_mean = op(_masked_reduce_rule)(_pooling_kernels.masked_mean)
masked_sum = op(_masked_reduce_rule)(_pooling_kernels.masked_sum)
masked_max = op(_masked_reduce_rule)(_pooling_kernels.masked_max)
masked_min = op(_masked_reduce_rule)(_pooling_kernels.masked_min)
