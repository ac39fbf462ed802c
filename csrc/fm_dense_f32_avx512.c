/* The small-GEMM dense kernels for float, avx512 code: fm_dense_impl.h instantiated
 * once, in a translation unit of its own (setup.py adds every csrc/fm_dense_*.c
 * to fastmask.kernels._dense). fm_dense.h declares what this file defines. */
#include "fm_dense.h"

#if FM_X86
#define FMD_SUF f32_avx512
#define FMD_T float
#define FMD_VT fm_f16
#define FMD_V 16
#define FMD_MR 8
#define FMD_ATTR __attribute__((target(FM_TARGET_AVX512)))
#include "fm_dense_impl.h"
#else
typedef int fm_dense_f32_avx512_not_compiled; /* not x86: an empty unit */
#endif
