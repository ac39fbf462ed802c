"""`keras.ops` subset over NumPy: same names, signatures and result dtypes as Keras 3's
NumPy backend (64-bit results are canonicalized to 32-bit where Keras does so).

Every function also accepts symbolic `KerasTensor`s: it then returns symbolic
outputs (shape inference by a dry run on dummy arrays) and records a graph
node, so these ops can be used in Functional models and in `compute_mask`.

Results are plain `np.ndarray`s (masks never propagate through ops).
"""
import builtins
from functools import wraps

import numpy as np

from . import activations as _act
from .core.shape_inference import symbolic_apply
from .core.tensor import KerasTensor, plain, standardize_dtype

__all__ = [
    "cast", "convert_to_tensor", "convert_to_numpy", "is_tensor", "shape", "dtype",
    "reshape", "transpose", "expand_dims", "squeeze", "tile", "split", "concatenate",
    "stack", "take", "take_along_axis", "where", "equal", "not_equal", "greater",
    "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_not",
    "logical_xor", "any", "all", "sum", "mean", "max", "min", "prod", "argmax", "argmin",
    "cumsum", "exp", "log", "log1p", "sqrt", "square", "abs", "absolute", "negative",
    "sign", "floor", "round", "clip", "maximum", "minimum", "add", "subtract",
    "multiply", "divide", "true_divide", "divide_no_nan", "power", "matmul", "dot",
    "einsum", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu",
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange",
    "count_nonzero", "repeat", "swapaxes", "moveaxis", "flip", "broadcast_to",
    "cond", "slice", "logsumexp",
]

_FLOATX = "float32"
_FLOAT_ORDER = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}
_CANONICAL = {"float64": "float32", "int64": "int32", "uint64": "uint32"}


# --------------------------------------------------------------------------- plumbing

def _has_symbolic(values):
    for v in values:
        if isinstance(v, KerasTensor):
            return True
        if type(v) in (list, tuple) and _has_symbolic(v):
            return True
    return False


def _op(fn):
    """Eager NumPy on arrays; a recorded symbolic op when any argument is a KerasTensor."""
    name = fn.__name__

    @wraps(fn)
    def wrapper(*args, **kwargs):
        if _has_symbolic(args) or (kwargs and _has_symbolic(kwargs.values())):
            return symbolic_apply(fn, args, kwargs, name)
        return fn(*args, **kwargs)

    return wrapper


def _dtype_of(x):
    if isinstance(x, (bool, np.bool_)) and not isinstance(x, np.ndarray):
        return bool if isinstance(x, bool) else "bool"
    if isinstance(x, int) and not isinstance(x, np.integer):
        return int
    if isinstance(x, float) and not isinstance(x, np.floating):
        return float
    if hasattr(x, "dtype"):
        return standardize_dtype(x.dtype)
    return standardize_dtype(np.asarray(x).dtype)


def result_type(*dtypes):
    """Keras's (JAX-like) promotion: Python scalars are weak; 64-bit canonicalized to 32."""
    strong = [standardize_dtype(d) for d in dtypes if d not in (int, float, bool)]
    weak = [d for d in dtypes if d in (int, float, bool)]
    floats = [d for d in strong if d in _FLOAT_ORDER]
    if floats:
        out = builtins.max(floats, key=_FLOAT_ORDER.get)
    elif float in weak:
        out = _FLOATX
    else:
        ints = [d for d in strong if d != "bool"]
        if ints:
            out = np.result_type(*ints).name
            if out.startswith("float"):  # uint64 with int64
                out = _FLOATX
        elif int in weak:
            out = "int32"
        else:
            out = "bool"
    return _CANONICAL.get(out, out)


def _to(x, dtype=None):
    """`convert_to_tensor` as Keras's NumPy backend does it."""
    if dtype is not None:
        dtype = standardize_dtype(dtype)
        if isinstance(x, np.ndarray):
            return plain(x).astype(dtype, copy=x.dtype != dtype)
        return np.array(x, dtype=dtype)
    if isinstance(x, np.ndarray):
        target = result_type(x.dtype.name) if x.dtype.kind in "biuf" else None
        if target is None or target == x.dtype.name:
            return plain(x)
        return x.astype(target)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        return arr
    from .core.tree import flatten
    items = flatten(x) if isinstance(x, (list, tuple)) else [x]
    return np.array(x, dtype=result_type(*[_dtype_of(i) for i in items] or ["float32"]))


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _float_input(x):
    """Ints/bools to floatx, floats canonicalized (Keras's exp/tanh/... rule)."""
    x = _to(x)
    if x.dtype.kind in "biu":
        return x.astype(_FLOATX)
    return x


def _binary_dtype(x1, x2):
    x1 = x1 if isinstance(x1, (int, float)) else _to(x1)
    x2 = x2 if isinstance(x2, (int, float)) else _to(x2)
    dtype = result_type(_dtype_of(x1), _dtype_of(x2))
    return _to(x1, dtype), _to(x2, dtype), dtype


# --------------------------------------------------------------------------- conversion

def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as an ndarray (Keras dtype rules: Python ints -> int32, floats -> float32)."""
    if sparse or ragged:
        raise ValueError("`sparse=True`/`ragged=True` are not supported by fastmask.")
    if isinstance(x, KerasTensor):
        return cast(x, dtype) if dtype is not None else x
    return _to(x, dtype)


def convert_to_numpy(x):
    return np.array(plain(x))


def is_tensor(x):
    return isinstance(x, (np.ndarray, np.generic))


@_op
def cast(x, dtype):
    """`x` converted to `dtype`."""
    return _to(x, dtype)


def shape(x):
    """Shape tuple (None for unknown dims of a KerasTensor)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def dtype(x):
    return standardize_dtype(x.dtype)


# --------------------------------------------------------------------------- shapes

@_op
def reshape(x, newshape):
    return np.reshape(plain(x), newshape)


@_op
def transpose(x, axes=None):
    return np.transpose(plain(x), axes=_axis(axes))


@_op
def expand_dims(x, axis):
    return np.expand_dims(plain(x), _axis(axis))


@_op
def squeeze(x, axis=None):
    return np.squeeze(plain(x), axis=_axis(axis))


@_op
def tile(x, repeats):
    return np.tile(plain(x), repeats)


@_op
def repeat(x, repeats, axis=None):
    return np.repeat(plain(x), repeats, axis=axis)


@_op
def split(x, indices_or_sections, axis=0):
    """List of sub-arrays (as `np.split`)."""
    return [plain(p) for p in np.split(plain(x), indices_or_sections, axis=axis)]


def _common(xs):
    dtypes = {_dtype_of(x) for x in xs}
    if len(dtypes) > 1:
        dtype = result_type(*dtypes)
        return [_to(x).astype(dtype) for x in xs]
    return [plain(x) if isinstance(x, np.ndarray) else x for x in xs]


@_op
def concatenate(xs, axis=0):
    return np.concatenate(_common(xs), axis=axis)


@_op
def stack(x, axis=0):
    return np.stack(_common(x), axis=axis)


@_op
def swapaxes(x, axis1, axis2):
    return np.swapaxes(plain(x), axis1, axis2)


@_op
def moveaxis(x, source, destination):
    return np.moveaxis(plain(x), source, destination)


@_op
def flip(x, axis=None):
    return np.flip(plain(x), axis=_axis(axis))


@_op
def broadcast_to(x, shape):
    return np.broadcast_to(plain(x), shape)


@_op
def slice(inputs, start_indices, shape):
    idx = tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape))
    return plain(inputs)[idx]


@_op
def take(x, indices, axis=None):
    return np.take(plain(x), plain(indices), axis=axis)


@_op
def take_along_axis(x, indices, axis=None):
    return np.take_along_axis(plain(x), plain(indices), axis=axis)


@_op
def where(condition, x1=None, x2=None):
    """`x1` where `condition` else `x2` (or the indices of True entries)."""
    if x1 is not None and x2 is not None:
        x1, x2, _ = _binary_dtype(x1, x2)
        return np.where(plain(condition), x1, x2)
    return np.where(plain(condition))


# --------------------------------------------------------------------------- comparisons

def _compare(np_fn):
    def fn(x1, x2):
        return np_fn(plain(x1), plain(x2))
    fn.__name__ = np_fn.__name__
    fn.__doc__ = f"Elementwise `{np_fn.__name__}` (bool result)."
    return _op(fn)


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)


@_op
def logical_not(x):
    return np.logical_not(plain(x))


# --------------------------------------------------------------------------- reductions

def _sum_dtype(x):
    name = x.dtype.name
    if name in ("bool", "int8", "int16"):
        return "int32"
    if name in ("uint8", "uint16"):
        return "uint32"
    return name


@_op
def any(x, axis=None, keepdims=False):
    return np.any(plain(x), axis=_axis(axis), keepdims=keepdims)


@_op
def all(x, axis=None, keepdims=False):
    return np.all(plain(x), axis=_axis(axis), keepdims=keepdims)


@_op
def sum(x, axis=None, keepdims=False):
    x = np.asarray(plain(x))
    return np.sum(x, axis=_axis(axis), keepdims=keepdims, dtype=_sum_dtype(x))


@_op
def prod(x, axis=None, keepdims=False, dtype=None):
    x = np.asarray(plain(x))
    return np.prod(x, axis=_axis(axis), keepdims=keepdims, dtype=dtype or _sum_dtype(x))


@_op
def mean(x, axis=None, keepdims=False):
    x = _to(x)
    out_dtype = result_type(x.dtype.name, "float32") if x.dtype.kind in "biu" else x.dtype.name
    return np.asarray(np.mean(x, axis=_axis(axis), keepdims=keepdims)).astype(out_dtype)


@_op
def max(x, axis=None, keepdims=False, initial=None):
    return np.max(plain(x), axis=_axis(axis), keepdims=keepdims,
                  **({} if initial is None else {"initial": initial}))


@_op
def min(x, axis=None, keepdims=False, initial=None):
    return np.min(plain(x), axis=_axis(axis), keepdims=keepdims,
                  **({} if initial is None else {"initial": initial}))


@_op
def argmax(x, axis=None, keepdims=False):
    return np.argmax(plain(x), axis=axis, keepdims=keepdims).astype("int32")


@_op
def argmin(x, axis=None, keepdims=False):
    return np.argmin(plain(x), axis=axis, keepdims=keepdims).astype("int32")


@_op
def cumsum(x, axis=None, dtype=None):
    x = np.asarray(plain(x))
    return np.cumsum(x, axis=axis, dtype=dtype or _sum_dtype(x))


@_op
def count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(plain(x), axis=_axis(axis))).astype("int32")


@_op
def logsumexp(x, axis=None, keepdims=False):
    x = _float_input(x)
    m = np.max(x, axis=_axis(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=_axis(axis), keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_axis(axis))


# --------------------------------------------------------------------------- elementwise

@_op
def exp(x):
    return np.exp(_float_input(x))


def _float_result(x):
    x = _to(x)
    return x if x.dtype.kind == "f" else x.astype(_FLOATX)


@_op
def log(x):
    return np.log(_float_result(x))


@_op
def log1p(x):
    return np.log1p(_float_result(x))


@_op
def sqrt(x):
    return np.sqrt(_float_result(x))


@_op
def square(x):
    x = _to(x)
    if x.dtype == np.bool_:
        x = x.astype("int32")
    return np.square(x)


@_op
def absolute(x):
    return np.absolute(plain(x))


abs = absolute


@_op
def negative(x):
    return np.negative(plain(x))


@_op
def sign(x):
    return np.sign(plain(x))


@_op
def floor(x):
    return np.floor(_float_result(x))


@_op
def round(x, decimals=0):
    return np.round(plain(x), decimals=decimals)


@_op
def clip(x, x_min, x_max):
    x = _to(x)
    if x.dtype == np.bool_:
        x = x.astype("int32")
    return np.clip(x, x_min, x_max)


def _arith(np_fn, name):
    def fn(x1, x2):
        x1, x2, dtype = _binary_dtype(x1, x2)
        return np.asarray(np_fn(x1, x2)).astype(dtype, copy=False)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise `{name}` with Keras's dtype promotion."
    return _op(fn)


add = _arith(np.add, "add")
subtract = _arith(np.subtract, "subtract")
multiply = _arith(np.multiply, "multiply")
maximum = _arith(np.maximum, "maximum")
minimum = _arith(np.minimum, "minimum")
power = _arith(np.power, "power")


@_op
def divide(x1, x2):
    x1, x2, dtype = _binary_dtype(x1, x2)
    if np.dtype(dtype).kind != "f":
        dtype = _FLOATX
    return np.true_divide(x1, x2).astype(dtype, copy=False)


true_divide = divide


@_op
def divide_no_nan(x1, x2):
    x1, x2, dtype = _binary_dtype(x1, x2)
    if np.dtype(dtype).kind != "f":
        dtype = _FLOATX
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(x1, x2)
    return np.where(x2 == 0, 0, out).astype(dtype)


@_op
def matmul(x1, x2):
    x1, x2 = _to(x1), _to(x2)
    if x1.dtype.name == "int8" and x2.dtype.name == "int8":
        dtype = "int32"
    else:
        dtype = result_type(x1.dtype.name, x2.dtype.name)
    return np.matmul(x1.astype(dtype, copy=False), x2.astype(dtype, copy=False)).astype(
        dtype, copy=False)


@_op
def dot(x1, x2):
    x1, x2 = _to(x1), _to(x2)
    dtype = result_type(x1.dtype.name, x2.dtype.name)
    return np.dot(x1.astype(dtype, copy=False), x2.astype(dtype, copy=False))


@_op
def einsum(subscripts, *operands):
    operands = [_to(o) for o in operands]
    dtype = result_type(*[o.dtype.name for o in operands])
    return np.einsum(subscripts, *[o.astype(dtype, copy=False) for o in operands])


# --------------------------------------------------------------------------- activations

@_op
def relu(x):
    x = _to(x)
    return np.maximum(x, np.array(0.0, x.dtype))


@_op
def sigmoid(x):
    x = _to(x)
    with np.errstate(over="ignore"):
        return np.array(1.0, x.dtype) / (np.array(1.0, x.dtype) + np.exp(-x))


@_op
def tanh(x):
    return np.tanh(_float_input(x))


@_op
def softmax(x, axis=-1):
    x = _to(x)
    _act.warn_if_softmax_axis_has_size_one(x.shape, axis, stacklevel=4)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@_op
def log_softmax(x, axis=-1):
    return _act.log_softmax(_to(x), axis=axis)


@_op
def gelu(x, approximate=True):
    return _act.gelu(_to(x), approximate=approximate)


@_op
def silu(x):
    return _act.silu(_to(x))


# --------------------------------------------------------------------------- creation

def zeros(shape, dtype=None):
    return np.zeros(shape, dtype=standardize_dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(shape, dtype=standardize_dtype(dtype))


def full(shape, fill_value, dtype=None):
    dtype = standardize_dtype(dtype) if dtype is not None else result_type(_dtype_of(fill_value))
    return np.full(shape, fill_value, dtype=dtype)


@_op
def zeros_like(x, dtype=None):
    return np.zeros_like(plain(x), dtype=dtype)


@_op
def ones_like(x, dtype=None):
    return np.ones_like(plain(x), dtype=dtype)


@_op
def full_like(x, fill_value, dtype=None):
    return np.full_like(plain(x), fill_value, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    """`np.arange` with Keras's dtype (Python ints -> int32, floats -> float32)."""
    if dtype is None:
        ds = [_dtype_of(start)]
        if stop is not None:
            ds.append(_dtype_of(stop))
        if step is not None:
            ds.append(_dtype_of(step))
        dtype = result_type(*ds)
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    return np.arange(start, stop, step=step, dtype=standardize_dtype(dtype))


def cond(pred, true_fn, false_fn):
    return true_fn() if pred else false_fn()

# Masked reductions and softmax (fastmask.kernels), as ops.
from .kernels.softmax import masked_softmax  # noqa: E402
from .kernels.pooling import masked_max, masked_mean, masked_min, masked_sum  # noqa: E402
__all__ += ["masked_softmax", "masked_mean", "masked_sum", "masked_max", "masked_min"]


# `KerasTensor.reshape(...)` / `.squeeze(...)` (NumPy's method names) run these ops.
def _tensor_reshape(self, newshape):
    return reshape(self, newshape)


def _tensor_squeeze(self, axis=None):
    return squeeze(self, axis=axis)


KerasTensor.reshape = _tensor_reshape
KerasTensor.squeeze = _tensor_squeeze
