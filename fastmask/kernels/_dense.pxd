# The small-GEMM micro-kernel of _dense.pyx (csrc/fm_dense.h, in the ISA variant
# fastmask.kernels._isa selects) for other kernel modules (cimport; Cython passes the
# functions through the module's C API capsule, so the per-ISA C files stay linked
# into _dense alone). Used by _attention.pyx for the per-head GEMMs.

cdef int small_gemm_panel(bint dbl) noexcept nogil
# out (nr, N), rows N apart = x (nr, K), rows K apart @ W (K, N) packed in panels of
# small_gemm_panel() columns (layout of fm_dense_pack: panel p, row k at (p*K + k)*NR).
cdef void small_gemm_f32(const float *x, Py_ssize_t K, const float *wp, float *out,
                         Py_ssize_t N, Py_ssize_t nr) noexcept nogil
cdef void small_gemm_f64(const double *x, Py_ssize_t K, const double *wp, double *out,
                         Py_ssize_t N, Py_ssize_t nr) noexcept nogil
