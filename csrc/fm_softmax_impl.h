/* Body of the masked softmax kernels for one dtype and ISA; included by
 * fm_softmax_dtypes.h with FM_T (element type), FM_SFX (dtype suffix), FM_ISA
 * (ISA suffix), FM_TARGET (function attribute), FM_VLEN (elements in a
 * 512-bit vector), FM_EXP and FM_SELECT (helpers for FM_T) defined. */

#define FM_CAT3_(a, b, c) a##_##b##_##c
#define FM_CAT3(a, b, c) FM_CAT3_(a, b, c)
#define FM_NAME(base) FM_CAT3(base, FM_SFX, FM_ISA)

/* The three passes of fm_softmax_row (each row is computed by exactly these calls,
 * alone or in a group of rows, so its result does not depend on the grouping). */

/* Pass 1: masked logits into out (x - shift where unmasked), their max and a NaN
 * flag. m: NULL or the row's mask bytes (stride 1). */
FM_TARGET static inline FM_T FM_NAME(fm_softmax_p1)(
        const FM_T *x, const uint8_t *m, FM_T *out, ptrdiff_t n, int mode, FM_T fill,
        FM_T shift, int *bad) {
    FM_T mx = -INFINITY;
    int any_bad = 0;
    ptrdiff_t j;
    if (m == NULL) {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN) reduction(max:mx) reduction(|:any_bad))
        for (j = 0; j < n; ++j) {
            FM_T y = x[j] - shift;
            out[j] = y;
            mx = y > mx ? y : mx;
            any_bad |= (y != y);
        }
    } else if (mode & FM_SUBTRACT) {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN) reduction(max:mx) reduction(|:any_bad))
        for (j = 0; j < n; ++j) {
            FM_T xv = x[j];
            FM_T y = FM_SELECT(m[j], xv, xv - fill);
            out[j] = y;
            mx = y > mx ? y : mx;
            any_bad |= (y != y);
        }
    } else {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN) reduction(max:mx) reduction(|:any_bad))
        for (j = 0; j < n; ++j) {
            FM_T y = FM_SELECT(m[j], x[j], fill);
            out[j] = y;
            mx = y > mx ? y : mx;
            any_bad |= (y != y);
        }
    }
    *bad = any_bad || !(mx > -INFINITY && mx < INFINITY);
    return any_bad ? (FM_T)NAN : mx;
}

/* A row whose max is NaN or infinite (pass 1's *bad): NumPy's exp(y - max) has a NaN
 * in every entry or the sum is NaN; exp(y - logsumexp(y)) with a +inf logit (mode
 * FM_LSE_INF): NaN there, 0 elsewhere. */
FM_TARGET static inline void FM_NAME(fm_softmax_bad)(
        const uint8_t *m, FM_T *out, ptrdiff_t n, int mode, int zero_masked, FM_T mx) {
    int lse = mx == INFINITY && (mode & FM_LSE_INF);
    ptrdiff_t j;
    for (j = 0; j < n; ++j) {
        FM_T v = (lse && out[j] != INFINITY) ? (FM_T)0 : (FM_T)NAN;
        out[j] = (zero_masked && m != NULL && !m[j]) ? (FM_T)0 : v;
    }
}

/* Pass 2: exponentiate in place and sum (mx finite: terms in [0, 1]). */
FM_TARGET static inline FM_T FM_NAME(fm_softmax_p2)(FM_T *out, ptrdiff_t n, FM_T mx) {
    FM_T s = 0;
    ptrdiff_t j;
    FM_PRAGMA_SIMD(reduction(+:s))
    for (j = 0; j < n; ++j) {
        FM_T e = FM_EXP(out[j] - mx);
        out[j] = e;
        s += e;
    }
    return s;
}

/* Pass 3: normalise (s >= 1), zero masked entries when zm is not NULL (out[j] is
 * finite, so 0 * out[j] == 0). (Non-temporal stores of a staged row were tried:
 * slower.) */
FM_TARGET static inline void FM_NAME(fm_softmax_p3)(FM_T *out, ptrdiff_t n, FM_T s,
                                                    const uint8_t *zm) {
    FM_T inv = (FM_T)1 / s;
    ptrdiff_t j;
    if (zm == NULL) {
        for (j = 0; j < n; ++j)
            out[j] = out[j] * inv;
    } else {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN))
        for (j = 0; j < n; ++j)
            out[j] = out[j] * (zm[j] ? inv : (FM_T)0);
    }
}

/* The row-wide cases of a mask given by its first byte (m_stride 0): returns 1 when
 * the row is done (all masked: zeros, or uniform), else 0 with *m (NULL: keep all)
 * and *shift set for the passes. */
FM_TARGET static inline int FM_NAME(fm_softmax_whole)(
        const uint8_t **m, int m_stride, FM_T *out, ptrdiff_t n, int mode, FM_T fill,
        int zero_masked, FM_T *shift) {
    ptrdiff_t j;
    *shift = 0;
    if (*m == NULL || m_stride != 0)
        return 0;
    if ((*m)[0]) {
        *m = NULL;                          /* whole row kept */
        return 0;
    }
    if (zero_masked) {
        memset(out, 0, (size_t)n * sizeof(FM_T));
        return 1;                           /* whole row masked: zeros */
    }
    if (mode & FM_SUBTRACT) {
        *m = NULL;                          /* softmax of x - fill */
        *shift = fill;
        return 0;
    }
    for (j = 0; j < n; ++j)                 /* all logits == fill: uniform */
        out[j] = (FM_T)1 / (FM_T)n;
    return 1;
}

/* Softmax of one contiguous row of `n` logits.
 *   m, m_stride: NULL (no mask); or the row's mask bytes (nonzero = keep) with
 *                stride 1, or stride 0 (m[0] holds for the whole row).
 *   mode, fill:  FM_REPLACE (masked logit = fill) or FM_SUBTRACT (x - fill),
 *                optionally | FM_LSE_INF (a +inf logit gives NaN there and 0
 *                elsewhere, as Keras's exp(x - logsumexp) for tuple axes).
 *   zero_masked: masked outputs are 0 (Keras's Softmax layer); else they keep
 *                their softmax value (dot_product_attention, Attention).
 *   row_max:     NULL, or where to store the max of the masked logits (NaN
 *                if the row has a NaN; not set for a row masked by m_stride 0).
 * `out` may be `x`. Each row is read once from memory: pass 1 writes the masked
 * logits into `out` and takes the max, pass 2 exponentiates in place and sums, pass
 * 3 scales; passes 2-3 run on a row that is still in cache. */
FM_TARGET static void FM_NAME(fm_softmax_row)(
        const FM_T *x, const uint8_t *m, int m_stride, FM_T *out, ptrdiff_t n,
        int mode, FM_T fill, int zero_masked, FM_T *row_max) {
    FM_T shift, mx;
    int bad;
    if (n <= 0 || FM_NAME(fm_softmax_whole)(&m, m_stride, out, n, mode, fill, zero_masked,
                                            &shift))
        return;
    mx = FM_NAME(fm_softmax_p1)(x, m, out, n, mode, fill, shift, &bad);
    if (row_max != NULL)
        *row_max = mx;
    if (bad) {
        FM_NAME(fm_softmax_bad)(m, out, n, mode, zero_masked, mx);
        return;
    }
    FM_NAME(fm_softmax_p3)(out, n, FM_NAME(fm_softmax_p2)(out, n, mx),
                           zero_masked ? m : NULL);
}

/* fm_softmax_row of `rows` rows (x + i * ldx into out + i * ldo, mask m + i * m_ls:
 * m_ls 0 for one mask shared by the rows; no row_max), in groups of FM_ROW_GROUP
 * rows that run each pass for the whole group before the next pass: a short row's
 * passes are chains of dependent operations (each pass needs the previous one's
 * max or sum), and the rows of a group are independent, so the CPU overlaps them
 * (a 64-wide float32 row alone took ~230 cycles, ~3x its operations' throughput).
 * Each row makes exactly fm_softmax_row's calls: the same bits. */
FM_TARGET static void FM_NAME(fm_softmax_rows)(
        const FM_T *x, ptrdiff_t ldx, FM_T *out, ptrdiff_t ldo, ptrdiff_t rows,
        const uint8_t *m, ptrdiff_t m_ls, int m_stride, ptrdiff_t n, int mode, FM_T fill,
        int zero_masked) {
    FM_T mx[FM_ROW_GROUP], s[FM_ROW_GROUP], shift[FM_ROW_GROUP];
    const uint8_t *mr[FM_ROW_GROUP];
    int skip[FM_ROW_GROUP], bad;
    ptrdiff_t i0, g, r;
    if (n <= 0)
        return;
    for (i0 = 0; i0 < rows; i0 += g) {
        g = rows - i0 < FM_ROW_GROUP ? rows - i0 : FM_ROW_GROUP;
        for (r = 0; r < g; ++r) {
            mr[r] = m == NULL ? NULL : m + (i0 + r) * m_ls;
            skip[r] = FM_NAME(fm_softmax_whole)(&mr[r], m_stride, out + (i0 + r) * ldo, n,
                                                mode, fill, zero_masked, &shift[r]);
            if (skip[r])
                continue;
            mx[r] = FM_NAME(fm_softmax_p1)(x + (i0 + r) * ldx, mr[r], out + (i0 + r) * ldo,
                                           n, mode, fill, shift[r], &bad);
            if (bad) {
                FM_NAME(fm_softmax_bad)(mr[r], out + (i0 + r) * ldo, n, mode, zero_masked,
                                        mx[r]);
                skip[r] = 1;
            }
        }
        for (r = 0; r < g; ++r)
            if (!skip[r])
                s[r] = FM_NAME(fm_softmax_p2)(out + (i0 + r) * ldo, n, mx[r]);
        for (r = 0; r < g; ++r)
            if (!skip[r])
                FM_NAME(fm_softmax_p3)(out + (i0 + r) * ldo, n, s[r],
                                       zero_masked ? mr[r] : NULL);
    }
}

/* Softmax along a strided axis for a block of `w` <= FM_COL_BLOCK adjacent
 * columns: element (l, c) of the block is x[l * row_stride + c], l < n.
 * Mask byte of (l, c) is m[l * m_ls + c * m_cs] (m_cs 0 or 1), or no mask
 * when m is NULL. Same semantics as fm_softmax_row, column by column.
 * `out` has x's layout and may be `x`. */
FM_TARGET static void FM_NAME(fm_softmax_cols)(
        const FM_T *x, ptrdiff_t n, ptrdiff_t row_stride, ptrdiff_t w,
        const uint8_t *m, ptrdiff_t m_ls, ptrdiff_t m_cs, FM_T *out,
        int mode, FM_T fill, int zero_masked) {
    FM_T mx[FM_COL_BLOCK], sum[FM_COL_BLOCK];
    int32_t bad[FM_COL_BLOCK], lse[FM_COL_BLOCK];
    int sub = (mode & FM_SUBTRACT);
    ptrdiff_t l, c;

    if (n <= 0 || w <= 0)
        return;
    for (c = 0; c < w; ++c) {
        mx[c] = -INFINITY;
        bad[c] = 0;
        sum[c] = 0;
    }
    /* Pass 1: masked logits, column max, NaN flags. Every operand is computed
     * unconditionally and chosen with selects, so GCC vectorises over c; the
     * `omp simd` loops keep c innermost (GCC's loop interchange otherwise
     * turned some of these nests into scalar loops over l). */
    for (l = 0; l < n; ++l) {
        const FM_T *xr = x + l * row_stride;
        FM_T *orow = out + l * row_stride;
        const uint8_t *mr = m == NULL ? NULL : m + l * m_ls;
        if (mr == NULL || (m_cs == 0 && mr[0])) {          /* whole row kept */
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T y = xr[c];
                orow[c] = y;
                mx[c] = y > mx[c] ? y : mx[c];
                bad[c] |= (y != y);
            }
        } else if (m_cs == 0) {                            /* whole row masked */
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T xv = xr[c];
                FM_T y = sub ? xv - fill : fill;
                orow[c] = y;
                mx[c] = y > mx[c] ? y : mx[c];
                bad[c] |= (y != y);
            }
        } else if (sub) {
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T xv = xr[c];
                FM_T y = FM_SELECT(mr[c], xv, xv - fill);
                orow[c] = y;
                mx[c] = y > mx[c] ? y : mx[c];
                bad[c] |= (y != y);
            }
        } else {
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T y = FM_SELECT(mr[c], xr[c], fill);
                orow[c] = y;
                mx[c] = y > mx[c] ? y : mx[c];
                bad[c] |= (y != y);
            }
        }
    }
    for (c = 0; c < w; ++c) {
        lse[c] = !bad[c] && mx[c] == INFINITY && (mode & FM_LSE_INF);
        bad[c] |= !(mx[c] > -INFINITY && mx[c] < INFINITY);
    }
    /* Pass 2: exponentiate and sum; bad columns keep their logits (their
     * exp and sum are garbage and unused). */
    for (l = 0; l < n; ++l) {
        FM_T *orow = out + l * row_stride;
        FM_PRAGMA_SIMD()
        for (c = 0; c < w; ++c) {
            FM_T y = orow[c];
            FM_T e = FM_EXP(y - mx[c]);
            orow[c] = bad[c] ? y : e;
            sum[c] += e;
        }
    }
    for (c = 0; c < w; ++c)
        sum[c] = (FM_T)1 / sum[c];
    /* Pass 3: normalise; NaN for bad columns (lse: NaN at +inf logits, 0
     * elsewhere); zero masked entries. */
    for (l = 0; l < n; ++l) {
        FM_T *orow = out + l * row_stride;
        const uint8_t *mr = m == NULL ? NULL : m + l * m_ls;
        if (mr == NULL || !zero_masked || (m_cs == 0 && mr[0])) {
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T y = orow[c];
                FM_T special = (lse[c] && y != INFINITY) ? (FM_T)0 : (FM_T)NAN;
                FM_T v = y * sum[c];
                orow[c] = bad[c] ? special : v;
            }
        } else if (m_cs == 0) {
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c)
                orow[c] = 0;
        } else {
            FM_PRAGMA_SIMD()
            for (c = 0; c < w; ++c) {
                FM_T y = orow[c];
                FM_T special = (lse[c] && y != INFINITY) ? (FM_T)0 : (FM_T)NAN;
                FM_T v = y * sum[c];
                orow[c] = FM_SELECT(mr[c], bad[c] ? special : v, (FM_T)0);
            }
        }
    }
}

#undef FM_NAME
#undef FM_CAT3
#undef FM_CAT3_
