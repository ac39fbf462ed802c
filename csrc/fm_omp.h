/* OpenMP shim: the kernels include this instead of <omp.h>, so the same
 * source builds with and without OpenMP (serial code, 1 thread). */
#ifndef FASTMASK_FM_OMP_H
#define FASTMASK_FM_OMP_H

#ifdef _OPENMP
#include <omp.h>
#define FASTMASK_OPENMP_PARALLELISM_ENABLED 1
#else
#define FASTMASK_OPENMP_PARALLELISM_ENABLED 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_in_parallel(void) { return 0; }
#endif

#endif
