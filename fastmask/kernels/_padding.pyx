"""Padding and mask-from-lengths kernels (see fastmask/utils.py for the API).

Every padded row has the same layout: `keep` elements written at step `off`
of a row of `maxlen` steps (`off = maxlen - keep` for "pre" padding, 0 for
"post"), `fill` everywhere else, and mask[row] True exactly on the kept steps.

- `pad_rows` (nogil, prange over rows) copies rows of raw arrays described by
  per-row (address, kept length, step stride, type code); same types are
  copied with memcpy, other types converted in C (csrc/fm_padding.h). A row
  whose values NumPy would cast with a warning or C could not convert is
  flagged; the caller lets NumPy cast it.
- `pad_object_rows` (holds the GIL) pads a list of rows that are lists/tuples
  of Python ints/floats (unboxed with the C API, converted in C) or 1-D arrays
  (handed to `pad_rows`). It returns 1 when an item needs NumPy's Python-level
  semantics; the caller then runs the reference implementation.
"""
cimport cython
from cpython.object cimport PyObject
from cython.parallel cimport prange
from libc.stdint cimport int64_t, intptr_t, uint8_t
from libc.string cimport memset

cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "fm_padding.h":
    enum:
        FM_BOOL, FM_I8, FM_I16, FM_I32, FM_I64, FM_U8, FM_U16, FM_U32, FM_U64,
        FM_F32, FM_F64, FM_SKIP, FM_OTHER
    ctypedef int (*fm_list_row_fn)(PyObject **items, Py_ssize_t n, char *dst)
    fm_list_row_fn fm_list_row_for(int dst_type) noexcept
    int fm_items_are_plain_scalars(PyObject **items, Py_ssize_t n) noexcept
    int fm_copy_block(char *dst, int dst_type, Py_ssize_t itemsize, const char *src,
                      int src_type, Py_ssize_t nrows, Py_ssize_t ncols,
                      Py_ssize_t s0, Py_ssize_t s1) noexcept nogil
    void fm_pad_row(char *row, Py_ssize_t maxlen, Py_ssize_t inner, Py_ssize_t itemsize,
                    const char *fill, Py_ssize_t off, Py_ssize_t keep,
                    uint8_t *mask_row, int prezeroed) noexcept nogil
    int64_t fm_count_nonzero(const uint8_t *p, Py_ssize_t n) noexcept nogil

cdef extern from "Python.h":
    PyObject **PySequence_Fast_ITEMS(object o)

# Row kind for `scan_rows`/`pad_object_rows` (other kinds are type codes of array rows).
cdef enum:
    _ROW_LIST = 253
ROW_LIST = _ROW_LIST

# numpy type number -> FM_* code (native byte order only).
cdef uint8_t _CODE_BY_NUM[64]
memset(_CODE_BY_NUM, FM_OTHER, sizeof(_CODE_BY_NUM))
_CODES = {("b", 1): FM_BOOL, ("i", 1): FM_I8, ("i", 2): FM_I16, ("i", 4): FM_I32,
          ("i", 8): FM_I64, ("u", 1): FM_U8, ("u", 2): FM_U16, ("u", 4): FM_U32,
          ("u", 8): FM_U64, ("f", 4): FM_F32, ("f", 8): FM_F64}
for _c in "?bBhHiIlLqQfd":
    _dt = np.dtype(_c)
    _CODE_BY_NUM[_dt.num] = _CODES[(_dt.kind, _dt.itemsize)]
SKIP = FM_SKIP
OTHER = FM_OTHER
BOOL = FM_BOOL


def dtype_code(dt):
    """FM_* code of a NumPy dtype (OTHER if the kernels cannot convert it in C)."""
    dt = np.dtype(dt)
    if not dt.isnative or dt.num >= 64 or dt.kind not in "biuf":
        return FM_OTHER
    return _CODE_BY_NUM[dt.num]


cdef inline uint8_t _array_code(cnp.ndarray a) noexcept:
    cdef int num = cnp.PyArray_TYPE(a)
    if num < 0 or num >= 64 or not cnp.PyArray_ISNOTSWAPPED(a):
        return FM_OTHER
    return _CODE_BY_NUM[num]


def scan_rows(list rows, int64_t[::1] lengths, uint8_t[::1] kinds):
    """Classify `rows` for `pad_object_rows`; fill lengths[i] and kinds[i].

    kinds[i] is ROW_LIST (exact list/tuple) or the type code of a 1-D
    bool/int/uint/float array. Returns (longest row, number of array rows),
    or None if some row is anything else or the first non-empty row is a
    list whose items are not all plain Python ints/floats (then NumPy's
    sample-shape discovery could differ).
    """
    cdef Py_ssize_t i, n = len(rows), longest = 0, n_arrays = 0
    cdef bint first = True, plain
    cdef object row
    cdef cnp.ndarray arr
    for i in range(n):
        row = rows[i]
        if type(row) is list or type(row) is tuple:
            kinds[i] = _ROW_LIST
            lengths[i] = len(row)
            if first and lengths[i]:
                first = False
                with cython.critical_section(row):
                    plain = len(row) == lengths[i] and fm_items_are_plain_scalars(
                        PySequence_Fast_ITEMS(row), lengths[i])
                if not plain:
                    return None
        elif type(row) is np.ndarray:
            arr = <cnp.ndarray>row
            if cnp.PyArray_NDIM(arr) != 1 or not (cnp.PyArray_ISBOOL(arr)
                                                  or cnp.PyArray_ISINTEGER(arr)
                                                  or cnp.PyArray_ISFLOAT(arr)):
                return None
            kinds[i] = _array_code(arr)
            lengths[i] = cnp.PyArray_DIMS(arr)[0]
            n_arrays += 1
            if lengths[i]:
                first = False
        else:
            return None
        if lengths[i] > longest:
            longest = lengths[i]
    return longest, n_arrays


cdef void _pad_rows(char *out, Py_ssize_t n, Py_ssize_t maxlen, Py_ssize_t inner,
                    Py_ssize_t itemsize, int dst_code, const char *fill,
                    const intptr_t *src, const int64_t *keep, const int64_t *s0,
                    const uint8_t *codes, Py_ssize_t s1, bint pre, uint8_t *mask,
                    bint prezeroed, uint8_t *flags, int n_threads) noexcept nogil:
    """IN: n row descriptors; OUT: out (n, maxlen, inner), mask (n, maxlen) or NULL, flags (n,)."""
    cdef Py_ssize_t i, k, off
    cdef Py_ssize_t row_bytes = maxlen * inner * itemsize
    for i in prange(n, schedule="static", num_threads=n_threads):
        if codes[i] == FM_SKIP:
            continue
        k = keep[i]
        off = maxlen - k if pre else 0
        fm_pad_row(out + i * row_bytes, maxlen, inner, itemsize, fill, off, k,
                   mask + i * maxlen if mask != NULL else NULL, prezeroed)
        flags[i] = fm_copy_block(out + i * row_bytes + off * inner * itemsize, dst_code,
                                 itemsize, <const char *>src[i], codes[i], k, inner,
                                 s0[i], s1)


cdef inline char *_data(cnp.ndarray a) noexcept:
    return <char *>cnp.PyArray_DATA(a)


cdef _check_outputs(cnp.ndarray out, cnp.ndarray mask, Py_ssize_t fill_size):
    """The kernels write through raw pointers: insist on the layout they assume."""
    if out.ndim < 2 or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("`out` must be a writeable C-contiguous array of rank >= 2")
    if fill_size != out.itemsize:
        raise ValueError("`fill` must hold exactly one element of out.dtype")
    if mask is not None and (mask.dtype != np.bool_ or not mask.flags.c_contiguous
                             or not mask.flags.writeable
                             or (<object>mask).shape != (<object>out).shape[:2]):
        raise ValueError("`mask` must be a writeable C-contiguous bool array "
                         "of shape out.shape[:2]")


def pad_rows(cnp.ndarray out, cnp.ndarray mask, const uint8_t[::1] fill, int dst_code,
             const intptr_t[::1] src, const int64_t[::1] keep, const int64_t[::1] s0,
             const uint8_t[::1] codes, Py_ssize_t s1, bint pre, bint prezeroed,
             uint8_t[::1] flags, int n_threads):
    """Pad rows of raw arrays into `out` (n, maxlen, *sample), C-contiguous.

    IN: src[i] address of the first kept step of row i, keep[i] kept steps,
    s0[i] byte stride between steps, s1 byte stride between the (flattened)
    sample items, codes[i] its type code (SKIP: leave row i alone), fill the
    pad element's bytes (out.itemsize), pre: right-align rows, prezeroed:
    `out` and `mask` are all zeros and so is `fill` (only data and 1s written).
    OUT: out, mask (bool (n, maxlen) or None), flags[i] = 1 if NumPy must cast
    row i's kept part (the padding and mask of that row are written).
    """
    _check_outputs(out, mask, fill.shape[0])
    cdef Py_ssize_t n = out.shape[0], maxlen = out.shape[1]
    cdef Py_ssize_t inner = out.size // (n * maxlen) if n * maxlen else 0
    if src.shape[0] != n or keep.shape[0] != n or s0.shape[0] != n or codes.shape[0] != n \
            or flags.shape[0] != n:
        raise ValueError("pad_rows: descriptor arrays do not match `out`")
    if n == 0 or maxlen == 0 or inner == 0:
        return
    cdef char *out_p = _data(out)
    cdef uint8_t *mask_p = <uint8_t *>_data(mask) if mask is not None else NULL
    cdef Py_ssize_t itemsize = out.itemsize
    with nogil:
        _pad_rows(out_p, n, maxlen, inner, itemsize, dst_code, <const char *>&fill[0],
                  &src[0], &keep[0], &s0[0], &codes[0], s1, pre, mask_p, prezeroed,
                  &flags[0], n_threads)


def ragged_descriptors(const int64_t[::1] starts, const int64_t[::1] lengths, intptr_t base,
                       Py_ssize_t stride, Py_ssize_t maxlen, bint pre_trunc,
                       intptr_t[::1] src, int64_t[::1] keep):
    """Row descriptors of flat ragged data: kept length and address of the first kept step."""
    cdef Py_ssize_t i, k
    with nogil:
        for i in range(starts.shape[0]):
            k = lengths[i] if lengths[i] < maxlen else maxlen
            keep[i] = k
            src[i] = base + (starts[i] + (lengths[i] - k if pre_trunc else 0)) * stride


def pad_object_rows(list rows, const int64_t[::1] lengths, const uint8_t[::1] kinds,
                    Py_ssize_t n_arrays, cnp.ndarray out, cnp.ndarray mask,
                    const uint8_t[::1] fill, int dst_code, bint pre_pad, bint pre_trunc,
                    bint prezeroed, int n_threads):
    """Pad `rows` (classified by `scan_rows`, n_arrays array rows) into `out` (n, maxlen).

    List/tuple rows are unboxed here, array rows copied by the nogil kernel.
    Returns (status, flagged): status 1 means a list item needs NumPy's own
    conversion (caller falls back; `out` is garbage); flagged are the indices
    of array rows NumPy must cast (their padding and mask are written).
    """
    _check_outputs(out, mask, fill.shape[0])
    cdef Py_ssize_t i, k, off, n = out.shape[0], maxlen = out.shape[1]
    cdef Py_ssize_t itemsize = out.itemsize
    if out.ndim != 2 or len(rows) != n or lengths.shape[0] != n or kinds.shape[0] != n:
        raise ValueError("pad_object_rows: `rows`, `lengths`, `kinds` and `out` disagree")
    cdef char *base = _data(out)
    cdef uint8_t *mbase = <uint8_t *>_data(mask) if mask is not None else NULL
    cdef fm_list_row_fn convert = fm_list_row_for(dst_code)
    cdef bint any_array = False, failed
    cdef object row
    cdef cnp.ndarray arr
    if convert == NULL:
        return 1, None
    cdef Py_ssize_t m = n if n_arrays else 1  # descriptors of array rows (SKIP: list rows)
    src = np.zeros(m, dtype=np.intp)
    keep = np.zeros(m, dtype=np.int64)
    s0 = np.zeros(m, dtype=np.int64)
    codes = np.full(m, FM_SKIP, dtype=np.uint8)
    cdef intptr_t[::1] src_v = src
    cdef int64_t[::1] keep_v = keep, s0_v = s0
    cdef uint8_t[::1] codes_v = codes
    for i in range(n):
        k = lengths[i] if lengths[i] < maxlen else maxlen
        row = rows[i]
        if kinds[i] == _ROW_LIST:
            if type(row) is not list and type(row) is not tuple:
                return 1, None   # changed since scan_rows (only a finalizer could do that)
            off = maxlen - k if pre_pad else 0
            fm_pad_row(base + i * maxlen * itemsize, maxlen, 1, itemsize, <const char *>&fill[0],
                       off, k, mbase + i * maxlen if mbase != NULL else NULL, prezeroed)
            # the items are borrowed: lock the row (free-threaded builds; no-op with a GIL)
            with cython.critical_section(row):
                failed = len(row) != lengths[i] or convert(
                    PySequence_Fast_ITEMS(row) + (lengths[i] - k if pre_trunc else 0), k,
                    base + (i * maxlen + off) * itemsize)
            if failed:
                return 1, None
        else:
            if type(row) is not np.ndarray or cnp.PyArray_DIMS(<cnp.ndarray>row)[0] != lengths[i] \
                    or not n_arrays:
                return 1, None
            arr = <cnp.ndarray>row
            any_array = True
            s0_v[i] = cnp.PyArray_STRIDES(arr)[0]
            src_v[i] = <intptr_t>_data(arr) + (lengths[i] - k if pre_trunc else 0) * s0_v[i]
            keep_v[i] = k
            codes_v[i] = kinds[i]
    if not any_array:
        return 0, None
    flags = np.zeros(n, dtype=np.uint8)
    pad_rows(out, mask, fill, dst_code, src, keep, s0, codes, 0, pre_pad, prezeroed, flags,
             n_threads)
    return 0, np.flatnonzero(flags)


def mask_from_lengths(const int64_t[::1] lengths, uint8_t[:, ::1] out, bint pre, int n_threads):
    """OUT: out[i] = 1 on the first (post) or last (pre) min(lengths[i], T) steps, else 0.

    (Negative lengths count as 0.)
    """
    cdef Py_ssize_t i, k, t = out.shape[1]
    cdef uint8_t *row
    if lengths.shape[0] != out.shape[0]:
        raise ValueError("mask_from_lengths: `lengths` and `out` disagree")
    if out.shape[0] == 0 or t == 0:
        return
    for i in prange(out.shape[0], schedule="static", nogil=True, num_threads=n_threads):
        k = lengths[i] if lengths[i] < t else t
        if k < 0:
            k = 0
        row = &out[i, 0]   # (not &out[i, k]: k == t is one past the end, a bounds error)
        if pre:
            memset(row, 0, t - k)
            memset(row + t - k, 1, k)
        else:
            memset(row, 1, k)
            memset(row + k, 0, t - k)


def lengths_from_mask(const uint8_t[:, ::1] mask, int64_t[::1] out, int n_threads):
    """OUT: out[i] = number of nonzero entries of mask[i]."""
    cdef Py_ssize_t i, t = mask.shape[1]
    if out.shape[0] != mask.shape[0]:
        raise ValueError("lengths_from_mask: `mask` and `out` disagree")
    if t == 0:
        out[:] = 0
        return
    for i in prange(mask.shape[0], schedule="static", nogil=True, num_threads=n_threads):
        out[i] = fm_count_nonzero(&mask[i, 0], t)
