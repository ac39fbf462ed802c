/* Template body of the recurrent kernels, included once per (dtype, ISA) by
 * csrc/fm_recurrent_<dtype>_<isa>.c (after fm_recurrent.h, which declares the four
 * FM_RNN_VARIANT_API functions defined at the end) with
 *   FMR_SUF   name suffix (f32_avx512, ...)      FMR_T   float or double
 *   FMR_VT    vector type (or the scalar)        FMR_V   its lanes
 *   FMR_VSUF  suffix of the fm_activations vector functions for FMR_VT
 *   FMR_MR4 / FMR_MR3 / FMR_MR1  rows per register block with 4 / 3 / 1
 *             accumulator vectors per row        FMR_ATTR  target attribute
 *   FMR_LSTM_SPLIT  1: LSTM tiles run the micro-kernel as two passes of 2
 *             gates (for 16 vector registers; FMR_MR4 is then the rows per
 *             block of a 2-gate pass)
 * No include guard on purpose; the FMR_* parameters are undefined at the end.
 */
#define FMR_CAT2(a, b) a##_##b
#define FMR_CAT(a, b) FMR_CAT2(a, b)
#define FMR(n) FMR_CAT(n, FMR_SUF)
#define FMR_ACT(kind, x) FMR_CAT(fm_act, FMR_VSUF)(kind, x)
#define FMR_MRMAX 12

#if defined(_MSC_VER) && !defined(__clang__)
#define FMR_RESTRICT __restrict
#define FMR_NOINLINE __declspec(noinline)
#else
#define FMR_RESTRICT restrict
#define FMR_NOINLINE __attribute__((noinline))
#endif

FM_INLINE FMR_ATTR FMR_VT FMR(fmr_load)(const FMR_T *p) {
    FMR_VT v;
    memcpy(&v, p, sizeof v);
    return v;
}

FM_INLINE FMR_ATTR void FMR(fmr_store)(FMR_T *p, FMR_VT v) { memcpy(p, &v, sizeof v); }

/* Store the first n lanes (the last unit group may be partial). */
FM_INLINE FMR_ATTR void FMR(fmr_store_n)(FMR_T *p, FMR_VT v, ptrdiff_t n) {
    if (n >= FMR_V) memcpy(p, &v, sizeof v);
    else memcpy(p, &v, (size_t)n * sizeof(FMR_T));
}

/* x - 0 folds to a plain broadcast (0 + x would not: -0.0 + 0 is +0). */
FM_INLINE FMR_ATTR FMR_VT FMR(fmr_bcast)(FMR_T x) { return x - ((FMR_VT){0}); }

/* Micro-kernel: acc[r][slot(j)] += sum_k A[r*lda + k] * W[k, j] for rows
 * r < m and nw weight vectors per k, read from panel rows of ldw vectors
 * (ldw >= nw: a pass over some of the gates of a panel). slot(j) = s0 + j,
 * except the last weight vector, which goes to slot `last`. k runs in order:
 * the value of an element does not depend on m or on which rows share the
 * block. */
FM_INLINE FMR_ATTR void FMR(fmr_mk)(const int m, const int nw, const int s0, const int last,
                                     const FMR_T *FMR_RESTRICT A, const ptrdiff_t lda,
                                     const FMR_T *FMR_RESTRICT W, const ptrdiff_t ldw,
                                     const ptrdiff_t K, FMR_VT acc[FMR_MRMAX][4]) {
    ptrdiff_t k;
    int r;
    for (k = 0; k < K; k++) {
        const FMR_T *w = W + k * ldw * FMR_V;
        FMR_VT w0 = FMR(fmr_load)(w), w1 = w0, w2 = w0, w3 = w0;
        if (nw > 1) w1 = FMR(fmr_load)(w + FMR_V);
        if (nw > 2) w2 = FMR(fmr_load)(w + 2 * FMR_V);
        if (nw > 3) w3 = FMR(fmr_load)(w + 3 * FMR_V);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 12
#endif
        for (r = 0; r < m; r++) {
            const FMR_VT b = FMR(fmr_bcast)(A[r * lda + k]);
            if (nw == 1) {
                acc[r][last] += b * w0;
            } else {
                acc[r][s0] += b * w0;
                if (nw == 2) acc[r][last] += b * w1;
                else acc[r][s0 + 1] += b * w1;
                if (nw == 3) acc[r][last] += b * w2;
                if (nw == 4) {
                    acc[r][s0 + 2] += b * w2;
                    acc[r][last] += b * w3;
                }
            }
        }
    }
}

/* Out-of-line copies of the micro-kernel for each (weight vectors, first
 * slot, last slot, rows): inlined into the large tile functions, the register
 * allocator ran out of general registers for the row addresses and reloaded
 * them in the k loop (-20% on GRU); out of line, the loop has the registers
 * to itself. The slots it uses are read from `acc` and written back around
 * the loop. */
#define FMR_MK_USES(NW, S0, LAST, j) ((j) == (LAST) || ((j) >= (S0) && (j) < (S0) + (NW) - 1))
#define FMR_MK_DEF(NW, S0, LAST, M)                                                   \
    static FMR_ATTR FMR_NOINLINE void FMR(fmr_mkn_##NW##_##S0##_##LAST##_##M)(       \
        const FMR_T *FMR_RESTRICT A, const ptrdiff_t lda, const FMR_T *FMR_RESTRICT W,  \
        const ptrdiff_t ldw, const ptrdiff_t K, FMR_VT (*FMR_RESTRICT acc)[4]) {       \
        FMR_VT r_[FMR_MRMAX][4];                                                      \
        int i_, j_;                                                                   \
        for (i_ = 0; i_ < M; i_++)                                                    \
            for (j_ = 0; j_ < 4; j_++)                                                \
                if (FMR_MK_USES(NW, S0, LAST, j_)) r_[i_][j_] = acc[i_][j_];          \
        FMR(fmr_mk)(M, NW, S0, LAST, A, lda, W, ldw, K, r_);                          \
        for (i_ = 0; i_ < M; i_++)                                                    \
            for (j_ = 0; j_ < 4; j_++)                                                \
                if (FMR_MK_USES(NW, S0, LAST, j_)) acc[i_][j_] = r_[i_][j_];          \
    }
#define FMR_MK_DEFS(NW, S0, LAST)                                                     \
    FMR_MK_DEF(NW, S0, LAST, 1) FMR_MK_DEF(NW, S0, LAST, 2)                           \
    FMR_MK_DEF(NW, S0, LAST, 3) FMR_MK_DEF(NW, S0, LAST, 4)                           \
    FMR_MK_DEF(NW, S0, LAST, 5) FMR_MK_DEF(NW, S0, LAST, 6)                           \
    FMR_MK_DEF(NW, S0, LAST, 7) FMR_MK_DEF(NW, S0, LAST, 8)                           \
    FMR_MK_DEF(NW, S0, LAST, 9) FMR_MK_DEF(NW, S0, LAST, 10)                          \
    FMR_MK_DEF(NW, S0, LAST, 11) FMR_MK_DEF(NW, S0, LAST, 12)
FMR_MK_DEFS(4, 0, 3)
FMR_MK_DEFS(3, 0, 2)
FMR_MK_DEFS(3, 0, 3)
FMR_MK_DEFS(2, 0, 1)
FMR_MK_DEFS(2, 2, 3)
FMR_MK_DEFS(1, 0, 0)

#define FMR_MK_PICK(M)                                                                \
    if (nw == 4) FMR(fmr_mkn_4_0_3_##M)(A, lda, W, ldw, K, acc);                      \
    else if (nw == 3 && last == 2) FMR(fmr_mkn_3_0_2_##M)(A, lda, W, ldw, K, acc);    \
    else if (nw == 3) FMR(fmr_mkn_3_0_3_##M)(A, lda, W, ldw, K, acc);                 \
    else if (nw == 2 && s0 == 2) FMR(fmr_mkn_2_2_3_##M)(A, lda, W, ldw, K, acc);      \
    else if (nw == 2) FMR(fmr_mkn_2_0_1_##M)(A, lda, W, ldw, K, acc);                 \
    else FMR(fmr_mkn_1_0_0_##M)(A, lda, W, ldw, K, acc)

/* Only the copies for m <= maxm (the cell's rows per block, a constant) are referenced,
 * so only those are compiled. */
#define FMR_MK_PICK_UPTO(M) if ((M) <= maxm) { FMR_MK_PICK(M); }

/* fmr_mk through the out-of-line copy for these (constant) nw, s0, last:
 * (4, 0, 3), (3, 0, 2), (3, 0, 3), (2, 0, 1), (2, 2, 3) or (1, 0, 0), and m (1 <= m <=
 * maxm, constant or not). */
FM_INLINE FMR_ATTR void FMR(fmr_mk_call)(const int m, const int maxm, const int nw,
                                          const int s0, const int last, const FMR_T *A,
                                          const ptrdiff_t lda, const FMR_T *W,
                                          const ptrdiff_t ldw, const ptrdiff_t K,
                                          FMR_VT acc[FMR_MRMAX][4]) {
    switch (m) { FMR_CASES(12, FMR_MK_PICK_UPTO) default: break; }
}

#define FMR_ZERO_ACC(m, na)                                                   \
    do {                                                                      \
        int r_, j_;                                                           \
        for (r_ = 0; r_ < (m); r_++)                                          \
            for (j_ = 0; j_ < (na); j_++) acc[r_][j_] = (FMR_VT){0};          \
    } while (0)

/* Common tile context. */
#define FMR_UB(cell) fm_rnn_unit_block(cell, FMR_V)

#define FMR_TILE_PROLOGUE                                                     \
    const ptrdiff_t ub = FMR_UB(a->cell);                                     \
    const FMR_T *A = (const FMR_T *)a->A + i0 * a->lda;                       \
    const FMR_T *bias = (const FMR_T *)a->bias + g * ub;                      \
    FMR_T *h = (FMR_T *)a->h, *out = (FMR_T *)a->out;                         \
    const ptrdiff_t gv = g * ub, nv = a->U - gv;                              \
    const ptrdiff_t Wp = fm_rnn_panel_size(a->cell, a->reset_after, a->F, a->U, ub); \
    const FMR_T *W = (const FMR_T *)a->wp + g * Wp;                           \
    FMR_VT acc[FMR_MRMAX][4];                                                 \
    int r

/* Output row of (b, step s): time slot s (processing order, as Keras stacks
 * outputs) or t(s) with out_time; rows ldo apart (U, or 2U inside a
 * Bidirectional concat buffer). */
#define FMR_OUT_ROW(b)                                                        \
    (out + ((b) * a->T + ((a->out_time && a->go_backwards) ? a->T - 1 - s : s)) * a->ldo + gv)

/* LSTM state update of batch row b, unit group g, from its 4 gate sums. */
FM_INLINE FMR_ATTR void FMR(fmr_lstm_update)(const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s, ptrdiff_t b,
                                              ptrdiff_t g, const FMR_VT acc[4]) {
    const ptrdiff_t gv = g * FMR_UB(a->cell), nv = a->U - gv;
    const FMR_T *bias = (const FMR_T *)a->bias + gv;
    FMR_T *h = (FMR_T *)a->h, *out = (FMR_T *)a->out;
    FMR_T *cp = (FMR_T *)a->c + b * a->Upad + gv;
    const FMR_VT i = FMR_ACT(ract, acc[0] + FMR(fmr_load)(bias));
    const FMR_VT f = FMR_ACT(ract, acc[1] + FMR(fmr_load)(bias + a->Upad));
    const FMR_VT gg = FMR_ACT(act, acc[2] + FMR(fmr_load)(bias + 2 * a->Upad));
    const FMR_VT o = FMR_ACT(ract, acc[3] + FMR(fmr_load)(bias + 3 * a->Upad));
    const FMR_VT cn = f * FMR(fmr_load)(cp) + i * gg;
    const FMR_VT hn = o * FMR_ACT(act, cn);
    FMR(fmr_store)(cp, cn);
    FMR(fmr_store)(h + b * a->Upad + gv, hn);
    if (out) FMR(fmr_store_n)(FMR_OUT_ROW(b), hn, nv);
}

/* The LSTM state update of m batch rows (rows[r], their 4 gate sums acc[r]), unit
 * group g: fmr_lstm_update's operations, stage by stage over the rows (the gates of
 * every row, then the carries, then their tanh): one row's update is a chain of
 * dependent operations (exp, division, exp, division) longer than the CPU's window,
 * while the rows are independent, so a stage over rows keeps the units busy (the
 * update took as long as the gate sums at F + U = 140). Each value is computed by
 * the same expression as in fmr_lstm_update: the same bits. */
FM_INLINE FMR_ATTR void FMR(fmr_lstm_update_rows)(const int m, const int act, const int ract,
                                                   const fm_rnn_args *a, ptrdiff_t s,
                                                   const ptrdiff_t *rows, ptrdiff_t g,
                                                   FMR_VT acc[FMR_MRMAX][4]) {
    const ptrdiff_t gv = g * FMR_UB(a->cell), nv = a->U - gv, Up = a->Upad;
    const FMR_T *bias = (const FMR_T *)a->bias + gv;
    FMR_T *h = (FMR_T *)a->h, *out = (FMR_T *)a->out, *c = (FMR_T *)a->c;
    const FMR_VT bi = FMR(fmr_load)(bias), bf = FMR(fmr_load)(bias + Up);
    const FMR_VT bg = FMR(fmr_load)(bias + 2 * Up), bo = FMR(fmr_load)(bias + 3 * Up);
    FMR_VT cn[FMR_MRMAX];
    int r;
    for (r = 0; r < m; r++) {
        acc[r][0] = FMR_ACT(ract, acc[r][0] + bi);
        acc[r][1] = FMR_ACT(ract, acc[r][1] + bf);
        acc[r][2] = FMR_ACT(act, acc[r][2] + bg);
        acc[r][3] = FMR_ACT(ract, acc[r][3] + bo);
    }
    for (r = 0; r < m; r++) {
        FMR_T *cp = c + rows[r] * Up + gv;
        cn[r] = acc[r][1] * FMR(fmr_load)(cp) + acc[r][0] * acc[r][2];
        FMR(fmr_store)(cp, cn[r]);
    }
    for (r = 0; r < m; r++) {
        const ptrdiff_t b = rows[r];
        const FMR_VT hn = acc[r][3] * FMR_ACT(act, cn[r]);
        FMR(fmr_store)(h + b * Up + gv, hn);
        if (out) FMR(fmr_store_n)(FMR_OUT_ROW(b), hn, nv);
    }
}

/* acc[r][0..3] += the 4 gate sums of rows r < m of A (lda apart) over K rows of the
 * panel W (rows of 4 gate vectors), k in order (the split or one-pass blocking does
 * not change a sum). */
FM_INLINE FMR_ATTR void FMR(fmr_lstm_sums)(const int m, const FMR_T *A, const ptrdiff_t lda,
                                           const FMR_T *W, const ptrdiff_t K,
                                           FMR_VT acc[FMR_MRMAX][4]) {
#if FMR_LSTM_SPLIT
    if (m <= 2) {
        /* 1-2 rows (batch 1, the tail of a masked batch): all 4 gates in one pass.
         * A 2-gate pass of one row has 2 accumulators, so each k waits on the FMA
         * latency; 4-8 fit the 16 registers. Each gate sums the same products in
         * the same order either way: results are bit-identical. */
        FMR(fmr_mk_call)(m, 2, 4, 0, 3, A, lda, W, 4, K, acc);
    } else {
        /* two passes of 2 gates each: twice the rows per block in 16 registers */
        FMR(fmr_mk_call)(m, FMR_MR4, 2, 0, 1, A, lda, W, 4, K, acc);
        FMR(fmr_mk_call)(m, FMR_MR4, 2, 2, 3, A, lda, W + 2 * FMR_V, 4, K, acc);
    }
#else
    FMR(fmr_mk_call)(m, FMR_MR4, 4, 0, 3, A, lda, W, 4, K, acc);
#endif
}

/* Where the hoisted input projection of (batch row b, step s) for unit group g starts
 * in a->xw: the cell's gates x the unit block (LSTM 4 vectors, GRU 3, SimpleRNN 2).
 * With one time slot (a->xw_T == 1: a repeated input) every step reads slot 0. */
FM_INLINE FMR_ATTR const FMR_T *FMR(fmr_xw_row)(const fm_rnn_args *a, ptrdiff_t s,
                                                 ptrdiff_t b, ptrdiff_t g) {
    const ptrdiff_t t = a->xw_T == 1 ? 0 : (a->go_backwards ? a->T - 1 - s : s);
    const ptrdiff_t ub = FMR_UB(a->cell), G = fm_rnn_groups(a->U, ub);
    return (const FMR_T *)a->xw + ((b * a->xw_T + t) * G + g) * fm_rnn_gates(a->cell) * ub;
}

/* acc[r][0..n-1] = the hoisted input projections of rows i0.. (n vectors each). */
FM_INLINE FMR_ATTR void FMR(fmr_xw_init)(const int m, const int n, const fm_rnn_args *a,
                                         ptrdiff_t s, const ptrdiff_t *rows, ptrdiff_t i0,
                                         ptrdiff_t g, FMR_VT acc[FMR_MRMAX][4]) {
    int r, j;
    for (r = 0; r < m; r++) {
        const FMR_T *xw = FMR(fmr_xw_row)(a, s, rows[i0 + r], g);
        for (j = 0; j < n; j++) acc[r][j] = FMR(fmr_load)(xw + j * FMR_V);
    }
}

FM_INLINE FMR_ATTR void FMR(fmr_tile_lstm)(const int m, const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s,
                                              const ptrdiff_t *rows, ptrdiff_t i0, ptrdiff_t g) {
    const ptrdiff_t Wp = fm_rnn_panel_size(a->cell, a->reset_after, a->F, a->U,
                                           FMR_UB(a->cell));
    const FMR_T *A = (const FMR_T *)a->A + i0 * a->lda;
    const FMR_T *W = (const FMR_T *)a->wp + g * Wp;
    FMR_VT acc[FMR_MRMAX][4];
    if (a->xw != NULL) {
        /* hoisted: the sums over the kernel rows so far, then the recurrent rows */
        FMR(fmr_xw_init)(m, 4, a, s, rows, i0, g, acc);
        FMR(fmr_lstm_sums)(m, A, a->lda, W + a->F * 4 * FMR_V, a->U, acc);
    } else {
        FMR_ZERO_ACC(m, 4);
        FMR(fmr_lstm_sums)(m, A, a->lda, W, a->F + a->U, acc);
    }
    FMR(fmr_lstm_update_rows)(m, act, ract, a, s, rows + i0, g, acc);
}

/* Gate sums of one row for two unit groups at once (panels W0 and W1): 8
 * independent accumulators where one group's pass has 4, so a lone row (batch
 * 1) is not bound by the FMA latency. Each sum runs over k in order from 0, as
 * in fmr_mk: bit-identical to the one-group tiles. */
static FMR_ATTR FMR_NOINLINE void FMR(fmr_mk_lstm_1x2)(const FMR_T *FMR_RESTRICT A,
                                                       const FMR_T *FMR_RESTRICT W0,
                                                       const FMR_T *FMR_RESTRICT W1,
                                                       const ptrdiff_t K,
                                                       const FMR_T *init0,
                                                       const FMR_T *init1,
                                                       FMR_VT (*FMR_RESTRICT acc)[4]) {
    FMR_VT r0 = {0}, r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0}, r6 = {0}, r7 = {0};
    ptrdiff_t k;
    if (init0 != NULL) {     /* hoisted: from the two groups' input projections */
        r0 = FMR(fmr_load)(init0);
        r1 = FMR(fmr_load)(init0 + FMR_V);
        r2 = FMR(fmr_load)(init0 + 2 * FMR_V);
        r3 = FMR(fmr_load)(init0 + 3 * FMR_V);
        r4 = FMR(fmr_load)(init1);
        r5 = FMR(fmr_load)(init1 + FMR_V);
        r6 = FMR(fmr_load)(init1 + 2 * FMR_V);
        r7 = FMR(fmr_load)(init1 + 3 * FMR_V);
    }
    for (k = 0; k < K; k++) {
        const FMR_VT b = FMR(fmr_bcast)(A[k]);
        const FMR_T *w0 = W0 + k * 4 * FMR_V, *w1 = W1 + k * 4 * FMR_V;
        r0 += b * FMR(fmr_load)(w0);
        r1 += b * FMR(fmr_load)(w0 + FMR_V);
        r2 += b * FMR(fmr_load)(w0 + 2 * FMR_V);
        r3 += b * FMR(fmr_load)(w0 + 3 * FMR_V);
        r4 += b * FMR(fmr_load)(w1);
        r5 += b * FMR(fmr_load)(w1 + FMR_V);
        r6 += b * FMR(fmr_load)(w1 + 2 * FMR_V);
        r7 += b * FMR(fmr_load)(w1 + 3 * FMR_V);
    }
    acc[0][0] = r0; acc[0][1] = r1; acc[0][2] = r2; acc[0][3] = r3;
    acc[1][0] = r4; acc[1][1] = r5; acc[1][2] = r6; acc[1][3] = r7;
}

/* One active row, unit groups g and g + 1. */
FM_INLINE FMR_ATTR void FMR(fmr_tile_lstm_1x2)(const int act, const int ract,
                                                  const fm_rnn_args *a, ptrdiff_t s,
                                                  const ptrdiff_t *rows, ptrdiff_t i0,
                                                  ptrdiff_t g) {
    const ptrdiff_t Wp = fm_rnn_panel_size(a->cell, a->reset_after, a->F, a->U,
                                           FMR_UB(a->cell));
    const FMR_T *W = (const FMR_T *)a->wp + g * Wp;
    FMR_VT acc[2][4];
    if (a->xw != NULL)
        FMR(fmr_mk_lstm_1x2)((const FMR_T *)a->A + i0 * a->lda, W + a->F * 4 * FMR_V,
                             W + Wp + a->F * 4 * FMR_V, a->U,
                             FMR(fmr_xw_row)(a, s, rows[i0], g),
                             FMR(fmr_xw_row)(a, s, rows[i0], g + 1), acc);
    else
        FMR(fmr_mk_lstm_1x2)((const FMR_T *)a->A + i0 * a->lda, W, W + Wp, a->F + a->U,
                             NULL, NULL, acc);
    FMR(fmr_lstm_update)(act, ract, a, s, rows[i0], g, acc[0]);
    FMR(fmr_lstm_update)(act, ract, a, s, rows[i0], g + 1, acc[1]);
}

FM_INLINE FMR_ATTR void FMR(fmr_tile_simple)(const int m, const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s,
                                              const ptrdiff_t *rows, ptrdiff_t i0, ptrdiff_t g) {
    /* SimpleRNN panels hold 2 vectors of units: 2 accumulators per row keep
     * the micro-kernel FMA-bound (1 would make it load-bound). */
    FMR_TILE_PROLOGUE;
    const FMR_VT b0 = FMR(fmr_load)(bias), b1 = FMR(fmr_load)(bias + FMR_V);
    (void)ract;
    if (a->xw != NULL) {     /* hoisted: the kernel rows' sums, then the recurrent rows */
        FMR(fmr_xw_init)(m, 2, a, s, rows, i0, g, acc);
        FMR(fmr_mk_call)(m, FMR_MRS, 2, 0, 1, A, a->lda, W + a->F * 2 * FMR_V, 2, a->U, acc);
    } else {
        FMR_ZERO_ACC(m, 2);
        FMR(fmr_mk_call)(m, FMR_MRS, 2, 0, 1, A, a->lda, W, 2, a->F + a->U, acc);
    }
    for (r = 0; r < m; r++) {
        const ptrdiff_t b = rows[i0 + r];
        const FMR_VT h0 = FMR_ACT(act, acc[r][0] + b0), h1 = FMR_ACT(act, acc[r][1] + b1);
        FMR(fmr_store)(h + b * a->Upad + gv, h0);
        FMR(fmr_store)(h + b * a->Upad + gv + FMR_V, h1);
        if (out) {
            FMR(fmr_store_n)(FMR_OUT_ROW(b), h0, nv);
            if (nv > FMR_V) FMR(fmr_store_n)(FMR_OUT_ROW(b) + FMR_V, h1, nv - FMR_V);
        }
    }
}

/* GRU, reset_after=True: slots z, r, x@K_h, h@R_h. */
FM_INLINE FMR_ATTR void FMR(fmr_tile_gru_ra)(const int m, const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s,
                                              const ptrdiff_t *rows, ptrdiff_t i0, ptrdiff_t g) {
    FMR_TILE_PROLOGUE;
    const FMR_VT bz = FMR(fmr_load)(bias), br = FMR(fmr_load)(bias + a->Upad);
    const FMR_VT bxh = FMR(fmr_load)(bias + 2 * a->Upad), bhh = FMR(fmr_load)(bias + 3 * a->Upad);
    const ptrdiff_t Fa = a->xw != NULL ? 0 : a->F;      /* where h starts in A's rows */
    FMR_ZERO_ACC(m, 4);
    if (a->xw != NULL)       /* hoisted: slots z, r, x@K_h from the kernel rows' sums */
        FMR(fmr_xw_init)(m, 3, a, s, rows, i0, g, acc);
    else
        FMR(fmr_mk_call)(m, FMR_MR3, 3, 0, 2, A, a->lda, W, 3, a->F, acc);
    FMR(fmr_mk_call)(m, FMR_MR3, 3, 0, 3, A + Fa, a->lda, W + a->F * 3 * FMR_V, 3, a->U,
                     acc);
    /* z and r of every row, then the rest (stage by stage, as fmr_lstm_update_rows) */
    for (r = 0; r < m; r++) {
        acc[r][0] = FMR_ACT(ract, acc[r][0] + bz);
        acc[r][1] = FMR_ACT(ract, acc[r][1] + br);
    }
    for (r = 0; r < m; r++) {
        const ptrdiff_t b = rows[i0 + r];
        const FMR_VT hp = FMR(fmr_load)(A + r * a->lda + Fa + gv);
        const FMR_VT z = acc[r][0];
        const FMR_VT hh = FMR_ACT(act, (acc[r][2] + bxh) + acc[r][1] * (acc[r][3] + bhh));
        const FMR_VT hn = z * hp + ((FMR_T)1 - z) * hh;
        FMR(fmr_store)(h + b * a->Upad + gv, hn);
        if (out) FMR(fmr_store_n)(FMR_OUT_ROW(b), hn, nv);
    }
}

/* GRU, reset_after=False, phase 0: z, r, x@K_h + b_h and r*h into scratch. */
FM_INLINE FMR_ATTR void FMR(fmr_tile_gru_p0)(const int m, const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s,
                                              const ptrdiff_t *rows, ptrdiff_t i0, ptrdiff_t g) {
    FMR_TILE_PROLOGUE;
    FMR_T *zs = (FMR_T *)a->z, *hxs = (FMR_T *)a->hx, *rhs = (FMR_T *)a->rh;
    const FMR_VT bz = FMR(fmr_load)(bias), br = FMR(fmr_load)(bias + a->Upad);
    const FMR_VT bh = FMR(fmr_load)(bias + 2 * a->Upad);
    const ptrdiff_t Fa = a->xw != NULL ? 0 : a->F;      /* where h starts in A's rows */
    (void)h; (void)out; (void)nv;
    if (a->xw != NULL) {     /* hoisted: slots z, r, x@K_h from the kernel rows' sums */
        FMR(fmr_xw_init)(m, 3, a, s, rows, i0, g, acc);
    } else {
        FMR_ZERO_ACC(m, 3);
        FMR(fmr_mk_call)(m, FMR_MR3, 3, 0, 2, A, a->lda, W, 3, a->F, acc);
    }
    FMR(fmr_mk_call)(m, FMR_MR3, 2, 0, 1, A + Fa, a->lda, W + a->F * 3 * FMR_V, 2, a->U,
                     acc);
    for (r = 0; r < m; r++) {
        const ptrdiff_t row = (i0 + r) * a->Upad + gv;
        const FMR_VT hp = FMR(fmr_load)(A + r * a->lda + Fa + gv);
        const FMR_VT rr = FMR_ACT(ract, acc[r][1] + br);
        FMR(fmr_store)(zs + row, FMR_ACT(ract, acc[r][0] + bz));
        FMR(fmr_store)(hxs + row, acc[r][2] + bh);
        FMR(fmr_store)(rhs + row, rr * hp);
    }
}

/* GRU, reset_after=False, phase 1: hh = act(x@K_h + b_h + (r*h) @ R_h). */
FM_INLINE FMR_ATTR void FMR(fmr_tile_gru_p1)(const int m, const int act, const int ract,
                                              const fm_rnn_args *a, ptrdiff_t s,
                                              const ptrdiff_t *rows, ptrdiff_t i0, ptrdiff_t g) {
    FMR_T *h = (FMR_T *)a->h, *out = (FMR_T *)a->out;
    const FMR_T *A = (const FMR_T *)a->A;
    const FMR_T *zs = (const FMR_T *)a->z, *hxs = (const FMR_T *)a->hx;
    const FMR_T *rh = (const FMR_T *)a->rh + i0 * a->Upad;
    const ptrdiff_t gv = g * FMR_V, nv = a->U - gv;
    const ptrdiff_t G = fm_rnn_groups(a->U, FMR_V);
    const FMR_T *W = (const FMR_T *)a->wp
        + G * fm_rnn_panel_size(a->cell, a->reset_after, a->F, a->U, FMR_V) + g * a->U * FMR_V;
    FMR_VT acc[FMR_MRMAX][4];
    int r;
    FMR_ZERO_ACC(m, 1);
    FMR(fmr_mk_call)(m, FMR_MR1, 1, 0, 0, rh, a->Upad, W, 1, a->U, acc);
    for (r = 0; r < m; r++) {
        const ptrdiff_t b = rows[i0 + r], row = (i0 + r) * a->Upad + gv;
        const FMR_VT hp = FMR(fmr_load)(A + (i0 + r) * a->lda + (a->xw != NULL ? 0 : a->F)
                                        + gv);
        const FMR_VT z = FMR(fmr_load)(zs + row);
        const FMR_VT hh = FMR_ACT(act, FMR(fmr_load)(hxs + row) + acc[r][0]);
        const FMR_VT hn = z * hp + ((FMR_T)1 - z) * hh;
        FMR(fmr_store)(h + b * a->Upad + gv, hn);
        if (out) FMR(fmr_store_n)(FMR_OUT_ROW(b), hn, nv);
    }
}

FM_RNN_VARIANT_API int FMR(fm_rnn_lanes_impl)(void) { return FMR_V; }

/* The input projections of unit groups g_lo..g_hi-1 into a->xw for every row (b, t)
 * of x (B*xw_T rows F apart): the sums over the panel's F kernel rows that a fused
 * tile computes first (same micro-kernel calls, same order, from 0), n vectors a group:
 * LSTM's 4 gates, GRU's z, r and x@K_h, SimpleRNN's unit block of 2 vectors. */
FM_RNN_VARIANT_API FMR_ATTR void FMR(fm_rnn_xproj_impl)(const fm_rnn_args *a,
                                                           ptrdiff_t g_lo, ptrdiff_t g_hi) {
    const ptrdiff_t ub = FMR_UB(a->cell), R = a->B * a->xw_T, G = fm_rnn_groups(a->U, ub);
    const ptrdiff_t Wp = fm_rnn_panel_size(a->cell, a->reset_after, a->F, a->U, ub);
    const int n = a->cell == FM_CELL_LSTM ? 4 : (a->cell == FM_CELL_GRU ? 3 : 2);
    const int mr = FMR(fm_rnn_mr_impl)(a->cell, a->reset_after, 0);
    const FMR_T *x = (const FMR_T *)a->x;
    FMR_T *xw = (FMR_T *)a->xw;
    FMR_VT acc[FMR_MRMAX][4];
    ptrdiff_t g, r0;
    int r, j, m;
    for (g = g_lo; g < g_hi; g++) {
        const FMR_T *W = (const FMR_T *)a->wp + g * Wp;
        for (r0 = 0; r0 < R; r0 += m) {
            const FMR_T *A = x + r0 * a->F;
            m = (int)(R - r0 < mr ? R - r0 : mr);
            FMR_ZERO_ACC(m, 4);
            if (a->cell == FM_CELL_LSTM)
                FMR(fmr_lstm_sums)(m, A, a->F, W, a->F, acc);
            else if (a->cell == FM_CELL_GRU)
                FMR(fmr_mk_call)(m, FMR_MR3, 3, 0, 2, A, a->F, W, 3, a->F, acc);
            else
                FMR(fmr_mk_call)(m, FMR_MRS, 2, 0, 1, A, a->F, W, 2, a->F, acc);
            for (r = 0; r < m; r++)
                for (j = 0; j < n; j++)
                    FMR(fmr_store)(xw + ((r0 + r) * G + g) * n * FMR_V + j * FMR_V, acc[r][j]);
        }
    }
}

/* Test hook: the vector activations of this ISA applied to x[0..n) in place. */
FM_RNN_VARIANT_API FMR_ATTR void FMR(fm_rnn_act_vec_impl)(int kind, void *xv, ptrdiff_t n) {
    FMR_T *x = (FMR_T *)xv, tmp[FMR_V];
    ptrdiff_t i;
    for (i = 0; i + FMR_V <= n; i += FMR_V)
        FMR(fmr_store)(x + i, FMR_ACT(kind, FMR(fmr_load)(x + i)));
    if (i < n) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, x + i, (size_t)(n - i) * sizeof(FMR_T));
        FMR(fmr_store)(tmp, FMR_ACT(kind, FMR(fmr_load)(tmp)));
        memcpy(x + i, tmp, (size_t)(n - i) * sizeof(FMR_T));
    }
}

FM_RNN_VARIANT_API int FMR(fm_rnn_mr_impl)(int cell, int reset_after, int phase) {
    if (cell == FM_CELL_LSTM) return FMR_MR4;
    if (cell == FM_CELL_GRU && (reset_after || phase == 0)) return FMR_MR3;
    if (cell == FM_CELL_SIMPLE) return FMR_MRS;
    return FMR_MR1;
}

#define FMR_CALL_LSTM(M) FMR(fmr_tile_lstm)(M, act, ract, a, s, rows, i0, g)
#define FMR_CALL_SIMPLE(M) FMR(fmr_tile_simple)(M, act, ract, a, s, rows, i0, g)
#define FMR_CALL_GRU_RA(M) FMR(fmr_tile_gru_ra)(M, act, ract, a, s, rows, i0, g)
#define FMR_CALL_GRU_P0(M) FMR(fmr_tile_gru_p0)(M, act, ract, a, s, rows, i0, g)
#define FMR_CALL_GRU_P1(M) FMR(fmr_tile_gru_p1)(M, act, ract, a, s, rows, i0, g)

/* unroll (a constant): 1 compiles one copy of each tile per block size m (the epilogue
 * unrolled over m rows with the activations inlined); 0 one copy with m a variable. */
FM_INLINE FMR_ATTR void FMR(fmr_tiles)(const int act, const int ract, const int unroll,
                                        const fm_rnn_args *a, ptrdiff_t s, int phase,
                                        ptrdiff_t i_lo, ptrdiff_t i_hi, ptrdiff_t g_lo,
                                        ptrdiff_t g_hi) {
    const ptrdiff_t *rows = a->rows + a->off[s];
    const int mr = FMR(fm_rnn_mr_impl)(a->cell, a->reset_after, phase);
    const ptrdiff_t rc = fm_rnn_row_chunk(a, mr);
    ptrdiff_t g, i0, ic, ie;
    int m;
    /* Row chunks of rc rows (A's chunk stays in L2 while every unit group's
     * weight panel passes over it); the weights stream once per chunk. */
    for (ic = i_lo; ic < i_hi; ic = ie) {
    ie = i_hi - ic > rc ? ic + rc : i_hi;
    for (g = g_lo; g < g_hi; g++) {
        if (a->cell == FM_CELL_LSTM && ie - ic == 1 && g + 1 < g_hi) {
            FMR(fmr_tile_lstm_1x2)(act, ract, a, s, rows, ic, g);   /* a lone row */
            g++;
            continue;
        }
        for (i0 = ic; i0 < ie; i0 += m) {
            /* Blocks of 1-2 rows are bound by streaming the weight panel (they
             * cost about as much as 3 rows): the last full block and such a
             * remainder are split evenly instead (7 -> 4 + 3, 8 -> 4 + 4). */
            const ptrdiff_t left = ie - i0;
            m = (int)(left <= mr ? left : (left < mr + 3 ? (left + 1) / 2 : mr));
            if (!unroll) {
                if (a->cell == FM_CELL_LSTM) FMR_CALL_LSTM(m);
                else if (a->cell == FM_CELL_SIMPLE) FMR_CALL_SIMPLE(m);
                else if (a->reset_after) FMR_CALL_GRU_RA(m);
                else if (phase == 0) FMR_CALL_GRU_P0(m);
                else FMR_CALL_GRU_P1(m);
            } else if (a->cell == FM_CELL_LSTM) {
                switch (m) { FMR_CASES(FMR_MR4, FMR_CALL_LSTM) default: break; }
            } else if (a->cell == FM_CELL_SIMPLE) {
                switch (m) { FMR_CASES(FMR_MRS, FMR_CALL_SIMPLE) default: break; }
            } else if (a->reset_after) {
                switch (m) { FMR_CASES(FMR_MR3, FMR_CALL_GRU_RA) default: break; }
            } else if (phase == 0) {
                switch (m) { FMR_CASES(FMR_MR3, FMR_CALL_GRU_P0) default: break; }
            } else {
                switch (m) { FMR_CASES(FMR_MR1, FMR_CALL_GRU_P1) default: break; }
            }
        }
    }
    }
}

/* The default activations (tanh, sigmoid) get their own compiled copy with the
 * activation dispatch resolved at compile time and a tile per block size m. Any
 * other activations share one copy with one tile per cell, m a variable (the
 * activation is chosen per vector in both): a tile per m there too took 40% of
 * the compile time of this file (GCC 12), for a loop counter's worth of speed. */
FM_RNN_VARIANT_API FMR_ATTR void FMR(fm_rnn_tiles_impl)(const fm_rnn_args *a, ptrdiff_t s, int phase,
                                             ptrdiff_t i_lo, ptrdiff_t i_hi, ptrdiff_t g_lo,
                                             ptrdiff_t g_hi) {
    if (a->act == FM_ACT_TANH && (a->ract == FM_ACT_SIGMOID || a->cell == FM_CELL_SIMPLE))
        FMR(fmr_tiles)(FM_ACT_TANH, FM_ACT_SIGMOID, 1, a, s, phase, i_lo, i_hi, g_lo, g_hi);
    else
        FMR(fmr_tiles)(a->act, a->ract, 0, a, s, phase, i_lo, i_hi, g_lo, g_hi);
}

#undef FMR_CALL_LSTM
#undef FMR_CALL_SIMPLE
#undef FMR_CALL_GRU_RA
#undef FMR_CALL_GRU_P0
#undef FMR_CALL_GRU_P1
#undef FMR_TILE_PROLOGUE
#undef FMR_OUT_ROW
#undef FMR_ZERO_ACC
#undef FMR_RESTRICT
#undef FMR_NOINLINE
#undef FMR_MK_DEF
#undef FMR_MK_DEFS
#undef FMR_MK_USES
#undef FMR_MK_PICK
#undef FMR_MK_PICK_UPTO
#undef FMR_MRMAX
#undef FMR_ACT
#undef FMR
#undef FMR_CAT
#undef FMR_CAT2
#undef FMR_SUF
#undef FMR_T
#undef FMR_VT
#undef FMR_V
#undef FMR_VSUF
#undef FMR_MR4
#undef FMR_MR3
#undef FMR_MR1
#undef FMR_MRS
#undef FMR_LSTM_SPLIT
#undef FMR_UB
#undef FMR_ATTR
