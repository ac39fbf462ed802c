/* Row kernels of fastmask/kernels/_masking.pyx (Masking layer).
 *
 *   fm_mask_rows_{f32,f64}:    mask[r] = any(x[r] != mv)
 *   fm_masking_rows_{f32,f64}: the same, plus out[r] = x[r] if mask[r] else +0.0
 *
 * for `rows` rows of `n` elements, row r starting at x + r * rs (elements).
 * `!=` is C's (and NumPy's) unordered not-equal: NaN != anything is true.
 *
 * A row is compared in blocks of 128 bytes (two cache lines) without branches
 * and stops at the first block holding a value other than mv: a data row is
 * usually decided by its first block, a padding row is read to the end. Each
 * block also prefetches the memory 4 KiB ahead, which keeps a single core
 * near its read bandwidth on the padding rows.
 *
 * SIMD: SSE2 on x86 (baseline), plus an AVX2 variant (GCC/Clang) run when
 * the library-wide ISA (fm_isa.h) is AVX2 or above; portable C elsewhere. All variants compute the
 * same booleans and copy rows bit for bit, so results never depend on the ISA.
 */
#ifndef FASTMASK_FM_MASKING_H
#define FASTMASK_FM_MASKING_H

#include <Python.h>  /* Py_ssize_t */
#include <stdint.h>
#include <string.h>

#include "fm_isa.h"

#define FM_PREFETCH_AHEAD 4096

#if defined(__x86_64__) || defined(_M_X64) || defined(__SSE2__) || \
    (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define FM_MASKING_SSE2 1
#include <emmintrin.h>
#endif

#if defined(FM_MASKING_SSE2) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(FASTMASK_NO_AVX2)
#define FM_MASKING_AVX2 1
#include <immintrin.h>
#define FM_AVX2_ATTR __attribute__((target("avx2")))
#endif

#include "fm_hot.h"
FM_HOT_BEGIN

/* The row tests are inlined into the row-block kernels (GCC does not inline a plain
 * `static inline` function across the optimize attribute FM_HOT_BEGIN gives the code,
 * which cost the mask-only kernel ~20% on small inputs). */
#if defined(__GNUC__) || defined(__clang__)
#define FM_ANY_NE_INLINE static inline __attribute__((always_inline))
#else
#define FM_ANY_NE_INLINE static inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FM_PREFETCH(p) \
    __builtin_prefetch((const void *)((uintptr_t)(p) + FM_PREFETCH_AHEAD), 0, 3)
#elif defined(FM_MASKING_SSE2)
#define FM_PREFETCH(p) \
    _mm_prefetch((const char *)((uintptr_t)(p) + FM_PREFETCH_AHEAD), _MM_HINT_T0)
#else
#define FM_PREFETCH(p) ((void)0)
#endif

/* ------------------------------------------------------------ any(row != mv) */
/* fm_any_ne_{f32,f64}_{base,avx2}(x, n, mv) = any(x[0:n] != mv). The vector
 * variants are written once per ISA for both dtypes: V is the vector type,
 * SFX the intrinsics' suffix (ps, pd), W the lanes per vector; a block is
 * 128 bytes, prefetched in two halves. */
#define FM_SSE2_NE(SFX, p, v) _mm_cmpneq_##SFX(_mm_loadu_##SFX(p), v)
#define FM_AVX2_NE(SFX, p, v) _mm256_cmp_##SFX(_mm256_loadu_##SFX(p), v, _CMP_NEQ_UQ)

#ifdef FM_MASKING_SSE2
/* 8-vector blocks, then single vectors, then scalars. */
#define FM_DEFINE_ANY_NE_SSE2(T, TS, V, SFX, W)                                       \
    FM_ANY_NE_INLINE int fm_any_ne_##TS##_base(const T *x, Py_ssize_t n, T mv) {         \
        const V v = _mm_set1_##SFX(mv);                                               \
        Py_ssize_t i = 0;                                                             \
        for (; i + 8 * (W) <= n; i += 8 * (W)) {                                      \
            FM_PREFETCH(x + i);                                                       \
            FM_PREFETCH(x + i + 4 * (W));                                             \
            V a = _mm_or_##SFX(FM_SSE2_NE(SFX, x + i, v),                             \
                               FM_SSE2_NE(SFX, x + i + (W), v));                      \
            V b = _mm_or_##SFX(FM_SSE2_NE(SFX, x + i + 2 * (W), v),                   \
                               FM_SSE2_NE(SFX, x + i + 3 * (W), v));                  \
            V c = _mm_or_##SFX(FM_SSE2_NE(SFX, x + i + 4 * (W), v),                   \
                               FM_SSE2_NE(SFX, x + i + 5 * (W), v));                  \
            V d = _mm_or_##SFX(FM_SSE2_NE(SFX, x + i + 6 * (W), v),                   \
                               FM_SSE2_NE(SFX, x + i + 7 * (W), v));                  \
            if (_mm_movemask_##SFX(_mm_or_##SFX(_mm_or_##SFX(a, b), _mm_or_##SFX(c, d)))) \
                return 1;                                                             \
        }                                                                             \
        for (; i + (W) <= n; i += (W))                                                \
            if (_mm_movemask_##SFX(FM_SSE2_NE(SFX, x + i, v))) return 1;              \
        for (; i < n; ++i)                                                            \
            if (x[i] != mv) return 1;                                                 \
        return 0;                                                                     \
    }
FM_DEFINE_ANY_NE_SSE2(float, f32, __m128, ps, 4)
FM_DEFINE_ANY_NE_SSE2(double, f64, __m128d, pd, 2)
#else  /* portable C: branch-free blocks the compiler may vectorise */
#define FM_DEFINE_ANY_NE_PORTABLE(T, TS, BLOCK)                                   \
    FM_ANY_NE_INLINE int fm_any_ne_##TS##_base(const T *x, Py_ssize_t n, T mv) {     \
        Py_ssize_t i = 0;                                                         \
        for (; i + BLOCK <= n; i += BLOCK) {                                      \
            int acc = 0;                                                          \
            FM_PREFETCH(x + i);                                                   \
            for (int j = 0; j < BLOCK; ++j) acc |= (x[i + j] != mv);              \
            if (acc) return 1;                                                    \
        }                                                                         \
        for (; i < n; ++i)                                                        \
            if (x[i] != mv) return 1;                                             \
        return 0;                                                                 \
    }
FM_DEFINE_ANY_NE_PORTABLE(float, f32, 32)
FM_DEFINE_ANY_NE_PORTABLE(double, f64, 16)
#endif

#ifdef FM_MASKING_AVX2
/* 4-vector blocks; the tail goes to the baseline. */
#define FM_DEFINE_ANY_NE_AVX2(T, TS, V, SFX, W)                                       \
    FM_AVX2_ATTR FM_ANY_NE_INLINE int fm_any_ne_##TS##_avx2(const T *x, Py_ssize_t n, T mv) { \
        const V v = _mm256_set1_##SFX(mv);                                            \
        Py_ssize_t i = 0;                                                             \
        for (; i + 4 * (W) <= n; i += 4 * (W)) {                                      \
            FM_PREFETCH(x + i);                                                       \
            FM_PREFETCH(x + i + 2 * (W));                                             \
            V a = _mm256_or_##SFX(FM_AVX2_NE(SFX, x + i, v),                          \
                                  FM_AVX2_NE(SFX, x + i + (W), v));                   \
            V b = _mm256_or_##SFX(FM_AVX2_NE(SFX, x + i + 2 * (W), v),                \
                                  FM_AVX2_NE(SFX, x + i + 3 * (W), v));               \
            if (_mm256_movemask_##SFX(_mm256_or_##SFX(a, b))) return 1;               \
        }                                                                             \
        return fm_any_ne_##TS##_base(x + i, n - i, mv);                               \
    }
FM_DEFINE_ANY_NE_AVX2(float, f32, __m256, ps, 8)
FM_DEFINE_ANY_NE_AVX2(double, f64, __m256d, pd, 4)
#endif

/* ------------------------------------------------------- row-block kernels */
/* out_is_zero: `out` is known to hold +0.0 already (calloc'd), so masked rows
 * are not written at all. */
#define FM_DEFINE_ROWS(T, TS, ISA, ATTR)                                              \
    ATTR static void fm_mask_rows_##TS##_##ISA(const T *x, Py_ssize_t rows,           \
                                               Py_ssize_t rs, Py_ssize_t n, T mv,     \
                                               unsigned char *mask) {                 \
        for (Py_ssize_t r = 0; r < rows; ++r)                                         \
            mask[r] = (unsigned char)fm_any_ne_##TS##_##ISA(x + r * rs, n, mv);       \
    }                                                                                 \
    ATTR static void fm_masking_rows_##TS##_##ISA(const T *x, Py_ssize_t rows,        \
                                                  Py_ssize_t rs, Py_ssize_t n, T mv,  \
                                                  T *out, unsigned char *mask,        \
                                                  int out_is_zero) {                  \
        for (Py_ssize_t r = 0; r < rows; ++r) {                                       \
            const T *row = x + r * rs;                                                \
            T *dst = out + r * n;                                                     \
            if (fm_any_ne_##TS##_##ISA(row, n, mv)) {                                 \
                memcpy(dst, row, (size_t)n * sizeof(T));                              \
                mask[r] = 1;                                                          \
            } else {                                                                  \
                if (!out_is_zero) memset(dst, 0, (size_t)n * sizeof(T)); /* +0.0 */   \
                mask[r] = 0;                                                          \
            }                                                                         \
        }                                                                             \
    }

FM_DEFINE_ROWS(float, f32, base, )
FM_DEFINE_ROWS(double, f64, base, )
#ifdef FM_MASKING_AVX2
FM_DEFINE_ROWS(float, f32, avx2, FM_AVX2_ATTR)
FM_DEFINE_ROWS(double, f64, avx2, FM_AVX2_ATTR)
#endif

/* ----------------------------------------------------------------- dispatch */
#ifdef FM_MASKING_AVX2
#define FM_MASKING_ISA_MAX FM_ISA_AVX2
#else
#define FM_MASKING_ISA_MAX FM_ISA_GENERIC
#endif

/* The variant (FM_ISA_*) the row kernels run: the library-wide choice
 * (fm_isa.h), at most AVX2. */
static inline int fm_masking_isa(void) { return fm_isa_clamp(FM_MASKING_ISA_MAX); }

#ifdef FM_MASKING_AVX2
#define FM_DISPATCH(NAME, ...)                                              \
    do {                                                                    \
        if (fm_masking_isa() == FM_ISA_AVX2) NAME##_avx2(__VA_ARGS__);      \
        else NAME##_base(__VA_ARGS__);                                      \
    } while (0)
#else
#define FM_DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__)
#endif

static inline void fm_mask_rows_f32(const float *x, Py_ssize_t rows, Py_ssize_t rs,
                                    Py_ssize_t n, float mv, unsigned char *mask) {
    FM_DISPATCH(fm_mask_rows_f32, x, rows, rs, n, mv, mask);
}
static inline void fm_mask_rows_f64(const double *x, Py_ssize_t rows, Py_ssize_t rs,
                                    Py_ssize_t n, double mv, unsigned char *mask) {
    FM_DISPATCH(fm_mask_rows_f64, x, rows, rs, n, mv, mask);
}
static inline void fm_masking_rows_f32(const float *x, Py_ssize_t rows, Py_ssize_t rs,
                                       Py_ssize_t n, float mv, float *out,
                                       unsigned char *mask, int out_is_zero) {
    FM_DISPATCH(fm_masking_rows_f32, x, rows, rs, n, mv, out, mask, out_is_zero);
}
static inline void fm_masking_rows_f64(const double *x, Py_ssize_t rows, Py_ssize_t rs,
                                       Py_ssize_t n, double mv, double *out,
                                       unsigned char *mask, int out_is_zero) {
    FM_DISPATCH(fm_masking_rows_f64, x, rows, rs, n, mv, out, mask, out_is_zero);
}

FM_HOT_END

#endif
