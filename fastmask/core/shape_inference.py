"""Symbolic shape inference: output specs of calls on `KerasTensor`s, from shapes alone.

* `trace_output_spec(fn, ...)` runs `fn` on fresh `KerasTensor`s with the same
  shapes and dtypes that record no graph history (`detached`), inside
  `tracing()`: every `fastmask.ops` op, operator and NumPy ufunc on them answers
  from its shape rule, nested layers build themselves and answer symbolically,
  `ops.shape` gives `Dim`s for unknown dims, and nothing is recorded in any graph
  (as Keras's JAX backend, `jax.eval_shape`).
* `dry_run_output_spec(fn, ...)` runs `fn` on small valid arrays (zeros, True
  for bools; unknown dims 83, then 89), as Keras's NumPy backend does.
* `compute_output_spec(fn, ...)` traces, and falls back to the dry run only when
  the trace asked a symbolic value for a number (`SymbolicValueError`: plain
  NumPy on a KerasTensor, `int(dim)`, an undecidable comparison of sizes).
* `symbolic_apply(fn, spec, args, kwargs)`: the output spec of one op plus its
  graph node (none while tracing): how every op answers a KerasTensor.
* `broadcast_shapes`, `matmul_shape`: shape rules shared by the ops and the
  NumPy ufuncs, which `KerasTensor.__array_ufunc__` (installed here) answers with
  NumPy's own dtype resolution.
"""
import contextlib

import numpy as np

from .operation import CALL_CONTEXT, Node, _FunctionOp, detach, will_record
from .tensor import (Dim, KerasTensor, SymbolicValueError, plain, scratch_tensors,
                     standardize_dtype)
from .tree import flatten, map_structure, pack_as

__all__ = ["any_symbolic", "tracing", "is_tracing", "symbolic_apply", "detached",
           "trace_output_spec",
           "dry_run_output_spec", "compute_output_spec", "broadcast_shapes", "matmul_shape"]


def any_symbolic(args, kwargs=None):
    """True when `args`/`kwargs` hold a KerasTensor or a `Dim` (at any depth)."""
    for x in flatten(args):
        if isinstance(x, (KerasTensor, Dim)):
            return True
    if kwargs:
        for x in flatten(kwargs):
            if isinstance(x, (KerasTensor, Dim)):
                return True
    return False


@contextlib.contextmanager
def tracing():
    """Symbolic code inside stands for a call on arrays: `ops.shape` gives `Dim`s for
    unknown dims, operators on KerasTensors mean NumPy's."""
    CALL_CONTEXT.tracing += 1
    try:
        yield
    finally:
        CALL_CONTEXT.tracing -= 1


def is_tracing():
    return CALL_CONTEXT.tracing > 0


@contextlib.contextmanager
def untraced():
    """Real arrays inside, even within a trace (a dry run): layers run eagerly."""
    depth, CALL_CONTEXT.tracing = CALL_CONTEXT.tracing, 0
    try:
        yield
    finally:
        CALL_CONTEXT.tracing = depth


def symbolic_apply(fn, spec, args, kwargs, name):
    """`spec(*args, **kwargs)` (the output KerasTensors) and a graph node replaying `fn`
    (none in a trace: see `operation.record_node`)."""
    outputs = spec(*args, **kwargs)
    if will_record(args, kwargs):
        Node(_FunctionOp(fn, name), args, kwargs, outputs)
    else:
        detach(outputs)
    return outputs


# --------------------------------------------------------------------------- tracing

def detached(x):
    """A new KerasTensor like `x` (its mask too) that records no graph history."""
    if not isinstance(x, KerasTensor):
        return x
    out = KerasTensor(x.shape, x.dtype, record_history=False)
    mask = getattr(x, "_keras_mask", None)
    if isinstance(mask, KerasTensor):
        out._keras_mask = KerasTensor(mask.shape, mask.dtype, record_history=False)
    return out


def _as_spec(x):
    """An output of a traced call as a new KerasTensor (arrays included); others as they are."""
    if isinstance(x, KerasTensor):
        return KerasTensor(x.shape, x.dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        return KerasTensor(np.shape(x), standardize_dtype(x.dtype))
    return x


def trace_output_spec(fn, *args, **kwargs):
    """Output KerasTensor(s) of `fn` on symbolic args, by tracing it symbolically.

    Raises `SymbolicValueError` when `fn` needs a concrete value (see module doc).
    """
    with tracing(), scratch_tensors():
        args, kwargs = map_structure(detached, (args, kwargs))
        outputs = fn(*args, **kwargs)
    return map_structure(_as_spec, outputs)


def _dummy(x, i):
    if isinstance(x, KerasTensor):
        shape = tuple(Dim.SIZES[i] if d is None else d for d in x.shape)
        if x.dtype == "bool":
            return np.ones(shape, dtype=bool)
        return np.zeros(shape, dtype=x.dtype)
    if isinstance(x, Dim):
        return x.values[i]
    return x


def dry_run_output_spec(fn, *args, **kwargs):
    """Output KerasTensor(s) of `fn` on symbolic args, by running it on small valid arrays.

    Unknown dims are filled with 83, then (if any) 89; output dims that differ
    between the runs are unknown (None). Non-array outputs pass through.
    """
    none_in_shape = any(isinstance(x, KerasTensor) and None in x.shape
                        for x in flatten((args, kwargs)))
    with np.errstate(all="ignore"), untraced():
        a1, k1 = map_structure(lambda x: _dummy(x, 0), (args, kwargs))
        out1 = fn(*a1, **k1)
        flat1 = flatten(out1)
        if none_in_shape:
            a2, k2 = map_structure(lambda x: _dummy(x, 1), (args, kwargs))
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


def compute_output_spec(fn, *args, **kwargs):
    """Output KerasTensor(s) of `fn`: a symbolic trace, else (plain NumPy met) a dry run."""
    try:
        return trace_output_spec(fn, *args, **kwargs)
    except SymbolicValueError:
        return dry_run_output_spec(fn, *args, **kwargs)


# --------------------------------------------------------------------------- shape rules

def broadcast_shapes(*shapes):
    """Keras's broadcasting of shapes with None for unknown dims (None with k gives k)."""
    out = []
    for shape in shapes:
        shape = list(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        shape = [1] * (len(out) - len(shape)) + shape
        for i, (a, b) in enumerate(zip(out, shape)):
            if a == 1:
                out[i] = b
            elif a is None:
                out[i] = None if b == 1 else b
            elif not (b == 1 or b is None or b == a):
                raise ValueError(
                    "Cannot broadcast shape, the failure dim has value "
                    f"{a}, which cannot be broadcasted to {b}. Input shapes are: "
                    f"{[tuple(s) for s in shapes]}. Received: shapes={list(shapes)}")
    return tuple(out)


def matmul_shape(shape1, shape2):
    """Shape of `matmul` (rank-1 operands as NumPy: prepended/appended then removed)."""
    shape1, shape2 = tuple(shape1), tuple(shape2)
    if not shape1 or not shape2:
        raise ValueError("`matmul` does not accept scalars. Received: "
                         f"x1.shape={shape1}, x2.shape={shape2}")
    a = shape1 if len(shape1) > 1 else (1,) + shape1
    b = shape2 if len(shape2) > 1 else shape2 + (1,)
    if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
        raise ValueError(
            "Inner dimensions (`x1.shape[-1]` and `x2.shape[-2]`) must be equal, but received "
            f"`x1.shape={shape1}` and `x2.shape={shape2}`.")
    out = broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
    if len(shape1) == 1:
        out = out[:-2] + out[-1:]
    if len(shape2) == 1:
        out = out[:-1]
    return out


def shape_of(x):
    """Shape of a KerasTensor (None for unknown dims), array, scalar or `Dim` (())."""
    if isinstance(x, (KerasTensor, np.ndarray, np.generic)):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return (len(x),) + (shape_of(x[0]) if len(x) else ())
    return ()


# --------------------------------------------------------------------------- ufuncs

def _ufunc_dtype_arg(x):
    """What `ufunc.resolve_dtypes` takes for `x` (Python scalars and Dims are weak)."""
    if isinstance(x, KerasTensor):
        return np.dtype(x.dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype
    if isinstance(x, bool):
        return np.dtype(bool)
    if isinstance(x, (int, Dim)):
        return int
    if isinstance(x, (float, complex)):
        return type(x)
    raise SymbolicValueError(f"No symbolic rule for a ufunc operand of type {type(x).__name__}. "
                             f"Received: {x!r}")


def ufunc_spec(ufunc, *inputs, dtype=None):
    """Output KerasTensor(s) of `ufunc(*inputs)`: broadcast shape, NumPy's result dtype."""
    if ufunc is np.matmul:
        shape = matmul_shape(shape_of(inputs[0]), shape_of(inputs[1]))
    elif ufunc.signature is not None:
        raise SymbolicValueError(f"No symbolic rule for the generalized ufunc `{ufunc.__name__}`."
                                 f" Received: signature={ufunc.signature!r}")
    else:
        shape = broadcast_shapes(*[shape_of(x) for x in inputs])
    dtypes = tuple(_ufunc_dtype_arg(x) for x in inputs)
    outs = (None,) * ufunc.nout if dtype is None else (np.dtype(dtype),) * ufunc.nout
    try:
        resolved = ufunc.resolve_dtypes(dtypes + outs)
    except TypeError as e:
        raise TypeError(f"ufunc '{ufunc.__name__}' not supported for the input types "
                        f"{[str(d) for d in dtypes]}. Received: {e}") from None
    specs = tuple(KerasTensor(shape, standardize_dtype(d)) for d in resolved[ufunc.nin:])
    return specs[0] if ufunc.nout == 1 else specs


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if method != "__call__" or set(kwargs) - {"dtype"}:
        raise SymbolicValueError(
            f"`np.{ufunc.__name__}{'' if method == '__call__' else '.' + method}` with "
            f"{sorted(kwargs)} has no symbolic rule in fastmask. Received: method={method!r}")

    def spec(*args, **kw):
        return ufunc_spec(ufunc, *args, **kw)

    return symbolic_apply(ufunc, spec, inputs, kwargs, ufunc.__name__)


KerasTensor.__array_ufunc__ = _array_ufunc
