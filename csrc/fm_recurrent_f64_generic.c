/* The recurrent kernels for float64, generic code:
 * fm_recurrent_impl.h instantiated once, in a translation unit of its own so that
 * the build compiles the variants in parallel
 * (setup.py adds every csrc/fm_recurrent_*.c to fastmask.kernels._recurrent).
 * fm_recurrent.h declares what this file defines and dispatches to it. */
#include "fm_recurrent.h"

/* GCC/clang 16-byte vectors (SSE2 / NEON), else plain scalars. */
#if FM_HAVE_VECTOR_EXT
#define FMR_SUF f64_generic
#define FMR_T double
#define FMR_VT fm_d2
#define FMR_V 2
#define FMR_VSUF d2
#define FMR_MR4 2
#define FMR_MR3 3
#define FMR_MR1 8
#define FMR_MRS 6
#define FMR_LSTM_SPLIT 0
#define FMR_ATTR
#else
#define FMR_SUF f64_generic
#define FMR_T double
#define FMR_VT double
#define FMR_V 1
#define FMR_VSUF d
#define FMR_MR4 2
#define FMR_MR3 3
#define FMR_MR1 4
#define FMR_MRS 4
#define FMR_LSTM_SPLIT 0
#define FMR_ATTR
#endif
#include "fm_recurrent_impl.h"
