# Kernels of the two mask-generating layers, Masking and Embedding(mask_zero).
#
# The Python wrappers (fastmask/kernels/masking.py) validate and convert the
# inputs, allocate the outputs and resolve the thread count; these functions
# only fill the arrays they are given, without the GIL.
#
# Rows are independent and each output element is written by exactly one
# thread, so the results are bit-identical for any thread count.
from cython.parallel cimport prange
from libc.string cimport memcpy

from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._typedefs cimport float32_t, float64_t, index_t, intp_t, uint8_t

ctypedef fused floating:
    float32_t
    float64_t


cdef extern from "fm_masking.h":
    enum:
        FM_MASKING_ISA_MAX
    int fm_masking_isa() noexcept nogil
    void fm_mask_rows_f32(const float32_t *x, intp_t rows, intp_t rs, intp_t n,
                          float32_t mv, uint8_t *mask) noexcept nogil
    void fm_mask_rows_f64(const float64_t *x, intp_t rows, intp_t rs, intp_t n,
                          float64_t mv, uint8_t *mask) noexcept nogil
    void fm_masking_rows_f32(const float32_t *x, intp_t rows, intp_t rs, intp_t n,
                             float32_t mv, float32_t *out, uint8_t *mask,
                             int out_is_zero) noexcept nogil
    void fm_masking_rows_f64(const float64_t *x, intp_t rows, intp_t rs, intp_t n,
                             float64_t mv, float64_t *out, uint8_t *mask,
                             int out_is_zero) noexcept nogil

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into the row kernels, lowest first (generic = SSE2)."""
    return ISA_NAMES[:FM_MASKING_ISA_MAX + 1]


def isa_in_use():
    """The variant the row kernels run: fastmask.kernels._isa's choice, at most AVX2."""
    return ISA_NAMES[fm_masking_isa()]


cdef intp_t _BLOCK_ROWS = 256


cdef inline intp_t _block_rows(intp_t n_rows, int n_threads) noexcept nogil:
    """Rows per parallel task: up to 256, at least 4 tasks per thread when possible."""
    cdef intp_t b = n_rows // (4 * n_threads)
    return 1 if b < 1 else (_BLOCK_ROWS if b > _BLOCK_ROWS else b)


cdef inline void _rows(const floating *x, intp_t rows, intp_t rs, intp_t n, floating mv,
                       floating *out, uint8_t *mask, bint out_is_zero) noexcept nogil:
    """The row kernel for one block: the mask only (out NULL) or mask and output."""
    if out == NULL:
        if floating is float32_t:
            fm_mask_rows_f32(x, rows, rs, n, mv, mask)
        else:
            fm_mask_rows_f64(x, rows, rs, n, mv, mask)
    elif floating is float32_t:
        fm_masking_rows_f32(x, rows, rs, n, mv, out, mask, out_is_zero)
    else:
        fm_masking_rows_f64(x, rows, rs, n, mv, out, mask, out_is_zero)


cdef void _masking_blocks(const floating *x, intp_t n_rows, intp_t n_feat, intp_t row_stride,
                          floating mv, floating *out, uint8_t *mask, bint out_is_zero,
                          int n_threads) noexcept nogil:
    """Blocks of rows of x (n_rows, n_feat) handed to the threads dynamically (a thread
    slowed by another process takes fewer); out NULL: mask only."""
    cdef intp_t b, lo, hi
    cdef intp_t block = _block_rows(n_rows, n_threads)
    cdef intp_t n_blocks = (n_rows + block - 1) // block
    for b in prange(n_blocks, schedule='dynamic', num_threads=n_threads):
        lo = b * block
        hi = min(lo + block, n_rows)
        _rows(x + lo * row_stride, hi - lo, row_stride, n_feat, mv,
              (out + lo * n_feat) if out != NULL else NULL, mask + lo, out_is_zero)


def masking_mask_rows(const floating[:, :] x, uint8_t[::1] mask, double mask_value,
                      int n_threads):
    """mask[i] = any(x[i, :] != mask_value) for x of shape (rows, features).

    x's last axis must be contiguous (any row stride); mask is (rows,) uint8.
    """
    cdef intp_t n_rows = x.shape[0], n_feat = x.shape[1]
    if mask.shape[0] != n_rows:
        raise ValueError(f"mask has {mask.shape[0]} entries for {n_rows} rows")
    if n_rows == 0 or n_feat == 0:
        mask[:] = 0
        return
    with nogil:
        _masking_blocks(&x[0, 0], n_rows, n_feat, x.strides[0] // <intp_t>sizeof(floating),
                        <floating>mask_value, NULL, &mask[0], False, n_threads)


def masking_rows(const floating[:, :] x, floating[:, ::1] out, uint8_t[::1] mask,
                 double mask_value, bint out_is_zero, int n_threads):
    """One pass over x (rows, features): mask[i] = any(x[i] != mask_value) and
    out[i] = x[i] where mask[i], else +0.0 (bit copy of kept rows).

    x's last axis must be contiguous (any row stride); out is C-contiguous.
    out_is_zero: out already holds zeros (np.zeros), masked rows are skipped.
    """
    cdef intp_t n_rows = x.shape[0], n_feat = x.shape[1]
    if mask.shape[0] != n_rows or out.shape[0] != n_rows or out.shape[1] != n_feat:
        raise ValueError(f"out {tuple(out.shape)[:2]} / mask ({mask.shape[0]},) do not "
                         f"match x ({n_rows}, {n_feat})")
    if n_rows == 0 or n_feat == 0:
        mask[:] = 0
        return
    with nogil:
        _masking_blocks(&x[0, 0], n_rows, n_feat, x.strides[0] // <intp_t>sizeof(floating),
                        <floating>mask_value, &out[0, 0], &mask[0], out_is_zero, n_threads)


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
    chunks, handed to the threads dynamically (a thread slowed by another
    process takes fewer); first_bad[c] receives the position of the
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
    if out.shape[0] != n or out.shape[1] != dim or (mask is not None and mask.shape[0] != n):
        raise ValueError(f"out {tuple(out.shape)[:2]} / mask do not match {n} ids of dim {dim}")
    if n_chunks < 1:
        raise ValueError("first_bad needs one entry per chunk (at least 1)")
    if n == 0:
        return
    if n_rows > 0 and dim > 0:
        tbase = &table[0, 0]
        obase = &out[0, 0]
    if mask is not None:
        mbase = &mask[0]
    with nogil:
        if n_threads <= 1:   # one thread: no OpenMP team to start (batch-1 calls)
            for c in range(n_chunks):
                first_bad[c] = _gather_chunk(&ids[0], c * n // n_chunks,
                                             (c + 1) * n // n_chunks, tbase, row_stride,
                                             n_rows, dim, obase, mbase)
        else:
            for c in prange(n_chunks, schedule='dynamic', num_threads=n_threads):
                first_bad[c] = _gather_chunk(&ids[0], c * n // n_chunks,
                                             (c + 1) * n // n_chunks, tbase, row_stride,
                                             n_rows, dim, obase, mbase)
