/* Activations for the recurrent kernels: linear, tanh, sigmoid, relu,
 * hard_sigmoid, for float and double, as branch-free inline C that the
 * compiler vectorizes, plus the same algorithms on GCC/clang vector types
 * (used by the fused LSTM/GRU/SimpleRNN epilogues, see fm_recurrent.h).
 *
 * Numerics (matching Keras's numpy backend to ~1 ulp, not bit for bit):
 *   sigmoid(x)      = 1 / (1 + exp(-x))                (Keras: same formula)
 *   tanh(x)         = odd polynomial for |x| < 0.625, else
 *                     sign(x) * (1 - 2 / (exp(2|x|) + 1))        (Cephes)
 *   hard_sigmoid(x) = clip(x / 6 + 0.5, 0, 1)          (Keras: same formula)
 *   relu(x)         = max(x, 0)
 * exp is Cephes's: round-to-nearest range reduction by ln 2 (split in two
 * constants), a degree-5 polynomial (float) or a Pade (3,3) rational (double),
 * then a scale by 2^n built in the exponent bits. Measured against
 * float64 libm over [-20, 20]: exp/sigmoid/tanh float32 <= 1.2e-7 absolute
 * (sigmoid, tanh) and 2 ulp (exp); float64 <= 3e-16 absolute (sigmoid, tanh).
 * exp overflows to inf above log(FLT_MAX) / log(DBL_MAX) like libm, so
 * sigmoid(-100) is exactly 0 as in NumPy; it returns 0 below -87.3 (float) /
 * -708 (double) where libm returns denormals (absolute difference < 1.2e-38 /
 * 2.3e-308). NaN propagates.
 *
 * Everything is `static inline` without target attributes, so it is inlined
 * into, and compiled for, the instruction set of its caller (the recurrent
 * kernels are compiled once per ISA with __attribute__((target(...)))).
 */
#ifndef FASTMASK_FM_ACTIVATIONS_H
#define FASTMASK_FM_ACTIVATIONS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FM_INLINE static inline __attribute__((always_inline))
#define FM_HAVE_VECTOR_EXT 1
#else
#define FM_INLINE static __inline
#define FM_HAVE_VECTOR_EXT 0
#endif

/* On x86-64 the 32- and 64-byte instantiations are compiled for AVX2+FMA and
 * AVX-512 (target pragmas), so they only inline into callers compiled for
 * those instruction sets (fm_recurrent.h selects one at run time). */
#if FM_HAVE_VECTOR_EXT && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
#define FM_X86 1
#include <immintrin.h>
#define FM_TARGET_AVX2 "avx2,fma"
#define FM_TARGET_AVX512 "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"
#if defined(__clang__)
#define FM_BEGIN_AVX2 _Pragma("clang attribute push (__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define FM_BEGIN_AVX512 _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx512dq,avx512vl,avx512bw,avx2,fma\"))), apply_to = function)")
#define FM_END_TARGET _Pragma("clang attribute pop")
#else
#define FM_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define FM_BEGIN_AVX512 _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512dq,avx512vl,avx512bw,avx2,fma\")")
#define FM_END_TARGET _Pragma("GCC pop_options")
#endif
#else
#define FM_X86 0
#endif

#include "fm_hot.h"
FM_HOT_BEGIN

/* Activation codes shared with fastmask/kernels/_recurrent.pyx. */
enum {
    FM_ACT_LINEAR = 0,
    FM_ACT_TANH = 1,
    FM_ACT_SIGMOID = 2,
    FM_ACT_RELU = 3,
    FM_ACT_HARD_SIGMOID = 4
};

/* ---- Scalar instantiation (float, double): the reference C versions. ----
 * Names: fm_<op>_<suffix>, op in exp, sigmoid, tanh, relu, hard_sigmoid, act
 * (act(kind, x) dispatches on FM_ACT_*), suffix f/d for float/double scalars
 * and f4/f8/f16/d2/d4/d8 for vectors. */
FM_INLINE int32_t fm__bits_f(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
FM_INLINE float fm__from_bits_f(int32_t i) { float x; memcpy(&x, &i, 4); return x; }
FM_INLINE int64_t fm__bits_d(double x) { int64_t i; memcpy(&i, &x, 8); return i; }
FM_INLINE double fm__from_bits_d(int64_t i) { double x; memcpy(&x, &i, 8); return x; }

#define FMA_SUF f
#define FMA_T float
#define FMA_VT float
#define FMA_IT int32_t
#define FMA_IS_DOUBLE 0
#define FMA_SPLAT(c) ((float)(c))
#define FMA_SEL(m, a, b) ((m) ? (a) : (b))
#define FMA_AS_INT(x) fm__bits_f(x)
#define FMA_AS_VT(i) fm__from_bits_f(i)
#include "fm_activations_impl.h"

#define FMA_SUF d
#define FMA_T double
#define FMA_VT double
#define FMA_IT int64_t
#define FMA_IS_DOUBLE 1
#define FMA_SPLAT(c) ((double)(c))
#define FMA_SEL(m, a, b) ((m) ? (a) : (b))
#define FMA_AS_INT(x) fm__bits_d(x)
#define FMA_AS_VT(i) fm__from_bits_d(i)
#include "fm_activations_impl.h"

/* ---- Vector instantiations (GCC/clang vector extensions). ----
 * Suffixes: f4/f8/f16 (float, 16/32/64 bytes), d2/d4/d8 (double). */
#if FM_HAVE_VECTOR_EXT
typedef float fm_f4 __attribute__((vector_size(16)));
typedef float fm_f8 __attribute__((vector_size(32)));
typedef float fm_f16 __attribute__((vector_size(64)));
typedef int32_t fm_i4 __attribute__((vector_size(16)));
typedef int32_t fm_i8 __attribute__((vector_size(32)));
typedef int32_t fm_i16 __attribute__((vector_size(64)));
typedef double fm_d2 __attribute__((vector_size(16)));
typedef double fm_d4 __attribute__((vector_size(32)));
typedef double fm_d8 __attribute__((vector_size(64)));
typedef int64_t fm_l2 __attribute__((vector_size(16)));
typedef int64_t fm_l4 __attribute__((vector_size(32)));
typedef int64_t fm_l8 __attribute__((vector_size(64)));

#define FMA_SEL_VEC(IT_, VT_, m, a, b) \
    ((VT_)((((IT_)(a)) & (m)) | (((IT_)(b)) & ~(m))))

#define FMA_SUF f4
#define FMA_T float
#define FMA_VT fm_f4
#define FMA_IT fm_i4
#define FMA_IS_DOUBLE 0
#define FMA_SPLAT(c) ((float)(c) - (fm_f4){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_i4, fm_f4, m, a, b)
#define FMA_AS_INT(x) ((fm_i4)(x))
#define FMA_AS_VT(i) ((fm_f4)(i))
#include "fm_activations_impl.h"

#if FM_X86
FM_BEGIN_AVX2
#endif
#define FMA_SUF f8
#define FMA_T float
#define FMA_VT fm_f8
#define FMA_IT fm_i8
#define FMA_IS_DOUBLE 0
#define FMA_SPLAT(c) ((float)(c) - (fm_f8){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_i8, fm_f8, m, a, b)
#define FMA_AS_INT(x) ((fm_i8)(x))
#define FMA_AS_VT(i) ((fm_f8)(i))
#include "fm_activations_impl.h"

#if FM_X86
FM_END_TARGET
FM_BEGIN_AVX512
/* AVX-512 float: exp with vscalefps (2^n scaling that overflows to inf and
 * underflows through the denormals exactly like libm, no clamps on n) and
 * 1/x as rcp14 + one Newton step (<= 1 ulp more than a division, 4x the
 * throughput of vdivps). */
FM_INLINE fm_f16 fm__exp_avx512_f16(fm_f16 x) {
    __m512 v = _mm512_max_ps(_mm512_set1_ps(-104.0f), (__m512)x); /* NaN stays */
    __m512 n, r, p;
    v = _mm512_min_ps(_mm512_set1_ps(89.0f), v);
    n = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), v);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    p = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500E-4f), r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return (fm_f16)_mm512_scalef_ps(p, n);
}
FM_INLINE fm_f16 fm__rcp_avx512_f16(fm_f16 x) {
    __m512 v = (__m512)x, r = _mm512_rcp14_ps(v);
    return (fm_f16)_mm512_fmadd_ps(r, _mm512_fnmadd_ps(v, r, _mm512_set1_ps(1.0f)), r);
}
#define FMA_EXP(x) fm__exp_avx512_f16(x)
#define FMA_RCP(x) fm__rcp_avx512_f16(x)
#endif
#define FMA_SUF f16
#define FMA_T float
#define FMA_VT fm_f16
#define FMA_IT fm_i16
#define FMA_IS_DOUBLE 0
#define FMA_SPLAT(c) ((float)(c) - (fm_f16){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_i16, fm_f16, m, a, b)
#define FMA_AS_INT(x) ((fm_i16)(x))
#define FMA_AS_VT(i) ((fm_f16)(i))
#include "fm_activations_impl.h"

#if FM_X86
FM_END_TARGET
#endif
#define FMA_SUF d2
#define FMA_T double
#define FMA_VT fm_d2
#define FMA_IT fm_l2
#define FMA_IS_DOUBLE 1
#define FMA_SPLAT(c) ((double)(c) - (fm_d2){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_l2, fm_d2, m, a, b)
#define FMA_AS_INT(x) ((fm_l2)(x))
#define FMA_AS_VT(i) ((fm_d2)(i))
#include "fm_activations_impl.h"

#if FM_X86
FM_BEGIN_AVX2
#endif
#define FMA_SUF d4
#define FMA_T double
#define FMA_VT fm_d4
#define FMA_IT fm_l4
#define FMA_IS_DOUBLE 1
#define FMA_SPLAT(c) ((double)(c) - (fm_d4){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_l4, fm_d4, m, a, b)
#define FMA_AS_INT(x) ((fm_l4)(x))
#define FMA_AS_VT(i) ((fm_d4)(i))
#include "fm_activations_impl.h"

#if FM_X86
FM_END_TARGET
FM_BEGIN_AVX512
#endif
#define FMA_SUF d8
#define FMA_T double
#define FMA_VT fm_d8
#define FMA_IT fm_l8
#define FMA_IS_DOUBLE 1
#define FMA_SPLAT(c) ((double)(c) - (fm_d8){0})
#define FMA_SEL(m, a, b) FMA_SEL_VEC(fm_l8, fm_d8, m, a, b)
#define FMA_AS_INT(x) ((fm_l8)(x))
#define FMA_AS_VT(i) ((fm_d8)(i))
#include "fm_activations_impl.h"
#if FM_X86
FM_END_TARGET
#endif
#endif /* FM_HAVE_VECTOR_EXT */

/* Apply activation `kind` to n contiguous values in place (vectorizable loop;
 * used by tests and by any caller outside the fused epilogues). */
static inline void fm_activation_inplace_f(int kind, float *x, intptr_t n) {
    intptr_t i;
    switch (kind) {
    case FM_ACT_TANH: for (i = 0; i < n; i++) x[i] = fm_tanh_f(x[i]); break;
    case FM_ACT_SIGMOID: for (i = 0; i < n; i++) x[i] = fm_sigmoid_f(x[i]); break;
    case FM_ACT_RELU: for (i = 0; i < n; i++) x[i] = fm_relu_f(x[i]); break;
    case FM_ACT_HARD_SIGMOID: for (i = 0; i < n; i++) x[i] = fm_hard_sigmoid_f(x[i]); break;
    default: break;
    }
}

static inline void fm_activation_inplace_d(int kind, double *x, intptr_t n) {
    intptr_t i;
    switch (kind) {
    case FM_ACT_TANH: for (i = 0; i < n; i++) x[i] = fm_tanh_d(x[i]); break;
    case FM_ACT_SIGMOID: for (i = 0; i < n; i++) x[i] = fm_sigmoid_d(x[i]); break;
    case FM_ACT_RELU: for (i = 0; i < n; i++) x[i] = fm_relu_d(x[i]); break;
    case FM_ACT_HARD_SIGMOID: for (i = 0; i < n; i++) x[i] = fm_hard_sigmoid_d(x[i]); break;
    default: break;
    }
}

FM_HOT_END

#endif /* FASTMASK_FM_ACTIVATIONS_H */
