"""Row-major GEMM on top of `scipy.linalg.cython_blas` (column-major Fortran).

C = alpha * op(A) @ op(B) + beta * C, with C (m, n) row-major, op(A) (m, k),
op(B) (k, n). Row-major C is column-major C^T = op(B)^T op(A)^T, so the call
swaps A with B and m with n.

sgemm/dgemm are looked up at import in the table of C functions that
`scipy.linalg.cython_blas` exports (`__pyx_capi__`, what a `cimport` of it
reads), so building fastmask needs no SciPy, only running it does.
"""
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer

import numpy as np

ctypedef void (*sgemm_t)(char *transa, char *transb, blas_int *m, blas_int *n, blas_int *k,
                         float32_t *alpha, float32_t *a, blas_int *lda, float32_t *b,
                         blas_int *ldb, float32_t *beta, float32_t *c,
                         blas_int *ldc) noexcept nogil
ctypedef void (*dgemm_t)(char *transa, char *transb, blas_int *m, blas_int *n, blas_int *k,
                         float64_t *alpha, float64_t *a, blas_int *lda, float64_t *b,
                         blas_int *ldb, float64_t *beta, float64_t *c,
                         blas_int *ldc) noexcept nogil


cdef void *_scipy_blas(str name) except NULL:
    """Address of scipy.linalg.cython_blas's `name`, checked to take LP64 (int) sizes."""
    from scipy.linalg import cython_blas
    capsule = cython_blas.__pyx_capi__[name]
    signature = PyCapsule_GetName(capsule)
    text = (<bytes>signature).decode() if signature != NULL else ""
    if not text.startswith("void (char *, char *, int *, int *, int *, ") or text.count(
            " int *") != 6:
        raise ImportError(f"scipy.linalg.cython_blas.{name} has an unexpected signature "
                          f"(fastmask calls it with int sizes). Received: {text!r}")
    return PyCapsule_GetPointer(capsule, signature)


cdef sgemm_t sgemm = <sgemm_t>_scipy_blas("sgemm")
cdef dgemm_t dgemm = <dgemm_t>_scipy_blas("dgemm")


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
