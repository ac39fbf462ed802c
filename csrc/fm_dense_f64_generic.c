/* The small-GEMM dense kernels for double, generic code: fm_dense_impl.h
 * instantiated once, in a translation unit of its own (setup.py adds every
 * csrc/fm_dense_*.c to fastmask.kernels._dense). fm_dense.h declares what this
 * file defines. GCC/clang 16-byte vectors (SSE2 / NEON), else plain scalars. */
#include "fm_dense.h"

#define FMD_SUF f64_generic
#define FMD_T double
#if FM_HAVE_VECTOR_EXT
#define FMD_VT fm_d2
#define FMD_V 2
#else
#define FMD_VT double
#define FMD_V 1
#endif
#define FMD_MR 4
#define FMD_ATTR
#include "fm_dense_impl.h"
