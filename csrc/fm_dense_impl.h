/* Template body of the small-GEMM dense kernels, included once per (dtype, ISA)
 * by csrc/fm_dense_<dtype>_<isa>.c (after fm_dense.h, which declares what is
 * defined here) with
 *   FMD_SUF  name suffix (f32_avx2, ...)   FMD_T  float or double
 *   FMD_VT   vector type (or the scalar)   FMD_V  its lanes
 *   FMD_MR   rows per register block (each row: 2 accumulator vectors)
 *   FMD_ATTR target attribute
 * The panel width is 2 * FMD_V. No include guard on purpose; the FMD_*
 * parameters are undefined at the end.
 */
#define FMD_CAT2(a, b) a##_##b
#define FMD_CAT(a, b) FMD_CAT2(a, b)
#define FMD(n) FMD_CAT(n, FMD_SUF)
#define FMD_NR (2 * FMD_V)

#if defined(_MSC_VER) && !defined(__clang__)
#define FMD_RESTRICT __restrict
#else
#define FMD_RESTRICT restrict
#endif

FM_INLINE FMD_ATTR FMD_VT FMD(fmd_load)(const FMD_T *p) {
    FMD_VT v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The first n (0..FMD_V) lanes of p, the others 0. */
FM_INLINE FMD_ATTR FMD_VT FMD(fmd_load_n)(const FMD_T *p, ptrdiff_t n) {
    FMD_VT v = {0};
    if (n >= FMD_V) memcpy(&v, p, sizeof v);
    else if (n > 0) memcpy(&v, p, (size_t)n * sizeof(FMD_T));
    return v;
}

/* Store the first n (0..FMD_V) lanes. */
FM_INLINE FMD_ATTR void FMD(fmd_store_n)(FMD_T *p, FMD_VT v, ptrdiff_t n) {
    if (n >= FMD_V) memcpy(p, &v, sizeof v);
    else if (n > 0) memcpy(p, &v, (size_t)n * sizeof(FMD_T));
}

/* x - 0 folds to a plain broadcast (0 + x would not: -0.0 + 0 is +0). */
FM_INLINE FMD_ATTR FMD_VT FMD(fmd_bcast)(FMD_T x) { return x - ((FMD_VT){0}); }

/* One register block: m rows (of x, K apart) x nv (1 or 2) vectors of the
 * panel w, ncol valid columns; b0/b1 the initial accumulators (bias or 0).
 * Called with constant m and nv (the switch in fmd_panel), so the loops unroll
 * into registers. */
FM_INLINE FMD_ATTR void FMD(fmd_tile)(const int m, const int nv,
                                      const FMD_T *FMD_RESTRICT x, const ptrdiff_t K,
                                      const FMD_T *FMD_RESTRICT w, const FMD_VT b0,
                                      const FMD_VT b1, FMD_T *FMD_RESTRICT out,
                                      const ptrdiff_t ldo, const ptrdiff_t ncol) {
    FMD_VT acc0[FMD_MR], acc1[FMD_MR];
    ptrdiff_t k;
    int r;
    for (r = 0; r < m; r++) {
        acc0[r] = b0;
        acc1[r] = b1;
    }
    for (k = 0; k < K; k++) {
        const FMD_VT w0 = FMD(fmd_load)(w + k * FMD_NR);
        const FMD_VT w1 = nv > 1 ? FMD(fmd_load)(w + k * FMD_NR + FMD_V) : w0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 16
#endif
        for (r = 0; r < m; r++) {
            const FMD_VT a = FMD(fmd_bcast)(x[r * K + k]);
            acc0[r] += a * w0;
            if (nv > 1) acc1[r] += a * w1;
        }
    }
    if (ncol == FMD_NR) {
        for (r = 0; r < m; r++) {
            memcpy(out + r * ldo, &acc0[r], sizeof(FMD_VT));
            memcpy(out + r * ldo + FMD_V, &acc1[r], sizeof(FMD_VT));
        }
    } else {
        for (r = 0; r < m; r++) {
            FMD(fmd_store_n)(out + r * ldo, acc0[r], ncol);
            if (nv > 1) FMD(fmd_store_n)(out + r * ldo + FMD_V, acc1[r], ncol - FMD_V);
        }
    }
}

#define FMD_TILE_CASE(M)                                                                \
    case M:                                                                             \
        if (nv > 1) FMD(fmd_tile)(M, 2, x, K, w, b0, b1, out, ldo, ncol);              \
        else FMD(fmd_tile)(M, 1, x, K, w, b0, b1, out, ldo, ncol);                     \
        break;

/* Rows [0, nr) of x (K apart) x one panel w (ncol valid columns) into out. */
static FMD_ATTR void FMD(fmd_panel)(const FMD_T *FMD_RESTRICT x, const ptrdiff_t K,
                                    const FMD_T *FMD_RESTRICT w, const FMD_T *bias,
                                    FMD_T *FMD_RESTRICT out, const ptrdiff_t ldo,
                                    const ptrdiff_t nr, const ptrdiff_t ncol) {
    const int nv = ncol > FMD_V ? 2 : 1;
    FMD_VT b0 = {0}, b1 = {0};
    ptrdiff_t r = 0;
    if (bias != NULL) {
        b0 = FMD(fmd_load_n)(bias, ncol);
        b1 = FMD(fmd_load_n)(bias + FMD_V, ncol - FMD_V);
    }
    for (; r + FMD_MR <= nr; r += FMD_MR) {
        if (nv > 1) FMD(fmd_tile)(FMD_MR, 2, x + r * K, K, w, b0, b1, out + r * ldo, ldo, ncol);
        else FMD(fmd_tile)(FMD_MR, 1, x + r * K, K, w, b0, b1, out + r * ldo, ldo, ncol);
    }
    if (r < nr) {
        const int m = (int)(nr - r);
        x += r * K;
        out += r * ldo;
        switch (m) {
            FMD_TILE_CASE(1)
#if FMD_MR > 2
            FMD_TILE_CASE(2)
#endif
#if FMD_MR > 3
            FMD_TILE_CASE(3)
#endif
#if FMD_MR > 4
            FMD_TILE_CASE(4)
#endif
#if FMD_MR > 5
            FMD_TILE_CASE(5)
#endif
#if FMD_MR > 6
            FMD_TILE_CASE(6)
#endif
#if FMD_MR > 7
            FMD_TILE_CASE(7)
#endif
            default:   /* not reached: m < FMD_MR <= 8 */
                break;
        }
    }
}

int FMD(fm_dense_panel)(void) { return FMD_NR; }

void FMD(fm_dense_block)(const FMD_T *x, ptrdiff_t K, const FMD_T *wp, const FMD_T *bias,
                         FMD_T *out, ptrdiff_t N, ptrdiff_t r0, ptrdiff_t nr,
                         ptrdiff_t c0, ptrdiff_t nc) {
    ptrdiff_t c;
    for (c = c0; c < c0 + nc; c += FMD_NR) {
        const ptrdiff_t ncol = c0 + nc - c < FMD_NR ? c0 + nc - c : FMD_NR;
        FMD(fmd_panel)(x + r0 * K, K, wp + (c / FMD_NR) * K * FMD_NR,
                       bias != NULL ? bias + c : NULL, out + r0 * N + c, N, nr, ncol);
    }
}

#undef FMD_TILE_CASE
#undef FMD_RESTRICT
#undef FMD_NR
#undef FMD
#undef FMD_CAT
#undef FMD_CAT2
#undef FMD_SUF
#undef FMD_T
#undef FMD_VT
#undef FMD_V
#undef FMD_MR
#undef FMD_ATTR
