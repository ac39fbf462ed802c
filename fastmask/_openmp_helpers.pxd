# OpenMP routines for the kernels: cimport them from here, never from `openmp`,
# so a build without OpenMP still compiles (the shim in csrc/fm_omp.h).
cdef extern from "fm_omp.h":
    bint FASTMASK_OPENMP_PARALLELISM_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    int omp_in_parallel() noexcept nogil
