"""`keras.ops.nn` over NumPy: activations, softmaxes (masked too), `one_hot`.

Each op is `@op(rule)` (see `symbolic.py`). `masked_softmax` is the kernel of
`fastmask.kernels` (float32/float64 kept, others computed as float32), with
its shape rule for symbolic calls.
"""
import numpy as np

from .. import activations as _act
from ..core.shape_inference import shape_of
from ..kernels import softmax as _softmax_kernels
from .dtypes import FLOATX, to_array
from .symbolic import canonical_axis, elementwise, op, same_shape, spec

__all__ = ["relu", "sigmoid", "softmax", "log_softmax", "gelu", "silu", "one_hot",
           "masked_softmax"]


@op(elementwise)
def relu(x):
    x = to_array(x)
    return np.maximum(x, np.array(0.0, x.dtype))


@op(elementwise)
def sigmoid(x):
    x = to_array(x)
    with np.errstate(over="ignore"):
        return np.array(1.0, x.dtype) / (np.array(1.0, x.dtype) + np.exp(-x))


@op(same_shape)
def softmax(x, axis=-1):
    x = to_array(x)
    _act.warn_if_softmax_axis_has_size_one(x.shape, axis, stacklevel=4)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@op(same_shape)
def log_softmax(x, axis=-1):
    return _act.log_softmax(to_array(x), axis=axis)


@op(same_shape)
def gelu(x, approximate=True):
    return _act.gelu(to_array(x), approximate=approximate)


@op(elementwise)
def silu(x):
    return _act.silu(to_array(x))


def _one_hot_rule(fn, x, num_classes, axis=-1, dtype=None, sparse=False):
    shape = list(shape_of(x))
    shape.insert(canonical_axis(axis, len(shape) + 1), num_classes)
    return spec(shape, dtype or FLOATX)


@op(_one_hot_rule)
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """`x`'s integer classes as one-hot vectors along `axis` (negative ids: all zeros)."""
    if sparse:
        raise ValueError("`sparse=True` is not supported by fastmask. Received: sparse=True")
    x = to_array(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"`one_hot` takes integer class ids. Received: x.dtype={x.dtype}")
    flat = x.reshape(-1)
    if flat.size and flat.max() >= num_classes:
        raise ValueError(f"Class ids must be < num_classes={num_classes}. Received: x with "
                         f"maximum {flat.max()}")
    out = np.zeros((flat.size, num_classes), dtype=dtype or FLOATX)
    valid = flat >= 0   # a negative id gives a row of zeros (Keras)
    out[np.nonzero(valid)[0], flat[valid]] = 1
    out = out.reshape(x.shape + (num_classes,))
    return out if axis == -1 else np.moveaxis(out, -1, axis)


def _masked_softmax_rule(fn, x, mask=None, axis=-1, **kwargs):
    dtype = x.dtype if x.dtype in ("float32", "float64") else FLOATX
    return spec(shape_of(x), dtype)


masked_softmax = op(_masked_softmax_rule)(_softmax_kernels.masked_softmax)
