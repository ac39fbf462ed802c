"""Masked recurrent kernels: the nogil OpenMP time loop over csrc/fm_recurrent.h.

`forward` runs SimpleRNN / LSTM / GRU over (B, T, F) input with a (B, T) mask
exactly like Keras 3's generic loop (numpy backend): states freeze at masked
steps, whose outputs are the previous h (or 0 with `zero_output_for_mask`, or
the previous output with `unroll`), and outputs are stacked in processing
order. Work is done only for unmasked (b, t) pairs:

* The schedule lists, per processing step s, the rows active at s
  (`rows[off[s]:off[s+1]]`); masked pairs never enter it, so all-masked rows,
  pre/post padding and holes all cost what their unmasked steps cost.
* Each step gathers the active rows' [x_t | h] into A and runs the fused
  tile kernel (A @ [kernel; recurrent_kernel] + gates + state update) of
  fm_recurrent.h on them. The kernel/recurrent weights are packed once per
  call (or once per layer, see `pack`).
* Threads: one OpenMP team for the whole time loop. When a step has at least
  2 register blocks of rows per thread, the active rows are split between
  threads (each gathers and updates its own rows: one barrier per step);
  otherwise the unit groups are split (gather, barrier, tiles, barrier).
  No BLAS is called, so BLAS threads never multiply with OpenMP threads,
  and every output element is computed by the same instruction sequence
  whatever the split: results are bit-identical for any thread count.
* Masked outputs are filled afterwards (memcpy of the previous h row).
"""
import numpy as np

from cython.parallel cimport parallel, prange
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from fastmask._openmp_helpers cimport omp_get_num_threads, omp_get_thread_num
from fastmask._typedefs cimport float32_t, float64_t, intp_t

cdef extern from "fm_recurrent.h" nogil:
    enum:
        FM_CELL_SIMPLE
        FM_CELL_LSTM
        FM_CELL_GRU
        FM_ISA_GENERIC
        FM_ISA_AVX2
        FM_ISA_AVX512
        FM_ACT_LINEAR
        FM_ACT_TANH
        FM_ACT_SIGMOID
        FM_ACT_RELU
        FM_ACT_HARD_SIGMOID
    ctypedef struct fm_rnn_args:
        int cell, reset_after, act, ract, dbl, go_backwards
        ptrdiff_t B, T, F, U, Upad, lda
        const void *x
        const void *wp
        const void *bias
        void *h
        void *c
        void *out
        void *A
        void *z
        void *hx
        void *rh
        const ptrdiff_t *off
        const ptrdiff_t *rows
    int fm_rnn_isa_supported(int isa)
    int fm_rnn_isa_best()
    int fm_rnn_lanes(int isa, int dbl)
    int fm_rnn_mr(int isa, int dbl, int cell, int reset_after, int phase)
    int fm_rnn_gates(int cell)
    int fm_rnn_bias_rows(int cell, int reset_after)
    ptrdiff_t fm_rnn_groups(ptrdiff_t U, ptrdiff_t lanes)
    ptrdiff_t fm_rnn_unit_block(int cell, ptrdiff_t lanes)
    ptrdiff_t fm_rnn_packed_size(int cell, int reset_after, ptrdiff_t F, ptrdiff_t U,
                                 ptrdiff_t lanes)
    void fm_rnn_pack_f(int cell, int reset_after, ptrdiff_t F, ptrdiff_t U, ptrdiff_t lanes,
                       const float *kernel, const float *rec, float *wp)
    void fm_rnn_pack_d(int cell, int reset_after, ptrdiff_t F, ptrdiff_t U, ptrdiff_t lanes,
                       const double *kernel, const double *rec, double *wp)
    void fm_rnn_gather(const fm_rnn_args *a, ptrdiff_t s, ptrdiff_t i_lo, ptrdiff_t i_hi)
    void fm_rnn_tiles(int isa, const fm_rnn_args *a, ptrdiff_t s, int phase,
                      ptrdiff_t i_lo, ptrdiff_t i_hi, ptrdiff_t g_lo, ptrdiff_t g_hi)
    void fm_rnn_barrier()
    void fm_rnn_act_vec(int isa, int dbl, int kind, void *x, ptrdiff_t n)
    float fm_act_f(int kind, float x)
    double fm_act_d(int kind, double x)

ctypedef fused floating:
    float32_t
    float64_t

CELLS = {"simple_rnn": FM_CELL_SIMPLE, "lstm": FM_CELL_LSTM, "gru": FM_CELL_GRU}
ACTIVATIONS = {"linear": FM_ACT_LINEAR, "tanh": FM_ACT_TANH, "sigmoid": FM_ACT_SIGMOID,
               "relu": FM_ACT_RELU, "hard_sigmoid": FM_ACT_HARD_SIGMOID}
ISAS = {"generic": FM_ISA_GENERIC, "avx2": FM_ISA_AVX2, "avx512": FM_ISA_AVX512}

_isa_override = None

# A step is split between threads only when the average step is worth this
# many flops (~20 us): below it the per-step barriers cost more than they
# save (and on a loaded machine a barrier can cost a scheduler time slice).
MIN_STEP_FLOPS_PER_THREAD = 2e6

# How the last `forward` call ran (for tests and diagnostics).
last_plan = None


def isa_supported(name):
    """Whether this CPU can run the kernels compiled for ISA `name`."""
    return bool(fm_rnn_isa_supported(ISAS[name]))


def best_isa():
    """Name of the ISA the kernels use by default on this CPU."""
    return {v: k for k, v in ISAS.items()}[fm_rnn_isa_best()]


def set_isa(name=None):
    """Test hook: force the kernels' ISA ("generic", "avx2", "avx512"); None = best."""
    global _isa_override
    if name is not None and name not in ISAS:
        raise ValueError(f"Unknown ISA {name!r}: expected one of {tuple(ISAS)} or None.")
    if name is not None and not fm_rnn_isa_supported(ISAS[name]):
        raise ValueError(f"ISA {name!r} is not supported by this CPU.")
    _isa_override = None if name is None else ISAS[name]


cdef int _isa():
    return fm_rnn_isa_best() if _isa_override is None else _isa_override


def lanes(dtype):
    """Units per weight panel (vector lanes) of the current ISA for `dtype`."""
    return fm_rnn_lanes(_isa(), np.dtype(dtype) == np.float64)


def rows_per_block(str cell_name, bint reset_after, dtype):
    """Register-block rows (phase 0) of the current ISA: the batch split gives
    each thread at least 2 such blocks of rows."""
    return fm_rnn_mr(_isa(), np.dtype(dtype) == np.float64, CELLS[cell_name], reset_after, 0)


def activation_c(name, floating[::1] x):
    """Test hook: apply the C activation `name` to x in place (scalar C path)."""
    cdef int kind = ACTIVATIONS[name]
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            if floating is float32_t:
                x[i] = fm_act_f(kind, x[i])
            else:
                x[i] = fm_act_d(kind, x[i])


def activation_vec(name, floating[::1] x):
    """Test hook: apply the C activation `name` to x in place with the vector
    code of the current ISA (the code the fused kernels run)."""
    cdef int kind = ACTIVATIONS[name]
    cdef int isa = _isa()
    if x.shape[0] == 0:
        return
    with nogil:
        fm_rnn_act_vec(isa, floating is float64_t, kind, &x[0], x.shape[0])


class Packed:
    """Weights packed for one (cell, reset_after, dtype, ISA): reusable across calls.

    `lanes` is the unit block of the panels (fm_rnn_unit_block)."""
    __slots__ = ("wp", "cell", "reset_after", "F", "U", "dtype", "isa", "lanes")

    def matches(self, cell, reset_after, F, U, dtype, isa):
        return (self.cell == cell and self.reset_after == reset_after and self.F == F
                and self.U == U and self.dtype == dtype and self.isa == isa)


def pack(str cell_name, floating[:, ::1] kernel, floating[:, ::1] recurrent_kernel,
         bint reset_after=True):
    """Pack kernel (F, NG*U) and recurrent_kernel (U, NG*U) for `forward`."""
    cdef int cell = CELLS[cell_name]
    cdef int isa = _isa()
    cdef int dbl = floating is float64_t
    cdef Py_ssize_t F = kernel.shape[0]
    cdef Py_ssize_t U = recurrent_kernel.shape[0]
    cdef Py_ssize_t L = fm_rnn_unit_block(cell, fm_rnn_lanes(isa, dbl))
    dtype = np.float64 if dbl else np.float32
    wp_arr = np.empty(fm_rnn_packed_size(cell, reset_after, F, U, L), dtype=dtype)
    cdef floating[::1] wp = wp_arr
    with nogil:
        if floating is float32_t:
            fm_rnn_pack_f(cell, reset_after, F, U, L, &kernel[0, 0] if F > 0 else NULL,
                          &recurrent_kernel[0, 0], &wp[0])
        else:
            fm_rnn_pack_d(cell, reset_after, F, U, L, &kernel[0, 0] if F > 0 else NULL,
                          &recurrent_kernel[0, 0], &wp[0])
    p = Packed()
    p.wp, p.cell, p.reset_after, p.F, p.U = wp_arr, cell, bool(reset_after), F, U
    p.dtype, p.isa, p.lanes = np.dtype(dtype), isa, L
    return p


def schedule(const uint8_t[:, ::1] mask, Py_ssize_t B, Py_ssize_t T, bint go_backwards,
             row_subset=None):
    """(off (T+1,), rows) of the active rows per processing step, rows ascending.

    mask None = every step active. row_subset: ascending batch rows to schedule
    (default all B rows).
    """
    cdef Py_ssize_t s, t, i, b, n = 0
    cdef intp_t[::1] off = np.empty(T + 1, dtype=np.intp)
    cdef intp_t[::1] rows
    cdef const intp_t[::1] sub = (np.arange(B, dtype=np.intp) if row_subset is None
                                  else np.ascontiguousarray(row_subset, dtype=np.intp))
    cdef Py_ssize_t nsub = sub.shape[0]
    if mask is None:
        rows_arr = np.tile(np.asarray(sub), T)
        for s in range(T + 1):
            off[s] = s * nsub
        return np.asarray(off), rows_arr
    with nogil:
        for i in range(nsub):
            for t in range(T):
                n += mask[sub[i], t] != 0
    rows_arr = np.empty(n, dtype=np.intp)
    rows = rows_arr
    n = 0
    with nogil:
        for s in range(T):
            t = T - 1 - s if go_backwards else s
            off[s] = n
            for i in range(nsub):
                b = sub[i]
                if mask[b, t]:
                    rows[n] = b
                    n += 1
        off[T] = n
    return np.asarray(off), rows_arr


def partition_rows(lengths, int n_parts):
    """Split batch rows into n_parts ascending index arrays with balanced work.

    Rows sorted by decreasing active-step count are dealt in a zigzag, so the
    parts get about the same total and the same number of rows still active
    at each step (which keeps their register blocks full).
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    lane = np.arange(order.shape[0]) % (2 * n_parts)
    part = np.where(lane < n_parts, lane, 2 * n_parts - 1 - lane)
    return [np.sort(order[part == p]).astype(np.intp) for p in range(n_parts)]


cdef void _step(const fm_rnn_args *a, int isa, Py_ssize_t s, int tid, int nth, int mr,
                Py_ssize_t G, bint two_phase) noexcept nogil:
    """Thread `tid`'s share of step s; every thread of the team calls it."""
    cdef Py_ssize_t M = a.off[s + 1] - a.off[s]
    cdef Py_ssize_t nb, i_lo, i_hi, g_lo, g_hi
    if M == 0:
        return
    if nth == 1:
        fm_rnn_gather(a, s, 0, M)
        fm_rnn_tiles(isa, a, s, 0, 0, M, 0, G)
        if two_phase:
            fm_rnn_tiles(isa, a, s, 1, 0, M, 0, G)
        return
    nb = (M + mr - 1) // mr
    if nb >= 2 * nth:
        # Row split: each thread gathers and updates its own rows.
        i_lo = min((tid * nb // nth) * mr, M)
        i_hi = min(((tid + 1) * nb // nth) * mr, M)
        if i_hi > i_lo:
            fm_rnn_gather(a, s, i_lo, i_hi)
            fm_rnn_tiles(isa, a, s, 0, i_lo, i_hi, 0, G)
            if two_phase:
                fm_rnn_tiles(isa, a, s, 1, i_lo, i_hi, 0, G)
    else:
        # Unit-group split: all rows gathered first (they are read by all threads).
        fm_rnn_gather(a, s, tid * M // nth, (tid + 1) * M // nth)
        fm_rnn_barrier()
        g_lo = tid * G // nth
        g_hi = (tid + 1) * G // nth
        fm_rnn_tiles(isa, a, s, 0, 0, M, g_lo, g_hi)
        if two_phase:
            fm_rnn_barrier()
            fm_rnn_tiles(isa, a, s, 1, 0, M, g_lo, g_hi)
    fm_rnn_barrier()


cdef void _time_loop(const fm_rnn_args *a, int isa, int n_threads) noexcept nogil:
    cdef Py_ssize_t s
    cdef Py_ssize_t G = fm_rnn_groups(a.U, fm_rnn_unit_block(a.cell, fm_rnn_lanes(isa, a.dbl)))
    cdef bint two_phase = a.cell == FM_CELL_GRU and not a.reset_after
    cdef int mr = fm_rnn_mr(isa, a.dbl, a.cell, a.reset_after, 0)
    cdef int tid = 0, nth = 1
    s = 0
    if n_threads <= 1:
        for s in range(a.T):
            _step(a, isa, s, 0, 1, mr, G, two_phase)
        return
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        nth = omp_get_num_threads()
        for s in range(a.T):
            _step(a, isa, s, tid, nth, mr, G, two_phase)


cdef void _run_parts(fm_rnn_args *parts, int n_parts, int isa) noexcept nogil:
    """Batch split: each thread runs the whole time loop on its own rows (own
    schedule and scratch); rows are independent, so there is no barrier."""
    cdef int p
    for p in prange(n_parts, schedule='static', num_threads=n_parts):
        _time_loop(&parts[p], isa, 1)


cdef void _fill_masked_outputs(char *out, const char *h0, const uint8_t[:, ::1] mask,
                               Py_ssize_t B, Py_ssize_t T, Py_ssize_t row_bytes,
                               bint go_backwards, int mode, int n_threads) noexcept nogil:
    """out[b, s] at masked steps: mode 0 = previous h (h0 first), 1 = zeros,
    2 = previous output (zeros first), in processing order."""
    cdef Py_ssize_t b, s, t
    cdef const char *prev
    for b in prange(B, schedule='static', num_threads=n_threads):
        if mode != 0:
            prev = NULL
        else:
            prev = h0 + b * row_bytes
        for s in range(T):
            t = T - 1 - s if go_backwards else s
            if mask[b, t]:
                if mode != 1:
                    prev = out + (b * T + s) * row_bytes
            elif prev == NULL:
                memset(out + (b * T + s) * row_bytes, 0, row_bytes)
            else:
                memcpy(out + (b * T + s) * row_bytes, prev, row_bytes)


def forward(str cell_name, floating[:, :, ::1] x, packed, floating[:, ::1] bias_rows,
            floating[:, ::1] h0, floating[:, ::1] c0, const uint8_t[:, ::1] mask,
            bint go_backwards=False, bint return_sequences=False,
            bint zero_output_for_mask=False, bint unroll=False, str activation="tanh",
            str recurrent_activation="sigmoid", int n_threads=1):
    """Run the recurrence. Arguments are already validated by fastmask.kernels.recurrent:

    x (B, T, F); packed = pack(...) of the same dtype; bias_rows (fm_rnn_bias_rows, U);
    h0 (B, U); c0 (B, U) for LSTM (ignored otherwise); mask (B, T) uint8 or None.
    Returns (outputs (B, T, U) in processing order or None, h (B, U), c (B, U) or None).
    """
    cdef int cell = CELLS[cell_name]
    cdef int dbl = floating is float64_t
    cdef int isa = packed.isa
    cdef Py_ssize_t B = x.shape[0], T = x.shape[1], F = x.shape[2]
    cdef Py_ssize_t U = h0.shape[1]
    cdef Py_ssize_t L = packed.lanes
    cdef Py_ssize_t G = fm_rnn_groups(U, L)
    cdef Py_ssize_t Upad = G * L
    cdef bint reset_after = packed.reset_after
    cdef bint two_phase = cell == FM_CELL_GRU and not reset_after
    cdef fm_rnn_args a
    cdef Py_ssize_t Mmax
    dtype = np.float64 if dbl else np.float32
    if not packed.matches(cell, reset_after, F, U, np.dtype(dtype), isa):
        raise ValueError("packed weights do not match this call (cell, shapes, dtype or ISA).")
    if bias_rows.shape[0] != fm_rnn_bias_rows(cell, reset_after) or bias_rows.shape[1] != U:
        raise ValueError(f"bias_rows must have shape ({fm_rnn_bias_rows(cell, reset_after)}, {U}).")

    # ---- threads: batch split (no barrier) when each thread gets enough rows,
    # else per-step split (barriers) when steps are big enough, else 1 thread.
    lengths = (np.full(B, T, dtype=np.intp) if mask is None
               else np.count_nonzero(np.asarray(mask), axis=1))
    n_active = int(lengths.sum())
    cdef int mr = fm_rnn_mr(isa, dbl, cell, reset_after, 0)
    flops = 2.0 * n_active * (F + U) * fm_rnn_gates(cell) * U
    n_threads = max(1, min(n_threads, B))
    if n_threads > 1 and MIN_STEP_FLOPS_PER_THREAD > 0:
        n_threads = max(1, min(n_threads, int(flops / (10 * MIN_STEP_FLOPS_PER_THREAD))))
    batch_split = n_threads > 1 and B >= 2 * mr * n_threads
    if n_threads > 1 and not batch_split and MIN_STEP_FLOPS_PER_THREAD > 0:
        n_steps = T if mask is None else int(np.count_nonzero(np.asarray(mask).any(axis=0)))
        step_flops = flops / max(1, n_steps)
        n_threads = max(1, min(n_threads, int(step_flops / MIN_STEP_FLOPS_PER_THREAD)))
    n_parts = n_threads if batch_split else 1
    global last_plan
    last_plan = {"n_threads": n_threads, "batch_split": batch_split}
    subsets = partition_rows(lengths, n_parts) if batch_split else [None]
    scheds = [schedule(mask, B, T, go_backwards, sub) for sub in subsets]
    Mmax = max(1, max(int(np.diff(o).max()) if T > 0 else 0 for o, _ in scheds))

    hs_arr = np.zeros((B, Upad), dtype=dtype)
    hs_arr[:, :U] = h0
    cs_shape = (int(B), int(Upad)) if cell == FM_CELL_LSTM else (1, 1)
    cs_arr = np.zeros(cs_shape, dtype=dtype)
    if cell == FM_CELL_LSTM:
        cs_arr[:, :U] = c0
    bias_arr = np.zeros((bias_rows.shape[0], Upad), dtype=dtype)
    bias_arr[:, :U] = bias_rows
    A_arr = np.empty((n_parts, Mmax, F + Upad), dtype=dtype)
    scratch_shape = (3, n_parts, Mmax * Upad if two_phase else 1)
    scratch_arr = np.empty(scratch_shape, dtype=dtype)
    out_arr = np.empty((B, T, U), dtype=dtype) if return_sequences else None

    cdef floating[::1] wp = packed.wp
    cdef floating[:, ::1] hs = hs_arr, cs = cs_arr, bias = bias_arr
    cdef floating[:, :, ::1] A = A_arr, scratch = scratch_arr
    cdef floating[:, :, ::1] out
    cdef intp_t[::1] off, rows
    a.cell = cell
    a.reset_after = reset_after
    a.act = ACTIVATIONS[activation]
    a.ract = ACTIVATIONS[recurrent_activation]
    a.dbl = dbl
    a.go_backwards = go_backwards
    a.B, a.T, a.F, a.U, a.Upad, a.lda = B, T, F, U, Upad, F + Upad
    a.x = &x[0, 0, 0] if x.size > 0 else NULL
    a.wp = &wp[0]
    a.bias = &bias[0, 0]
    a.h = &hs[0, 0] if B > 0 else NULL
    a.c = &cs[0, 0] if cs_arr.size > 0 else NULL
    a.out = NULL
    if out_arr is not None and out_arr.size > 0:
        out = out_arr
        a.out = &out[0, 0, 0]
    cdef int c_parts = n_parts, c_threads = n_threads
    cdef fm_rnn_args *parts = <fm_rnn_args *>malloc(c_parts * sizeof(fm_rnn_args))
    if parts == NULL:
        raise MemoryError()
    cdef int p
    keep = []
    try:
        for p in range(n_parts):
            off_arr, rows_arr = scheds[p]
            if rows_arr.shape[0] == 0:
                rows_arr = np.zeros(1, np.intp)
            keep.append((off_arr, rows_arr))
            off, rows = off_arr, rows_arr
            parts[p] = a
            parts[p].off = <const ptrdiff_t *>&off[0]
            parts[p].rows = <const ptrdiff_t *>&rows[0]
            parts[p].A = &A[p, 0, 0]
            parts[p].z = &scratch[0, p, 0]
            parts[p].hx = &scratch[1, p, 0]
            parts[p].rh = &scratch[2, p, 0]
        with nogil:
            if c_parts > 1:
                _run_parts(parts, c_parts, isa)
            else:
                _time_loop(&parts[0], isa, c_threads)
    finally:
        free(parts)
    cdef int mode = 2 if unroll else (1 if zero_output_for_mask else 0)
    cdef Py_ssize_t row_bytes = U * (8 if dbl else 4)
    if mask is not None and out_arr is not None and out_arr.size > 0:
        h0_bytes = np.ascontiguousarray(h0).view(np.uint8).reshape(-1)
        _fill(out_arr, h0_bytes, mask, B, T, row_bytes, go_backwards, mode, n_threads)
    h_out = np.ascontiguousarray(hs_arr[:, :U])
    c_out = np.ascontiguousarray(cs_arr[:, :U]) if cell == FM_CELL_LSTM else None
    return out_arr, h_out, c_out


def _fill(out_arr, h0_bytes, const uint8_t[:, ::1] mask, Py_ssize_t B, Py_ssize_t T,
          Py_ssize_t row_bytes, bint go_backwards, int mode, int n_threads):
    cdef uint8_t[::1] ob = out_arr.view(np.uint8).reshape(-1)
    cdef const uint8_t[::1] hb = h0_bytes
    with nogil:
        _fill_masked_outputs(<char *>&ob[0], <const char *>&hb[0] if hb.shape[0] > 0 else NULL,
                             mask, B, T, row_bytes, go_backwards, mode, n_threads)
