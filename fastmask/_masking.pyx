# Kernels of the two mask-generating layers, Masking and Embedding(mask_zero).
#
# The Python wrappers (fastmask/kernels/masking.py) validate and convert the
# inputs, allocate the outputs and resolve the thread count; these functions
# only fill the arrays they are given, without the GIL.
#
# Rows are independent and each output element is written by exactly one
# thread, so the results are bit-identical for any thread count.
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from fastmask._typedefs cimport float32_t, float64_t, index_t, intp_t, uint8_t

ctypedef fused floating:
    float32_t
    float64_t


cdef extern from *:
    """
    /* any(x[0:n] != mv) with NumPy's `!=` (NaN != anything is true).
     * Blocks of 128 bytes are compared without branches, so the compiler can
     * vectorise them; the row stops at the first block holding a value other
     * than `mv`, which for data rows is usually the first one. */
    #define FM_BLOCK_F32 32
    #define FM_BLOCK_F64 16
    static inline int fm_any_ne_f32(const float *x, Py_ssize_t n, float mv) {
        Py_ssize_t i = 0;
        for (; i + FM_BLOCK_F32 <= n; i += FM_BLOCK_F32) {
            int acc = 0;
            for (int j = 0; j < FM_BLOCK_F32; ++j) acc |= (x[i + j] != mv);
            if (acc) return 1;
        }
        int acc = 0;
        for (; i < n; ++i) acc |= (x[i] != mv);
        return acc;
    }
    static inline int fm_any_ne_f64(const double *x, Py_ssize_t n, double mv) {
        Py_ssize_t i = 0;
        for (; i + FM_BLOCK_F64 <= n; i += FM_BLOCK_F64) {
            int acc = 0;
            for (int j = 0; j < FM_BLOCK_F64; ++j) acc |= (x[i + j] != mv);
            if (acc) return 1;
        }
        int acc = 0;
        for (; i < n; ++i) acc |= (x[i] != mv);
        return acc;
    }
    """
    bint fm_any_ne_f32(const float32_t *x, intp_t n, float32_t mv) noexcept nogil
    bint fm_any_ne_f64(const float64_t *x, intp_t n, float64_t mv) noexcept nogil


cdef inline bint _row_any_ne(const floating *row, intp_t n, floating mv) noexcept nogil:
    if floating is float32_t:
        return fm_any_ne_f32(row, n, mv)
    else:
        return fm_any_ne_f64(row, n, mv)


def masking_mask_rows(const floating[:, :] x, uint8_t[::1] mask, double mask_value,
                      int n_threads):
    """mask[i] = any(x[i, :] != mask_value) for x of shape (rows, features).

    x's last axis must be contiguous (any row stride); mask is (rows,) uint8.
    """
    cdef intp_t n_rows = x.shape[0], n_feat = x.shape[1]
    cdef intp_t i, row_stride
    cdef const floating *base
    cdef floating mv = <floating>mask_value
    if n_rows == 0 or n_feat == 0:
        mask[:] = 0
        return
    base = &x[0, 0]
    row_stride = x.strides[0] // <intp_t>sizeof(floating)
    with nogil:
        for i in prange(n_rows, schedule='static', num_threads=n_threads):
            mask[i] = _row_any_ne(base + i * row_stride, n_feat, mv)


def masking_rows(const floating[:, :] x, floating[:, ::1] out, uint8_t[::1] mask,
                 double mask_value, int n_threads):
    """One pass over x (rows, features): mask[i] = any(x[i] != mask_value) and
    out[i] = x[i] where mask[i], else +0.0 (bit copy of kept rows).

    x's last axis must be contiguous (any row stride); out is C-contiguous.
    """
    cdef intp_t n_rows = x.shape[0], n_feat = x.shape[1]
    cdef intp_t i, row_stride
    cdef const floating *base
    cdef floating mv = <floating>mask_value
    if n_rows == 0 or n_feat == 0:
        mask[:] = 0
        return
    base = &x[0, 0]
    row_stride = x.strides[0] // <intp_t>sizeof(floating)
    with nogil:
        for i in prange(n_rows, schedule='static', num_threads=n_threads):
            mask[i] = _mask_copy_row(base + i * row_stride, &out[i, 0], n_feat, mv)


cdef inline uint8_t _mask_copy_row(const floating *row, floating *dst, intp_t n,
                                   floating mv) noexcept nogil:
    if _row_any_ne(row, n, mv):
        memcpy(dst, row, n * sizeof(floating))
        return 1
    memset(dst, 0, n * sizeof(floating))  # all-zero bits: +0.0, as where(mask, x, 0)
    return 0


cdef inline intp_t _gather_chunk(const index_t *ids, intp_t lo, intp_t hi,
                                 const floating *table, intp_t row_stride, intp_t n_rows,
                                 intp_t dim, floating *out, uint8_t *mask) noexcept nogil:
    """Gather rows ids[lo:hi] of table into out (and ids != 0 into mask when not NULL).

    Returns the position of the first id outside [-n_rows, n_rows), else -1;
    stops there, before reading the table.
    """
    cdef intp_t i, idx
    for i in range(lo, hi):
        idx = ids[i]
        if idx < 0:
            idx = idx + n_rows
        if idx < 0 or idx >= n_rows:
            return i
        if dim > 0:
            memcpy(out + i * dim, table + idx * row_stride, dim * sizeof(floating))
        if mask != NULL:
            mask[i] = ids[i] != 0
    return -1


def embedding_gather(const index_t[::1] ids, const floating[:, :] table, floating[:, ::1] out,
                     uint8_t[::1] mask, intp_t[::1] first_bad, int n_threads):
    """out[i] = table[ids[i]] (negative ids wrap), mask[i] = ids[i] != 0 if mask is not None.

    ids (n,) int32/int64; table (n_rows, dim) with a contiguous last axis (any
    row stride); out (n, dim). The ids are split into len(first_bad) equal
    chunks, one per parallel task; first_bad[c] receives the position of the
    first out-of-range id in chunk c (-1 if none), so the first bad position
    overall is the first non-negative entry, whatever the thread count.
    """
    cdef intp_t n = ids.shape[0], n_rows = table.shape[0], dim = table.shape[1]
    cdef intp_t n_chunks = first_bad.shape[0]
    cdef intp_t c
    cdef intp_t row_stride = table.strides[0] // <intp_t>sizeof(floating)
    cdef const floating *tbase = NULL  # stays NULL only when nothing can be read or written
    cdef floating *obase = NULL
    cdef uint8_t *mbase = NULL
    if n == 0:
        return
    if n_rows > 0 and dim > 0:
        tbase = &table[0, 0]
        obase = &out[0, 0]
    if mask is not None:
        mbase = &mask[0]
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=n_threads):
            first_bad[c] = _gather_chunk(&ids[0], c * n // n_chunks, (c + 1) * n // n_chunks,
                                         tbase, row_stride, n_rows, dim, obase, mbase)
