"""Fused dense layer (kernel; checks in kernels/dense.py):
    out = activation(x @ w + bias),  x (M, K), w (K, N), out (M, N), row-major.

The output is cut into blocks of `row_block` rows x `col_block` columns (fixed
by the caller from the shape, never from the thread count). Each block, on one
OpenMP thread:
    1. BLAS path (panel == 0): is pre-filled with the bias (or left as it is
       when there is none: the GEMM then runs with beta = 0), and
    2. gets x[rows] @ w[:, cols] from one single-threaded BLAS GEMM (beta = 1
       with a bias, so the bias is added in the GEMM's own output pass);
       small-GEMM path (panel > 0, w also given packed by `pack`): 1 and 2 are
       one pass of the register-blocked micro-kernel of csrc/fm_dense.h (its
       accumulators start from the bias), for the ISA variant
       fastmask.kernels._isa selects,
    3. gets its activation (C code of csrc/fm_activations.h, or the softmax
       row kernel of csrc/fm_softmax.h over whole rows, in the instruction-set
       variant fastmask.kernels._isa selects) while it is in cache.
Nothing is allocated. The caller limits BLAS to one thread (OpenMP and BLAS
threads must not multiply). Each element's value depends only on its block's
GEMM call, so results do not depend on the thread count (blocks are handed
out dynamically: a thread slowed by another process takes fewer).
"""
import numpy as np

from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from fastmask.kernels._typedefs cimport float32_t, float64_t, uint8_t
from fastmask.kernels._cython_blas cimport gemm, floating
from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._softmax cimport (
    FM_SOFTMAX_ISA_MAX, fm_softmax_isa, fm_softmax_rows_f32, fm_softmax_rows_f64)
from fastmask.kernels._openmp_helpers cimport threads_for_work

cdef extern from "fm_dense.h" nogil:
    enum:
        FM_DENSE_ISA_MAX
    int fm_dense_isa()
    int fm_dense_panel(int isa, int dbl)
    Py_ssize_t fm_dense_packed_size(Py_ssize_t K, Py_ssize_t N, Py_ssize_t nr)
    void fm_dense_pack_f32(const float *w, Py_ssize_t K, Py_ssize_t N, Py_ssize_t nr,
                           float *wp)
    void fm_dense_pack_f64(const double *w, Py_ssize_t K, Py_ssize_t N, Py_ssize_t nr,
                           double *wp)
    void fm_dense_block_f32(int isa, const float *x, Py_ssize_t K, const float *wp,
                            const float *bias, float *out, Py_ssize_t N, Py_ssize_t r0,
                            Py_ssize_t nr, Py_ssize_t c0, Py_ssize_t nc)
    void fm_dense_block_f64(int isa, const double *x, Py_ssize_t K, const double *wp,
                            const double *bias, double *out, Py_ssize_t N, Py_ssize_t r0,
                            Py_ssize_t nr, Py_ssize_t c0, Py_ssize_t nc)

cdef extern from "fm_activations.h" nogil:
    void fm_activation_inplace_f(int kind, float *x, Py_ssize_t n) noexcept
    void fm_activation_inplace_d(int kind, double *x, Py_ssize_t n) noexcept

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into both the small-GEMM micro-kernel and the fused
    softmax activation, lowest first (the large GEMM is BLAS's; the other
    activations are portable C)."""
    return ISA_NAMES[:min(FM_SOFTMAX_ISA_MAX, FM_DENSE_ISA_MAX) + 1]


def isa_in_use():
    """The variant the small-GEMM micro-kernel runs: fastmask.kernels._isa's choice,
    at most the best compiled (the fused softmax follows the same choice)."""
    return ISA_NAMES[fm_dense_isa()]


cdef int small_gemm_panel(bint dbl) noexcept nogil:
    return fm_dense_panel(fm_dense_isa(), dbl)


cdef void small_gemm_f32(const float *x, Py_ssize_t K, const float *wp, float *out,
                         Py_ssize_t N, Py_ssize_t nr) noexcept nogil:
    if nr > 0 and N > 0:
        fm_dense_block_f32(fm_dense_isa(), x, K, wp, NULL, out, N, 0, nr, 0, N)


cdef void small_gemm_f64(const double *x, Py_ssize_t K, const double *wp, double *out,
                         Py_ssize_t N, Py_ssize_t nr) noexcept nogil:
    if nr > 0 and N > 0:
        fm_dense_block_f64(fm_dense_isa(), x, K, wp, NULL, out, N, 0, nr, 0, N)


def panel_width(bint float64):
    """Columns per packed kernel panel of the variant in use (`pack`'s layout)."""
    return fm_dense_panel(fm_dense_isa(), float64)


def pack(const floating[:, ::1] w):
    """w (K, N), C order, packed in column panels of `panel_width` columns for
    the variant in use: a 1-D array of the same dtype (dense_flat's `wpacked`)."""
    cdef Py_ssize_t K = w.shape[0], N = w.shape[1]
    cdef int dbl = 0
    if floating is float64_t:
        dbl = 1
    cdef Py_ssize_t nr = fm_dense_panel(fm_dense_isa(), dbl)
    out = np.empty(max(1, fm_dense_packed_size(K, N, nr)),
                   np.float64 if floating is float64_t else np.float32)
    cdef floating[::1] o = out
    if K > 0 and N > 0:
        with nogil:
            if floating is float32_t:
                fm_dense_pack_f32(&w[0, 0], K, N, nr, &o[0])
            else:
                fm_dense_pack_f64(&w[0, 0], K, N, nr, &o[0])
    return out


# Activation codes: FM_ACT_* of csrc/fm_activations.h, plus SOFTMAX (a whole
# output row, csrc/fm_softmax.h).
ACTIVATIONS = {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3, "hard_sigmoid": 4,
               "softmax": 100}
cdef enum:
    ACT_LINEAR = 0
    ACT_SOFTMAX = 100

# Work per thread below which no further thread is started: 1e6 float32
# flops are ~30 us at the ~35 GFLOP/s small GEMMs reach on one core; float64
# work counts 2x. Tests lower it to run the threaded path on small inputs.
MIN_FLOPS_PER_THREAD = 1e6


cpdef int dense_threads(Py_ssize_t M, Py_ssize_t K, Py_ssize_t N, bint float64,
                        Py_ssize_t n_blocks, int n_threads):
    """The OpenMP threads dense_flat runs for (M, K) @ (K, N) in n_blocks blocks
    when asked for n_threads."""
    cdef double flops = 2.0 * M * (K + 1) * N * (2 if float64 else 1)
    return threads_for_work(n_threads, flops, MIN_FLOPS_PER_THREAD, n_blocks)


cdef inline void _activate(int act, floating *rows, Py_ssize_t nr, Py_ssize_t n,
                           Py_ssize_t ld) noexcept nogil:
    """The activation `act` in place on nr rows of n values, ld apart."""
    cdef Py_ssize_t r
    if act == ACT_SOFTMAX:
        if floating is float32_t:
            fm_softmax_rows_f32(rows, ld, rows, ld, nr, NULL, 0, 1, n, 0, 0, 0)
        else:
            fm_softmax_rows_f64(rows, ld, rows, ld, nr, NULL, 0, 1, n, 0, 0, 0)
    elif act != ACT_LINEAR:
        for r in range(nr):
            if floating is float32_t:
                fm_activation_inplace_f(act, rows + r * ld, n)
            else:
                fm_activation_inplace_d(act, rows + r * ld, n)


cdef inline void _dense_block(Py_ssize_t blk, Py_ssize_t n_cb, Py_ssize_t RB, Py_ssize_t CB,
                              Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, int isa,
                              const floating *xp, const floating *wp, const floating *pp,
                              const floating *bp, floating *op, int activation) noexcept nogil:
    """Output block `blk` of dense_flat (rows RB, columns CB; n_cb column blocks)."""
    cdef Py_ssize_t r0, c0, nr, nc, r
    cdef floating beta
    r0 = (blk // n_cb) * RB
    c0 = (blk % n_cb) * CB
    nr = M - r0
    if nr > RB:
        nr = RB
    nc = N - c0
    if nc > CB:
        nc = CB
    if pp != NULL:
        if floating is float32_t:
            fm_dense_block_f32(isa, xp, K, pp, bp, op, N, r0, nr, c0, nc)
        else:
            fm_dense_block_f64(isa, xp, K, pp, bp, op, N, r0, nr, c0, nc)
        if activation != ACT_LINEAR:
            _activate(activation, op + r0 * N + c0, nr, nc, N)
        return
    beta = 0
    if bp != NULL:
        beta = 1
        for r in range(nr):
            memcpy(op + (r0 + r) * N + c0, bp + c0, nc * sizeof(floating))
    if K > 0:
        gemm(False, False, <int>nr, <int>nc, <int>K, <floating>1, xp + r0 * K, <int>K,
             wp + c0, <int>N, beta, op + r0 * N + c0, <int>N)
    elif bp == NULL:
        for r in range(nr):
            memset(op + (r0 + r) * N + c0, 0, nc * sizeof(floating))
    if activation != ACT_LINEAR:
        _activate(activation, op + r0 * N + c0, nr, nc, N)


def dense_flat(
        const floating[::1] x,        # IN  (M, K) row-major
        const floating[::1] w,        # IN  (K, N) row-major
        const floating[::1] bias,     # IN  (N,) when has_bias
        bint has_bias,
        floating[::1] out,            # OUT (M, N) row-major; may not overlap x, w, bias
        Py_ssize_t M, Py_ssize_t K, Py_ssize_t N,
        int activation,               # ACTIVATIONS value
        Py_ssize_t row_block, Py_ssize_t col_block,
        int n_threads,
        const floating[::1] wpacked=None,  # IN  `pack(w)` for the small-GEMM path
        Py_ssize_t panel=0):          # its panel_width(); 0: the BLAS path
    """out = activation(x @ w + bias) by blocks; see the module docstring."""
    cdef const floating *xp = &x[0]
    cdef const floating *wp = &w[0]
    cdef const floating *bp = &bias[0] if has_bias else NULL
    cdef floating *op = &out[0]
    cdef Py_ssize_t RB = row_block, CB = col_block
    cdef Py_ssize_t n_rb, n_cb, n_blocks, blk
    cdef const floating *pp = NULL
    cdef int isa = fm_dense_isa()
    cdef int dbl = 0
    if floating is float64_t:
        dbl = 1
    if M <= 0 or N <= 0:
        return
    if panel > 0:
        if panel != fm_dense_panel(isa, dbl):
            raise ValueError(f"`wpacked` was packed in panels of {panel} columns; the "
                             f"variant in use takes {fm_dense_panel(isa, dbl)}. "
                             f"Received: panel={panel}")
        if wpacked is None or (K > 0 and wpacked.shape[0] < fm_dense_packed_size(K, N, panel)):
            raise ValueError(f"`wpacked` must hold {fm_dense_packed_size(K, N, panel)} values. "
                             f"Received: {None if wpacked is None else wpacked.shape[0]}")
        pp = &wpacked[0]
    if RB <= 0 or RB > M:
        RB = M
    if CB <= 0 or CB > N or activation == ACT_SOFTMAX:
        CB = N
    if panel > 0 and CB < N:
        CB = (CB + panel - 1) // panel * panel   # blocks start on a panel
    n_rb = (M + RB - 1) // RB
    n_cb = (N + CB - 1) // CB
    n_blocks = n_rb * n_cb
    n_threads = dense_threads(M, K, N, floating is float64_t, n_blocks, n_threads)
    if n_threads <= 1:       # one thread: no OpenMP team to start (batch-1 calls)
        with nogil:
            for blk in range(n_blocks):
                _dense_block(blk, n_cb, RB, CB, M, N, K, isa, xp, wp, pp, bp, op, activation)
    else:
        for blk in prange(n_blocks, nogil=True, schedule='dynamic', num_threads=n_threads):
            _dense_block(blk, n_cb, RB, CB, M, N, K, isa, xp, wp, pp, bp, op, activation)
