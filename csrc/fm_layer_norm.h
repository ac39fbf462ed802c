/* Layer normalization over the last axis, one row at a time (float32 / float64),
 * for fastmask/kernels/_normalization.pyx.
 *
 * Keras 3.15.1's formula (ops/nn.py _layer_normalization, numpy backend):
 *     mean = E[x], var = E[x^2] - E[x]^2          (backend/numpy/nn.py moments)
 *     inv  = rsqrt(var + epsilon) * gamma
 *     out  = x * inv + (-mean * inv + beta)
 * and with rms_scaling (its deprecated variant: the centred variance, no mean
 * subtracted):
 *     out  = (x * rsqrt(var + epsilon)) * gamma
 * gamma / beta may be absent (NULL). The row is read once for its two sums,
 * accumulated in double (float32 squares and sums are then exact to ~1e-16,
 * so var = E[x^2] - E[x]^2 loses nothing to cancellation that matters at
 * float32, unlike Keras's float32 version), and once more from cache to write
 * the output, so a row costs one read and one write of memory. A variance
 * below 0 from rounding is taken as 0 (NaN stays NaN). `out` may be `x`
 * (each row's sums are taken before any of its outputs is written).
 *
 * Per element the output is computed in the dtype of x, in Keras's order
 * (the compiler may contract x * inv + res into one FMA in the AVX2 variant).
 * Each row's arithmetic is fixed, so results do not depend on how rows are
 * split among threads nor on the other rows.
 */
#ifndef FASTMASK_FM_LAYER_NORM_H
#define FASTMASK_FM_LAYER_NORM_H

#include <math.h>
#include <stddef.h>

#include "fm_isa.h"

#include "fm_hot.h"
FM_HOT_BEGIN

#if defined(_OPENMP)
#define FM_LN_PRAGMA(x) _Pragma(#x)
#define FM_LN_SIMD(clauses) FM_LN_PRAGMA(omp simd clauses)
#else
#define FM_LN_SIMD(clauses)
#endif

/* x86-64 with GCC/clang: an AVX2 + FMA variant besides the baseline; each call
 * runs the one the library-wide choice selects (fm_isa.h: FASTMASK_ISA, else
 * the CPU's best; AVX-512 runs the AVX2 variant). Define
 * FASTMASK_NO_MULTIVERSION to build the baseline only. */
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(FASTMASK_NO_MULTIVERSION)
#define FM_LN_AVX2 1
#define FM_LN_ISA_MAX FM_ISA_AVX2
#else
#define FM_LN_AVX2 0
#define FM_LN_ISA_MAX FM_ISA_GENERIC
#endif

/* The variant (FM_ISA_*) the row kernels run: the library-wide choice
 * (fm_isa.h), at most AVX2. */
static inline int fm_ln_isa(void) { return fm_isa_clamp(FM_LN_ISA_MAX); }

/* Rows are taken FM_LN_GROUP at a time: their sums first, then their
 * 1 / sqrt(var + epsilon) together (independent divisions and square roots
 * overlap in the pipeline instead of one row's waiting for its sums), then
 * their outputs (the group's rows are still in L1). */
#define FM_LN_GROUP 8

#define FM_LN_DEFINE_ROWS(T, NAME, ATTR)                                                 \
static ATTR void NAME(const T *x, T *out, ptrdiff_t rows, ptrdiff_t n, const T *gamma,   \
                      const T *beta, double epsilon, int rms) {                          \
    ptrdiff_t r0, r, j, nr;                                                              \
    double mean[FM_LN_GROUP], var[FM_LN_GROUP];                                          \
    for (r0 = 0; r0 < rows; r0 += FM_LN_GROUP) {                                         \
        nr = rows - r0 < FM_LN_GROUP ? rows - r0 : FM_LN_GROUP;                          \
        for (r = 0; r < nr; r++) {                                                       \
            const T *xr = x + (r0 + r) * n;                                              \
            double s1 = 0.0, s2 = 0.0;                                                   \
            FM_LN_SIMD(reduction(+:s1, s2))                                              \
            for (j = 0; j < n; j++) {                                                    \
                const double v = (double)xr[j];                                          \
                s1 += v;                                                                 \
                s2 += v * v;                                                             \
            }                                                                            \
            mean[r] = s1 / (double)n;                                                    \
            var[r] = s2 / (double)n - mean[r] * mean[r];                                 \
        }                                                                                \
        for (r = 0; r < nr; r++)                                                         \
            var[r] = 1.0 / sqrt((var[r] < 0.0 ? 0.0 : var[r]) + epsilon);                \
        for (r = 0; r < nr; r++) {                                                       \
            const T *xr = x + (r0 + r) * n;                                              \
            T *o = out + (r0 + r) * n;                                                   \
            const T inv = (T)var[r], m = (T)mean[r];                                     \
            if (rms) {                                                                   \
                if (gamma != NULL) {                                                     \
                    FM_LN_SIMD()                                                         \
                    for (j = 0; j < n; j++) {                                            \
                        const T y = xr[j] * inv;                                         \
                        o[j] = y * gamma[j];                                             \
                    }                                                                    \
                } else {                                                                 \
                    FM_LN_SIMD()                                                         \
                    for (j = 0; j < n; j++)                                              \
                        o[j] = xr[j] * inv;                                              \
                }                                                                        \
            } else if (gamma != NULL && beta != NULL) {                                  \
                FM_LN_SIMD()                                                             \
                for (j = 0; j < n; j++) {                                                \
                    const T ij = inv * gamma[j];                                         \
                    const T res = -m * ij + beta[j];                                     \
                    o[j] = xr[j] * ij + res;                                             \
                }                                                                        \
            } else if (gamma != NULL) {                                                  \
                FM_LN_SIMD()                                                             \
                for (j = 0; j < n; j++) {                                                \
                    const T ij = inv * gamma[j];                                         \
                    o[j] = xr[j] * ij + (-m * ij);                                       \
                }                                                                        \
            } else if (beta != NULL) {                                                   \
                const T res0 = -m * inv;                                                 \
                FM_LN_SIMD()                                                             \
                for (j = 0; j < n; j++)                                                  \
                    o[j] = xr[j] * inv + (res0 + beta[j]);                               \
            } else {                                                                     \
                const T res0 = -m * inv;                                                 \
                FM_LN_SIMD()                                                             \
                for (j = 0; j < n; j++)                                                  \
                    o[j] = xr[j] * inv + res0;                                           \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}

FM_LN_DEFINE_ROWS(float, fm_ln_rows_f32_base, )
FM_LN_DEFINE_ROWS(double, fm_ln_rows_f64_base, )
#if FM_LN_AVX2
FM_LN_DEFINE_ROWS(float, fm_ln_rows_f32_avx2, __attribute__((target("avx2,fma"))))
FM_LN_DEFINE_ROWS(double, fm_ln_rows_f64_avx2, __attribute__((target("avx2,fma"))))
#endif

/* Normalise `rows` rows of n values (x and out row-major; out may be x) with
 * the variant `isa` (fm_ln_isa(), read once per call). */
static inline void fm_ln_rows_f32(int isa, const float *x, float *out, ptrdiff_t rows,
                                  ptrdiff_t n, const float *gamma, const float *beta,
                                  double epsilon, int rms) {
#if FM_LN_AVX2
    if (isa >= FM_ISA_AVX2) {
        fm_ln_rows_f32_avx2(x, out, rows, n, gamma, beta, epsilon, rms);
        return;
    }
#endif
    (void)isa;
    fm_ln_rows_f32_base(x, out, rows, n, gamma, beta, epsilon, rms);
}

static inline void fm_ln_rows_f64(int isa, const double *x, double *out, ptrdiff_t rows,
                                  ptrdiff_t n, const double *gamma, const double *beta,
                                  double epsilon, int rms) {
#if FM_LN_AVX2
    if (isa >= FM_ISA_AVX2) {
        fm_ln_rows_f64_avx2(x, out, rows, n, gamma, beta, epsilon, rms);
        return;
    }
#endif
    (void)isa;
    fm_ln_rows_f64_base(x, out, rows, n, gamma, beta, epsilon, rms);
}

FM_HOT_END

#endif /* FASTMASK_FM_LAYER_NORM_H */
