"""How an op declares its symbolic rule: `@op(spec)`, and the rules many ops share.

An op is its eager NumPy function decorated with `@op(spec)`. Called on arrays
it runs the function; called with any `KerasTensor` (or `Dim`, an unknown size
from `ops.shape` during a trace) among its arguments it returns
`spec(fn, *args, **kwargs)`: the output KerasTensor(s) computed from shapes
alone, and records a graph node replaying the op (none while shape inference
traces a layer). `spec` receives the eager function `fn` first, then the op's
own arguments.

Shared rules: `elementwise` (broadcast the operands), `reduction` (`axis`,
`keepdims`), `same_shape`. Their dtypes come from `probe_dtype`: the eager
function run on 1-element stand-ins of the symbolic arguments, so a symbolic
dtype is by construction the one the eager op gives (Keras's, see
tests/test_ops.py). Rules that change shapes (reshape, tile, concatenate, ...)
are written per op in the op's module, with unknown dims as `Dim.N` wherever
they do arithmetic (`Dim`s become None in the output shapes).
"""
import math
from functools import wraps

import numpy as np

from ..core.shape_inference import broadcast_shapes, shape_of, symbolic_apply
from ..core.tensor import Dim, KerasTensor, standardize_dtype
from ..core.tree import flatten, map_structure

__all__ = ["op", "has_symbolic", "probe_dtype", "elementwise", "reduction", "same_shape",
           "reduce_shape", "canonical_axis", "dims", "spec"]


def has_symbolic(values):
    """True when a KerasTensor or Dim is among `values` (or in their lists/tuples)."""
    for v in values:
        t = type(v)
        if t is np.ndarray:
            continue
        if t is KerasTensor or isinstance(v, (KerasTensor, Dim)):
            return True
        if (t is list or t is tuple) and has_symbolic(v):
            return True
    return False


def op(spec):
    """Decorator: the function runs eagerly on arrays; `spec` answers symbolic arguments."""
    def decorate(fn):
        name = fn.__name__

        @wraps(fn)
        def wrapper(*args, **kwargs):
            if has_symbolic(args) or (kwargs and has_symbolic(kwargs.values())):
                return symbolic_apply(wrapper, lambda *a, **k: spec(fn, *a, **k),
                                      args, kwargs, name)
            return fn(*args, **kwargs)

        wrapper.eager = fn
        wrapper.spec = spec
        return wrapper
    return decorate


# --------------------------------------------------------------------------- helpers

def spec(shape, dtype):
    """A KerasTensor of `shape` (Dims and None: unknown) and `dtype`."""
    return KerasTensor(tuple(shape), standardize_dtype(dtype))


def dims(shape):
    """`shape` with unknown dims as `Dim.N` (to do arithmetic on them)."""
    return tuple(Dim.N if d is None else d for d in shape)


def canonical_axis(axis, ndim):
    """`axis` in [0, ndim); a ValueError naming it otherwise."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"`axis` {axis} is out of bounds for a tensor of rank {ndim}. "
                         f"Received: axis={axis}")
    return axis % ndim


def reduce_shape(shape, axis=None, keepdims=False):
    """Shape after reducing `axis` (None: all; an int or a tuple of ints)."""
    shape = tuple(shape)
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    axes = {canonical_axis(a, len(shape)) for a in (axis if isinstance(axis, (tuple, list))
                                                    else (axis,))}
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _stand_in(x):
    if isinstance(x, (KerasTensor, np.ndarray)):
        return np.zeros((1,) * len(x.shape), dtype=x.dtype)
    if isinstance(x, Dim):
        return 2
    return x


def probe_dtype(fn, *args, **kwargs):
    """Dtype of the eager `fn`'s result (a list for several) on 1-element stand-ins.

    KerasTensors and arrays become zeros of shape (1, ..., 1) (same rank and dtype),
    `Dim`s the Python int 2: the dtype is the eager op's own, at a cost of microseconds.
    """
    args, kwargs = map_structure(_stand_in, (args, kwargs))
    with np.errstate(all="ignore"):
        out = fn(*args, **kwargs)
    dtypes = [standardize_dtype(np.asarray(o).dtype) for o in flatten(out)]
    return dtypes if isinstance(out, (list, tuple)) else dtypes[0]


def _is_operand(x):
    return isinstance(x, (KerasTensor, np.ndarray, np.generic, int, float, Dim))


# --------------------------------------------------------------------------- shared rules

def elementwise(fn, *args, **kwargs):
    """Rule of elementwise ops: the positional operands broadcast; the eager dtype."""
    shape = broadcast_shapes(*[shape_of(a) for a in args if _is_operand(a)])
    return spec(shape, probe_dtype(fn, *args, **kwargs))


def same_shape(fn, x, *args, **kwargs):
    """Rule of ops whose output has the shape of `x` (softmax along an axis, ...)."""
    return spec(shape_of(x), probe_dtype(fn, x, *args, **kwargs))


def reduction(fn, x, axis=None, keepdims=False, *args, **kwargs):
    """Rule of reductions over `axis` (None: all) with `keepdims`."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return spec(reduce_shape(shape_of(x), axis, keepdims),
                probe_dtype(fn, x, *args, axis=axis, keepdims=keepdims, **kwargs))


def prod(values):
    """Product of sizes (ints or Dims)."""
    return math.prod(values, start=1)
