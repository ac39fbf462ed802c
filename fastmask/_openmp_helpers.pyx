"""OpenMP facts for the Python side: is it compiled in, how many threads."""
from fastmask._openmp_helpers cimport (
    FASTMASK_OPENMP_PARALLELISM_ENABLED, omp_get_max_threads)


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(FASTMASK_OPENMP_PARALLELISM_ENABLED)


def openmp_max_threads():
    """`omp_get_max_threads()` (1 without OpenMP); honours OMP_NUM_THREADS."""
    return omp_get_max_threads()
