/* The recurrent kernels for float32, generic code:
 * fm_recurrent_impl.h instantiated once, in a translation unit of its own so that
 * the build compiles the variants in parallel
 * (setup.py adds every csrc/fm_recurrent_*.c to fastmask.kernels._recurrent).
 * fm_recurrent.h declares what this file defines and dispatches to it. */
#include "fm_recurrent.h"

/* GCC/clang 16-byte vectors (SSE2 / NEON), else plain scalars. */
#if FM_HAVE_VECTOR_EXT
#define FMR_SUF f32_generic
#define FMR_T float
#define FMR_VT fm_f4
#define FMR_V 4
#define FMR_VSUF f4
#define FMR_MR4 2
#define FMR_MR3 3
#define FMR_MR1 8
#define FMR_MRS 6
#define FMR_LSTM_SPLIT 0
#define FMR_ATTR
#else
#define FMR_SUF f32_generic
#define FMR_T float
#define FMR_VT float
#define FMR_V 1
#define FMR_VSUF f
#define FMR_MR4 2
#define FMR_MR3 3
#define FMR_MR1 4
#define FMR_MRS 4
#define FMR_LSTM_SPLIT 0
#define FMR_ATTR
#endif
#include "fm_recurrent_impl.h"
