"""`KerasTensor`'s operators, array methods and NumPy-function protocol, answered by the ops.

* Operators (`x + y`, `x @ w`, `x[i]`, `x < 0`, `-x`, ...): in a Functional
  graph they are Keras's ops (`ops.add`, ...: Keras's dtype rules), recorded as
  graph nodes. While shape inference traces a layer's `call` they stand for the
  same operators on the arrays the call will get, so their dtypes are NumPy's
  (`ufunc.resolve_dtypes`), and `x == 0` is elementwise there too.
* `reshape`/`squeeze` (Keras's methods) and the NumPy methods layer code uses on
  arrays (`astype`, `transpose`, `T`, `sum`, `mean`, `max`, ...).
* `np.sum(x)`, `np.concatenate([x, y])`, ... (`__array_function__`): the NumPy
  functions with a fastmask op answer with that op's shape rule and NumPy's
  dtype; any other raises `SymbolicValueError` (a layer's shape inference then
  falls back to a dry run of its `call`).
"""
import numpy as np

from ..core.shape_inference import is_tracing, symbolic_apply
from ..core.tensor import KerasTensor, SymbolicValueError
from . import core as _core
from . import numpy as _np_ops
from .symbolic import probe_dtype

__all__ = []


# --------------------------------------------------------------------------- operators

def _binary(ufunc, keras_op, reflected=False):
    def method(self, other):
        a, b = (other, self) if reflected else (self, other)
        if is_tracing():
            return ufunc(a, b)
        return keras_op(a, b)
    method.__name__ = f"__{'r' if reflected else ''}{ufunc.__name__}__"
    return method


def _unary(ufunc, keras_op):
    def method(self):
        return ufunc(self) if is_tracing() else keras_op(self)
    method.__name__ = f"__{ufunc.__name__}__"
    return method


_BINARY = {
    "add": (np.add, _np_ops.add), "sub": (np.subtract, _np_ops.subtract),
    "mul": (np.multiply, _np_ops.multiply), "matmul": (np.matmul, _np_ops.matmul),
    "truediv": (np.true_divide, _np_ops.divide),
    "floordiv": (np.floor_divide, _np_ops.floor_divide), "mod": (np.mod, _np_ops.mod),
    "pow": (np.power, _np_ops.power), "and": (np.bitwise_and, _np_ops.logical_and),
    "or": (np.bitwise_or, _np_ops.logical_or), "xor": (np.bitwise_xor, _np_ops.logical_xor),
}
for _name, (_ufunc, _keras_op) in _BINARY.items():
    setattr(KerasTensor, f"__{_name}__", _binary(_ufunc, _keras_op))
    setattr(KerasTensor, f"__r{_name}__", _binary(_ufunc, _keras_op, reflected=True))
for _name, (_ufunc, _keras_op) in {
        "lt": (np.less, _np_ops.less), "le": (np.less_equal, _np_ops.less_equal),
        "gt": (np.greater, _np_ops.greater), "ge": (np.greater_equal, _np_ops.greater_equal),
        "ne": (np.not_equal, _np_ops.not_equal)}.items():
    setattr(KerasTensor, f"__{_name}__", _binary(_ufunc, _keras_op))
for _name, (_ufunc, _keras_op) in {
        "neg": (np.negative, _np_ops.negative), "abs": (np.absolute, _np_ops.absolute),
        "invert": (np.invert, _np_ops.logical_not)}.items():
    setattr(KerasTensor, f"__{_name}__", _unary(_ufunc, _keras_op))
del _name, _ufunc, _keras_op


def _eq(self, other):
    """Elementwise against numbers and arrays while tracing (as on the call's arrays);
    identity otherwise (Keras: a KerasTensor compares by identity)."""
    if is_tracing() and isinstance(other, (int, float, np.ndarray, np.generic)):
        return np.equal(self, other)
    return NotImplemented


KerasTensor.__eq__ = _eq
KerasTensor.__hash__ = object.__hash__
KerasTensor.__getitem__ = lambda self, key: _np_ops.get_item(self, key)
KerasTensor.__round__ = lambda self, ndigits=None: _np_ops.round(self, ndigits or 0)


# --------------------------------------------------------------------------- methods

def _reshape(self, *newshape):
    return _np_ops.reshape(self, newshape[0] if len(newshape) == 1 else newshape)


def _transpose(self, *axes):
    return _np_ops.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)


KerasTensor.reshape = _reshape
KerasTensor.squeeze = lambda self, axis=None: _np_ops.squeeze(self, axis=axis)
KerasTensor.astype = lambda self, dtype, **kwargs: _core.cast(self, dtype)
KerasTensor.transpose = _transpose
KerasTensor.T = property(lambda self: _np_ops.transpose(self))
for _name in ("sum", "mean", "max", "min", "any", "all", "prod", "cumsum", "argmax", "argmin",
              "clip", "round"):
    setattr(KerasTensor, _name, (lambda f: lambda self, *a, **k: f(self, *a, **k))(
        getattr(np, _name)))
del _name


# --------------------------------------------------------------------------- NumPy functions

# NumPy function: the fastmask op whose shape rule answers it. The rule is given the NumPy
# function to probe, so rules that probe their dtype read NumPy's; shape-only rules keep the
# input's dtype, as NumPy does.
_FUNCTIONS = {
    np.reshape: _np_ops.reshape, np.transpose: _np_ops.transpose,
    np.expand_dims: _np_ops.expand_dims, np.squeeze: _np_ops.squeeze, np.tile: _np_ops.tile,
    np.repeat: _np_ops.repeat, np.split: _np_ops.split, np.swapaxes: _np_ops.swapaxes,
    np.moveaxis: _np_ops.moveaxis, np.flip: _np_ops.flip,
    np.broadcast_to: _np_ops.broadcast_to, np.take: _np_ops.take,
    np.take_along_axis: _np_ops.take_along_axis, np.where: _np_ops.where,
    np.any: _np_ops.any, np.all: _np_ops.all, np.sum: _np_ops.sum, np.mean: _np_ops.mean,
    np.max: _np_ops.max, np.amax: _np_ops.max, np.min: _np_ops.min, np.amin: _np_ops.min,
    np.prod: _np_ops.prod, np.argmax: _np_ops.argmax, np.argmin: _np_ops.argmin,
    np.cumsum: _np_ops.cumsum, np.clip: _np_ops.clip, np.round: _np_ops.round,
    np.around: _np_ops.round, np.einsum: _np_ops.einsum, np.dot: _np_ops.dot,
    np.zeros_like: _np_ops.zeros_like, np.ones_like: _np_ops.ones_like,
    np.full_like: _np_ops.full_like, np.concatenate: _np_ops.concatenate,
    np.stack: _np_ops.stack,
}
# These rules give Keras's promotion; NumPy's own comes from a 1-element probe.
_NUMPY_DTYPE = {np.concatenate, np.stack}


def _numpy_spec(func, fastmask_op):
    def spec(*args, **kwargs):
        try:
            out = fastmask_op.spec(func, *args, **kwargs)
        except TypeError as e:   # NumPy arguments the op's rule does not take
            raise SymbolicValueError(f"`np.{func.__name__}` with these arguments has no "
                                     f"symbolic rule in fastmask. Received: {e}") from None
        if func in _NUMPY_DTYPE:
            out._dtype = probe_dtype(func, *args, **kwargs)
        return out
    return spec


def _array_function(self, func, types, args, kwargs):
    if func is np.shape:
        return _core.shape(args[0])
    if func is np.ndim:
        return len(args[0].shape)
    fastmask_op = _FUNCTIONS.get(func)
    if fastmask_op is None or "out" in kwargs:
        raise SymbolicValueError(
            f"`np.{func.__name__}` cannot run on a symbolic KerasTensor (no shape rule in "
            "fastmask): use the `fastmask.ops` function of the same name, or a layer. "
            f"Received: np.{func.__name__}")
    return symbolic_apply(func, _numpy_spec(func, fastmask_op), args, kwargs, func.__name__)


KerasTensor.__array_function__ = _array_function
