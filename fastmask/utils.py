"""Padding and mask utilities: pad_sequences, pad_ragged, mask_from_lengths, lengths_from_mask.

Masks are bool, True = a real (kept) step, False = padding, as in Keras.
"""
import numbers

import numpy as np

from .kernels import _padding
from .kernels._threads import effective_num_threads
from .kernels._openmp_helpers import threads_for
from .kernels._validation import as_mask_array, contiguous

__all__ = ["pad_sequences", "pad_ragged", "mask_from_lengths", "lengths_from_mask"]

_SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre",
                  truncating="pre", value=0.0, return_mask=False, n_threads=None):
    """Pads sequences to the same length (`keras.utils.pad_sequences`).

    Same results, dtypes, warnings and exceptions as Keras 3.15.1 for every
    input. Lists/tuples of Python ints/floats and 1-D NumPy arrays take a
    compiled path; anything else (strings, objects, vector samples, ...) runs
    Keras's algorithm.

    Args:
        sequences: List (length n) of sequences: lists of scalars, 1-D
            arrays, or sequences of samples of shape `sample_shape` (taken
            from the first non-empty sequence).
        maxlen: Optional int, length of every output row. Default: the
            longest sequence.
        dtype: Output dtype (default "int32"; `object` for variable-length
            strings). Values are cast like `np.asarray(seq, dtype)`, e.g.
            floats are truncated toward zero into int dtypes.
        padding: "pre" or "post": pad before or after each sequence.
        truncating: "pre" or "post": drop steps at the beginning or the end
            of sequences longer than `maxlen`.
        value: Padding value (cast like `np.full(..., value, dtype)`).
        return_mask: Also return the mask.
        n_threads: Threads for the array-rows copy (default: the
            configured count, see `fastmask.set_num_threads`).

    Returns:
        `padded` of shape (n, maxlen, *sample_shape) and dtype `dtype`; with
        `return_mask=True`, `(padded, mask)` where `mask` is bool (n, maxlen),
        True where a sequence element was written (an empty sequence gives an
        all-False row).

    Example:

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    >>> padded, mask = pad_sequences([[1], [2, 3]], padding="post", return_mask=True)
    >>> mask
    array([[ True, False],
           [ True,  True]])
    """
    if n_threads is not None:  # validate now; None is resolved when a kernel needs it
        n_threads = effective_num_threads(n_threads)
    result = _pad_sequences_compiled(sequences, maxlen, dtype, padding, truncating, value,
                                     return_mask, n_threads)
    if result is None:
        result = _pad_sequences_reference(sequences, maxlen, dtype, padding, truncating, value,
                                          return_mask)
    return result if return_mask else result[0]


def _pad_sequences_compiled(sequences, maxlen, dtype, padding, truncating, value,
                            return_mask, n_threads):
    """(padded, mask) by the compiled kernels, or None when the input is not one
    they reproduce exactly (the caller then runs `_pad_sequences_reference`)."""
    if type(sequences) in (list, tuple) or (type(sequences) is np.ndarray and sequences.ndim):
        rows = list(sequences)  # private list: rows stay alive while the GIL is released
    else:
        return None
    if not rows or dtype is None or not all(isinstance(side, str) and side in _SIDES
                                            for side in (padding, truncating)):
        return None
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 1:
            return None
        maxlen = int(maxlen)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        return None
    code = _padding.dtype_code(out_dtype)
    if code in (_padding.OTHER, _padding.BOOL):
        return None
    fill = _fill_bytes(value, out_dtype)
    if fill is None:
        return None

    n = len(rows)
    lengths = np.empty(n, dtype=np.int64)
    kinds = np.empty(n, dtype=np.uint8)
    scanned = _padding.scan_rows(rows, lengths, kinds)
    if scanned is None:
        return None
    longest, n_arrays = scanned
    if maxlen is None:
        maxlen = longest
        if maxlen == 0:
            return None
    padded, mask, prezeroed = _allocate((n, maxlen), out_dtype, fill, return_mask)
    pre_pad, pre_trunc = padding == "pre", truncating == "pre"
    if n_arrays:
        n_threads = _threads_for(effective_num_threads(n_threads), padded.nbytes)
    status, flagged = _padding.pad_object_rows(rows, lengths, kinds, n_arrays, padded, mask,
                                               fill, code, pre_pad, pre_trunc, prezeroed,
                                               n_threads or 1)
    if status:
        return None
    if flagged is not None:
        for i in flagged:  # array rows NumPy itself must cast (NaN -> int, ...)
            trunc = rows[i][-maxlen:] if pre_trunc else rows[i][:maxlen]
            if pre_pad:
                padded[i, maxlen - len(trunc):] = np.asarray(trunc, dtype=dtype)
            else:
                padded[i, :len(trunc)] = np.asarray(trunc, dtype=dtype)
    return padded, mask


def _fill_bytes(value, dtype):
    """Bytes of `np.full((), value, dtype)`, or None when NumPy raises or warns (NaN into
    an int dtype...): the reference path then reproduces that."""
    if type(value) in (int, float) and value == 0 and str(value)[0] != "-":
        return bytes(dtype.itemsize)  # +0 / +0.0: all-zero bytes in every numeric dtype
    try:
        with np.errstate(all="raise"):
            return np.full((), value, dtype=dtype).tobytes()
    except (FloatingPointError, OverflowError, ValueError, TypeError):
        return None


def _pad_sequences_reference(sequences, maxlen, dtype, padding, truncating, value,
                             return_mask):
    """Keras 3.15.1's pad_sequences (keras/src/utils/sequence_utils.py), plus the mask."""
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    num_samples = len(sequences)

    lengths = []
    sample_shape = ()
    flag = True
    for x in sequences:
        try:
            lengths.append(len(x))
            if flag and len(x):
                sample_shape = np.asarray(x).shape[1:]
                flag = False
        except TypeError as e:
            raise ValueError(
                "`sequences` must be a list of iterables. "
                f"Found non-iterable: {str(x)}"
            ) from e

    if maxlen is None:
        maxlen = np.max(lengths)

    is_dtype_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_dtype_str:
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: "
            f"{type(value)}\nYou should set `dtype=object` for variable length "
            "strings."
        )

    x = np.full((num_samples, maxlen) + sample_shape, value, dtype=dtype)
    mask = np.zeros(x.shape[:2], dtype=bool) if return_mask else None
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        if truncating == "pre":
            trunc = s[-maxlen:]
        elif truncating == "post":
            trunc = s[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')

        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {trunc.shape[1:]} of sequence at "
                f"position {idx} is different from expected shape "
                f"{sample_shape}"
            )

        if padding == "post":
            steps = slice(None, len(trunc))
        elif padding == "pre":
            steps = slice(-len(trunc), None)
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
        x[idx, steps] = trunc
        if mask is not None:
            mask[idx, steps] = True
    return x, mask


def _allocate(shape, dtype, fill, return_mask):
    """(padded, mask or None, prezeroed): zero-filled (calloc: fresh pages come zeroed
    from the OS, so the kernels skip writing the padding) when the pad value's
    bytes are all zero, else uninitialised."""
    prezeroed = not any(fill)
    alloc = np.zeros if prezeroed else np.empty
    mask = alloc(shape[:2], dtype=bool) if return_mask else None
    return alloc(shape, dtype=dtype), mask, prezeroed


_MIN_BYTES_PER_THREAD = 1 << 20  # below this a second OpenMP thread costs more than it saves


def _threads_for(n_threads, nbytes):
    """`n_threads` capped so that each thread moves >= 1 MiB (results do not depend on it)."""
    return threads_for(n_threads, nbytes, _MIN_BYTES_PER_THREAD)


def _check_side(arg, name):
    if not isinstance(arg, str) or arg not in _SIDES:
        raise ValueError(f'`{name}` must be "pre" or "post". Received: {name}={arg!r}')
    return arg == "pre"


def _as_int64_vector(x, name):
    """`x` as a C-contiguous int64 vector (ints only: bools and floats are a TypeError)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and arr.size == 0):  # [] is float
        raise TypeError(f"`{name}` must be an array of integers. "
                        f"Received: {name} of dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D. Received: {name}.shape={arr.shape}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"`{name}` has values beyond int64. Received: max={arr.max()}")
    return contiguous(arr, dtype=np.int64)


def _check_maxlen(maxlen, lengths):
    if maxlen is None:
        return int(lengths.max()) if lengths.size else 0
    if isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral):
        raise TypeError(f"`maxlen` must be an int or None. Received: maxlen={maxlen!r} "
                        f"(of type {type(maxlen).__name__})")
    if maxlen < 0:
        raise ValueError(f"`maxlen` must be >= 0. Received: maxlen={maxlen}")
    return int(maxlen)


def _first_bad(cond):
    i = int(np.flatnonzero(cond)[0])
    return i


def pad_ragged(values, lengths=None, offsets=None, maxlen=None, dtype=None, padding="pre",
               truncating="pre", value=0.0, return_mask=False, n_threads=None):
    """Pads ragged data given in flat form (no Python lists).

    Row i is `values[offsets[i]:offsets[i+1]]` (Arrow-style offsets) or the
    i-th run of `lengths[i]` steps. Rows are padded/truncated to `maxlen`
    steps exactly like `pad_sequences` on the list of rows. Rows are copied
    in parallel (memcpy when the dtype is kept); the result is identical for
    any thread count.

    Args:
        values: Array (N, *sample_shape), any non-object dtype, any strides
            (read-only is fine).
        lengths: Int array (B,), >= 0, summing to N. Give exactly one of
            `lengths` and `offsets`.
        offsets: Int array (B+1,), non-decreasing, offsets[0] == 0 and
            offsets[-1] == N.
        maxlen: Int >= 0, steps per output row. Default: the longest row
            (0 when B == 0).
        dtype: Output dtype. Default: `values.dtype`. Values are converted
            with NumPy's casting (`np.asarray(row, dtype)` of the kept steps).
        padding: "pre" (right-align rows, Keras's default) or "post".
        truncating: "pre" (keep the last `maxlen` steps) or "post" (the first).
        value: Padding value, cast like `np.full((), value, dtype)`.
        return_mask: Also return the mask.
        n_threads: Threads (default: the configured count).

    Returns:
        `padded` (B, maxlen, *sample_shape) of `dtype`; with `return_mask=True`,
        `(padded, mask)`, mask bool (B, maxlen), True on the written steps.

    Example:

    >>> values = np.array([1, 2, 3, 4, 5, 6])
    >>> pad_ragged(values, lengths=[1, 2, 3], dtype="int32")
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    >>> pad_ragged(values, offsets=[0, 1, 3, 6], maxlen=2, padding="post")
    array([[1, 0],
           [2, 3],
           [5, 6]])
    """
    n_threads = effective_num_threads(n_threads)
    values = np.asarray(values)
    if values.ndim < 1:
        raise ValueError(f"`values` must have rank >= 1 (N, *sample_shape). "
                         f"Received: values.shape={values.shape}")
    if values.dtype.kind in "OV":
        raise TypeError(f"`values` must not have dtype {values.dtype} (use pad_sequences for "
                        f"Python objects). Received: values.dtype={values.dtype}")
    pre_pad = _check_side(padding, "padding")
    pre_trunc = _check_side(truncating, "truncating")
    if (lengths is None) == (offsets is None):
        raise ValueError("Pass exactly one of `lengths` and `offsets`. Received: "
                         f"lengths={'None' if lengths is None else 'an array'}, "
                         f"offsets={'None' if offsets is None else 'an array'}")
    n_values = values.shape[0]
    if lengths is not None:
        lengths = _as_int64_vector(lengths, "lengths")
        if lengths.size and lengths.min() < 0:
            i = _first_bad(lengths < 0)
            raise ValueError(f"`lengths` must be >= 0. Received: lengths[{i}]={lengths[i]}")
        total = int(lengths.sum()) if not lengths.size or lengths.max() <= n_values else None
        if total != n_values:
            raise ValueError(f"`lengths` must sum to values.shape[0]={n_values}. Received: "
                             f"sum(lengths)={sum(lengths.tolist()) if total is None else total}")
        starts = np.zeros(lengths.size, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
    else:
        offsets = _as_int64_vector(offsets, "offsets")
        if offsets.size == 0:
            raise ValueError("`offsets` must have B+1 >= 1 entries. Received: offsets.shape=(0,)")
        if offsets[0] != 0 or offsets[-1] != n_values:
            raise ValueError(f"`offsets` must start at 0 and end at values.shape[0]={n_values}. "
                             f"Received: offsets[0]={offsets[0]}, offsets[-1]={offsets[-1]}")
        lengths = np.diff(offsets)
        if lengths.size and lengths.min() < 0:
            i = _first_bad(lengths < 0)
            raise ValueError(f"`offsets` must be non-decreasing. Received: offsets[{i}]="
                             f"{offsets[i]} > offsets[{i + 1}]={offsets[i + 1]}")
        starts = np.ascontiguousarray(offsets[:-1])
    maxlen = _check_maxlen(maxlen, lengths)

    if dtype is None:
        out_dtype = values.dtype
    else:
        try:
            out_dtype = np.dtype(dtype)
        except TypeError as e:
            raise TypeError(f"`dtype` is not a NumPy dtype. Received: dtype={dtype!r}") from e
    if out_dtype.kind in "OV" or out_dtype.itemsize == 0:
        raise TypeError(f"`dtype` must be a fixed-size non-object dtype. "
                        f"Received: dtype={out_dtype}")
    try:
        fill = np.full((), value, dtype=out_dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise type(e)(f"`value` cannot be cast to {out_dtype}: {e}. "
                      f"Received: value={value!r}") from e

    sample_shape = values.shape[1:]
    n_rows = lengths.size
    padded_shape = (n_rows, maxlen) + sample_shape
    inner = int(np.prod(sample_shape, dtype=np.int64))
    if n_rows * maxlen * inner == 0:  # nothing to copy; the mask may still have entries
        padded = np.empty(padded_shape, dtype=out_dtype)
        mask = mask_from_lengths(np.minimum(lengths, maxlen), maxlen, padding,
                                 n_threads=n_threads) if return_mask else None
        return (padded, mask) if return_mask else padded

    src_code, dst_code = _padding.dtype_code(values.dtype), _padding.dtype_code(out_dtype)
    if values.dtype == out_dtype:
        src_code = dst_code
    elif _padding.OTHER in (src_code, dst_code):  # no C conversion: NumPy converts up front
        values = values.astype(out_dtype)
        src_code = dst_code
    flat = values.reshape(n_values, inner)  # a view unless the sample axes need a copy
    src = np.empty(n_rows, dtype=np.intp)
    keep = np.empty(n_rows, dtype=np.int64)
    _padding.ragged_descriptors(starts, lengths, flat.ctypes.data, flat.strides[0], maxlen,
                                pre_trunc, src, keep)
    fill = fill.tobytes()
    padded, mask, prezeroed = _allocate(padded_shape, out_dtype, fill, return_mask)
    flags = np.zeros(n_rows, dtype=np.uint8)
    _padding.pad_rows(padded, mask, fill, dst_code, src, keep,
                      np.full(n_rows, flat.strides[0], dtype=np.int64),
                      np.full(n_rows, src_code, dtype=np.uint8), flat.strides[1], pre_pad,
                      prezeroed, flags, _threads_for(n_threads, padded.nbytes))
    for i in np.flatnonzero(flags):  # kept steps NumPy must cast itself (NaN -> int, ...)
        k, first = keep[i], starts[i] + (lengths[i] - keep[i] if pre_trunc else 0)
        off = maxlen - k if pre_pad else 0
        padded[i, off:off + k] = np.asarray(values[first:first + k], dtype=out_dtype)
    return (padded, mask) if return_mask else padded


def mask_from_lengths(lengths, maxlen=None, padding="post", n_threads=None):
    """Boolean mask from sequence lengths.

    Args:
        lengths: Int array of any shape (typically (B,)), >= 0. Lengths above
            `maxlen` are clipped to `maxlen` (the row is all True).
        maxlen: Int >= 0, mask length T. Default: `max(lengths)` (0 if empty).
        padding: "post": the first `lengths[i]` steps are True (left-aligned);
            "pre": the last ones are (right-aligned, the layout of
            `pad_sequences`' default padding).
        n_threads: Threads (default: the configured count).

    Returns:
        bool array of shape `lengths.shape + (maxlen,)`.

    Example:

    >>> mask_from_lengths([1, 3], maxlen=3)
    array([[ True, False, False],
           [ True,  True,  True]])
    >>> mask_from_lengths([1, 3], maxlen=3, padding="pre")
    array([[False, False,  True],
           [ True,  True,  True]])
    """
    n_threads = effective_num_threads(n_threads)
    pre = _check_side(padding, "padding")
    arr = np.asarray(lengths)
    shape = arr.shape
    flat = _as_int64_vector(arr.reshape(-1), "lengths")
    if flat.size and flat.min() < 0:
        i = _first_bad(flat < 0)
        raise ValueError(f"`lengths` must be >= 0. Received: lengths.flat[{i}]={flat[i]}")
    maxlen = _check_maxlen(maxlen, flat)
    out = np.empty((flat.size, maxlen), dtype=bool)
    _padding.mask_from_lengths(flat, out.view(np.uint8), pre, _threads_for(n_threads, out.nbytes))
    return out.reshape(shape + (maxlen,))


def lengths_from_mask(mask, n_threads=None):
    """Number of kept (True) steps per row of a mask.

    Counts True entries along the last axis, so a mask with holes
    (`[True, False, True]`) gives 2: a count of kept steps, not the position
    of the last one.

    Args:
        mask: Array (B, T) (or any rank >= 1; the last axis is counted). Bool,
            or numeric (nonzero = kept, as Keras's cast to bool; NaN raises).
        n_threads: Threads (default: the configured count).

    Returns:
        int64 array of shape `mask.shape[:-1]`, e.g. (B,).

    Example:

    >>> lengths_from_mask([[True, True, False], [False, True, True]])
    array([2, 2])
    """
    n_threads = effective_num_threads(n_threads)
    m = as_mask_array(mask, "mask")
    if m.ndim < 1:
        raise ValueError(f"`mask` must have rank >= 1. Received: mask.shape={m.shape}")
    if m.dtype != bool:
        m = m != 0
    m2 = np.ascontiguousarray(m.reshape(-1, m.shape[-1]) if m.size else
                              np.zeros((int(np.prod(m.shape[:-1])), m.shape[-1]), bool))
    out = np.empty(m2.shape[0], dtype=np.int64)
    if out.size:
        _padding.lengths_from_mask(m2.view(np.uint8), out, _threads_for(n_threads, m2.nbytes))
    return out.reshape(m.shape[:-1])
