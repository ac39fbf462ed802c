"""Keras's dtype rules for the ops: promotion (`result_type`) and `convert_to_tensor`.

Python scalars are weak (they take the other operand's dtype); 64-bit results
are canonicalized to 32-bit where Keras's NumPy backend does so. The eager ops
use these helpers, and their symbolic rules read dtypes from the same code
(`symbolic.probe_dtype` runs the eager op on 1-element stand-ins).
"""
import builtins
import functools

import numpy as np

from ..core.tensor import Dim, KerasTensor, plain, standardize_dtype
from ..core.tree import flatten

__all__ = ["FLOATX", "result_type", "dtype_of", "to_array", "as_array", "float_array"]

FLOATX = "float32"
_FLOAT_ORDER = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}
_CANONICAL = {"float64": "float32", "int64": "int32", "uint64": "uint32"}


def dtype_of(x):
    """Keras's dtype of `x`: a name, or the weak types `int`/`float`/`bool` for Python scalars
    (a `Dim`, an unknown size, is a Python int)."""
    if isinstance(x, (bool, np.bool_)) and not isinstance(x, np.ndarray):
        return bool if isinstance(x, bool) else "bool"
    if isinstance(x, Dim) or (isinstance(x, int) and not isinstance(x, np.integer)):
        return int
    if isinstance(x, float) and not isinstance(x, np.floating):
        return float
    if hasattr(x, "dtype"):
        return standardize_dtype(x.dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(i, (KerasTensor, Dim)) for i in flatten(x)):
        return result_type(*[dtype_of(i) for i in flatten(x)])
    return standardize_dtype(np.asarray(x).dtype)


def result_type(*dtypes):
    """Keras's (JAX-like) promotion: Python scalars are weak; 64-bit canonicalized to 32."""
    try:
        return _result_type_cached(dtypes)
    except TypeError:   # an unhashable dtype description: computed each time
        return _result_type(dtypes)


@functools.lru_cache(maxsize=1024)
def _result_type_cached(dtypes):
    return _result_type(dtypes)


def _result_type(dtypes):
    strong = [standardize_dtype(d) for d in dtypes if d not in (int, float, bool)]
    weak = [d for d in dtypes if d in (int, float, bool)]
    floats = [d for d in strong if d in _FLOAT_ORDER]
    if floats:
        out = builtins.max(floats, key=_FLOAT_ORDER.get)
    elif float in weak:
        out = FLOATX
    else:
        ints = [d for d in strong if d != "bool"]
        if ints:
            out = np.result_type(*ints).name
            if out.startswith("float"):  # uint64 with int64
                out = FLOATX
        elif int in weak:
            out = "int32"
        else:
            out = "bool"
    return _CANONICAL.get(out, out)


def to_array(x, dtype=None):
    """`convert_to_tensor` as Keras's NumPy backend does it (an ndarray)."""
    if dtype is not None:
        dtype = standardize_dtype(dtype)
        if isinstance(x, np.ndarray):
            return plain(x).astype(dtype, copy=x.dtype != dtype)
        return np.array(x, dtype=dtype)
    if isinstance(x, np.ndarray):
        target = _CONVERT_TO.get(x.dtype, _UNKNOWN)
        if target is _UNKNOWN:
            target = _convert_target(x.dtype)
        if target is None:
            return plain(x)
        return x.astype(target)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        return arr
    items = flatten(x) if isinstance(x, (list, tuple)) else [x]
    return np.array(x, dtype=result_type(*[dtype_of(i) for i in items] or ["float32"]))


_UNKNOWN = object()
_CONVERT_TO = {}    # np.dtype -> the dtype name `to_array` casts an array of it to, or None


def _convert_target(dtype):
    """What `to_array` casts an array of `dtype` to (None: kept), remembered per dtype."""
    target = result_type(dtype.name) if dtype.kind in "biuf" else None
    if target == dtype.name:
        target = None
    _CONVERT_TO[dtype] = target
    return target


def as_array(x):
    """An ndarray operand as it is (a plain view); anything else through `to_array`."""
    if type(x) is np.ndarray:
        return x
    return plain(x) if isinstance(x, np.ndarray) else to_array(x)


def float_array(x):
    """`to_array(x)` with ints and bools cast to floatx (the rule of exp, log, tanh...)."""
    x = to_array(x)
    return x if x.dtype.kind == "f" else x.astype(FLOATX)
