"""Masked softmax over one axis (kernel; validation lives in kernels/softmax.py).

x is viewed as (n_outer, n_axis, n_inner), C-contiguous, flattened. The mask
is a C-contiguous uint8 array (nonzero = keep) addressed with element strides:
outer row `o` starts at fm_outer_offset(o, outer_shape, outer_mstride), then
`m_ls` per step along the axis and `m_is` (0 or 1) per inner element.
"""
from cython.parallel cimport prange

from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._openmp_helpers cimport threads_for_work
from fastmask.kernels._typedefs cimport float32_t, float64_t, int64_t, uint8_t
from fastmask.kernels._softmax cimport (
    FM_COL_BLOCK, FM_SOFTMAX_ISA_MAX, fm_outer_offset, fm_softmax_isa,
    FM_ROW_GROUP, fm_softmax_row_f32, fm_softmax_row_f64,
    fm_softmax_rows_f32, fm_softmax_rows_f64, fm_softmax_cols_f32, fm_softmax_cols_f64,
)

ctypedef fused floating:
    float32_t
    float64_t

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into the softmax kernels, lowest first."""
    return ISA_NAMES[:FM_SOFTMAX_ISA_MAX + 1]


def isa_in_use():
    """The variant the softmax kernels run: fastmask.kernels._isa's choice, at most the best compiled."""
    return ISA_NAMES[fm_softmax_isa()]


# Rows (or column blocks) are handed out dynamically, about ROWS_CHUNK_ELEMENTS
# elements at a time: on a machine shared with other processes a thread that
# loses its core for a while takes fewer rows instead of the whole call waiting
# for its static half (2 threads were 5-20x slower than 1 on a busy 2-core
# machine with schedule='static'). Each row's work is fixed, so results do not
# depend on the split.
cdef enum:
    ROWS_CHUNK_ELEMENTS = 8192

# Elements per thread below which no further thread is started, so small inputs
# run on one thread: 32768 float32 elements are ~24 us at the 0.73 ns each
# measured on one thread; a float64 element takes ~2.7 ns and counts 4. Tests
# lower it to run the threaded paths on small inputs.
MIN_ELEMENTS_PER_THREAD = 32768


cpdef int threads_for(Py_ssize_t n_outer, Py_ssize_t n_axis, Py_ssize_t n_inner, bint float64,
                      int n_threads):
    """The OpenMP threads masked_softmax_flat runs for x viewed as (n_outer,
    n_axis, n_inner) when asked for n_threads."""
    cdef double work = <double>n_outer * n_axis * n_inner * (4 if float64 else 1)
    cdef Py_ssize_t n_tasks = n_outer * ((n_inner + FM_COL_BLOCK - 1) // FM_COL_BLOCK)
    return threads_for_work(n_threads, work, MIN_ELEMENTS_PER_THREAD, n_tasks)


cdef inline void _row(const floating *x, const uint8_t *m, int m_stride,
                      floating *out, Py_ssize_t n, int mode, floating fill,
                      int zero_masked) noexcept nogil:
    if floating is float32_t:
        fm_softmax_row_f32(x, m, m_stride, out, n, mode, fill, zero_masked, NULL)
    else:
        fm_softmax_row_f64(x, m, m_stride, out, n, mode, fill, zero_masked, NULL)


cdef inline void _rows(const floating *x, Py_ssize_t ldx, floating *out, Py_ssize_t ldo,
                       Py_ssize_t rows, const uint8_t *m, Py_ssize_t m_ls, int m_stride,
                       Py_ssize_t n, int mode, floating fill, int zero_masked) noexcept nogil:
    if floating is float32_t:
        fm_softmax_rows_f32(x, ldx, out, ldo, rows, m, m_ls, m_stride, n, mode, fill,
                            zero_masked)
    else:
        fm_softmax_rows_f64(x, ldx, out, ldo, rows, m, m_ls, m_stride, n, mode, fill,
                            zero_masked)


def softmax_rows_flat(const floating[:, ::1] x, floating[:, ::1] out,
                      const uint8_t[::1] mask, bint has_mask, Py_ssize_t m_ls, int m_stride,
                      int mode, double fill, bint zero_masked, bint grouped):
    """Test hook: the softmax of each row of x (R, n) into out, row i's mask at
    mask[i * m_ls] (m_stride 1: a byte per element, 0: one byte for the row), through
    fm_softmax_rows (grouped) or one fm_softmax_row call per row."""
    cdef Py_ssize_t R = x.shape[0], n = x.shape[1], i
    cdef const uint8_t *mp = &mask[0] if has_mask else NULL
    if out.shape[0] != R or out.shape[1] != n:
        raise ValueError(f"`out` must have x's shape {(R, n)}. Received: out.shape="
                         f"{(out.shape[0], out.shape[1])}")
    if has_mask and (m_ls < 0 or mask.shape[0] < (R - 1) * m_ls + (n if m_stride else 1)):
        raise ValueError(f"`mask` is too short for {R} rows {m_ls} apart. Received: "
                         f"mask.shape={(mask.shape[0],)}")
    if R == 0 or n == 0:
        return
    if grouped:
        _rows(&x[0, 0], n, &out[0, 0], n, R, mp, m_ls, m_stride, n, mode,
              <floating>fill, zero_masked)
    else:
        for i in range(R):
            _row(&x[i, 0], (mp + i * m_ls) if mp != NULL else NULL, m_stride, &out[i, 0],
                 n, mode, <floating>fill, zero_masked)


cdef inline void _cols(const floating *x, Py_ssize_t n, Py_ssize_t row_stride,
                       Py_ssize_t w, const uint8_t *m, Py_ssize_t m_ls,
                       Py_ssize_t m_cs, floating *out, int mode, floating fill,
                       int zero_masked) noexcept nogil:
    if floating is float32_t:
        fm_softmax_cols_f32(x, n, row_stride, w, m, m_ls, m_cs, out, mode, fill,
                            zero_masked)
    else:
        fm_softmax_cols_f64(x, n, row_stride, w, m, m_ls, m_cs, out, mode, fill,
                            zero_masked)


def masked_softmax_flat(
        const floating[::1] x,               # IN  (n_outer * n_axis * n_inner,)
        floating[::1] out,                   # OUT same size; may share x's memory
        Py_ssize_t n_outer, Py_ssize_t n_axis, Py_ssize_t n_inner,
        const uint8_t[::1] mask,             # IN  mask bytes (ignored if not has_mask)
        bint has_mask,
        const int64_t[::1] outer_shape,      # IN  collapsed outer dims of the mask
        const int64_t[::1] outer_mstride,    # IN  their mask strides (elements)
        Py_ssize_t m_ls, Py_ssize_t m_is,
        int mode, double fill, bint zero_masked, int n_threads):
    """Fill `out` with the masked softmax of `x` along the middle axis."""
    cdef const floating *xp = &x[0] if x.shape[0] > 0 else NULL
    cdef floating *op = &out[0] if out.shape[0] > 0 else NULL
    cdef const uint8_t *mp = &mask[0] if has_mask and mask.shape[0] > 0 else NULL
    cdef const int64_t *shp = &outer_shape[0] if outer_shape.shape[0] > 0 else NULL
    cdef const int64_t *stp = &outer_mstride[0] if outer_mstride.shape[0] > 0 else NULL
    cdef int nd = <int>outer_shape.shape[0]
    cdef floating f = <floating>fill
    cdef Py_ssize_t o, t, blk, i0, w, n_blocks
    cdef Py_ssize_t chunk = max(1, ROWS_CHUNK_ELEMENTS // max(1, n_axis))
    cdef Py_ssize_t row = n_axis * n_inner
    cdef int m_stride = 1 if m_ls != 0 else 0
    if xp == NULL or n_outer <= 0 or row <= 0:
        return
    n_threads = threads_for(n_outer, n_axis, n_inner, floating is float64_t, n_threads)
    if n_inner == 1 and mp == NULL:
        # groups of FM_ROW_GROUP rows (fm_softmax_rows overlaps their passes)
        n_blocks = (n_outer + FM_ROW_GROUP - 1) // FM_ROW_GROUP
        for t in prange(n_blocks, nogil=True, schedule='dynamic',
                        chunksize=max(1, chunk // FM_ROW_GROUP), num_threads=n_threads):
            o = t * FM_ROW_GROUP
            w = n_outer - o
            if w > FM_ROW_GROUP:
                w = FM_ROW_GROUP
            _rows(xp + o * row, row, op + o * row, row, w, NULL, 0, 1, n_axis, mode, f,
                  zero_masked)
    elif n_inner == 1:
        for o in prange(n_outer, nogil=True, schedule='dynamic', chunksize=chunk,
                        num_threads=n_threads):
            _row(xp + o * row,
                 (mp + fm_outer_offset(o, nd, shp, stp)) if mp != NULL else NULL,
                 m_stride, op + o * row, n_axis, mode, f, zero_masked)
    else:
        n_blocks = (n_inner + FM_COL_BLOCK - 1) // FM_COL_BLOCK
        for t in prange(n_outer * n_blocks, nogil=True, schedule='dynamic',
                        num_threads=n_threads):
            o = t // n_blocks
            blk = t - o * n_blocks
            i0 = blk * FM_COL_BLOCK
            w = n_inner - i0
            if w > FM_COL_BLOCK:
                w = FM_COL_BLOCK
            _cols(xp + o * row + i0, n_axis, n_inner, w,
                  (mp + fm_outer_offset(o, nd, shp, stp) + i0 * m_is) if mp != NULL else NULL,
                  m_ls, m_is, op + o * row + i0, mode, f, zero_masked)
