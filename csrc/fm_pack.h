/* Operand staging for the small-GEMM micro-kernel (csrc/fm_dense.h), shared by the
 * dense kernel (_dense.pyx) and the per-head GEMMs of attention (_attention.pyx):
 *
 *   fm_pack_panels: W (K, N), element (k, c) at w[k * rs + c * cs], into column
 *       panels of nr (panel p, row k at wp + (p*K + k)*nr; columns >= N zero).
 *       A Dense kernel is rs = N, cs = 1; attention's V (S, Dv) rows v_rs apart is
 *       rs = v_rs, cs = 1; its K^T (D, S) of K (S, D) rows k_rs apart is rs = 1,
 *       cs = k_rs (a transpose: each key's D values go down one panel column).
 *   fm_scaled_rows: dst (n, d) C-contiguous = alpha * src (n rows src_rs apart).
 *
 * Plain C (no ISA variants): the copies vectorise at -O3 (FM_HOT_BEGIN), which the
 * Cython glue they are called from is not compiled at (setup.py's GLUE_OPT); in
 * _attention.pyx's OpenMP loop they were scalar and took ~1/8 of a masked
 * MultiHeadAttention call at batch 32 (64 keys, 4 heads x 32).
 */
#ifndef FASTMASK_FM_PACK_H
#define FASTMASK_FM_PACK_H

#include <stddef.h>

#include "fm_hot.h"
FM_HOT_BEGIN

#if defined(_MSC_VER) && !defined(__clang__)
#define FM_PACK_RESTRICT __restrict
#else
#define FM_PACK_RESTRICT restrict
#endif

/* The transpose of fm_pack_panels in 4 x 4 blocks of SSE registers (x86-64's
 * baseline, no ISA variant needed), float32, rs == 1: columns j < (n / 4) * 4 of the
 * panel; returns that count (0 elsewhere: the scalar loop does all). Scalar, the
 * strided stores took ~10% of attention's time at 64 keys, 4 heads x 32. */
#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
static inline ptrdiff_t fm_pack_transpose4_f32(const float *w, ptrdiff_t rs, ptrdiff_t cs,
                                               ptrdiff_t K, ptrdiff_t n, ptrdiff_t nr,
                                               float *panel) {
    ptrdiff_t j, k;
    if (rs != 1)
        return 0;
    for (j = 0; j + 4 <= n; j += 4) {
        const float *s0 = w + j * cs, *s1 = s0 + cs, *s2 = s1 + cs, *s3 = s2 + cs;
        for (k = 0; k + 4 <= K; k += 4) {
            __m128 r0 = _mm_loadu_ps(s0 + k), r1 = _mm_loadu_ps(s1 + k);
            __m128 r2 = _mm_loadu_ps(s2 + k), r3 = _mm_loadu_ps(s3 + k);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(panel + k * nr + j, r0);
            _mm_storeu_ps(panel + (k + 1) * nr + j, r1);
            _mm_storeu_ps(panel + (k + 2) * nr + j, r2);
            _mm_storeu_ps(panel + (k + 3) * nr + j, r3);
        }
        for (; k < K; k++) {
            panel[k * nr + j] = s0[k];
            panel[k * nr + j + 1] = s1[k];
            panel[k * nr + j + 2] = s2[k];
            panel[k * nr + j + 3] = s3[k];
        }
    }
    return j;
}
#define FM_PACK_TRANSPOSE_f32 fm_pack_transpose4_f32
#else
#define FM_PACK_TRANSPOSE_f32(w, rs, cs, K, n, nr, panel) ((ptrdiff_t)0)
#endif
#define FM_PACK_TRANSPOSE_f64(w, rs, cs, K, n, nr, panel) ((ptrdiff_t)0)

#define FM_PACK_DEFINE(TT, SUF)                                                         \
static inline void fm_pack_panels_##SUF(const TT *w, ptrdiff_t rs, ptrdiff_t cs,       \
                                        ptrdiff_t K, ptrdiff_t N, ptrdiff_t nr,        \
                                        TT *wp) {                                      \
    const ptrdiff_t P = (N + nr - 1) / nr;                                              \
    ptrdiff_t p, k, j;                                                                  \
    for (p = 0; p < P; p++) {                                                           \
        const ptrdiff_t c0 = p * nr, n = N - c0 < nr ? N - c0 : nr;                     \
        TT *panel = wp + p * K * nr;                                                    \
        if (cs == 1) {                   /* rows of the panel are contiguous in w */    \
            for (k = 0; k < K; k++) {                                                   \
                const TT *s = w + k * rs + c0;                                          \
                TT *d = panel + k * nr;                                                 \
                for (j = 0; j < n; j++) d[j] = s[j];                                    \
                for (; j < nr; j++) d[j] = (TT)0;                                       \
            }                                                                           \
        } else {                         /* columns contiguous (rs == 1): transpose */ \
            j = FM_PACK_TRANSPOSE_##SUF(w + c0 * cs, rs, cs, K, n, nr, panel);          \
            for (; j < n; j++) {                                                        \
                const TT *s = w + (c0 + j) * cs;                                        \
                for (k = 0; k < K; k++) panel[k * nr + j] = s[k * rs];                  \
            }                                                                           \
            for (k = 0; k < K && n < nr; k++)                                           \
                for (j = n; j < nr; j++) panel[k * nr + j] = (TT)0;                     \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
static inline void fm_scaled_rows_##SUF(const TT *src, ptrdiff_t src_rs, ptrdiff_t n,  \
                                        ptrdiff_t d, TT alpha, TT *FM_PACK_RESTRICT dst) {     \
    ptrdiff_t i, j;                                                                     \
    for (i = 0; i < n; i++) {                                                           \
        const TT *FM_PACK_RESTRICT s = src + i * src_rs;                                        \
        TT *FM_PACK_RESTRICT o = dst + i * d;                                                   \
        for (j = 0; j < d; j++) o[j] = alpha * s[j];                                    \
    }                                                                                   \
}
FM_PACK_DEFINE(float, f32)
FM_PACK_DEFINE(double, f64)
#undef FM_PACK_DEFINE
#undef FM_PACK_RESTRICT
#undef FM_PACK_TRANSPOSE_f32
#undef FM_PACK_TRANSPOSE_f64

FM_HOT_END

#endif /* FASTMASK_FM_PACK_H */
