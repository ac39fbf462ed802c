"""Layer normalization over the last axis (kernel; checks in kernels/normalization.py).

Rows of x (rows, n) are split into fixed blocks of ROW_BLOCK rows handed out to
OpenMP threads; each row is normalised by csrc/fm_layer_norm.h in one read of
memory and one write, in the instruction-set variant fastmask.kernels._isa
selects (FASTMASK_ISA; AVX2 + FMA or the baseline), read once per call.
Nothing is allocated; `out` may be `x` (in place).
"""
from cython.parallel cimport prange

from fastmask.kernels._typedefs cimport float32_t, float64_t
from fastmask.kernels._cython_blas cimport floating
from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._openmp_helpers cimport threads_for_work

cdef extern from "fm_layer_norm.h" nogil:
    enum:
        FM_LN_ISA_MAX
    int fm_ln_isa() noexcept
    void fm_ln_rows_f32(int isa, const float *x, float *out, Py_ssize_t rows, Py_ssize_t n,
                        const float *gamma, const float *beta, double epsilon,
                        int rms) noexcept
    void fm_ln_rows_f64(int isa, const double *x, double *out, Py_ssize_t rows,
                        Py_ssize_t n, const double *gamma, const double *beta,
                        double epsilon, int rms) noexcept

# Bytes of x per thread below which no further thread is started (~1 MiB is
# ~40 us of a memory-bound pass on one core). Tests lower it.
MIN_BYTES_PER_THREAD = 1 << 20
# Rows handed out at a time (dynamic schedule: a thread slowed by another
# process takes fewer blocks).
cdef enum:
    ROW_BLOCK = 256

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into the row kernels, lowest first."""
    return ISA_NAMES[:FM_LN_ISA_MAX + 1]


def isa_in_use():
    """The variant the row kernels run: fastmask.kernels._isa's choice, at most AVX2."""
    return ISA_NAMES[fm_ln_isa()]


cpdef int layer_norm_threads(Py_ssize_t rows, Py_ssize_t n, Py_ssize_t itemsize,
                             int n_threads):
    """The OpenMP threads layer_norm_flat runs for (rows, n) when asked for n_threads."""
    return threads_for_work(n_threads, <double>rows * n * itemsize, MIN_BYTES_PER_THREAD,
                            (rows + ROW_BLOCK - 1) // ROW_BLOCK)


def layer_norm_flat(
        const floating[::1] x,        # IN  (rows, n) row-major
        floating[::1] out,            # OUT (rows, n); may be x itself
        Py_ssize_t rows, Py_ssize_t n,
        const floating[::1] gamma, bint has_gamma,   # (n,)
        const floating[::1] beta, bint has_beta,     # (n,)
        double epsilon, bint rms_scaling, int n_threads):
    """out = layer normalization of each row of x (see csrc/fm_layer_norm.h)."""
    cdef const floating *xp = &x[0]
    cdef floating *op = &out[0]
    cdef const floating *gp = &gamma[0] if has_gamma else NULL
    cdef const floating *bp = &beta[0] if has_beta else NULL
    cdef Py_ssize_t n_blocks, blk, r0, nr
    cdef int isa = fm_ln_isa()     # one variant for the whole call
    if rows <= 0 or n <= 0:
        return
    n_blocks = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    n_threads = layer_norm_threads(rows, n, sizeof(floating), n_threads)
    if n_threads <= 1:       # one thread: no OpenMP team to start (batch-1 calls)
        with nogil:
            _ln_rows(isa, xp, op, 0, rows, n, gp, bp, epsilon, rms_scaling)
        return
    for blk in prange(n_blocks, nogil=True, schedule='dynamic', num_threads=n_threads):
        r0 = blk * ROW_BLOCK
        nr = rows - r0
        if nr > ROW_BLOCK:
            nr = ROW_BLOCK
        _ln_rows(isa, xp, op, r0, nr, n, gp, bp, epsilon, rms_scaling)


cdef inline void _ln_rows(int isa, const floating *xp, floating *op, Py_ssize_t r0,
                          Py_ssize_t nr, Py_ssize_t n, const floating *gp, const floating *bp,
                          double epsilon, bint rms_scaling) noexcept nogil:
    """Rows [r0, r0 + nr) of layer_norm_flat."""
    if floating is float32_t:
        fm_ln_rows_f32(isa, xp + r0 * n, op + r0 * n, nr, n, gp, bp, epsilon, rms_scaling)
    else:
        fm_ln_rows_f64(isa, xp + r0 * n, op + r0 * n, nr, n, gp, bp, epsilon, rms_scaling)
