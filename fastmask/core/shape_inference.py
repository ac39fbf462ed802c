"""Shape inference by dry runs: output specs of NumPy-level functions on symbolic tensors.

Mirrors the numpy backend's `compute_output_spec` in Keras: a symbolic call
runs the eager function on dummy arrays (unknown dims filled with 83, then 89)
and reads the output shapes and dtypes. `symbolic_apply` adds the graph node.
The operators of `KerasTensor` (`x + y`, `x[i]`, `x != 0`, ...) are installed
here, as they record nodes through `symbolic_apply`.

This module is the one home of the dry runs (issue 14 replaces them with shape
rules).
"""
import numpy as np

from .operation import Node, _FunctionOp
from .tensor import KerasTensor, plain, standardize_dtype
from .tree import flatten, map_structure, pack_as

__all__ = ["any_symbolic", "compute_output_spec", "symbolic_apply"]


def any_symbolic(args, kwargs=None):
    for x in flatten(args):
        if isinstance(x, KerasTensor):
            return True
    if kwargs:
        for x in flatten(kwargs):
            if isinstance(x, KerasTensor):
                return True
    return False


def _dummy(x, fill):
    if isinstance(x, KerasTensor):
        shape = tuple(fill if d is None else d for d in x.shape)
        if x.dtype == "bool":
            return np.ones(shape, dtype=bool)
        return np.zeros(shape, dtype=x.dtype)
    return x


def compute_output_spec(fn, *args, **kwargs):
    """Output KerasTensor(s) of `fn` on symbolic args, found by dry runs on dummies.

    Unknown dims are filled with 83, then (if any) 89; output dims that differ
    between the runs are unknown (None). Non-array outputs pass through.
    """
    none_in_shape = any(isinstance(x, KerasTensor) and None in x.shape
                        for x in flatten((args, kwargs)))
    with np.errstate(all="ignore"):
        a1, k1 = map_structure(lambda x: _dummy(x, 83), (args, kwargs))
        out1 = fn(*a1, **k1)
        flat1 = flatten(out1)
        if none_in_shape:
            a2, k2 = map_structure(lambda x: _dummy(x, 89), (args, kwargs))
            flat2 = flatten(fn(*a2, **k2))
        else:
            flat2 = flat1
    specs = []
    for o1, o2 in zip(flat1, flat2):
        if isinstance(o1, (np.ndarray, np.generic)):
            o1, o2 = np.asarray(plain(o1)), np.asarray(plain(o2))
            shape = [d1 if d1 == d2 else None for d1, d2 in zip(o1.shape, o2.shape)]
            specs.append(KerasTensor(shape, standardize_dtype(o1.dtype)))
        elif isinstance(o1, KerasTensor):
            specs.append(KerasTensor(o1.shape, o1.dtype))
        else:
            specs.append(o1)
    return pack_as(out1, specs)


def symbolic_apply(fn, args, kwargs, name):
    """Apply a NumPy-level function to symbolic args: output spec + graph node."""
    op = _FunctionOp(fn, name)
    outputs = compute_output_spec(fn, *args, **kwargs)
    Node(op, args, kwargs, outputs)
    return outputs




# --- operators of KerasTensor ---------------------------------------------------
# Installed on the class here (not in tensor.py) because they record graph nodes
# through `symbolic_apply`; `fastmask.core` imports this module, so every
# KerasTensor has them. `reshape`/`squeeze` methods are installed by `fastmask.ops`.

def _getitem(self, key):
    return symbolic_apply(lambda x: x[key], (self,), {}, "get_item")


def _binary(np_func, name, reflected=False):
    def op(self, other):
        args = (other, self) if reflected else (self, other)
        return symbolic_apply(np_func, args, {}, name)
    op.__name__ = name
    return op


def _unary(np_func, name):
    def op(self):
        return symbolic_apply(np_func, (self,), {}, name)
    op.__name__ = name
    return op


KerasTensor.__getitem__ = _getitem
for _dunder, _f in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                    ("matmul", np.matmul), ("truediv", np.true_divide),
                    ("floordiv", np.floor_divide), ("mod", np.mod), ("pow", np.power),
                    ("and", np.logical_and), ("or", np.logical_or),
                    ("xor", np.logical_xor)):
    setattr(KerasTensor, f"__{_dunder}__", _binary(_f, _f.__name__))
    setattr(KerasTensor, f"__r{_dunder}__", _binary(_f, _f.__name__, reflected=True))
for _dunder, _f in (("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                    ("ge", np.greater_equal), ("ne", np.not_equal)):
    setattr(KerasTensor, f"__{_dunder}__", _binary(_f, _f.__name__))
for _dunder, _f in (("neg", np.negative), ("abs", np.absolute), ("invert", np.logical_not)):
    setattr(KerasTensor, f"__{_dunder}__", _unary(_f, _f.__name__))
del _dunder, _f
