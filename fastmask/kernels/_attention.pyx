"""Fused masked scaled dot-product attention (kernel; checks in kernels/attention.py).

For every (batch b, head h), in chunks of query rows:
    scores = scale * Q[b, :, h] @ K[b, :, h].T      (gemm into per-thread scratch,
                                                     or into the weights output)
    weights = masked softmax of each scores row    (fm_softmax_row, in place)
    out[b, :, h] = weights @ V[b, :, h]            (gemm)
so the only (Tq, S) temporary is one chunk per thread. The two GEMMs are BLAS's,
or (panel > 0: up to SMALL_MAX_KEYS keys whose panels fit in L1, kernels/attention.py
chooses) _dense's small-GEMM micro-kernel on K^T and V packed once per (b, h)
in per-thread scratch. (b, h) pairs are split among OpenMP threads; the caller
limits BLAS to one thread (OpenMP and BLAS threads must not multiply). Each (b, h) is computed by one thread in a fixed
order, so results do not depend on the thread count.

Arrays are flat with element strides: q[b * q_bs + h * q_hs + i * q_rs + d],
likewise k, v, out; weights (if given) is (B, H, Tq, S) C-contiguous.
Row masks: key mask km[b * km_bs + j]; query mask qm[b * qm_bs + i]; general
mask am[b * am_bs + h * am_hs + i * am_is + j * am_js]; causal keeps j <= i.
With zero_qrows the query mask only zeroes output rows (keras.layers.Attention);
otherwise a masked query masks its whole row (MultiHeadAttention).
"""
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from fastmask.kernels._typedefs cimport float32_t, float64_t, int64_t, uint8_t
from libc.math cimport INFINITY
from fastmask.kernels._cython_blas cimport gemm, floating
from fastmask.kernels._dense cimport small_gemm_f32, small_gemm_f64
from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._softmax cimport (
    FM_SOFTMAX_ISA_MAX, fm_softmax_isa, fm_softmax_row_f32, fm_softmax_row_f64,
    fm_softmax_rows_f32, fm_softmax_rows_f64)
from fastmask.kernels._openmp_helpers cimport omp_get_thread_num, threads_for_work

cdef uint8_t _ZERO = 0

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into the attention softmax, lowest first."""
    return ISA_NAMES[:FM_SOFTMAX_ISA_MAX + 1]


def isa_in_use():
    """The variant the attention softmax runs (the GEMMs are BLAS's or _dense's small-GEMM
    kernel, in its own variant): fastmask.kernels._isa's choice, at most the best compiled."""
    return ISA_NAMES[fm_softmax_isa()]

# Work per thread below which no further thread is started, so small inputs
# run on one thread: 1e6 float32 flops are ~30 us on one thread at the ~33
# GFLOP/s the small GEMMs here reach (measured, softmax included). An attention
# score also counts SOFTMAX_FLOPS for its softmax (~0.4 ns measured), and float64
# work counts 2x (1.7x the time per flop measured). Tests lower it to run the
# threaded paths on small inputs.
MIN_FLOPS_PER_THREAD = 1e6
cdef double SOFTMAX_FLOPS = 16


cpdef int sdpa_threads(double n_scores, Py_ssize_t D, Py_ssize_t Dv, bint float64,
                       Py_ssize_t n_items, int n_threads):
    """The OpenMP threads sdpa_flat / sdpa_compact_flat run for n_scores attention
    scores (head sizes D, Dv; Dv 0 without output) over n_items (batch, head) pairs
    when asked for n_threads."""
    cdef double flops = n_scores * (2 * (D + Dv) + SOFTMAX_FLOPS) * (2 if float64 else 1)
    return threads_for_work(n_threads, flops, MIN_FLOPS_PER_THREAD, n_items)


cdef inline void _softmax_inplace(floating *row, const uint8_t *m, int m_stride, Py_ssize_t n,
                                  int mode, floating fill, int zero_masked,
                                  floating *row_max) noexcept nogil:
    if floating is float32_t:
        fm_softmax_row_f32(row, m, m_stride, row, n, mode, fill, zero_masked, row_max)
    else:
        fm_softmax_row_f64(row, m, m_stride, row, n, mode, fill, zero_masked, row_max)


cdef inline void _softmax_rows_inplace(floating *rows, Py_ssize_t nr, Py_ssize_t n,
                                       const uint8_t *m, int mode, floating fill,
                                       int zero_masked) noexcept nogil:
    """_softmax_inplace of nr contiguous rows of n scores sharing the mask m (stride 1)
    or none, in groups whose passes overlap (the same bits, see fm_softmax_rows)."""
    if floating is float32_t:
        fm_softmax_rows_f32(rows, n, rows, n, nr, m, 0, 1, n, mode, fill, zero_masked)
    else:
        fm_softmax_rows_f64(rows, n, rows, n, nr, m, 0, 1, n, mode, fill, zero_masked)


cdef extern from "fm_pack.h" nogil:
    void fm_pack_panels_f32(const float *w, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t K,
                            Py_ssize_t N, Py_ssize_t nr, float *wp)
    void fm_pack_panels_f64(const double *w, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t K,
                            Py_ssize_t N, Py_ssize_t nr, double *wp)
    void fm_scaled_rows_f32(const float *src, Py_ssize_t src_rs, Py_ssize_t n, Py_ssize_t d,
                            float alpha, float *dst)
    void fm_scaled_rows_f64(const double *src, Py_ssize_t src_rs, Py_ssize_t n, Py_ssize_t d,
                            double alpha, double *dst)


cdef inline void _pack_panels(const floating *w, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t K,
                              Py_ssize_t N, Py_ssize_t nr, floating *wp) noexcept nogil:
    """W (K, N), element (k, c) at w[k * rs + c * cs], into panels of nr columns
    (csrc/fm_pack.h). V (S, Dv) rows v_rs apart: rs = v_rs, cs = 1; K^T (D, S) of
    K (S, D) rows k_rs apart: rs = 1, cs = k_rs."""
    if floating is float32_t:
        fm_pack_panels_f32(w, rs, cs, K, N, nr, wp)
    else:
        fm_pack_panels_f64(w, rs, cs, K, N, nr, wp)


cdef inline void _scaled_rows(const floating *src, Py_ssize_t src_rs, Py_ssize_t n,
                              Py_ssize_t d, floating alpha, floating *dst) noexcept nogil:
    """dst (n, d) C-contiguous = alpha * src (n rows of d values, src_rs apart)."""
    if floating is float32_t:
        fm_scaled_rows_f32(src, src_rs, n, d, alpha, dst)
    else:
        fm_scaled_rows_f64(src, src_rs, n, d, alpha, dst)


cdef inline void _small_gemm(const floating *x, Py_ssize_t K, const floating *wp,
                             floating *out, Py_ssize_t N, Py_ssize_t nr) noexcept nogil:
    if floating is float32_t:
        small_gemm_f32(x, K, wp, out, N, nr)
    else:
        small_gemm_f64(x, K, wp, out, N, nr)


cdef inline const uint8_t *_row_mask(
        Py_ssize_t b, Py_ssize_t h, Py_ssize_t i, Py_ssize_t S,
        const uint8_t *km, Py_ssize_t km_bs, const uint8_t *qm, Py_ssize_t qm_bs,
        const uint8_t *am, Py_ssize_t am_bs, Py_ssize_t am_hs, Py_ssize_t am_is,
        Py_ssize_t am_js, bint causal, bint zero_qrows, uint8_t *mrow,
        int *m_stride) noexcept nogil:
    """The mask row for query i (NULL: keep all); sets *m_stride (0: m[0] for all)."""
    cdef Py_ssize_t j
    cdef const uint8_t *kr
    cdef const uint8_t *ar
    m_stride[0] = 1
    if qm != NULL and not zero_qrows and not qm[b * qm_bs + i]:
        m_stride[0] = 0
        return &_ZERO
    if am == NULL and not causal:
        return (km + b * km_bs) if km != NULL else NULL
    if km == NULL and not causal and am_js == 1:
        return am + b * am_bs + h * am_hs + i * am_is
    kr = (km + b * km_bs) if km != NULL else NULL
    ar = (am + b * am_bs + h * am_hs + i * am_is) if am != NULL else NULL
    for j in range(S):
        mrow[j] = ((kr[j] if kr != NULL else 1) & (ar[j * am_js] if ar != NULL else 1)
                   & (1 if (not causal or j <= i) else 0))
    return mrow


def sdpa_flat(
        const floating[::1] q, Py_ssize_t q_bs, Py_ssize_t q_hs, Py_ssize_t q_rs,
        const floating[::1] k, Py_ssize_t k_bs, Py_ssize_t k_hs, Py_ssize_t k_rs,
        const floating[::1] v, Py_ssize_t v_bs, Py_ssize_t v_hs, Py_ssize_t v_rs,
        floating[::1] out, Py_ssize_t o_bs, Py_ssize_t o_hs, Py_ssize_t o_rs,
        floating[::1] weights, bint has_weights, bint compute_output,
        Py_ssize_t B, Py_ssize_t H, Py_ssize_t Tq, Py_ssize_t S, Py_ssize_t D, Py_ssize_t Dv,
        const uint8_t[::1] km, bint has_km, Py_ssize_t km_bs,
        const uint8_t[::1] qm, bint has_qm, Py_ssize_t qm_bs,
        const uint8_t[::1] am, bint has_am, Py_ssize_t am_bs, Py_ssize_t am_hs,
        Py_ssize_t am_is, Py_ssize_t am_js,
        bint causal, bint zero_qrows, int mode, double fill, bint zero_masked,
        double scale, Py_ssize_t chunk_rows,
        floating[::1] scratch,        # (n_threads * chunk_rows * S,) unless has_weights
        uint8_t[::1] mask_rows,       # (n_threads * S,)
        int n_threads,
        Py_ssize_t panel=0,           # > 0: the GEMMs on the small-GEMM micro-kernel
        floating[::1] gemm_scratch=None):  # its per-thread buffers (small_gemm_scratch)
    """Fill out (and weights) with masked attention; see the module docstring.
    panel > 0: both GEMMs run on the small-GEMM micro-kernel of _dense (panel =
    its panel width) instead of BLAS, K^T and V packed once per (batch, head),
    the query rows copied (times scale) and the output rows staged in
    `gemm_scratch` (n_threads * small_gemm_scratch(...) values)."""
    cdef const floating *qp = &q[0]
    cdef const floating *kp = &k[0]
    cdef const floating *vp = &v[0]
    cdef floating *op = &out[0] if compute_output else NULL
    cdef floating *wp = &weights[0] if has_weights else NULL
    cdef const uint8_t *kmp = &km[0] if has_km else NULL
    cdef const uint8_t *qmp = &qm[0] if has_qm else NULL
    cdef const uint8_t *amp = &am[0] if has_am else NULL
    cdef floating f = <floating>fill
    cdef floating alpha = <floating>scale
    cdef Py_ssize_t R = chunk_rows if chunk_rows > 0 else Tq
    cdef Py_ssize_t n_items = B * H
    cdef Py_ssize_t it, b, h, r0, nr, ii, i
    cdef floating *scr = &scratch[0] if not has_weights else NULL
    cdef uint8_t *mrows = &mask_rows[0]
    cdef floating *blk
    cdef uint8_t *mrow
    cdef const uint8_t *mr
    cdef int ms, tid
    cdef floating *gs
    cdef floating *kpk
    cdef floating *vpk
    cdef floating *qb
    cdef floating *ob
    cdef Py_ssize_t per_thread = 0
    if n_items <= 0 or Tq <= 0:
        return
    if R > Tq:
        R = Tq
    if panel > 0:
        if S <= 0 or D <= 0:
            panel = 0
        else:
            per_thread = small_gemm_scratch(S, D, Dv, R, panel)
            if gemm_scratch is None or gemm_scratch.shape[0] < per_thread * n_threads:
                raise ValueError("`gemm_scratch` must hold n_threads * small_gemm_scratch() "
                                 "values.")
    n_threads = sdpa_threads(<double>n_items * Tq * S, D, Dv if op != NULL else 0,
                             floating is float64_t, n_items, n_threads)
    for it in prange(n_items, nogil=True, schedule='static', num_threads=n_threads):
        tid = omp_get_thread_num()
        mrow = mrows + tid * S
        b = it // H
        h = it - b * H
        if panel > 0:
            gs = &gemm_scratch[0] + tid * per_thread
            kpk = gs
            vpk = kpk + ((S + panel - 1) // panel) * D * panel
            qb = vpk + ((Dv + panel - 1) // panel) * S * panel
            ob = qb + R * D
            _pack_panels(kp + b * k_bs + h * k_hs, 1, k_rs, D, S, panel, kpk)
            if op != NULL and Dv > 0:
                _pack_panels(vp + b * v_bs + h * v_hs, v_rs, 1, S, Dv, panel, vpk)
        r0 = 0
        while r0 < Tq:
            nr = Tq - r0
            if nr > R:
                nr = R
            blk = (wp + (it * Tq + r0) * S) if wp != NULL else (scr + tid * R * S)
            if panel > 0:
                # the query rows, times scale (as Keras scales q)
                _scaled_rows(qp + b * q_bs + h * q_hs + r0 * q_rs, q_rs, nr, D, alpha, qb)
                _small_gemm(qb, D, kpk, blk, S, nr)
            elif S > 0 and D > 0:
                gemm(False, True, <int>nr, <int>S, <int>D, alpha,
                     qp + b * q_bs + h * q_hs + r0 * q_rs, <int>q_rs,
                     kp + b * k_bs + h * k_hs, <int>k_rs,
                     <floating>0, blk, <int>S)
            elif S > 0:
                memset(blk, 0, nr * S * sizeof(floating))
            if amp == NULL and not causal and (qmp == NULL or zero_qrows):
                # every row's mask is the key mask (or none; _row_mask's first cases)
                _softmax_rows_inplace(blk, nr, S, (kmp + b * km_bs) if kmp != NULL
                                      else NULL, mode, f, zero_masked)
            else:
                for ii in range(nr):
                    i = r0 + ii
                    ms = 1
                    mr = _row_mask(b, h, i, S, kmp, km_bs, qmp, qm_bs, amp, am_bs, am_hs,
                                   am_is, am_js, causal, zero_qrows, mrow, &ms)
                    _softmax_inplace(blk + ii * S, mr, ms, S, mode, f, zero_masked, NULL)
            if op != NULL and Dv > 0:
                if panel > 0:
                    _small_gemm(blk, S, vpk, ob, Dv, nr)
                    for ii in range(nr):
                        memcpy(op + b * o_bs + h * o_hs + (r0 + ii) * o_rs, ob + ii * Dv,
                               Dv * sizeof(floating))
                elif S > 0:
                    gemm(False, False, <int>nr, <int>Dv, <int>S, <floating>1,
                         blk, <int>S, vp + b * v_bs + h * v_hs, <int>v_rs,
                         <floating>0, op + b * o_bs + h * o_hs + r0 * o_rs, <int>o_rs)
                else:
                    for ii in range(nr):
                        memset(op + b * o_bs + h * o_hs + (r0 + ii) * o_rs, 0,
                               Dv * sizeof(floating))
                if zero_qrows and qmp != NULL:
                    for ii in range(nr):
                        if not qmp[b * qm_bs + r0 + ii]:
                            memset(op + b * o_bs + h * o_hs + (r0 + ii) * o_rs, 0,
                                   Dv * sizeof(floating))
            r0 = r0 + nr


cpdef Py_ssize_t small_gemm_scratch(Py_ssize_t S, Py_ssize_t D, Py_ssize_t Dv,
                                    Py_ssize_t chunk_rows, Py_ssize_t panel) noexcept nogil:
    """Values of sdpa_flat's gemm_scratch per thread for the small-GEMM path: K^T and V
    packed in panels of `panel` columns, chunk_rows query rows and output rows."""
    return (((S + panel - 1) // panel) * D * panel + ((Dv + panel - 1) // panel) * S * panel
            + chunk_rows * (D + Dv))


def sdpa_compact_flat(
        const floating[::1] q,        # IN  kept query rows, batch by batch: row r, head h
                                      #     at q[r * q_rs + h * D] (D values)
        const floating[::1] k,        # IN  kept key rows: k[r * k_rs + h * D]
        const floating[::1] v,        # IN  v[r * v_rs + h * Dv]
        Py_ssize_t q_rs, Py_ssize_t k_rs, Py_ssize_t v_rs,
        floating[::1] out,            # OUT (Nq, H, Dv)
        const int64_t[::1] qoff,      # IN  (B + 1,): batch b's rows are qoff[b]:qoff[b+1]
        const int64_t[::1] koff,      # IN  (B + 1,)
        const int64_t[::1] qpos,      # IN  (Nq,): original query position of each row
        const int64_t[::1] kpos,      # IN  (Nk,): original key position of each row
        Py_ssize_t B, Py_ssize_t H, Py_ssize_t D, Py_ssize_t Dv, Py_ssize_t S,
        const uint8_t[::1] am, bint has_am, Py_ssize_t am_bs, Py_ssize_t am_hs,
        Py_ssize_t am_is, Py_ssize_t am_js, bint causal,
        const floating[::1] empty_row,  # IN  (B, H, Dv): output of a query that sees no key
        double fill, bint zero_masked, double scale, double margin,
        Py_ssize_t chunk_rows,
        floating[::1] scratch,        # (n_threads * chunk_rows * max_nk,)
        uint8_t[::1] mask_rows,       # (n_threads * (max_nk + chunk_rows),)
        uint8_t[::1] fallback,        # OUT (B,): 1 where the compact result may differ
        int n_threads):
    """Masked attention over the kept queries and keys only (key/query padding
    removed before the GEMMs). A row whose full-length softmax would have had
    masked logits within `margin` of its max (logits near the fill value, or
    all -inf) is not exact here: its batch is flagged in `fallback`."""
    cdef const floating *qp = &q[0]
    cdef const floating *kp = &k[0]
    cdef const floating *vp = &v[0]
    cdef floating *op = &out[0]
    cdef const floating *ep = &empty_row[0]
    cdef const uint8_t *amp = &am[0] if has_am else NULL
    cdef floating *scr = &scratch[0]
    cdef uint8_t *mrows = &mask_rows[0]
    cdef uint8_t *fb = &fallback[0]
    cdef floating f = <floating>fill
    cdef floating alpha = <floating>scale
    cdef floating mg = <floating>margin
    cdef Py_ssize_t max_nk = 0, n_items = B * H
    cdef Py_ssize_t it, b, h, nq, nk, q0, k0, r0, nr, ii, i, j, c, R
    cdef Py_ssize_t ld_v = H * Dv
    cdef floating *blk
    cdef floating *row
    cdef floating mx
    cdef uint8_t *mrow
    cdef uint8_t *rowok
    cdef const uint8_t *ar
    cdef int tid, ms, kept
    cdef double n_scores = 0
    for b in range(B):
        if koff[b + 1] - koff[b] > max_nk:
            max_nk = koff[b + 1] - koff[b]
        n_scores += <double>(qoff[b + 1] - qoff[b]) * (koff[b + 1] - koff[b]) * H
    R = chunk_rows if chunk_rows > 0 else 1
    if n_items <= 0:
        return
    n_threads = sdpa_threads(n_scores, D, Dv, floating is float64_t, n_items, n_threads)
    for it in prange(n_items, nogil=True, schedule='static', num_threads=n_threads):
        tid = omp_get_thread_num()
        b = it // H
        h = it - b * H
        q0 = qoff[b]
        nq = qoff[b + 1] - q0
        k0 = koff[b]
        nk = koff[b + 1] - k0
        mrow = mrows + tid * (max_nk + R)
        rowok = mrow + max_nk
        r0 = 0
        while r0 < nq:
            nr = nq - r0
            if nr > R:
                nr = R
            blk = scr + tid * R * max_nk
            if nk > 0:
                if D > 0:
                    gemm(False, True, <int>nr, <int>nk, <int>D, alpha,
                         qp + (q0 + r0) * q_rs + h * D, <int>q_rs,
                         kp + k0 * k_rs + h * D, <int>k_rs, <floating>0, blk, <int>nk)
                else:
                    memset(blk, 0, nr * nk * sizeof(floating))
            for ii in range(nr):
                i = qpos[q0 + r0 + ii]
                row = blk + ii * nk
                ms = 0              # 0: no mask row; 1: mrow
                kept = nk
                if amp != NULL or causal:
                    ms = 1
                    kept = 0
                    ar = (amp + b * am_bs + h * am_hs + i * am_is) if amp != NULL else NULL
                    for j in range(nk):
                        c = kpos[k0 + j]
                        mrow[j] = ((ar[c * am_js] if ar != NULL else 1)
                                   & (1 if (not causal or c <= i) else 0))
                        kept = kept + mrow[j]
                rowok[ii] = kept > 0
                if kept == 0:
                    for j in range(nk):
                        row[j] = 0
                    continue
                _softmax_inplace(row, mrow if ms else NULL, 1, nk, 0, f, zero_masked, &mx)
                # The full row also had S - kept logits at `fill`; they add exact
                # zeros only if the max is above fill + margin (NaN: NaN anyway).
                if kept < S and mx == mx and not (mx - f >= mg):
                    fb[b] = 1
            if Dv > 0:
                if nk > 0:
                    gemm(False, False, <int>nr, <int>Dv, <int>nk, <floating>1, blk, <int>nk,
                         vp + k0 * v_rs + h * Dv, <int>v_rs, <floating>0,
                         op + (q0 + r0) * ld_v + h * Dv, <int>ld_v)
                for ii in range(nr):
                    if not rowok[ii]:
                        for c in range(Dv):
                            op[(q0 + r0 + ii) * ld_v + h * Dv + c] = \
                                0 if zero_masked else ep[(b * H + h) * Dv + c]
            r0 = r0 + nr
