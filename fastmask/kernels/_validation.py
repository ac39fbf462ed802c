"""Argument checks shared by every public entry point.

Each raises TypeError/ValueError naming the argument and what was received,
so that no malformed array ever reaches a nogil kernel.
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def native_dtype(dtype):
    """`dtype` in the machine's byte order (a byte-swapped float64 is still float64)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{x!r} (of type {type(x).__name__})"


def check_row_input(x, dtype, n):
    """x must be a C-contiguous, aligned NumPy array of `dtype` with n values in its last axis
    (what a prepared kernel call was prepared for); ValueError otherwise."""
    if not (type(x) is np.ndarray and x.dtype == dtype and x.ndim >= 1
            and x.shape[-1] == n and x.flags.c_contiguous and x.flags.aligned):
        got = (f"x.shape={x.shape}, x.dtype={x.dtype}, C-contiguous: {x.flags.c_contiguous}, "
               f"aligned: {x.flags.aligned}"
               if isinstance(x, np.ndarray) else f"x of type {type(x).__name__}")
        raise ValueError(f"`x` must be a C-contiguous, aligned {dtype} NumPy array of shape "
                         f"(..., {n}). Received: {got}")


def contiguous(arr, dtype=None):
    """`arr` as a C-contiguous, aligned array (of `dtype`), copied only when needed.

    np.ascontiguousarray keeps a misaligned array (e.g. a view at an odd byte
    offset of a buffer) as it is; the kernels load typed values from it, which is
    undefined behaviour in C (and vectorised loads may fault).
    """
    out = np.ascontiguousarray(arr, dtype=dtype)
    return out if out.flags.aligned else out.copy()


def as_array(x, name):
    """np.asarray(x); a ragged nested list is a ValueError naming `name`."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except ValueError as e:
        if "inhomogeneous" not in str(e) and "with a sequence" not in str(e):
            raise   # e.g. a symbolic KerasTensor's own message
        raise ValueError(f"`{name}` must be a rectangular array, not a ragged nested "
                         f"sequence ({e}). Received: {name} of type {type(x).__name__}") from None


def as_float_array(x, name, ndim=None, min_ndim=None, dtype=None):
    """`x` as a C-contiguous float32/float64 array (copy only when needed).

    Floats keep their precision (float16 -> float32), ints and bools become
    float32 unless `dtype` is given. Object, string and complex input is a TypeError.
    """
    if type(x) is np.ndarray and x.ndim and (dtype is None or x.dtype == dtype) \
            and x.dtype in FLOAT_DTYPES and x.flags.c_contiguous and x.flags.aligned \
            and x.dtype.isnative and (ndim is None or x.ndim == ndim) \
            and (min_ndim is None or x.ndim >= min_ndim):
        return x     # already what the conversion below would return (no copy)
    arr = as_array(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"`{name}` must be a real numeric array. Received: {name}={_describe(arr)}")
    if dtype is None:
        native = native_dtype(arr.dtype)
        dtype = native if native in FLOAT_DTYPES else np.dtype(np.float32)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have rank {ndim}. Received: {name}.shape={arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"`{name}` must have rank >= {min_ndim}. Received: {name}.shape={arr.shape}")
    return contiguous(arr, dtype=dtype)


def as_index_array(x, name, ndim=None):
    """`x` as C-contiguous int32/int64 ids; other ints are widened to int64.

    Floats are truncated toward zero like Keras's cast to int32 (NaN/inf raise).
    """
    arr = as_array(x, name)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"`{name}` contains NaN or inf; cannot use them as indices.")
        arr = arr.astype(np.int32)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.int32)
    elif arr.dtype.kind in "iu":
        if native_dtype(arr.dtype) in INDEX_DTYPES:
            arr = arr.astype(native_dtype(arr.dtype), copy=False)
        else:
            if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
                raise ValueError(f"`{name}` has ids beyond int64.")
            arr = arr.astype(np.int64)
    else:
        raise TypeError(f"`{name}` must be an integer array. Received: {name}={_describe(arr)}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have rank {ndim}. Received: {name}.shape={arr.shape}")
    return contiguous(arr)


def check_mask_values(m, name, where=""):
    """Reject what no Keras layer reads as a mask; return `m` (an ndarray) unchanged.

    Accepted, as Keras accepts them: bool, and int/uint/float numbers (each
    layer then reads them as Keras does: `mask != 0` from its cast to bool, or
    `mask > 0.5` in Softmax). Strings, complex, objects and other dtypes are a
    TypeError; a float mask holding NaN is a ValueError (NaN is neither keep
    nor drop). `where` prefixes the message (e.g. the layer's name).
    """
    kind = m.dtype.kind
    if kind == "b" or kind in "iu":
        return m
    if kind != "f":
        raise TypeError(f"{where}`{name}` must be a boolean mask (or int/float numbers, read as "
                        f"Keras reads them). Received: {name}={_describe(m)}")
    nan = np.isnan(m)
    if nan.any():
        at = tuple(int(i) for i in np.argwhere(nan)[0])
        raise ValueError(f"{where}`{name}` contains NaN (first at index {at}); a mask must be "
                         f"boolean or numbers that are not NaN. Received: {name}={_describe(m)}")
    return m


def as_mask_array(mask, name, where=""):
    """`mask` as an ndarray that `check_mask_values` accepts (not converted)."""
    return check_mask_values(as_array(mask, name), name, where)


def as_mask(mask, name, shape):
    """`mask` as a C-contiguous bool array of exactly `shape`.

    Bool masks pass through; numeric masks follow Keras's cast to bool
    (nonzero keeps); other dtypes and NaN are rejected (`check_mask_values`).
    A shape mismatch is a ValueError.
    """
    m = as_mask_array(mask, name)
    if tuple(m.shape) != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}. Received: {name}.shape={m.shape}")
    return np.ascontiguousarray(m, dtype=bool)


def check_positive_int(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int. Received: {name}={value!r} "
                        f"(of type {type(value).__name__})")
    if value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` must be a {kind} integer. Received: {name}={value}")
    return int(value)


def check_out(out, shape, dtype, inputs=(), name="out"):
    """Check a caller's output buffer: a writeable, aligned, C-contiguous NumPy
    array of exactly `shape` and `dtype` that shares no memory with any array
    of `inputs` (the C-contiguous arrays the kernel reads). Returns `out`.

    TypeError for a non-array, ValueError for anything else, naming `name`.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"`{name}` must be a NumPy array. Received: {name}={_describe(out)}")
    if type(shape) is not tuple:
        shape = tuple(shape)
    if not isinstance(dtype, np.dtype):
        dtype = np.dtype(dtype)
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"`{name}` must have shape {shape} and dtype {dtype}. "
                         f"Received: {name}={_describe(out)}")
    flags = out.flags            # (each `.flags` makes a new object)
    if not (flags.c_contiguous and flags.aligned):
        raise ValueError(f"`{name}` must be C-contiguous (and aligned). "
                         f"Received: {name} with strides {out.strides}")
    if not flags.writeable:
        raise ValueError(f"`{name}` must be writeable. Received: {name}={_describe(out)} (read-only)")
    if not out.size:
        return out
    for a in inputs:
        # Both are contiguous, so the bounds test is exact.
        if a is not None and a.size and np.may_share_memory(out, a):
            raise ValueError(f"`{name}` must not overlap the inputs. Received: {name} "
                             f"sharing memory with an input of shape {a.shape}")
    return out
