/* Body of the masked softmax kernels for one dtype and ISA; included by
 * fm_softmax_dtypes.h with FM_T (element type), FM_SFX (dtype suffix), FM_ISA
 * (ISA suffix), FM_TARGET (function attribute), FM_VLEN (elements in a
 * 512-bit vector), FM_EXP and FM_SELECT (helpers for FM_T) defined. */

#define FM_CAT3_(a, b, c) a##_##b##_##c
#define FM_CAT3(a, b, c) FM_CAT3_(a, b, c)
#define FM_NAME(base) FM_CAT3(base, FM_SFX, FM_ISA)

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
 * `out` may be `x`. */
FM_TARGET static void FM_NAME(fm_softmax_row)(
        const FM_T *x, const uint8_t *m, int m_stride, FM_T *out, ptrdiff_t n,
        int mode, FM_T fill, int zero_masked, FM_T *row_max) {
    FM_T shift = 0;
    ptrdiff_t j;

    if (n <= 0)
        return;
    if (m != NULL && m_stride == 0) {
        if (m[0]) {
            m = NULL;                       /* whole row kept */
        } else if (zero_masked) {
            memset(out, 0, (size_t)n * sizeof(FM_T));
            return;                         /* whole row masked: zeros */
        } else if (mode & FM_SUBTRACT) {
            m = NULL;                       /* softmax of x - fill */
            shift = fill;
        } else {
            for (j = 0; j < n; ++j)         /* all logits == fill: uniform */
                out[j] = (FM_T)1 / (FM_T)n;
            return;
        }
    }

    /* Pass 1: masked logits into out, their max and a NaN flag. */
    FM_T mx = -INFINITY;
    int any_bad = 0;
    if (m == NULL) {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN) reduction(max:mx) reduction(|:any_bad))
        for (j = 0; j < n; ++j) {
            FM_T y = x[j] - shift;
            out[j] = y;
            mx = y > mx ? y : mx;
            any_bad |= (y != y);
        }
    } else {
        if (mode & FM_SUBTRACT) {
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
    }

    if (row_max != NULL)
        *row_max = any_bad ? (FM_T)NAN : mx;
    if (any_bad || !(mx > -INFINITY && mx < INFINITY)) {
        /* NumPy: exp(y - max) has a NaN in every entry or the sum is NaN.
         * exp(y - logsumexp(y)) with a +inf logit: NaN there, 0 elsewhere. */
        int lse = !any_bad && mx == INFINITY && (mode & FM_LSE_INF);
        for (j = 0; j < n; ++j) {
            FM_T v = (lse && out[j] != INFINITY) ? (FM_T)0 : (FM_T)NAN;
            out[j] = (zero_masked && m != NULL && !m[j]) ? (FM_T)0 : v;
        }
        return;
    }

    /* Pass 2: exponentiate in place and sum (mx finite: terms in [0, 1]). */
    FM_T s = 0;
    FM_PRAGMA_SIMD(reduction(+:s))
    for (j = 0; j < n; ++j) {
        FM_T e = FM_EXP(out[j] - mx);
        out[j] = e;
        s += e;
    }

    /* Pass 3: normalise (s >= 1), zero masked entries (out[j] is finite, so
     * 0 * out[j] == 0). (Non-temporal stores of a staged row were tried: slower.) */
    FM_T inv = (FM_T)1 / s;
    const uint8_t *zm = zero_masked ? m : NULL;
    if (zm == NULL) {
        for (j = 0; j < n; ++j)
            out[j] = out[j] * inv;
    } else {
        FM_PRAGMA_SIMD(simdlen(FM_MVLEN))
        for (j = 0; j < n; ++j)
            out[j] = out[j] * (zm[j] ? inv : (FM_T)0);
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
