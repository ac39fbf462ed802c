/* Masked recurrent kernels (LSTM, GRU, SimpleRNN): the per-step work that
 * fastmask/kernels/_recurrent.pyx drives from its nogil/OpenMP time loop.
 *
 * One step s of the recurrence processes only the rows active at s (their
 * batch indices `rows[off[s] .. off[s+1])`, ascending). For them it
 *   1. gathers A[i] = [x[b, t(s), :F] | h[b, :Upad]]  (one contiguous row),
 *   2. computes A @ Wcat with Wcat = [kernel; recurrent_kernel] packed once
 *      per call into panels of `lanes` units x all gates (register-blocked
 *      micro-kernel: MR rows x gates vectors accumulate over k = 0..F+U-1 in
 *      order, so an element's value does not depend on the row blocking or
 *      the thread split), and
 *   3. applies the gate activations and the state update in the same tile
 *      (fused epilogue), writing h and c of the active rows in place and the
 *      output row out[b, s] (processing order, as Keras stacks it).
 * Masked (b, s) pairs cost nothing here; the caller fills their outputs.
 * The input projection is thereby computed for unmasked steps only and in
 * the same pass as the recurrent product (no (steps x 4U) buffer).
 *
 * GRU with reset_after=False needs (r * h) @ R_h after r is known for all
 * units: phase 1 computes z, r, x@K_h + b_h and r*h into scratch, phase 2
 * multiplies by the R_h panels.
 *
 * The micro-kernel and epilogues are compiled once per instruction set
 * (fm_recurrent_impl.h instantiated for float/double x generic/AVX2/AVX-512
 * with target attributes, each in its own C file csrc/fm_recurrent_<dtype>_<isa>.c
 * that setup.py links into fastmask.kernels._recurrent); fm_rnn_isa() picks the
 * one selected library-wide (fm_isa.h: FASTMASK_ISA, else the CPU's best).
 */
#ifndef FASTMASK_FM_RECURRENT_H
#define FASTMASK_FM_RECURRENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fm_activations.h"
#include "fm_isa.h"

#include "fm_hot.h"
FM_HOT_BEGIN

enum { FM_CELL_SIMPLE = 0, FM_CELL_LSTM = 1, FM_CELL_GRU = 2 };

typedef struct {
    int cell;            /* FM_CELL_* */
    int reset_after;     /* GRU only */
    int act, ract;       /* FM_ACT_* of activation / recurrent_activation */
    int dbl;             /* 0: float32 arrays, 1: float64 */
    int go_backwards;
    ptrdiff_t B, T, F, U;
    ptrdiff_t Upad;      /* U rounded up to the ISA's lanes: row stride of h, c, bias, scratch */
    ptrdiff_t lda;       /* F + Upad: row stride of A */
    const void *x;       /* (B, T, F) */
    const void *wp;      /* packed weights, fm_rnn_packed_size() elements */
    const void *bias;    /* (n_bias_rows, Upad), see fm_rnn_bias_rows() */
    void *h;             /* (B, Upad) state h, updated in place */
    void *c;             /* (B, Upad) LSTM carry, updated in place; else unused */
    void *out;           /* outputs (rows of U values ldo apart) or NULL: out + (b*T + s)*ldo */
    ptrdiff_t ldo;       /* distance between output rows (U for a plain (B, T, U) array) */
    int out_time;        /* 1: write step s at time slot t(s) (time order) instead of s */
    void *A;             /* (max active rows, lda) scratch */
    void *xw;            /* NULL, or the input projections x[b, t] @ kernel of every
                          * (b, t), (B*T, groups, gates, unit block), which
                          * fm_rnn_xproj fills before the time loop ("hoisted"): a step
                          * then gathers h alone (lda = Upad) and sums over the U
                          * recurrent rows of the panels from there */
    ptrdiff_t xw_T;      /* time slots of x and xw: T, or 1 when every step's input is
                          * the same row (x (B, F): a repeated vector; hoisted only) */
    void *z, *hx, *rh;   /* (max active rows, Upad) scratch for GRU reset_after=False */
    const ptrdiff_t *off;   /* (T + 1,) step offsets into rows */
    const ptrdiff_t *rows;  /* active batch rows of each step, ascending */
} fm_rnn_args;

/* Gates per cell: columns of kernel are [gate 0 | gate 1 | ...], U each. */
static inline int fm_rnn_gates(int cell) {
    return cell == FM_CELL_LSTM ? 4 : (cell == FM_CELL_GRU ? 3 : 1);
}

/* Bias rows (each Upad long) expected in args.bias:
 *   SimpleRNN: [b]; LSTM: [b_i, b_f, b_c, b_o];
 *   GRU reset_after: [b0_z + b1_z, b0_r + b1_r, b0_h, b1_h];
 *   GRU reset_before: [b_z, b_r, b_h]. */
static inline int fm_rnn_bias_rows(int cell, int reset_after) {
    if (cell == FM_CELL_LSTM) return 4;
    if (cell == FM_CELL_GRU) return reset_after ? 4 : 3;
    return 1;
}

/* Gates of the recurrent part packed with the kernel (GRU reset_before packs
 * R_z, R_r there and R_h in separate phase-2 panels). */
static inline int fm_rnn_gates_h(int cell, int reset_after) {
    return (cell == FM_CELL_GRU && !reset_after) ? 2 : fm_rnn_gates(cell);
}

/* Units per weight panel ("unit block"): one vector of lanes, two for
 * SimpleRNN (one gate: two accumulator vectors per row keep the micro-kernel
 * FMA-bound). Groups, padding (Upad) and packing all use the unit block. */
static inline ptrdiff_t fm_rnn_unit_block(int cell, ptrdiff_t lanes) {
    return cell == FM_CELL_SIMPLE ? 2 * lanes : lanes;
}

static inline ptrdiff_t fm_rnn_groups(ptrdiff_t U, ptrdiff_t lanes) {
    return (U + lanes - 1) / lanes;
}

static inline ptrdiff_t fm_rnn_panel_size(int cell, int reset_after, ptrdiff_t F,
                                          ptrdiff_t U, ptrdiff_t lanes) {
    return (F * fm_rnn_gates(cell) + U * fm_rnn_gates_h(cell, reset_after)) * lanes;
}

static inline ptrdiff_t fm_rnn_packed_size(int cell, int reset_after, ptrdiff_t F,
                                           ptrdiff_t U, ptrdiff_t lanes) {
    ptrdiff_t G = fm_rnn_groups(U, lanes);
    ptrdiff_t n = G * fm_rnn_panel_size(cell, reset_after, F, U, lanes);
    if (cell == FM_CELL_GRU && !reset_after) n += G * U * lanes;
    return n;
}

/* Pack kernel (F, NG*U) and recurrent_kernel (U, NG*U), row-major, into
 * panels: for unit group g (units g*lanes ..), rows k = 0..F-1 of the kernel
 * then k = 0..U-1 of the recurrent kernel, each row NG (or NGh) vectors of
 * `lanes` values, gate-major; units >= U are zero. */
#define FM_RNN_DEFINE_PACK(TT, SUF)                                                      \
/* For every unit group g: dst[g * gstride + (k * nj + j) * lanes + l] =                 \
 * src[k, (j0 + j) * U + g * lanes + l] (0 past U), k < rows, j < nj. The source is    \
 * read in order (cold weights stream from memory at full speed). */                   \
static inline void fm_rnn_pack_rows_##SUF(TT *dst, ptrdiff_t gstride, const TT *src,     \
                                          ptrdiff_t rows, ptrdiff_t ncol, ptrdiff_t U,    \
                                          ptrdiff_t lanes, int j0, int nj) {              \
    const ptrdiff_t G = fm_rnn_groups(U, lanes);                                        \
    ptrdiff_t k, g, l;                                                                  \
    int j;                                                                              \
    for (k = 0; k < rows; k++)                                                          \
        for (j = 0; j < nj; j++) {                                                      \
            const TT *s = src + k * ncol + (ptrdiff_t)(j0 + j) * U;                     \
            TT *d = dst + (k * nj + j) * lanes;                                         \
            for (g = 0; g < G; g++)                                                     \
                for (l = 0; l < lanes; l++)                                             \
                    d[g * gstride + l] = g * lanes + l < U ? s[g * lanes + l] : (TT)0;  \
        }                                                                               \
}                                                                                       \
static inline void fm_rnn_pack_##SUF(int cell, int reset_after, ptrdiff_t F,           \
                                     ptrdiff_t U, ptrdiff_t lanes, const TT *kernel,     \
                                     const TT *rec, TT *wp) {                             \
    const int ng = fm_rnn_gates(cell), ngh = fm_rnn_gates_h(cell, reset_after);         \
    const ptrdiff_t G = fm_rnn_groups(U, lanes), ncol = (ptrdiff_t)ng * U;              \
    const ptrdiff_t P = fm_rnn_panel_size(cell, reset_after, F, U, lanes);              \
    fm_rnn_pack_rows_##SUF(wp, P, kernel, F, ncol, U, lanes, 0, ng);                    \
    fm_rnn_pack_rows_##SUF(wp + F * ng * lanes, P, rec, U, ncol, U, lanes, 0, ngh);     \
    if (cell == FM_CELL_GRU && !reset_after) /* R_h panels for phase 2 */               \
        fm_rnn_pack_rows_##SUF(wp + G * P, U * lanes, rec, U, ncol, U, lanes, 2, 1);    \
}
FM_RNN_DEFINE_PACK(float, f)
FM_RNN_DEFINE_PACK(double, d)

/* Gather A rows i_lo..i_hi-1 of step s: [x[b, t(s)] | h[b]] ([h[b]] when hoisted). */
#define FM_RNN_DEFINE_GATHER(TT, SUF)                                                    \
static inline void fm_rnn_gather_##SUF(const fm_rnn_args *a, ptrdiff_t s,               \
                                       ptrdiff_t i_lo, ptrdiff_t i_hi) {                \
    const ptrdiff_t t = a->go_backwards ? a->T - 1 - s : s;                             \
    const ptrdiff_t *rows = a->rows + a->off[s];                                        \
    const TT *x = (const TT *)a->x, *h = (const TT *)a->h;                                 \
    TT *A = (TT *)a->A;                                                                   \
    ptrdiff_t i;                                                                        \
    const ptrdiff_t F = a->xw != NULL ? 0 : a->F;  /* hoisted: x is in xw already */  \
    for (i = i_lo; i < i_hi; i++) {                                                     \
        const ptrdiff_t b = rows[i];                                                    \
        if (F > 0) /* x may be NULL when there are no features */                      \
            memcpy(A + i * a->lda, x + (b * a->T + t) * F, (size_t)F * sizeof(TT));      \
        memcpy(A + i * a->lda + F, h + b * a->Upad, (size_t)a->Upad * sizeof(TT));       \
    }                                                                                   \
}
FM_RNN_DEFINE_GATHER(float, f)
FM_RNN_DEFINE_GATHER(double, d)

static inline void fm_rnn_gather(const fm_rnn_args *a, ptrdiff_t s, ptrdiff_t i_lo,
                                 ptrdiff_t i_hi) {
    if (a->dbl) fm_rnn_gather_d(a, s, i_lo, i_hi);
    else fm_rnn_gather_f(a, s, i_lo, i_hi);
}

/* Rows per cache chunk of a step's tiles: a multiple of the register block mr
 * with about FM_RNN_CHUNK_BYTES of A rows (A's rows of a chunk stay in L2 while
 * the weight panels of all unit groups pass over them; without chunks a large
 * batch re-reads A from L3 once per unit group). An element's value does not
 * depend on the chunking (the micro-kernel sums over k in order). */
#ifndef FM_RNN_CHUNK_BYTES
#define FM_RNN_CHUNK_BYTES (256 * 1024)
#endif
static inline ptrdiff_t fm_rnn_row_chunk(const fm_rnn_args *a, int mr) {
    const ptrdiff_t row_bytes = a->lda * (a->dbl ? 8 : 4);
    ptrdiff_t rc = FM_RNN_CHUNK_BYTES / (row_bytes > 0 ? row_bytes : 1);
    rc = rc / mr * mr;
    return rc < 4 * mr ? 4 * mr : rc;
}

/* OpenMP barrier usable from a function called inside a parallel region. */
static inline void fm_rnn_barrier(void) {
#ifdef _OPENMP
#pragma omp barrier
#endif
}

/* ---- Per-ISA variants ---- */
#define FMR_CASES_1(F) case 1: F(1); break;
#define FMR_CASES_2(F) FMR_CASES_1(F) case 2: F(2); break;
#define FMR_CASES_3(F) FMR_CASES_2(F) case 3: F(3); break;
#define FMR_CASES_4(F) FMR_CASES_3(F) case 4: F(4); break;
#define FMR_CASES_5(F) FMR_CASES_4(F) case 5: F(5); break;
#define FMR_CASES_6(F) FMR_CASES_5(F) case 6: F(6); break;
#define FMR_CASES_7(F) FMR_CASES_6(F) case 7: F(7); break;
#define FMR_CASES_8(F) FMR_CASES_7(F) case 8: F(8); break;
#define FMR_CASES_9(F) FMR_CASES_8(F) case 9: F(9); break;
#define FMR_CASES_10(F) FMR_CASES_9(F) case 10: F(10); break;
#define FMR_CASES_11(F) FMR_CASES_10(F) case 11: F(11); break;
#define FMR_CASES_12(F) FMR_CASES_11(F) case 12: F(12); break;
#define FMR_CASES_(N, F) FMR_CASES_##N(F)
#define FMR_CASES(N, F) FMR_CASES_(N, F)

/* The variants are compiled in their own translation units, one per dtype x instruction
 * set (csrc/fm_recurrent_<dtype>_<isa>.c: each defines the FMR_* parameters and includes
 * fm_recurrent_impl.h), so the build compiles them in parallel instead of as one long
 * compile of _recurrent.pyx's C file. Each exports these five functions. */
#define FMR_DECLARE_VARIANT(SUF)                                                         \
    FM_RNN_VARIANT_API int fm_rnn_lanes_impl_##SUF(void);                                 \
    FM_RNN_VARIANT_API int fm_rnn_mr_impl_##SUF(int cell, int reset_after, int phase);    \
    FM_RNN_VARIANT_API void fm_rnn_act_vec_impl_##SUF(int kind, void *xv, ptrdiff_t n);   \
    FM_RNN_VARIANT_API void fm_rnn_tiles_impl_##SUF(const fm_rnn_args *a, ptrdiff_t s,    \
                                                    int phase, ptrdiff_t i_lo,            \
                                                    ptrdiff_t i_hi, ptrdiff_t g_lo,       \
                                                    ptrdiff_t g_hi);                      \
    FM_RNN_VARIANT_API void fm_rnn_xproj_impl_##SUF(const fm_rnn_args *a, ptrdiff_t g_lo,  \
                                                    ptrdiff_t g_hi);
/* Not exported from the extension module (it links the variants in). */
#if defined(__GNUC__) || defined(__clang__)
#define FM_RNN_VARIANT_API __attribute__((visibility("hidden")))
#else
#define FM_RNN_VARIANT_API
#endif
FMR_DECLARE_VARIANT(f32_generic)
FMR_DECLARE_VARIANT(f64_generic)
#if FM_X86
FMR_DECLARE_VARIANT(f32_avx2)
FMR_DECLARE_VARIANT(f64_avx2)
FMR_DECLARE_VARIANT(f32_avx512)
FMR_DECLARE_VARIANT(f64_avx512)
#endif

/* ---- Run-time dispatch ---- */
#if FM_X86
#define FM_RNN_ISA_MAX FM_ISA_AVX512
#else
#define FM_RNN_ISA_MAX FM_ISA_GENERIC
#endif

/* The variant (FM_ISA_*) to run: the library-wide choice (fm_isa.h), at most
 * the best compiled here. Read once per call by fastmask/kernels/_recurrent.pyx and
 * passed down (packed weights are laid out for one variant). */
static inline int fm_rnn_isa(void) { return fm_isa_clamp(FM_RNN_ISA_MAX); }

#if FM_X86
#define FMR_DISPATCH(isa, dbl, FN, ...)                                                 \
    do {                                                                                \
        if ((isa) == FM_ISA_AVX512) {                                                   \
            if (dbl) FN##_f64_avx512(__VA_ARGS__); else FN##_f32_avx512(__VA_ARGS__);   \
        } else if ((isa) == FM_ISA_AVX2) {                                              \
            if (dbl) FN##_f64_avx2(__VA_ARGS__); else FN##_f32_avx2(__VA_ARGS__);       \
        } else {                                                                        \
            if (dbl) FN##_f64_generic(__VA_ARGS__); else FN##_f32_generic(__VA_ARGS__); \
        }                                                                               \
    } while (0)
#define FMR_DISPATCH_RET(isa, dbl, FN, ...)                                             \
    ((isa) == FM_ISA_AVX512                                                             \
     ? ((dbl) ? FN##_f64_avx512(__VA_ARGS__) : FN##_f32_avx512(__VA_ARGS__))             \
     : (isa) == FM_ISA_AVX2 ? ((dbl) ? FN##_f64_avx2(__VA_ARGS__) : FN##_f32_avx2(__VA_ARGS__)) \
     : ((dbl) ? FN##_f64_generic(__VA_ARGS__) : FN##_f32_generic(__VA_ARGS__)))
#else
#define FMR_DISPATCH(isa, dbl, FN, ...)                                                 \
    do { if (dbl) FN##_f64_generic(__VA_ARGS__); else FN##_f32_generic(__VA_ARGS__); } while (0)
#define FMR_DISPATCH_RET(isa, dbl, FN, ...)                                             \
    ((dbl) ? FN##_f64_generic(__VA_ARGS__) : FN##_f32_generic(__VA_ARGS__))
#endif

/* Lanes (units per panel) of an ISA for float32 (dbl=0) or float64. */
static inline int fm_rnn_lanes(int isa, int dbl) {
    return FMR_DISPATCH_RET(isa, dbl, fm_rnn_lanes_impl);
}

/* Rows per register block for the phase of a cell. */
static inline int fm_rnn_mr(int isa, int dbl, int cell, int reset_after, int phase) {
    return FMR_DISPATCH_RET(isa, dbl, fm_rnn_mr_impl, cell, reset_after, phase);
}

/* Test hook: apply the activation `kind` with the vector code of `isa`. */
static inline void fm_rnn_act_vec(int isa, int dbl, int kind, void *x, ptrdiff_t n) {
    FMR_DISPATCH(isa, dbl, fm_rnn_act_vec_impl, kind, x, n);
}

/* Tiles of step s: active rows i_lo..i_hi-1 x unit groups g_lo..g_hi-1 of
 * phase 0 (the only phase except GRU reset_after=False, which has phase 1). */
static inline void fm_rnn_tiles(int isa, const fm_rnn_args *a, ptrdiff_t s, int phase,
                                ptrdiff_t i_lo, ptrdiff_t i_hi, ptrdiff_t g_lo,
                                ptrdiff_t g_hi) {
    FMR_DISPATCH(isa, a->dbl, fm_rnn_tiles_impl, a, s, phase, i_lo, i_hi, g_lo, g_hi);
}

/* a->xw's projections of unit groups g_lo..g_hi-1 for every (b, t) of x: the sums
 * over the F kernel rows of the panels, accumulated in the order a fused tile
 * accumulates them, so a hoisted recurrence's results are bit-identical to the
 * fused one's. */
static inline void fm_rnn_xproj(int isa, const fm_rnn_args *a, ptrdiff_t g_lo,
                                ptrdiff_t g_hi) {
    FMR_DISPATCH(isa, a->dbl, fm_rnn_xproj_impl, a, g_lo, g_hi);
}

FM_HOT_END

#endif /* FASTMASK_FM_RECURRENT_H */
