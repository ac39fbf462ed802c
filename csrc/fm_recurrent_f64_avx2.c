/* The recurrent kernels for float64, AVX2 + FMA (target attributes):
 * fm_recurrent_impl.h instantiated once, in a translation unit of its own so that
 * the build compiles the variants in parallel
 * (setup.py adds every csrc/fm_recurrent_*.c to fastmask.kernels._recurrent).
 * fm_recurrent.h declares what this file defines and dispatches to it. */
#include "fm_recurrent.h"

#if FM_X86
#define FMR_SUF f64_avx2
#define FMR_T double
#define FMR_VT fm_d4
#define FMR_V 4
#define FMR_VSUF d4
#define FMR_MR4 6
#define FMR_MR3 4
#define FMR_MR1 8
#define FMR_MRS 6
#define FMR_LSTM_SPLIT 1
#define FMR_ATTR __attribute__((target(FM_TARGET_AVX2)))
#include "fm_recurrent_impl.h"
#else
typedef int fm_recurrent_f64_avx2_not_compiled; /* not x86: an empty unit */
#endif
