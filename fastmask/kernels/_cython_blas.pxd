# Row-major GEMM over scipy's BLAS, callable without the GIL.
# blas_int is the BLAS integer type (LP64 int); kept in one place so an ILP64
# build only changes this line.
from fastmask.kernels._typedefs cimport float32_t, float64_t

ctypedef int blas_int

ctypedef fused floating:
    float32_t
    float64_t

cdef void gemm(bint trans_a, bint trans_b, blas_int m, blas_int n, blas_int k,
               floating alpha, const floating *a, blas_int lda,
               const floating *b, blas_int ldb,
               floating beta, floating *c, blas_int ldc) noexcept nogil
