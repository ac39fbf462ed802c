/* The recurrent kernels for float32, AVX-512 (target attributes):
 * fm_recurrent_impl.h instantiated once, in a translation unit of its own so that
 * the build compiles the variants in parallel
 * (setup.py adds every csrc/fm_recurrent_*.c to fastmask.kernels._recurrent).
 * fm_recurrent.h declares what this file defines and dispatches to it. */
#include "fm_recurrent.h"

#if FM_X86
#define FMR_SUF f32_avx512
#define FMR_T float
#define FMR_VT fm_f16
#define FMR_V 16
#define FMR_VSUF f16
#define FMR_MR4 6
#define FMR_MR3 8
#define FMR_MR1 12
#define FMR_MRS 12
#define FMR_LSTM_SPLIT 0
#define FMR_ATTR __attribute__((target(FM_TARGET_AVX512)))
#include "fm_recurrent_impl.h"
#else
typedef int fm_recurrent_f32_avx512_not_compiled; /* not x86: an empty unit */
#endif
