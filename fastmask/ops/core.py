"""`keras.ops.core` over NumPy: conversion, `shape`, `cast`, `cond`, `slice`, `unstack`.

`shape(x)` of a KerasTensor gives None for unknown dims, as Keras; while shape
inference traces a layer's `call` it gives `Dim`s instead (one symbol for all
unknown dims, as Keras's JAX backend), so that `ops.arange(ops.shape(x)[1])`,
`ops.reshape(x, (batch, -1, h, d))` or `ops.tile(m, reps)` run symbolically.
"""
import builtins

import numpy as np

from ..core.shape_inference import is_tracing, shape_of
from ..core.tensor import Dim, KerasTensor, plain, standardize_dtype
from ..core.tree import flatten, pack_as
from .dtypes import dtype_of, result_type, to_array
from .symbolic import canonical_axis, op, probe_dtype, spec

__all__ = ["cast", "convert_to_tensor", "convert_to_numpy", "is_tensor", "shape", "dtype",
           "cond", "slice", "unstack"]


def _same_shape_as(fn, x, *args, **kwargs):
    return spec(shape_of(x), probe_dtype(fn, x, *args, **kwargs))


@op(_same_shape_as)
def cast(x, dtype):
    """`x` converted to `dtype`."""
    return to_array(x, dtype)


def _convert_rule(fn, x, dtype=None):
    if dtype is None:
        dtype = dtype_of(x)
        dtype = result_type(dtype) if dtype in (int, float, bool) else dtype
    return spec(shape_of(x), standardize_dtype(dtype))


@op(_convert_rule)
def _convert(x, dtype=None):
    return to_array(x, dtype)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as an ndarray (Keras dtype rules: Python ints -> int32, floats -> float32).

    A KerasTensor is returned as it is (cast when `dtype` differs); unknown sizes
    (`Dim`s) and lists of them give KerasTensors.
    """
    if sparse or ragged:
        raise ValueError("`sparse=True`/`ragged=True` are not supported by fastmask.")
    if isinstance(x, KerasTensor):
        return cast(x, dtype) if dtype is not None and standardize_dtype(dtype) != x.dtype else x
    return _convert(x, dtype)


def convert_to_numpy(x):
    """A NumPy copy of `x` (a KerasTensor has no values: SymbolicValueError)."""
    return np.array(plain(x))


def is_tensor(x):
    """True for ndarrays (and, while shape inference traces a call, for KerasTensors,
    which stand for the arrays the call will get)."""
    if isinstance(x, KerasTensor):
        return is_tracing()
    return isinstance(x, (np.ndarray, np.generic))


def shape(x):
    """Shape tuple: None for unknown dims of a KerasTensor (`Dim`s while tracing)."""
    if isinstance(x, KerasTensor):
        if is_tracing():
            return tuple(Dim.N if d is None else d for d in x.shape)
        return x.shape
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def dtype(x):
    """Keras's dtype name of `x`."""
    return standardize_dtype(x.dtype)


def _merge_specs(a, b):
    if isinstance(a, KerasTensor) and isinstance(b, KerasTensor):
        if len(a.shape) != len(b.shape) or a.dtype != b.dtype:
            raise ValueError("`true_fn` and `false_fn` should return outputs of the same kind "
                             f"(shape and dtype). Received: {a} and {b}")
        return spec(tuple(d if d == e else None for d, e in zip(a.shape, b.shape)), a.dtype)
    return a


def _cond_rule(fn, pred, true_fn, false_fn):
    t, f = true_fn(), false_fn()
    flat_t, flat_f = flatten(t), flatten(f)
    if len(flat_t) != len(flat_f):
        raise ValueError("`true_fn` and `false_fn` should return outputs of the same kind. "
                         f"Received: {t} and {f}")
    return pack_as(t, [_merge_specs(a, b) for a, b in zip(flat_t, flat_f)])


@op(_cond_rule)
def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()` (both traced when `pred` is symbolic)."""
    return true_fn() if pred else false_fn()


def _slice_rule(fn, inputs, start_indices, shape):
    sizes = (None,) * len(shape_of(inputs)) if isinstance(shape, KerasTensor) else shape
    return spec(tuple(None if isinstance(n, (Dim, KerasTensor)) else n for n in sizes),
                inputs.dtype)


@op(_slice_rule)
def slice(inputs, start_indices, shape):
    """`inputs[start:start + size]` along every axis."""
    x = plain(inputs) if isinstance(inputs, np.ndarray) else to_array(inputs)
    return x[tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape))]


def _unstack_rule(fn, x, num=None, axis=0):
    shp = shape_of(x)
    a = canonical_axis(axis, len(shp))
    count = shp[a] if num is None else num
    if count is None:
        raise ValueError(f"Cannot infer argument `num` from shape {shp}. Either provide a "
                         "tensor with a concrete shape in the `axis` dimension or explicitly "
                         f"pass the `num` argument. Received: num={num}, axis={axis}")
    return [spec(shp[:a] + shp[a + 1:], x.dtype) for _ in range(count)]


@op(_unstack_rule)
def unstack(x, num=None, axis=0):
    """The slices of `x` along `axis`, as a list."""
    x = plain(x) if isinstance(x, np.ndarray) else to_array(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"`num` ({num}) must equal the size of axis {axis} "
                         f"({x.shape[axis]}). Received: num={num}")
    return [plain(t) for t in np.moveaxis(x, axis, 0)]
