/* Template body of fm_activations.h: included once per value type with
 *   FMA_SUF      name suffix (f, d, f4, f8, f16, d2, d4, d8)
 *   FMA_T        scalar element type (float or double)
 *   FMA_VT       value type (the scalar itself or a GCC vector of FMA_T)
 *   FMA_IT       integer type of the same lane count and width
 *   FMA_IS_DOUBLE
 *   FMA_SPLAT(c) constant as FMA_VT
 *   FMA_SEL(m, a, b)  m ? a : b per lane (m from a comparison)
 *   FMA_AS_INT / FMA_AS_VT  bit casts
 * and optionally FMA_RCP(x) (1 / x, e.g. a refined hardware estimate) and
 * FMA_EXP(x) (an ISA-specific exp replacing the portable one).
 * No include guard on purpose; every FMA_* macro is undefined at the end.
 * Comparisons are written so that NaN propagates (a NaN never selects a
 * clamp bound).
 */
#ifndef FMA_RCP
#define FMA_RCP(x) ((FMA_T)1 / (x))
#endif

#define FMA_CAT2(a, b) a##_##b
#define FMA_CAT(a, b) FMA_CAT2(a, b)
#define FMA_NAME(n) FMA_CAT(n, FMA_SUF)

FM_INLINE FMA_VT FMA_NAME(fm_clamp)(FMA_VT x, FMA_T lo, FMA_T hi) {
    x = FMA_SEL(x < lo, FMA_SPLAT(lo), x);
    return FMA_SEL(x > hi, FMA_SPLAT(hi), x);
}

FM_INLINE FMA_VT FMA_NAME(fm_abs)(FMA_VT x) {
#if FMA_IS_DOUBLE
    return FMA_AS_VT(FMA_AS_INT(x) & INT64_MAX);
#else
    return FMA_AS_VT(FMA_AS_INT(x) & INT32_MAX);
#endif
}

/* |a| with the sign of b */
FM_INLINE FMA_VT FMA_NAME(fm_copysign)(FMA_VT a, FMA_VT b) {
#if FMA_IS_DOUBLE
    return FMA_AS_VT((FMA_AS_INT(a) & INT64_MAX) | (FMA_AS_INT(b) & INT64_MIN));
#else
    return FMA_AS_VT((FMA_AS_INT(a) & INT32_MAX) | (FMA_AS_INT(b) & INT32_MIN));
#endif
}

#ifdef FMA_EXP
FM_INLINE FMA_VT FMA_NAME(fm_exp)(FMA_VT x) { return FMA_EXP(x); }
FM_INLINE FMA_VT FMA_NAME(fm_exp_in_range)(FMA_VT x) { return FMA_EXP(x); }
#else
/* exp(x) for x in [-87.3, 88] (float) / [-708, 709] (double), or NaN: fm_exp's
 * computation without its clamps and selects (no-ops there; the same bits). */
FM_INLINE FMA_VT FMA_NAME(fm_exp_in_range)(FMA_VT x) {
#if FMA_IS_DOUBLE
    FMA_VT y, n, r, xx, px, qx, e;
    /* y = round(x / ln 2) + 1.5 * 2^52: its low mantissa bits hold n */
    y = x * 1.4426950408889634 + 6755399441055744.0;
    n = y - 6755399441055744.0;
    r = x - n * 6.93145751953125E-1;
    r = r - n * 1.42860682030941723212E-6;
    xx = r * r;
    px = r * ((1.26177193074810590878E-4 * xx + 3.02994407707441961300E-2) * xx
              + 9.99999999999999999910E-1);
    qx = ((3.00198505138664455042E-6 * xx + 2.52448340349684104192E-3) * xx
          + 2.27265548208155028766E-1) * xx + 2.00000000000000000009E0;
    e = 1.0 + 2.0 * (px / (qx - px));
    return e * FMA_AS_VT((FMA_AS_INT(y) - FMA_AS_INT(FMA_SPLAT(6755399441055744.0)) + 1023) << 52);
#else
    FMA_VT y, n, r, p;
    /* y = round(x / ln 2) + 1.5 * 2^23: its low mantissa bits hold n */
    y = x * 1.44269504088896341f + 12582912.0f;
    n = y - 12582912.0f;
    r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    p = 1.9875691500E-4f * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * (r * r) + r + 1.0f;
    return p * FMA_AS_VT((FMA_AS_INT(y) - FMA_AS_INT(FMA_SPLAT(12582912.0f)) + 127) << 23);
#endif
}

FM_INLINE FMA_VT FMA_NAME(fm_exp)(FMA_VT x) {
#if FMA_IS_DOUBLE
    const FMA_VT x0 = x;
    FMA_VT e = FMA_NAME(fm_exp_in_range)(FMA_NAME(fm_clamp)(x, -708.0, 709.0));
    /* overflow to inf like libm; below the clamp (denormal range) flush to 0 */
    e = FMA_SEL(x0 > 709.782712893384, FMA_SPLAT(INFINITY), e);
    return FMA_SEL(x0 < -708.0, FMA_SPLAT(0), e);
#else
    const FMA_VT x0 = x;
    FMA_VT p = FMA_NAME(fm_exp_in_range)(FMA_NAME(fm_clamp)(x, -87.3f, 88.0f));
    /* overflow to inf like libm; below the clamp (denormal range) flush to 0 */
    p = FMA_SEL(x0 > 88.72283935546875f, FMA_SPLAT(INFINITY), p);
    return FMA_SEL(x0 < -87.3f, FMA_SPLAT(0), p);
#endif
}
#endif /* FMA_EXP */

/* 1 / (1 + exp(-x)); exp's argument is capped so that 1 + e stays finite for
 * FMA_RCP (exactly 0 is returned where exp(-x) overflows, as in NumPy). */
FM_INLINE FMA_VT FMA_NAME(fm_sigmoid)(FMA_VT x) {
#if FMA_IS_DOUBLE
    const FMA_T cap = 709.0, ovf = 709.782712893384, lo = -708.0;
#else
    const FMA_T cap = 88.0f, ovf = 88.72283935546875f, lo = -87.3f;
#endif
    FMA_VT nx = -x, t = FMA_SEL(nx > cap, FMA_SPLAT(cap), nx), e, s;
#ifdef FMA_EXP
    (void)lo;
    e = FMA_NAME(fm_exp)(t);
#else
    /* fm_exp(t) for t <= cap: only its low clamp and underflow to 0 can apply */
    e = FMA_NAME(fm_exp_in_range)(FMA_SEL(t < lo, FMA_SPLAT(lo), t));
    e = FMA_SEL(t < lo, FMA_SPLAT(0), e);
#endif
    s = FMA_RCP((FMA_T)1 + e);
    return FMA_SEL(nx > ovf, FMA_SPLAT(0), s);
}

FM_INLINE FMA_VT FMA_NAME(fm_tanh)(FMA_VT x) {
    FMA_VT ax = FMA_NAME(fm_abs)(x);
    FMA_VT z = x * x, small, large, e;
#if FMA_IS_DOUBLE
    small = x + x * z * (((-9.64399179425052238628E-1 * z - 9.92877231001918586564E1) * z
                          - 1.61468768441708447952E3)
                         / (((z + 1.12811678491632931402E2) * z + 2.23548839060100448583E3) * z
                            + 4.84406305325125486048E3));
    e = FMA_NAME(fm_exp_in_range)(2.0 * FMA_SEL(ax > 20.0, FMA_SPLAT(20.0), ax));
    large = 1.0 - 2.0 * FMA_RCP(e + 1.0);
    return FMA_SEL(ax < 0.625, small, FMA_NAME(fm_copysign)(large, x));
#else
    small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z
              + 1.33314422036E-1f) * z - 3.33332819422E-1f) * z * x + x;
    e = FMA_NAME(fm_exp_in_range)(2.0f * FMA_SEL(ax > 10.0f, FMA_SPLAT(10.0f), ax));
    large = 1.0f - 2.0f * FMA_RCP(e + 1.0f);
    return FMA_SEL(ax < 0.625f, small, FMA_NAME(fm_copysign)(large, x));
#endif
}

FM_INLINE FMA_VT FMA_NAME(fm_relu)(FMA_VT x) {
    return FMA_SEL(x < (FMA_T)0, FMA_SPLAT(0), x);
}

FM_INLINE FMA_VT FMA_NAME(fm_hard_sigmoid)(FMA_VT x) {
    x = x / (FMA_T)6 + (FMA_T)0.5;
    x = FMA_SEL(x <= (FMA_T)0, FMA_SPLAT(0), x);
    return FMA_SEL(x >= (FMA_T)1, FMA_SPLAT(1), x);
}

FM_INLINE FMA_VT FMA_NAME(fm_act)(int kind, FMA_VT x) {
    switch (kind) {
    case FM_ACT_TANH: return FMA_NAME(fm_tanh)(x);
    case FM_ACT_SIGMOID: return FMA_NAME(fm_sigmoid)(x);
    case FM_ACT_RELU: return FMA_NAME(fm_relu)(x);
    case FM_ACT_HARD_SIGMOID: return FMA_NAME(fm_hard_sigmoid)(x);
    default: return x;
    }
}

#undef FMA_CAT2
#undef FMA_CAT
#undef FMA_NAME
#undef FMA_SUF
#undef FMA_T
#undef FMA_VT
#undef FMA_IT
#undef FMA_IS_DOUBLE
#undef FMA_SPLAT
#undef FMA_SEL
#undef FMA_AS_INT
#undef FMA_AS_VT
#undef FMA_RCP
#ifdef FMA_EXP
#undef FMA_EXP
#endif
