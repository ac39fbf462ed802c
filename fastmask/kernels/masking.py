"""Masking and Embedding(mask_zero) as kernels: one pass over the data.

`masking_mask` / `masking` implement `keras.layers.Masking` and `embedding`
implements `keras.layers.Embedding` lookup with `mask_zero`, with Keras 3's
semantics (NumPy backend). Keras's mask convention: True = keep the step.
"""
import math
import numbers
import warnings

import numpy as np

from . import _masking
from ._threads import effective_num_threads
from ._openmp_helpers import threads_for
from ._validation import (FLOAT_DTYPES, INDEX_DTYPES, as_array, as_float_array,
                           as_index_array, contiguous)

__all__ = ["masking", "masking_mask", "embedding"]

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# From this size on, glibc's calloc always maps fresh zero pages (its largest
# mmap threshold is 32 MiB), so np.zeros costs no more than np.empty.
_ZEROED_OUT_BYTES = 32 * 2 ** 20
# Below this many bytes of work per thread, extra threads cost more than they
# save (the results do not depend on the thread count).
_BYTES_PER_THREAD = 256 * 2 ** 10


def _threads_for(nbytes, n_threads):
    return threads_for(n_threads, nbytes, _BYTES_PER_THREAD)


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{x!r} (of type {type(x).__name__})"


def _float_dtype(dtype):
    """float64 for (any byte order of) float64, else float32."""
    is_f64 = dtype.kind == "f" and dtype.itemsize == 8
    return np.dtype(np.float64) if is_f64 else np.dtype(np.float32)


def _as_rows(arr):
    """A (rows, last_dim) view of a float32/float64 array whose last axis is
    contiguous and whose row stride is a multiple of the itemsize; a C-contiguous
    copy only when no such view exists."""
    shape = (math.prod(arr.shape[:-1]), arr.shape[-1])
    if arr.flags.c_contiguous and arr.flags.aligned:
        return arr.reshape(shape)
    item = arr.itemsize
    try:
        rows = np.reshape(arr, shape, copy=False)
    except ValueError:  # the leading axes cannot be merged without a copy
        rows = None
    if (rows is None or not rows.flags.aligned or rows.dtype.byteorder not in "=|"
            or (rows.shape[1] > 1 and rows.strides[1] != item)
            or (rows.shape[0] > 1 and rows.strides[0] % item)):
        rows = contiguous(arr).reshape(shape)
    return rows


def _masking_input(x):
    """(x as the Keras layer computes on it, float data for the kernel or None).

    float32/float64 pass through (no copy); float16 becomes float32 (Keras's
    autocast); bool and ints of up to 16 bits become float32 (exact). Wider
    ints get None: their mask is computed by NumPy on the raw values (exact),
    their output is float32.
    """
    arr = as_array(x, "x")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"`x` must be a real numeric array. Received: x={_describe(arr)}")
    if arr.ndim < 1:
        raise ValueError(f"`x` must have rank >= 1 (the last axis holds the features). "
                         f"Received: x.shape={arr.shape}")
    if arr.dtype in FLOAT_DTYPES and arr.dtype.isnative:
        return arr, arr
    if arr.dtype.kind == "f" or arr.dtype.itemsize <= 2:
        conv = as_float_array(arr, "x", dtype=_float_dtype(arr.dtype))
        return conv, conv
    return arr, None


def _kernel_mask_value(mask_value, dtype):
    """The `dtype` scalar v such that `x != v` equals NumPy's `x != mask_value`
    for every x of `dtype` (NaN if no x of that dtype can equal mask_value),
    or None when mask_value is an array (broadcast: NumPy fallback)."""
    if type(mask_value) is float or type(mask_value) is int:
        # Python scalars are "weak" (NEP 50): converted to x's dtype, then compared.
        if dtype == np.float64 and (type(mask_value) is float or abs(mask_value) < 2 ** 53):
            return float(mask_value)
        if dtype == np.float32 and (type(mask_value) is float and abs(mask_value) <= _FLOAT32_MAX
                                    or abs(mask_value) < 2 ** 24):
            return float(np.float32(mask_value))
    if isinstance(mask_value, np.ndarray) and mask_value.ndim == 0:
        mask_value = mask_value[()]
    bad = TypeError(f"`mask_value` must be a number. Received: mask_value={_describe(mask_value)}")
    if isinstance(mask_value, np.ndarray):
        if mask_value.dtype.kind not in "biufc":
            raise bad
        return None
    if not isinstance(mask_value, (numbers.Number, np.number, np.bool_)):
        raise bad
    # Python scalars are "weak" (NEP 50): compared in x's dtype; NumPy scalars
    # may promote the comparison (float32 x vs np.float64 value -> float64).
    cmp = np.result_type(np.empty(0, dtype), mask_value)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            mv = np.asarray(mask_value, dtype=cmp)
        except OverflowError:  # a Python int beyond any float, as in NumPy's `x != v`
            raise ValueError(f"`mask_value` is too large to compare with a {dtype} array. "
                             f"Received: mask_value={mask_value!r}") from None
        if cmp == dtype:
            return float(mv)
        mv_x = mv.astype(dtype)
        if mv_x.astype(cmp) == mv:  # exactly representable in x's dtype
            return float(mv_x)
    return float("nan")  # NaN, or not representable: nothing of x's dtype equals it


def _resolve_masking(x, mask_value, n_threads):
    arr, data = _masking_input(x)
    n_threads = effective_num_threads(n_threads)
    mv = None if data is None else _kernel_mask_value(mask_value, data.dtype)
    if mv is None:
        _kernel_mask_value(mask_value, np.dtype(np.float64))  # type checks mask_value
    return arr, data, mv, n_threads


def _numpy_masking(arr, mask_value, out_dtype):
    """NumPy reference of Keras's Masking.call (used for array mask_values and wide ints)."""
    keep = np.any(np.not_equal(arr, mask_value), axis=-1, keepdims=True)
    out = np.where(keep, arr, 0).astype(out_dtype, copy=False)
    return out, np.squeeze(keep, axis=-1)


def masking_mask(x, mask_value=0.0, n_threads=None):
    """Mask of `keras.layers.Masking`: `any(x != mask_value, axis=-1)`.

    Args:
        x: array of shape (..., features), rank >= 1, float32/float64 (float16,
            bool and ints are compared as Keras compares them). Any strides.
        mask_value: number (NaN never masks: NaN != anything, as in NumPy).
        n_threads: OpenMP threads (None: `fastmask.get_num_threads()`); inputs
            under 256 KiB per thread use fewer. Results never depend on it.

    Returns:
        bool array of shape x.shape[:-1]; False where every feature equals
        mask_value (an empty feature axis gives False).

    >>> x = np.array([[[1., 0.], [0., 0.]]], dtype=np.float32)
    >>> masking_mask(x)
    array([[ True, False]])
    """
    arr, data, mv, n_threads = _resolve_masking(x, mask_value, n_threads)
    if mv is None:
        return np.any(np.not_equal(arr if data is None else data, mask_value), axis=-1)
    lead = arr.shape[:-1]
    mask = np.empty(lead, dtype=bool)
    if mask.size and arr.shape[-1]:
        _masking.masking_mask_rows(_as_rows(data), mask.reshape(-1).view(np.uint8),
                                   mv, _threads_for(data.nbytes, n_threads))
    else:
        mask[...] = False
    return mask


def masking(x, mask_value=0.0, n_threads=None):
    """`keras.layers.Masking` call: zeroed output and mask in one pass over `x`.

    Args:
        x: array of shape (..., features), rank >= 1, float32/float64 (float16,
            bool and ints are converted to float32). Any strides.
        mask_value: number (NaN never masks).
        n_threads: OpenMP threads (None: `fastmask.get_num_threads()`); inputs
            under 256 KiB per thread use fewer. Results never depend on it.

    Returns:
        (out, mask): out has x's shape and float dtype, equal bit for bit to
        Keras's `where(mask[..., None], x, 0)`: kept rows are copied exactly
        (-0.0 and NaN payloads included), masked rows are +0.0.
        mask is bool of shape x.shape[:-1] (see `masking_mask`).

    >>> x = np.array([[[1., 2.], [0., -0.]]], dtype=np.float32)
    >>> out, mask = masking(x)
    >>> out.tolist(), mask.tolist()
    ([[[1.0, 2.0], [0.0, 0.0]]], [[True, False]])
    """
    arr, data, mv, n_threads = _resolve_masking(x, mask_value, n_threads)
    if mv is None:
        dtype = data.dtype if data is not None else np.float32
        return _numpy_masking(arr if data is None else data, mask_value, dtype)
    # Large outputs come from np.zeros: calloc maps them to zero pages lazily,
    # so masked rows need no write at all (and pages of padding no page fault).
    out_is_zero = data.nbytes >= _ZEROED_OUT_BYTES
    out = (np.zeros if out_is_zero else np.empty)(data.shape, dtype=data.dtype)
    mask = np.empty(data.shape[:-1], dtype=bool)
    if out.size:
        _masking.masking_rows(_as_rows(data), out.reshape(-1, data.shape[-1]),
                              mask.reshape(-1).view(np.uint8), mv, out_is_zero,
                              _threads_for(2 * data.nbytes, n_threads))
    else:
        mask[...] = False
    return out, mask


def _embedding_ids(ids):
    """(int32/int64 C-contiguous ids as Keras looks them up, raw mask source or None).

    Floats are truncated toward zero (Keras casts them to int32); the mask is
    then `raw != 0` on the raw values, so 0.2 looks up row 0 but is unmasked.
    """
    raw = as_array(ids, "ids")
    if raw.dtype.kind == "f":
        if raw.size and _INT32_MIN - 1 < float(raw.min()) and float(raw.max()) < _INT32_MAX + 1:
            # Every id finite and in range (min/max are NaN if any is): truncate them.
            return raw.astype(np.int32, order="C"), raw
        r64 = raw.astype(np.float64, copy=False)
        outside = np.isfinite(r64) & ((r64 <= _INT32_MIN - 1) | (r64 >= _INT32_MAX + 1))
        if outside.any():
            pos = np.unravel_index(int(np.argmax(outside.reshape(-1))), raw.shape)
            raise IndexError(f"`ids` contains id {float(raw[pos])!r} at position "
                             f"{tuple(map(int, pos))}, outside the int32 range Keras casts "
                             f"float ids to.")
        return as_index_array(raw, "ids").reshape(raw.shape), raw
    # (reshape: np.ascontiguousarray makes 0-d ids 1-d)
    return as_index_array(raw, "ids").reshape(raw.shape), None


def embedding(ids, embeddings, mask_zero=False, n_threads=None):
    """`keras.layers.Embedding` lookup (+ `mask_zero` mask) in one pass over `ids`.

    Args:
        ids: integer array of any shape (int32/int64; other ints are widened,
            bool -> int32, floats truncated toward zero like Keras's cast to int32).
            Negative ids in [-input_dim, -1] wrap like `np.take`.
        embeddings: table of shape (input_dim, output_dim), float32/float64
            (other real dtypes become float32). Any row stride.
        mask_zero: if True also return `ids != 0` (on the raw, uncast ids).
        n_threads: OpenMP threads (None: `fastmask.get_num_threads()`); inputs
            under 256 KiB per thread use fewer. Results never depend on it.

    Returns:
        (out, mask): out = embeddings[ids], shape ids.shape + (output_dim,),
        embeddings' dtype (id 0 returns row 0, not zeros); mask is bool of
        ids.shape, or None if not mask_zero.

    Raises:
        IndexError: an id outside [-input_dim, input_dim); the message names
            the first such id (in C order) and its position. Nothing is read
            out of bounds.

    >>> table = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> out, mask = embedding(np.array([[1, 0, -1]]), table, mask_zero=True)
    >>> out.tolist(), mask.tolist()
    ([[[2.0, 3.0], [0.0, 1.0], [4.0, 5.0]]], [[True, False, True]])
    """
    if (type(ids) is np.ndarray and ids.dtype in INDEX_DTYPES and ids.flags.c_contiguous
            and ids.flags.aligned and type(embeddings) is np.ndarray and embeddings.ndim == 2
            and embeddings.dtype in FLOAT_DTYPES and embeddings.dtype.isnative
            and type(mask_zero) is bool):
        # A layer's call: int32/int64 ids and a float table as they are (no checks or
        # conversions apply; ids.dtype == int32 also means native byte order).
        return _gather(ids, embeddings, mask_zero, n_threads, None)
    if not isinstance(mask_zero, (bool, np.bool_, numbers.Integral)):
        raise TypeError(f"`mask_zero` must be a bool. Received: mask_zero={_describe(mask_zero)}")
    mask_zero = bool(mask_zero)
    table = as_array(embeddings, "embeddings")
    if table.dtype.kind not in "fiub":
        raise TypeError(f"`embeddings` must be a real numeric array. "
                        f"Received: embeddings={_describe(table)}")
    if table.ndim != 2:
        raise ValueError(f"`embeddings` must have rank 2 (input_dim, output_dim). "
                         f"Received: embeddings.shape={table.shape}")
    if not (table.dtype in FLOAT_DTYPES and table.dtype.isnative):
        table = as_float_array(table, "embeddings", dtype=_float_dtype(table.dtype))
    idx, raw_float = _embedding_ids(ids)
    return _gather(idx, table, mask_zero, n_threads, raw_float)


# A planned lookup of at most this many output bytes takes NumPy's take: at (1, 64) ids
# of a 32-wide float32 table it costs 1.7 us against the threaded kernel's 5.2 (set-up).
_SMALL_GATHER_BYTES = 64 * 1024


def planned_embedding(shape, ids_dtype, table, mask_zero):
    """`embedding(ids, table, mask_zero)` for C-contiguous aligned ids of `shape` and
    `ids_dtype` (int32/int64) in a float32/float64 table (2-D, native), worked out once
    (an Embedding layer's planned call, `layers/planned_call.py`): a function of ids
    giving (out, mask or None) (NotImplemented for ids that are not C-contiguous and
    aligned), or None when the table takes `embedding`'s checks and conversions; ids of
    another dtype (floats: Keras's truncation) go through `embedding` itself."""
    if not (type(table) is np.ndarray and table.ndim == 2 and table.dtype in FLOAT_DTYPES
            and table.dtype.isnative and type(mask_zero) is bool):
        return None
    if ids_dtype not in INDEX_DTYPES:      # float or other int ids: `embedding` converts
        def run_converted(ids):
            return embedding(ids, table, mask_zero)
        return run_converted

    if math.prod(shape) * table.shape[1] * table.itemsize > _SMALL_GATHER_BYTES:
        def run(ids):
            if not (ids.flags.c_contiguous and ids.flags.aligned):
                return NotImplemented
            return _gather(ids, table, mask_zero, None, None)
        return run

    def run_small(ids):
        # NumPy's take: the same rows (ids in range wrap alike), without the threaded
        # kernel's set-up; an id out of range goes to `_gather` for its error.
        try:
            out = np.take(table, ids, axis=0)
        except IndexError:
            return _gather(ids, table, mask_zero, None, None)
        return out, (np.not_equal(ids, 0) if mask_zero else None)
    return run_small


def _gather(idx, table, mask_zero, n_threads, raw_float):
    """`embedding`'s lookup of C-contiguous int32/int64 ids `idx` in a float32/float64
    `table` (2-D, native): (out, mask or None); raw_float: the float ids they were
    truncated from (the mask's source), or None."""
    n_threads = effective_num_threads(n_threads)

    input_dim, output_dim = table.shape
    out = np.empty(idx.shape + (output_dim,), dtype=table.dtype)
    mask = np.empty(idx.shape, dtype=bool) if mask_zero else None
    kernel_mask = mask if raw_float is None else None
    n = idx.size
    if n:
        flat = idx.reshape(-1)
        n_threads = _threads_for(2 * out.nbytes + flat.nbytes, n_threads)
        # Several chunks per thread, handed out dynamically: on a busy machine a
        # thread that loses its core takes fewer instead of the call waiting for it.
        n_chunks = 1 if n_threads == 1 else max(1, min(4 * n_threads, n))
        first_bad = np.empty(n_chunks, dtype=np.intp)   # the kernel sets every entry
        _masking.embedding_gather(
            flat, _as_rows(table), out.reshape(n, output_dim),
            None if kernel_mask is None else kernel_mask.reshape(-1).view(np.uint8),
            first_bad, n_threads)
        if (first_bad[0] if n_chunks == 1 else first_bad.max()) >= 0:
            bad = first_bad[first_bad >= 0]
            pos = int(bad[0])
            where = tuple(int(p) for p in np.unravel_index(pos, idx.shape))
            bad_id = int(flat[pos])
            shown = f"{bad_id}" if raw_float is None else \
                f"{bad_id} (from {float(raw_float[where])!r})"
            valid = (f"valid ids: {-input_dim} to {input_dim - 1}; negative ids wrap as in "
                     f"np.take" if input_dim else "the table has no rows")
            raise IndexError(f"`ids` contains id {shown} at position {where}, out of range "
                             f"for input_dim={input_dim} ({valid}).")
    if mask is not None and raw_float is not None:
        np.not_equal(raw_float, 0, out=mask)
    return out, mask
