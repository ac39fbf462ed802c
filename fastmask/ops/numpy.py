"""`keras.ops.numpy` over NumPy: shapes, elementwise math, reductions, creation.

Same names, signatures and result dtypes as Keras 3's NumPy backend. Each op is
`@op(rule)` (see `symbolic.py`): eager NumPy on arrays, its shape rule on
`KerasTensor`s. Results are plain `np.ndarray`s (masks never propagate through ops).
"""
import builtins
import math

import numpy as np

from ..core.shape_inference import broadcast_shapes, matmul_shape, shape_of
from ..core.tensor import Dim, KerasTensor, plain, standardize_dtype
from .dtypes import FLOATX, as_array, dtype_of, float_array, result_type, to_array
from .symbolic import (canonical_axis, dims, elementwise, op, probe_dtype, reduce_shape,
                       reduction, same_shape, spec)
from .symbolic import prod as _prod

__all__ = [
    "reshape", "transpose", "expand_dims", "squeeze", "tile", "repeat", "split",
    "concatenate", "stack", "swapaxes", "moveaxis", "flip", "broadcast_to", "take",
    "take_along_axis", "where", "get_item", "equal", "not_equal", "greater", "greater_equal",
    "less", "less_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "any",
    "all", "sum", "mean", "max", "min", "prod", "argmax", "argmin", "cumsum", "count_nonzero",
    "exp", "log", "log1p", "sqrt", "square", "abs", "absolute", "negative", "sign", "floor",
    "round", "clip", "maximum", "minimum", "add", "subtract", "multiply", "divide",
    "true_divide", "divide_no_nan", "floor_divide", "mod", "power", "matmul", "dot", "einsum",
    "tanh", "real", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange",
]


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _known(shape):
    """Output shape: Dims (unknown sizes) become None."""
    return tuple(None if isinstance(d, Dim) or d is None else int(d) for d in shape)


def _shape_arg(shape, name="shape"):
    """A shape argument (ints, Dims, None; or a 1-D KerasTensor) as a tuple of sizes."""
    if isinstance(shape, KerasTensor):
        if len(shape.shape) != 1 or shape.shape[0] is None:
            raise ValueError(f"A symbolic `{name}` must be 1-D with a known length. "
                             f"Received: {name}={shape}")
        return (Dim.N,) * shape.shape[0]
    if isinstance(shape, (int, np.integer, Dim)):
        return (shape,)
    return tuple(Dim.N if d is None or isinstance(d, KerasTensor) else d for d in shape)


# --------------------------------------------------------------------------- shapes

def _reshape_rule(fn, x, newshape):
    newshape = _shape_arg(newshape, "newshape")
    size = _prod(dims(shape_of(x)))
    if builtins.sum(1 for d in newshape if isinstance(d, int) and d == -1) > 1:
        raise ValueError(f"Can only specify one unknown dimension (-1). "
                         f"Received: newshape={newshape}")
    if builtins.any(isinstance(d, int) and d == -1 for d in newshape):
        known = _prod(d for d in newshape if not (isinstance(d, int) and d == -1))
        if isinstance(known, int) and known == 0:
            raise ValueError(f"Cannot reshape a tensor of shape {shape_of(x)} into "
                             f"{newshape}. Received: newshape={newshape}")
        newshape = tuple(size // known if isinstance(d, int) and d == -1 else d
                         for d in newshape)
    elif isinstance(size, int) and isinstance(_prod(newshape), int) and size != _prod(newshape):
        raise ValueError(f"Cannot reshape a tensor of shape {shape_of(x)} (size {size}) into "
                         f"shape {newshape}. Received: newshape={newshape}")
    return spec(_known(newshape), _tensor_dtype(x))


def _tensor_dtype(x):
    """Dtype of `as_array(x)`: a tensor's own dtype, Keras's for Python values."""
    if isinstance(x, (KerasTensor, np.ndarray, np.generic)):
        return standardize_dtype(x.dtype)
    return result_type(dtype_of(x))


@op(_reshape_rule)
def reshape(x, newshape):
    return np.reshape(as_array(x), newshape)


def _transpose_rule(fn, x, axes=None):
    shape = shape_of(x)
    axes = range(len(shape) - 1, -1, -1) if axes is None else axes
    return spec(tuple(shape[canonical_axis(a, len(shape))] for a in axes), _tensor_dtype(x))


@op(_transpose_rule)
def transpose(x, axes=None):
    return np.transpose(as_array(x), axes=_axis(axes))


def _expand_dims_rule(fn, x, axis):
    shape = shape_of(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = len(shape) + len(axes)
    axes = {canonical_axis(a, ndim) for a in axes}
    rest = iter(shape)
    return spec(tuple(1 if i in axes else next(rest) for i in range(ndim)), _tensor_dtype(x))


@op(_expand_dims_rule)
def expand_dims(x, axis):
    return np.expand_dims(as_array(x), _axis(axis))


def _squeeze_rule(fn, x, axis=None):
    shape = shape_of(x)
    if axis is None:
        return spec(tuple(d for d in shape if d != 1), _tensor_dtype(x))
    axes = {canonical_axis(a, len(shape)) for a in (axis if isinstance(axis, (tuple, list))
                                                    else (axis,))}
    for a in axes:
        if shape[a] is not None and shape[a] != 1:
            raise ValueError(f"Cannot squeeze axis {a} of size {shape[a]}: only size-1 axes "
                             f"can be squeezed. Received: axis={axis}")
    return spec(tuple(d for i, d in enumerate(shape) if i not in axes), _tensor_dtype(x))


@op(_squeeze_rule)
def squeeze(x, axis=None):
    return np.squeeze(as_array(x), axis=_axis(axis))


def _tile_rule(fn, x, repeats):
    shape, reps = dims(shape_of(x)), _shape_arg(repeats, "repeats")
    n = builtins.max(len(shape), len(reps))
    shape = (1,) * (n - len(shape)) + shape
    reps = (1,) * (n - len(reps)) + reps
    return spec(_known(d * r for d, r in zip(shape, reps)), _tensor_dtype(x))


@op(_tile_rule)
def tile(x, repeats):
    return np.tile(as_array(x), repeats)


def _repeat_rule(fn, x, repeats, axis=None):
    shape = dims(shape_of(x))
    if isinstance(repeats, KerasTensor):
        count = Dim.N    # each entry repeated an unknown number of times
    elif np.ndim(repeats) == 0 or np.size(repeats) == 1:
        count = repeats if np.ndim(repeats) == 0 else int(np.reshape(repeats, -1)[0])
    else:
        count = None     # per-entry counts: the total is their sum
    if axis is None:
        new = _prod(shape) * count if count is not None else int(np.sum(repeats))
        return spec(_known((new,)), _tensor_dtype(x))
    a = canonical_axis(axis, len(shape))
    new = shape[a] * count if count is not None else int(np.sum(repeats))
    return spec(_known(shape[:a] + (new,) + shape[a + 1:]), _tensor_dtype(x))


@op(_repeat_rule)
def repeat(x, repeats, axis=None):
    return np.repeat(as_array(x), repeats, axis=axis)


def _split_rule(fn, x, indices_or_sections, axis=0):
    shape = shape_of(x)
    a = canonical_axis(axis, len(shape))
    size = shape[a]
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if size is not None and size % n:
            raise ValueError(f"Cannot split an axis of size {size} into {n} equal sections. "
                             f"Received: indices_or_sections={indices_or_sections}")
        sizes = [None if size is None else size // n] * n
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [size]
        if size is None:   # every piece is clipped to the unknown size
            sizes = [None] * (len(bounds) - 1)
        else:
            bounds = [builtins.min(b if b >= 0 else b + size, size) for b in bounds]
            sizes = [builtins.max(hi - lo, 0) for lo, hi in zip(bounds[:-1], bounds[1:])]
    dtype = _tensor_dtype(x)
    return [spec(shape[:a] + (s,) + shape[a + 1:], dtype) for s in sizes]


@op(_split_rule)
def split(x, indices_or_sections, axis=0):
    """List of sub-arrays (as `np.split`)."""
    return [plain(p) for p in np.split(as_array(x), indices_or_sections, axis=axis)]


def _common_dtype(xs):
    """The dtype `concatenate`/`stack` give: the shared one, else Keras's promotion."""
    dtypes = {dtype_of(x) for x in xs}
    if len(dtypes) > 1:
        return result_type(*dtypes)
    only = dtypes.pop()
    return result_type(only) if only in (int, float, bool) else only


def _common(xs):
    dtypes = {dtype_of(x) for x in xs}
    if len(dtypes) > 1:
        dtype = result_type(*dtypes)
        return [to_array(x).astype(dtype) for x in xs]
    return [plain(x) if isinstance(x, np.ndarray) else x for x in xs]


def _merge_dims(a, b):
    """Two sizes of the same axis: the known one (None when both are unknown)."""
    return b if a is None else a


def _concatenate_rule(fn, xs, axis=0):
    shapes = [shape_of(x) for x in xs]
    ndim = len(shapes[0])
    if builtins.any(len(s) != ndim for s in shapes):
        raise ValueError("All arrays to concatenate must have the same rank. Received: "
                         f"shapes={shapes}")
    a = canonical_axis(axis, ndim)
    out = list(shapes[0])
    for s in shapes[1:]:
        for i, d in enumerate(s):
            if i != a:
                if out[i] is not None and d is not None and out[i] != d:
                    raise ValueError(
                        "All dimensions except the concatenation axis must match. Received: "
                        f"shapes={shapes}, axis={axis}")
                out[i] = _merge_dims(out[i], d)
    out[a] = _sum_sizes(s[a] for s in shapes)
    return spec(out, _common_dtype(xs))


def _sum_sizes(sizes):
    total = 0
    for s in sizes:
        if s is None:
            return None
        total += s
    return total


@op(_concatenate_rule)
def concatenate(xs, axis=0):
    return np.concatenate(_common(xs), axis=axis)


def _stack_rule(fn, x, axis=0):
    shapes = [shape_of(t) for t in x]
    out = list(shapes[0])
    for s in shapes[1:]:
        if len(s) != len(out) or builtins.any(a is not None and b is not None and a != b
                                     for a, b in zip(out, s)):
            raise ValueError(f"All arrays to stack must have the same shape. Received: "
                             f"shapes={shapes}")
        out = [_merge_dims(a, b) for a, b in zip(out, s)]
    a = canonical_axis(axis, len(out) + 1)
    return spec(out[:a] + [len(x)] + out[a:], _common_dtype(x))


@op(_stack_rule)
def stack(x, axis=0):
    return np.stack(_common(x), axis=axis)


def _swapaxes_rule(fn, x, axis1, axis2):
    shape = list(shape_of(x))
    a, b = canonical_axis(axis1, len(shape)), canonical_axis(axis2, len(shape))
    shape[a], shape[b] = shape[b], shape[a]
    return spec(shape, _tensor_dtype(x))


@op(_swapaxes_rule)
def swapaxes(x, axis1, axis2):
    return np.swapaxes(as_array(x), axis1, axis2)


def _moveaxis_rule(fn, x, source, destination):
    shape = shape_of(x)
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    src = [canonical_axis(a, len(shape)) for a in src]
    dst = [canonical_axis(a, len(shape)) for a in dst]
    order = [i for i in range(len(shape)) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return spec(tuple(shape[i] for i in order), _tensor_dtype(x))


@op(_moveaxis_rule)
def moveaxis(x, source, destination):
    return np.moveaxis(as_array(x), source, destination)


def _keep_shape(fn, x, *args, **kwargs):
    return spec(shape_of(x), _tensor_dtype(x))


@op(_keep_shape)
def flip(x, axis=None):
    return np.flip(as_array(x), axis=_axis(axis))


def _broadcast_to_rule(fn, x, shape):
    target = _known(_shape_arg(shape))
    broadcast_shapes(shape_of(x), target)   # raises when incompatible
    return spec(target, _tensor_dtype(x))


@op(_broadcast_to_rule)
def broadcast_to(x, shape):
    return np.broadcast_to(as_array(x), shape)


def _take_rule(fn, x, indices, axis=None):
    ishape = shape_of(indices)
    if axis is None:
        return spec(ishape, _tensor_dtype(x))
    shape = shape_of(x)
    a = canonical_axis(axis, len(shape))
    return spec(shape[:a] + ishape + shape[a + 1:], _tensor_dtype(x))


@op(_take_rule)
def take(x, indices, axis=None):
    return np.take(as_array(x), as_array(indices), axis=axis)


def _take_along_axis_rule(fn, x, indices, axis=None):
    ishape = shape_of(indices)
    if axis is None:
        return spec(ishape, _tensor_dtype(x))
    shape = list(shape_of(x))
    a = canonical_axis(axis, len(shape))
    shape[a] = ishape[a]
    return spec(broadcast_shapes(shape, ishape), _tensor_dtype(x))


@op(_take_along_axis_rule)
def take_along_axis(x, indices, axis=None):
    return np.take_along_axis(as_array(x), as_array(indices), axis=axis)


def _binary_arrays(x1, x2):
    """The two operands converted to Keras's promoted dtype of the pair."""
    x1 = x1 if isinstance(x1, (int, float)) else to_array(x1)
    x2 = x2 if isinstance(x2, (int, float)) else to_array(x2)
    dtype = result_type(dtype_of(x1), dtype_of(x2))
    return to_array(x1, dtype), to_array(x2, dtype), dtype


def _where_rule(fn, condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        ndim = len(shape_of(condition))
        return tuple(spec((None,), "int64") for _ in range(builtins.max(ndim, 1)))
    return elementwise(fn, condition, x1, x2)


@op(_where_rule)
def where(condition, x1=None, x2=None):
    """`x1` where `condition` else `x2` (or the indices of True entries)."""
    if x1 is not None and x2 is not None:
        x1, x2, _ = _binary_arrays(x1, x2)
        return np.where(as_array(condition), x1, x2)
    return np.where(as_array(condition))


def _concrete_key(key, i, ndim=None):
    """An indexing key with Dims at sample size `i` and KerasTensors as zeros (or True)."""
    def one(k):
        if isinstance(k, Dim):
            return k.values[i]
        if isinstance(k, KerasTensor):
            shape = tuple(Dim.SIZES[i] if d is None else d for d in k.shape)
            return np.ones(shape, bool) if k.dtype == "bool" else np.zeros(shape, k.dtype)
        if isinstance(k, slice):
            return slice(one(k.start), one(k.stop), one(k.step))
        return k
    if isinstance(key, tuple):
        return tuple(one(k) for k in key)
    if isinstance(key, list) and builtins.any(isinstance(k, (Dim, KerasTensor, slice))
                                              for k in key):
        return tuple(one(k) for k in key)
    return one(key)


def _get_item_rule(fn, x, key):
    """Shape by NumPy's own indexing of free zero-strided stand-ins at n=83 and n=89."""
    shape = shape_of(x)
    results = []
    for i in range(len(Dim.SIZES)):
        concrete = tuple(Dim.SIZES[i] if d is None else d for d in shape)
        stand_in = np.broadcast_to(np.zeros((), np.uint8), concrete)
        try:
            results.append(np.shape(stand_in[_concrete_key(key, i)]))
        except IndexError as e:
            raise ValueError(f"Invalid index for a tensor of shape {shape}: {e}. "
                             f"Received: key={key!r}") from None
    out = tuple(a if a == b else None for a, b in zip(*results))
    return spec(out, _tensor_dtype(x))


@op(_get_item_rule)
def get_item(x, key):
    """`x[key]` (NumPy indexing)."""
    if isinstance(key, list):
        key = tuple(key)
    return as_array(x)[key]


# --------------------------------------------------------------------------- comparisons

def _compare(np_fn):
    def fn(x1, x2):
        return np_fn(as_array(x1) if isinstance(x1, np.ndarray) else x1,
                     as_array(x2) if isinstance(x2, np.ndarray) else x2)
    fn.__name__ = np_fn.__name__
    fn.__qualname__ = np_fn.__name__
    fn.__doc__ = f"Elementwise `{np_fn.__name__}` (bool result)."
    return op(elementwise)(fn)


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)


@op(elementwise)
def logical_not(x):
    return np.logical_not(as_array(x))


# --------------------------------------------------------------------------- reductions

def _sum_dtype(x):
    name = x.dtype.name
    if name in ("bool", "int8", "int16"):
        return "int32"
    if name in ("uint8", "uint16"):
        return "uint32"
    return name


@op(reduction)
def any(x, axis=None, keepdims=False):
    return np.any(as_array(x), axis=_axis(axis), keepdims=keepdims)


@op(reduction)
def all(x, axis=None, keepdims=False):
    return np.all(as_array(x), axis=_axis(axis), keepdims=keepdims)


@op(reduction)
def sum(x, axis=None, keepdims=False):
    x = as_array(x)
    return np.sum(x, axis=_axis(axis), keepdims=keepdims, dtype=_sum_dtype(x))


@op(reduction)
def prod(x, axis=None, keepdims=False, dtype=None):
    x = as_array(x)
    return np.prod(x, axis=_axis(axis), keepdims=keepdims, dtype=dtype or _sum_dtype(x))


@op(reduction)
def mean(x, axis=None, keepdims=False):
    x = to_array(x)
    out_dtype = result_type(x.dtype.name, "float32") if x.dtype.kind in "biu" else x.dtype.name
    return np.asarray(np.mean(x, axis=_axis(axis), keepdims=keepdims)).astype(out_dtype)


@op(reduction)
def max(x, axis=None, keepdims=False, initial=None):
    return np.max(as_array(x), axis=_axis(axis), keepdims=keepdims,
                  **({} if initial is None else {"initial": initial}))


@op(reduction)
def min(x, axis=None, keepdims=False, initial=None):
    return np.min(as_array(x), axis=_axis(axis), keepdims=keepdims,
                  **({} if initial is None else {"initial": initial}))


@op(reduction)
def argmax(x, axis=None, keepdims=False):
    return np.asarray(np.argmax(as_array(x), axis=axis, keepdims=keepdims)).astype("int32")


@op(reduction)
def argmin(x, axis=None, keepdims=False):
    return np.asarray(np.argmin(as_array(x), axis=axis, keepdims=keepdims)).astype("int32")


def _cumsum_rule(fn, x, axis=None, dtype=None):
    shape = shape_of(x)
    out = shape if axis is not None else _known((_prod(dims(shape)),))
    return spec(out, probe_dtype(fn, x, axis, dtype))


@op(_cumsum_rule)
def cumsum(x, axis=None, dtype=None):
    x = as_array(x)
    return np.cumsum(x, axis=axis, dtype=dtype or _sum_dtype(x))


def _count_nonzero_rule(fn, x, axis=None):
    return spec(reduce_shape(shape_of(x), _axis(axis)), "int32")


@op(_count_nonzero_rule)
def count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(as_array(x), axis=_axis(axis))).astype("int32")


# --------------------------------------------------------------------------- elementwise

@op(elementwise)
def exp(x):
    return np.exp(float_array(x))


@op(elementwise)
def log(x):
    return np.log(float_array(x))


@op(elementwise)
def log1p(x):
    return np.log1p(float_array(x))


@op(elementwise)
def sqrt(x):
    return np.sqrt(float_array(x))


@op(elementwise)
def tanh(x):
    return np.tanh(float_array(x))


@op(elementwise)
def floor(x):
    return np.floor(float_array(x))


@op(elementwise)
def square(x):
    x = to_array(x)
    if x.dtype == np.bool_:
        x = x.astype("int32")
    return np.square(x)


@op(elementwise)
def absolute(x):
    return np.absolute(as_array(x))


abs = absolute


@op(elementwise)
def negative(x):
    return np.negative(as_array(x))


@op(elementwise)
def sign(x):
    return np.sign(as_array(x))


@op(same_shape)
def round(x, decimals=0):
    return np.round(as_array(x), decimals=decimals)


@op(elementwise)
def clip(x, x_min, x_max):
    x = to_array(x)
    if x.dtype == np.bool_:
        x = x.astype("int32")
    return np.clip(x, x_min, x_max)


@op(same_shape)
def real(x):
    """Real part (real arrays are their own real part, in their own dtype)."""
    return np.real(as_array(x))


def _arith(np_fn, name):
    def fn(x1, x2):
        x1, x2, dtype = _binary_arrays(x1, x2)
        return np.asarray(np_fn(x1, x2)).astype(dtype, copy=False)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise `{name}` with Keras's dtype promotion."
    return op(elementwise)(fn)


add = _arith(np.add, "add")
subtract = _arith(np.subtract, "subtract")
multiply = _arith(np.multiply, "multiply")
maximum = _arith(np.maximum, "maximum")
minimum = _arith(np.minimum, "minimum")
power = _arith(np.power, "power")
floor_divide = _arith(np.floor_divide, "floor_divide")
mod = _arith(np.mod, "mod")


@op(elementwise)
def divide(x1, x2):
    x1, x2, dtype = _binary_arrays(x1, x2)
    if np.dtype(dtype).kind != "f":
        dtype = FLOATX
    return np.true_divide(x1, x2).astype(dtype, copy=False)


true_divide = divide


@op(elementwise)
def divide_no_nan(x1, x2):
    x1, x2, dtype = _binary_arrays(x1, x2)
    if np.dtype(dtype).kind != "f":
        dtype = FLOATX
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(x1, x2)
    return np.where(x2 == 0, 0, out).astype(dtype)


def _matmul_rule(fn, x1, x2):
    return spec(matmul_shape(shape_of(x1), shape_of(x2)), probe_dtype(fn, x1, x2))


@op(_matmul_rule)
def matmul(x1, x2):
    x1, x2 = to_array(x1), to_array(x2)
    if x1.dtype.name == "int8" and x2.dtype.name == "int8":
        dtype = "int32"
    else:
        dtype = result_type(x1.dtype.name, x2.dtype.name)
    return np.matmul(x1.astype(dtype, copy=False), x2.astype(dtype, copy=False)).astype(
        dtype, copy=False)


def _dot_rule(fn, x1, x2):
    s1, s2 = shape_of(x1), shape_of(x2)
    if not s1 or not s2:
        shape = broadcast_shapes(s1, s2)
    elif len(s2) == 1:
        if s1[-1] is not None and s2[0] is not None and s1[-1] != s2[0]:
            raise ValueError(f"Shapes {s1} and {s2} are not aligned for `dot`. "
                             f"Received: x1.shape={s1}, x2.shape={s2}")
        shape = s1[:-1]
    else:
        if s1[-1] is not None and s2[-2] is not None and s1[-1] != s2[-2]:
            raise ValueError(f"Shapes {s1} and {s2} are not aligned for `dot`. "
                             f"Received: x1.shape={s1}, x2.shape={s2}")
        shape = s1[:-1] + s2[:-2] + s2[-1:]
    return spec(shape, probe_dtype(fn, x1, x2))


@op(_dot_rule)
def dot(x1, x2):
    x1, x2 = to_array(x1), to_array(x2)
    dtype = result_type(x1.dtype.name, x2.dtype.name)
    return np.dot(x1.astype(dtype, copy=False), x2.astype(dtype, copy=False))


def _einsum_rule(fn, subscripts, *operands):
    spec_str = subscripts.replace(" ", "")
    inputs, _, output = spec_str.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"`einsum` subscripts {subscripts!r} name {len(terms)} operands, but "
                         f"{len(operands)} were given. Received: subscripts={subscripts!r}")
    sizes, ellipsis = {}, ()
    for term, x in zip(terms, operands):
        shape = shape_of(x)
        if "..." in term:
            head, tail = term.split("...")
            n_ell = len(shape) - len(head) - len(tail)
            ellipsis = broadcast_shapes(ellipsis, shape[len(head):len(head) + n_ell])
            letters = list(head) + list(tail)
            shape = shape[:len(head)] + shape[len(head) + n_ell:]
        else:
            letters = list(term)
        if len(letters) != len(shape):
            raise ValueError(f"`einsum` term {term!r} does not match an operand of shape "
                             f"{shape_of(x)}. Received: subscripts={subscripts!r}")
        for letter, d in zip(letters, shape):
            prev = sizes.get(letter)
            if prev is None or prev == 1:
                sizes[letter] = d if d is not None or prev is None else prev
            elif d is not None and d != 1 and d != prev:
                raise ValueError(f"`einsum` dimension {letter!r} has sizes {prev} and {d}. "
                                 f"Received: subscripts={subscripts!r}")
    if not _:
        counts = {c: inputs.count(c) for c in inputs if c.isalpha()}
        output = ("..." if "..." in inputs else "") + "".join(
            sorted(c for c, n in counts.items() if n == 1))
    head, _sep, tail = output.partition("...")
    shape = tuple(sizes[c] for c in head) + (ellipsis if _sep else ()) + tuple(
        sizes[c] for c in tail)
    return spec(shape, probe_dtype(fn, subscripts, *operands))


@op(_einsum_rule)
def einsum(subscripts, *operands):
    operands = [to_array(o) for o in operands]
    dtype = result_type(*[o.dtype.name for o in operands])
    return np.einsum(subscripts, *[o.astype(dtype, copy=False) for o in operands])


# --------------------------------------------------------------------------- creation

def _creation_rule(fn, shape, *args, **kwargs):
    return spec(_known(_shape_arg(shape)), probe_dtype(fn, (1,), *args, **kwargs))


@op(_creation_rule)
def zeros(shape, dtype=None):
    return np.zeros(shape, dtype=standardize_dtype(dtype))


@op(_creation_rule)
def ones(shape, dtype=None):
    return np.ones(shape, dtype=standardize_dtype(dtype))


@op(_creation_rule)
def full(shape, fill_value, dtype=None):
    dtype = standardize_dtype(dtype) if dtype is not None else result_type(dtype_of(fill_value))
    return np.full(shape, fill_value, dtype=dtype)


def _like_rule(fn, x, *args, **kwargs):
    return spec(shape_of(x), probe_dtype(fn, x, *args, **kwargs))


@op(_like_rule)
def zeros_like(x, dtype=None):
    return np.zeros_like(as_array(x), dtype=dtype)


@op(_like_rule)
def ones_like(x, dtype=None):
    return np.ones_like(as_array(x), dtype=dtype)


@op(_like_rule)
def full_like(x, fill_value, dtype=None):
    return np.full_like(as_array(x), fill_value, dtype=dtype)


def _arange_dtype(start, stop, step, dtype):
    if dtype is not None:
        return standardize_dtype(dtype)
    return result_type(*[dtype_of(v) for v in (start, stop, step) if v is not None])


def _arange_rule(fn, start, stop=None, step=None, dtype=None):
    dtype = _arange_dtype(start, stop, step, dtype)
    if builtins.any(isinstance(v, KerasTensor) for v in (start, stop, step)):
        return spec((None,), dtype)
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if builtins.any(isinstance(v, float) for v in (start, stop, step)):
        length = math.ceil((stop - start) / step)   # Dims are ints: floats make no Dim
    else:
        length = (stop - start + step - (1 if step > 0 else -1)) // step
    if isinstance(length, int) and length < 0:
        length = 0
    return spec(_known((length,)), dtype)


@op(_arange_rule)
def arange(start, stop=None, step=None, dtype=None):
    """`np.arange` with Keras's dtype (Python ints -> int32, floats -> float32)."""
    dtype = _arange_dtype(start, stop, step, dtype)
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    return np.arange(start, stop, step=step, dtype=dtype)

