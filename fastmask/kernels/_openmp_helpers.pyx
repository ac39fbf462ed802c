"""OpenMP facts for the Python side: is it compiled in, how many threads (and how
many are worth starting for a given amount of work)."""
from cpython.pyport cimport PY_SSIZE_T_MAX

from fastmask.kernels._openmp_helpers cimport (
    FASTMASK_OPENMP_PARALLELISM_ENABLED, omp_get_max_threads)


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(FASTMASK_OPENMP_PARALLELISM_ENABLED)


def openmp_max_threads():
    """`omp_get_max_threads()` (1 without OpenMP); honours OMP_NUM_THREADS."""
    return omp_get_max_threads()


def threads_for(int n_threads, double work, double min_work_per_thread,
                Py_ssize_t n_tasks=PY_SSIZE_T_MAX):
    """`threads_for_work` (see _openmp_helpers.pxd) for the Python wrappers: the
    threads worth starting for `work` units, each getting >= min_work_per_thread."""
    return threads_for_work(n_threads, work, min_work_per_thread, n_tasks)


def openmp_symbol_address():
    """Address of `omp_get_max_threads` as the kernels call it: show_config finds
    the OpenMP runtime library from it (fastmask.kernels._libraries)."""
    return <size_t>&omp_get_max_threads
