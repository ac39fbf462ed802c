# OpenMP routines for the kernels: cimport them from here, never from `openmp`,
# so a build without OpenMP still compiles (the shim in csrc/fm_omp.h).
cdef extern from "fm_omp.h":
    bint FASTMASK_OPENMP_PARALLELISM_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    int omp_in_parallel() noexcept nogil


cdef inline int threads_for_work(int n_threads, double work, double min_work_per_thread,
                                 Py_ssize_t n_tasks) noexcept nogil:
    """The OpenMP team size for `work` units (elements, bytes, flops) in n_tasks
    parallel tasks: n_threads, lowered so that each thread gets at least
    min_work_per_thread units and at least one task; >= 1.

    Small inputs run on one thread: on a busy machine, a team of 2 on a call of
    a few microseconds can wait a whole scheduler time slice for its second
    thread. The kernels' results never depend on the team size.
    """
    if min_work_per_thread > 0 and work < n_threads * min_work_per_thread:
        n_threads = <int>(work / min_work_per_thread)
    if n_threads > n_tasks:
        n_threads = <int>n_tasks
    return n_threads if n_threads > 1 else 1
