/* Masked softmax kernels (float32 / float64), shared by fastmask.kernels._softmax and
 * fastmask.kernels._attention.
 *
 * Keras's formula (layers/activations/softmax.py, backend/numpy/nn.py):
 *     y   = where(mask, x, fill)         (FM_REPLACE)   or
 *     y   = where(mask, x, x - fill)     (FM_SUBTRACT: keras.layers.Attention)
 *     out = exp(y - max(y)) / sum(exp(y - max(y)))
 *     out = where(mask, out, 0)          (only when zero_masked)
 * NaN and +-inf follow NumPy: a NaN or +inf logit, or a row of -inf logits,
 * makes the max non-finite and the row NaN (then masked entries are zeroed
 * when zero_masked).
 *
 * Each row is read once from memory: pass 1 writes the masked logits into
 * `out` and takes the max, pass 2 exponentiates in place and sums, pass 3
 * scales; passes 2-3 run on a row that is still in cache. The work per row is
 * fixed, so results do not depend on how rows are split among threads.
 *
 * exp is a branch-free polynomial (Cephes) that GCC vectorises (see fm_exp_f32). On x86-64
 * with GCC >= 12 the kernels are compiled for x86-64-v4 (AVX-512), x86-64-v3
 * (AVX2+FMA) and the baseline (target attributes), and each call runs the
 * one selected at import (fm_isa.h: FASTMASK_ISA, else the CPU's best), so
 * wheels need no -march. Define FASTMASK_NO_MULTIVERSION to
 * build the baseline only. (target_clones vectorised some loops of the
 * AVX-512 clone with 16-byte vectors under GCC 12, so it is not used.)
 * Results may differ from NumPy's by a few ulp; exp results below the
 * smallest normal number are flushed to 0.
 */
#ifndef FASTMASK_FM_SOFTMAX_H
#define FASTMASK_FM_SOFTMAX_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Instruction-set variants of the row/column kernels: x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 + FMA) and the baseline; each call runs the one selected
 * library-wide (fm_isa.h: FASTMASK_ISA or the CPU's best). */
#include "fm_isa.h"

#include "fm_hot.h"
FM_HOT_BEGIN
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(FASTMASK_NO_MULTIVERSION)
#define FM_MULTIVERSION 1
#define FM_SOFTMAX_ISA_MAX FM_ISA_AVX512
#else
#define FM_MULTIVERSION 0
#define FM_SOFTMAX_ISA_MAX FM_ISA_GENERIC
#endif

/* The variant (FM_ISA_*) FM_DISPATCH runs in this module. */
static inline int fm_softmax_isa(void) { return fm_isa_clamp(FM_SOFTMAX_ISA_MAX); }

/* Vectorised reductions: `omp simd` lets the compiler reorder a sum or max
 * (fixed order for a given build and CPU, so results stay deterministic). */
#if defined(_OPENMP)
#define FM_PRAGMA(x) _Pragma(#x)
#define FM_PRAGMA_SIMD(clauses) FM_PRAGMA(omp simd clauses)
#else
#define FM_PRAGMA_SIMD(clauses)
#endif

#define FM_REPLACE 0
#define FM_SUBTRACT 1
#define FM_LSE_INF 2

/* Column block of the strided (axis not last) kernel, in elements. */
#define FM_COL_BLOCK 64

/* Rows fm_softmax_rows runs each pass for before the next pass. */
#define FM_ROW_GROUP 4

/* Offset of outer row `o` in an array described by (shape, stride) of `nd`
 * collapsed outer dimensions (C order). */
static inline ptrdiff_t fm_outer_offset(ptrdiff_t o, int nd, const int64_t *shape,
                                        const int64_t *stride) {
    ptrdiff_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
        ptrdiff_t q = o / shape[d];
        off += (o - q * shape[d]) * stride[d];
        o = q;
    }
    return off;
}

/* keep ? a : b for a mask byte keep in {0, 1}, as bit operations: no branch,
 * both operands always evaluated, so GCC vectorises it under -ftrapping-math
 * (and widens the byte straight to the element's integer width). */
#define FM_DEFINE_SELECT(T, IT, SFX)                                    \
    static inline T fm_select_##SFX(uint8_t keep, T a, T b) {           \
        IT ia, ib, k = -(IT)keep;                                       \
        memcpy(&ia, &a, sizeof ia);                                     \
        memcpy(&ib, &b, sizeof ib);                                     \
        ia = (ia & k) | (ib & ~k);                                      \
        memcpy(&a, &ia, sizeof a);                                      \
        return a;                                                       \
    }
FM_DEFINE_SELECT(float, int32_t, f32)
FM_DEFINE_SELECT(double, int64_t, f64)

/* exp(t) for t <= 88; t < -87.33 (and -inf, NaN) gives 0.
 * Every operation runs for every t (out of range the intermediate values are
 * garbage, inf or NaN, and the final select replaces them: no clamp of t, 7%
 * faster), and the underflow to 0 is a bit select (fm_select_*), not
 * `t < lo ? 0 : e`:
 * GCC 12 turned those conditionals into control flow, and under
 * -ftrapping-math it does not if-convert floating-point operations, so
 * without AVX-512's masked operations (generic and AVX2 builds) every loop
 * calling exp stayed scalar (5 ns per element instead of ~1 ns on AVX2).
 * tests/test_softmax_vectorised.py checks GCC's vectoriser report for them. */
static inline float fm_exp_f32(float t) {
    /* The shifter carries the exponent bias: kf's low bits are k + 127, and shifting
     * them into place gives 2**k (the shifter's own bits leave the word); and
     * (y + 1) * 2**k as one FMA, y * s + s. Two instructions fewer than adding the
     * bias and the 1 apart (7% faster on AVX2); the same values except that a
     * product t / ln 2 on a tie may round to the other k (1 ulp). */
    const float lo = -87.33654f, shifter = 12582912.0f + 127.0f; /* 1.5 * 2**23 + bias */
    uint8_t in_range = (uint8_t)(t >= lo);                /* 0 for t < lo, -inf, NaN */
    float kf = t * 1.44269504088896341f + shifter;       /* round(t / ln 2) + 127 */
    uint32_t kb;
    memcpy(&kb, &kf, sizeof kb);
    kf -= shifter;
    float r = t - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r;                            /* exp(r) - 1 */
    uint32_t sb = kb << 23;                               /* 2**k */
    float s;
    memcpy(&s, &sb, sizeof s);
    float e = y * s + s;
    return fm_select_f32(in_range, e, 0.0f);
}

/* exp(t) for t <= 709; t < -708.39 (and -inf, NaN) gives 0 (branch free, as fm_exp_f32). */
static inline double fm_exp_f64(double t) {
    const double lo = -708.39, shifter = 6755399441055744.0; /* 1.5 * 2**52 */
    uint8_t in_range = (uint8_t)(t >= lo);
    double kd = t * 1.4426950408889634074 + shifter;
    uint64_t kb;                       /* unsigned: out of range, its arithmetic wraps */
    memcpy(&kb, &kd, sizeof kb);
    kd -= shifter;
    double r = t - kd * 6.93147180369123816490e-01;
    r = r - kd * 1.90821492927058770002e-10;
    /* Taylor series to r**13 / 13!, |r| <= 0.347: truncation < 1e-17. */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    double e = p * (r * r) + r + 1.0;
    uint64_t sb = (kb - UINT64_C(0x4338000000000000) + 1023) << 52;
    double s;
    memcpy(&s, &sb, sizeof s);
    e = e * s;
    return fm_select_f64(in_range, e, 0.0);
}


#if FM_MULTIVERSION
#define FM_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define FM_TARGET_V4 __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#endif

/* One set of kernels per (ISA, dtype). */
#define FM_ISA base
#define FM_TARGET
#include "fm_softmax_dtypes.h"
#undef FM_ISA
#undef FM_TARGET
#if FM_MULTIVERSION
#define FM_ISA v3
#define FM_TARGET FM_TARGET_V3
#include "fm_softmax_dtypes.h"
#undef FM_ISA
#undef FM_TARGET
#define FM_ISA v4
#define FM_TARGET FM_TARGET_V4
#include "fm_softmax_dtypes.h"
#undef FM_ISA
#undef FM_TARGET
#define FM_DISPATCH(fn, args) do {                                     \
        int isa_ = fm_softmax_isa();                                   \
        if (isa_ == FM_ISA_AVX512) fn##_v4 args;                       \
        else if (isa_ == FM_ISA_AVX2) fn##_v3 args;                    \
        else fn##_base args;                                           \
    } while (0)
#else
#define FM_DISPATCH(fn, args) fn##_base args
#endif

/* Public entry points (see fm_softmax_impl.h for the arguments). */
static void fm_softmax_row_f32(const float *x, const uint8_t *m, int m_stride, float *out,
                               ptrdiff_t n, int mode, float fill, int zero_masked,
                               float *row_max) {
    FM_DISPATCH(fm_softmax_row_f32, (x, m, m_stride, out, n, mode, fill, zero_masked, row_max));
}

static void fm_softmax_row_f64(const double *x, const uint8_t *m, int m_stride, double *out,
                               ptrdiff_t n, int mode, double fill, int zero_masked,
                               double *row_max) {
    FM_DISPATCH(fm_softmax_row_f64, (x, m, m_stride, out, n, mode, fill, zero_masked, row_max));
}

/* fm_softmax_row of `rows` rows: row i is x + i * ldx into out + i * ldo with mask
 * m + i * m_ls (m_ls 0: one mask for all; see fm_softmax_impl.h), no row_max. */
static void fm_softmax_rows_f32(const float *x, ptrdiff_t ldx, float *out, ptrdiff_t ldo,
                                ptrdiff_t rows, const uint8_t *m, ptrdiff_t m_ls,
                                int m_stride, ptrdiff_t n, int mode, float fill,
                                int zero_masked) {
    FM_DISPATCH(fm_softmax_rows_f32, (x, ldx, out, ldo, rows, m, m_ls, m_stride, n, mode,
                                      fill, zero_masked));
}

static void fm_softmax_rows_f64(const double *x, ptrdiff_t ldx, double *out, ptrdiff_t ldo,
                                ptrdiff_t rows, const uint8_t *m, ptrdiff_t m_ls,
                                int m_stride, ptrdiff_t n, int mode, double fill,
                                int zero_masked) {
    FM_DISPATCH(fm_softmax_rows_f64, (x, ldx, out, ldo, rows, m, m_ls, m_stride, n, mode,
                                      fill, zero_masked));
}

static void fm_softmax_cols_f32(const float *x, ptrdiff_t n, ptrdiff_t row_stride, ptrdiff_t w,
                                const uint8_t *m, ptrdiff_t m_ls, ptrdiff_t m_cs, float *out,
                                int mode, float fill, int zero_masked) {
    FM_DISPATCH(fm_softmax_cols_f32, (x, n, row_stride, w, m, m_ls, m_cs, out, mode, fill,
                                      zero_masked));
}

static void fm_softmax_cols_f64(const double *x, ptrdiff_t n, ptrdiff_t row_stride, ptrdiff_t w,
                                const uint8_t *m, ptrdiff_t m_ls, ptrdiff_t m_cs, double *out,
                                int mode, double fill, int zero_masked) {
    FM_DISPATCH(fm_softmax_cols_f64, (x, n, row_stride, w, m, m_ls, m_cs, out, mode, fill,
                                      zero_masked));
}

FM_HOT_END

#endif
