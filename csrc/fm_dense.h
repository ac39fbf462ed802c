/* Small-GEMM path of the fused dense kernel (fastmask/kernels/_dense.pyx):
 *     out[r0:r0+nr, c0:c0+nc] = x[r0:r0+nr] @ W[:, c0:c0+nc] (+ bias[c0:c0+nc])
 * with W (K, N) packed once into column panels of FMD_NR = 2 vectors of the
 * ISA's lanes (panel p holds columns p*NR .. p*NR+NR-1, row k of the panel at
 * wp + (p*K + k)*NR, columns >= N zero). A register block of MR rows x 2
 * vectors starts from the bias (or 0) and accumulates k = 0..K-1 in order, so an
 * element's value does not depend on the blocking, the thread split or which
 * rows share its block (bit-identical for a row alone and inside a batch).
 * No packing of x, no K blocking: meant for the small K and N of per-token
 * Dense layers, where BLAS's call and packing overhead dominates
 * (fastmask/kernels/dense.py chooses the path by shape).
 *
 * Compiled once per dtype x instruction set (fm_dense_impl.h instantiated with
 * target attributes in csrc/fm_dense_<dtype>_<isa>.c, which setup.py links into
 * fastmask.kernels._dense); fm_dense_isa() picks the variant selected
 * library-wide (fm_isa.h: FASTMASK_ISA, else the CPU's best).
 */
#ifndef FASTMASK_FM_DENSE_H
#define FASTMASK_FM_DENSE_H

#include <stddef.h>
#include <string.h>

#include "fm_activations.h"
#include "fm_isa.h"
#include "fm_pack.h"

#include "fm_hot.h"
FM_HOT_BEGIN

#define FM_DENSE_VARIANT_API(SUF, TT)                                                  \
    int fm_dense_panel_##SUF(void);                                                    \
    void fm_dense_block_##SUF(const TT *x, ptrdiff_t K, const TT *wp, const TT *bias,  \
                              TT *out, ptrdiff_t N, ptrdiff_t r0, ptrdiff_t nr,        \
                              ptrdiff_t c0, ptrdiff_t nc);

FM_DENSE_VARIANT_API(f32_generic, float)
FM_DENSE_VARIANT_API(f64_generic, double)
#if FM_X86
FM_DENSE_VARIANT_API(f32_avx2, float)
FM_DENSE_VARIANT_API(f64_avx2, double)
FM_DENSE_VARIANT_API(f32_avx512, float)
FM_DENSE_VARIANT_API(f64_avx512, double)
#define FM_DENSE_ISA_MAX FM_ISA_AVX512
#else
#define FM_DENSE_ISA_MAX FM_ISA_GENERIC
#endif

/* The variant (FM_ISA_*) to run: the library-wide choice, at most the best
 * compiled here. Packed weights are laid out for one variant's panel width. */
static inline int fm_dense_isa(void) { return fm_isa_clamp(FM_DENSE_ISA_MAX); }

#if FM_X86
#define FMD_DISPATCH_RET(isa, dbl, FN, ...)                                             \
    ((isa) == FM_ISA_AVX512                                                             \
     ? ((dbl) ? FN##_f64_avx512(__VA_ARGS__) : FN##_f32_avx512(__VA_ARGS__))             \
     : (isa) == FM_ISA_AVX2 ? ((dbl) ? FN##_f64_avx2(__VA_ARGS__) : FN##_f32_avx2(__VA_ARGS__)) \
     : ((dbl) ? FN##_f64_generic(__VA_ARGS__) : FN##_f32_generic(__VA_ARGS__)))
#define FMD_DISPATCH_T(isa, SUFT, FN, ...)                                              \
    do {                                                                                \
        if ((isa) == FM_ISA_AVX512) FN##_##SUFT##_avx512(__VA_ARGS__);                  \
        else if ((isa) == FM_ISA_AVX2) FN##_##SUFT##_avx2(__VA_ARGS__);                 \
        else FN##_##SUFT##_generic(__VA_ARGS__);                                        \
    } while (0)
#else
#define FMD_DISPATCH_RET(isa, dbl, FN, ...)                                             \
    ((dbl) ? FN##_f64_generic(__VA_ARGS__) : FN##_f32_generic(__VA_ARGS__))
#define FMD_DISPATCH_T(isa, SUFT, FN, ...)                                              \
    do { FN##_##SUFT##_generic(__VA_ARGS__); } while (0)
#endif

/* Columns per packed panel of variant `isa` for float32 (dbl=0) or float64. */
static inline int fm_dense_panel(int isa, int dbl) {
    return FMD_DISPATCH_RET(isa, dbl, fm_dense_panel);
}

/* Elements of W (K, N) packed in panels of nr columns. */
static inline ptrdiff_t fm_dense_packed_size(ptrdiff_t K, ptrdiff_t N, ptrdiff_t nr) {
    return ((N + nr - 1) / nr) * K * nr;
}

/* Pack W (K, N), C-contiguous, into panels of nr columns (see the top). */
static inline void fm_dense_pack_f32(const float *w, ptrdiff_t K, ptrdiff_t N, ptrdiff_t nr,
                                     float *wp) {
    fm_pack_panels_f32(w, N, 1, K, N, nr, wp);
}
static inline void fm_dense_pack_f64(const double *w, ptrdiff_t K, ptrdiff_t N, ptrdiff_t nr,
                                     double *wp) {
    fm_pack_panels_f64(w, N, 1, K, N, nr, wp);
}

/* Block [r0, r0+nr) x [c0, c0+nc) of out (M, N) (c0 a multiple of the panel
 * width of `isa`; bias NULL for none). */
static inline void fm_dense_block_f32(int isa, const float *x, ptrdiff_t K, const float *wp,
                                      const float *bias, float *out, ptrdiff_t N,
                                      ptrdiff_t r0, ptrdiff_t nr, ptrdiff_t c0, ptrdiff_t nc) {
    FMD_DISPATCH_T(isa, f32, fm_dense_block, x, K, wp, bias, out, N, r0, nr, c0, nc);
}
static inline void fm_dense_block_f64(int isa, const double *x, ptrdiff_t K, const double *wp,
                                      const double *bias, double *out, ptrdiff_t N,
                                      ptrdiff_t r0, ptrdiff_t nr, ptrdiff_t c0, ptrdiff_t nc) {
    FMD_DISPATCH_T(isa, f64, fm_dense_block, x, K, wp, bias, out, N, r0, nr, c0, nc);
}

FM_HOT_END

#endif /* FASTMASK_FM_DENSE_H */
