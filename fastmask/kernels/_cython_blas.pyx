"""Row-major GEMM on top of `scipy.linalg.cython_blas` (column-major Fortran).

C = alpha * op(A) @ op(B) + beta * C, with C (m, n) row-major, op(A) (m, k),
op(B) (k, n). Row-major C is column-major C^T = op(B)^T op(A)^T, so the call
swaps A with B and m with n.
"""
from scipy.linalg.cython_blas cimport sgemm, dgemm
import numpy as np


cdef void gemm(bint trans_a, bint trans_b, blas_int m, blas_int n, blas_int k,
               floating alpha, const floating *a, blas_int lda,
               const floating *b, blas_int ldb,
               floating beta, floating *c, blas_int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m <= 0 or n <= 0:
        return
    if floating is float32_t:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float32_t *>b, &ldb,
              <float32_t *>a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <float64_t *>b, &ldb,
              <float64_t *>a, &lda, &beta, c, &ldc)


def gemm_memview(floating[:, ::1] a, floating[:, ::1] b, floating[:, ::1] c,
                 bint trans_a=False, bint trans_b=False,
                 floating alpha=1.0, floating beta=0.0):
    """Test hook: c = alpha * op(a) @ op(b) + beta * c, all C-contiguous."""
    cdef blas_int m = c.shape[0]
    cdef blas_int n = c.shape[1]
    cdef blas_int k = a.shape[0] if trans_a else a.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != k:
        raise ValueError("gemm_memview: inner dimensions differ")
    if (a.shape[1] if trans_a else a.shape[0]) != m or (b.shape[0] if trans_b else b.shape[1]) != n:
        raise ValueError("gemm_memview: output shape does not match")
    if k == 0:
        np.asarray(c)[...] *= beta
        return
    with nogil:
        gemm(trans_a, trans_b, m, n, k, alpha, &a[0, 0], a.shape[1],
             &b[0, 0], b.shape[1], beta, &c[0, 0], c.shape[1])
