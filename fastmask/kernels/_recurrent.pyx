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
  call (`pack`; a `Packed` can be reused by the caller).
* Threads (`_plan`): rows are independent through the whole recurrence, so
  the batch is dealt (by decreasing length, zigzag) into PARTS_PER_THREAD
  parts per thread, each keeping >= 1 register block of rows, when the
  recurrence has MIN_PART_FLOPS of work per thread; every part
  runs the entire time loop on one thread with its own schedule and scratch
  (dynamic schedule, no barrier at all: a thread slowed by another process
  costs at most its own share).
  Several recurrences (both halves of a Bidirectional) share one team the
  same way. A single problem with too few rows for that is split per step
  instead (rows, or unit groups when rows are few: gather, barrier, tiles,
  barrier);
  tiny problems run on one thread. No BLAS is called, so BLAS threads never
  multiply with OpenMP threads, and every output element is computed by the
  same instruction sequence whatever the split: results are bit-identical
  for any thread count.
* Masked outputs are filled afterwards (memcpy of the previous h row).
"""
import numpy as np

from cython.parallel cimport parallel, prange
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cimport numpy as cnp
from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._openmp_helpers cimport omp_get_num_threads, omp_get_thread_num
from fastmask.kernels._typedefs cimport float32_t, float64_t, intp_t

cdef extern from "fm_recurrent.h" nogil:
    enum:
        FM_CELL_SIMPLE
        FM_CELL_LSTM
        FM_CELL_GRU
        FM_RNN_ISA_MAX
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
        ptrdiff_t ldo
        int out_time
        void *A
        void *xw
        ptrdiff_t xw_T
        void *z
        void *hx
        void *rh
        const ptrdiff_t *off
        const ptrdiff_t *rows
    int fm_rnn_isa()
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
    void fm_rnn_xproj(int isa, const fm_rnn_args *a, ptrdiff_t g_lo, ptrdiff_t g_hi)
    void fm_rnn_act_vec(int isa, int dbl, int kind, void *x, ptrdiff_t n)
    float fm_act_f(int kind, float x)
    double fm_act_d(int kind, double x)

cnp.import_array()

ctypedef fused floating:
    float32_t
    float64_t

CELLS = {"simple_rnn": FM_CELL_SIMPLE, "lstm": FM_CELL_LSTM, "gru": FM_CELL_GRU}
ACTIVATIONS = {"linear": FM_ACT_LINEAR, "tanh": FM_ACT_TANH, "sigmoid": FM_ACT_SIGMOID,
               "relu": FM_ACT_RELU, "hard_sigmoid": FM_ACT_HARD_SIGMOID}
from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)

# A step is split between threads only when the average step is worth this
# many flops (~20 us): below it the per-step barriers cost more than they
# save (and on a loaded machine a barrier can cost a scheduler time slice).
MIN_STEP_FLOPS_PER_THREAD = 2e6

# A batch split (no barrier: each part runs its whole time loop alone) is used
# only when the whole recurrence is worth this many flops per thread (~200 us
# at one thread). Measured at 2 threads, LSTM(64), T=20, F=32, random lengths:
# B=16 1.16-1.21x faster split than whole, B=24 1.34-1.41x; B=12 masked 1.0x
# (6.2 Mflop: left whole by this threshold).
MIN_PART_FLOPS = 4e6

# Masked outputs are filled by several threads only from this many bytes.
MIN_FILL_BYTES = 1 << 20

# A recurrence of at most HOIST_MAX_ROWS batch rows (and not split into batch
# parts) with F >= U / 4 features computes the input projections x[b, t] @ kernel of
# every step before its time loop ("hoisted", fm_rnn_xproj: the same sums in the same
# order as the fused step, so the results are bit-identical), when they take at most
# HOIST_MAX_BYTES. A step then streams the U recurrent rows of the weights instead of
# F + U: with 1-2 rows a step is bound by streaming its weights from L2 or L3, and
# the kernel rows were read once per step for one or two rows' sums. Measured on the
# 2-core AVX2 machine (2026-12-07, same process, alternating), fused / hoisted time
# at batch 1, LSTM: (T, F, U) (200, 128, 64) 1.33x, (4, 128, 128) 1.19x, (59, 93, 256)
# 1.12x, (16, 71, 256) 1.11x, but (7, 12, 128) 0.95x (hence F >= U / 4); at batch 2
# 1.0-1.29x, at batch 4 0.99-1.08x. GRU 1.08-1.47x, SimpleRNN 1.19-1.63x at batch 1
# on (59, 93, 256), (200, 128, 64) and (50, 64, 128).
HOIST_MAX_ROWS = 2
HOIST_MAX_BYTES = 16 << 20


# A recurrence of at most STREAM_MAX_ROWS rows whose weights streamed per step take at
# least MIN_STEP_WEIGHT_BYTES (more than this machine's L2) splits each step's unit
# groups between the threads even below MIN_STEP_FLOPS_PER_THREAD: such a step is
# bound by streaming its weights from L3, not by its flops, and each thread streams
# its own groups' panels. Measured on the 2-core AVX2 machine (2026-12-07, same
# process, alternating): the keras-io seq2seq model's batch-1 predict (LSTM(256), 1.0
# and 1.4 MB of weights per step) 1.5x faster at 2 threads.
MIN_STEP_WEIGHT_BYTES = 512 * 1024
STREAM_MAX_ROWS = 2


def _hoists(p, Py_ssize_t B):
    """Whether problem p (a `Problem` or `Recurrence`) run whole on B rows hoists its
    input projections (see HOIST_MAX_ROWS)."""
    return (p.F > 0 and 4 * p.F >= p.U and p.T > 1 and 0 < B <= HOIST_MAX_ROWS
            and B * p.T * fm_rnn_gates(p.cell) * p.U * p.dtype.itemsize <= HOIST_MAX_BYTES)


def _hoisted_xw(p, Py_ssize_t B, Py_ssize_t Upad):
    """The input-projection buffer (B*T*gates*Upad values) of problem p run whole on
    B rows when it is hoisted, else None."""
    if not _hoists(p, B):
        return None
    return np.empty(B * p.T * fm_rnn_gates(p.cell) * Upad, dtype=p.dtype)


def _step_weight_bytes(p):
    """Bytes of packed weights a step of problem p streams (the recurrent rows only
    when its input projections are hoisted)."""
    rows = p.U if _hoists(p, p.B) else p.F + p.U
    return rows * fm_rnn_gates(p.cell) * p.U * p.dtype.itemsize


# Batch parts per thread in the batch split (dynamic schedule). More parts
# balance better when another process takes a core, but each part has its own
# tail of nearly empty steps: measured on B=64 LSTM/GRU at 2 threads, 2 parts
# per thread cost 4-12% more than 1 on an idle machine.
PARTS_PER_THREAD = 1

# How the last `forward` call ran (for tests and diagnostics).
last_plan = None


class _Plan(dict):
    """`last_plan`: the thread plan of the last forward_many call (n_threads,
    batch_split, parts, problems, hoisted: the problems whose input projections were
    hoisted out of the time loop); "row_steps", the (row, step) pairs each problem
    computed (its parts' tiles over its unit groups), is counted when first read
    (a few microseconds a call that only tests and diagnostics need)."""

    def __init__(self, work, part_problem, part_groups, n_problems, **plan):
        super().__init__(**plan)
        self._counts = (work, part_problem, part_groups, n_problems)

    def __missing__(self, key):
        if key != "row_steps":
            raise KeyError(key)
        work, part_problem, part_groups, n_problems = self._counts
        row_steps = [0] * n_problems
        tiles = work.sum(axis=1).tolist()
        for j, (k_prob, groups) in enumerate(zip(part_problem, part_groups)):
            row_steps[k_prob] += tiles[j] // groups
        self["row_steps"] = row_steps
        return row_steps


def compiled_isas():
    """The ISA variants compiled into these kernels, lowest first."""
    return ISA_NAMES[:FM_RNN_ISA_MAX + 1]


def isa_in_use():
    """The variant the next call runs: fastmask.kernels._isa's choice, at most the best compiled."""
    return ISA_NAMES[fm_rnn_isa()]


cdef int _isa():
    return fm_rnn_isa()


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

    def matches(self, cell, reset_after, F, U, dtype, isa=None):
        """Whether these weights serve a call; isa None: the variant selected now."""
        if isa is None:
            isa = _isa()
        return (self.cell == cell and self.reset_after == reset_after and self.F == F
                and self.U == U and self.dtype == dtype and self.isa == isa)


def pack(str cell_name, const floating[:, ::1] kernel, const floating[:, ::1] recurrent_kernel,
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


# Schedules of unmasked problems depend only on (B, T): kept, read-only, for
# the small ones (a batch-1 call spent a fifth of its fixed cost building one).
_FULL_SCHEDULES = {}
_FULL_SCHEDULE_MAX_ROWS = 1 << 16     # B * T per kept schedule (512 KiB of row indices)
_FULL_SCHEDULE_MAX_KEPT = 64


def _full_schedule(Py_ssize_t B, Py_ssize_t T):
    """schedule(None, B, T, ...) for every row: (off, rows), read-only, shared."""
    key = (B, T)
    kept = _FULL_SCHEDULES.get(key)
    if kept is not None:
        return kept
    off = np.arange(T + 1, dtype=np.intp) * B
    rows = np.tile(np.arange(B, dtype=np.intp), T)
    if B * T <= _FULL_SCHEDULE_MAX_ROWS:
        off.flags.writeable = False
        rows.flags.writeable = False
        if len(_FULL_SCHEDULES) >= _FULL_SCHEDULE_MAX_KEPT:
            _FULL_SCHEDULES.clear()
        _FULL_SCHEDULES[key] = (off, rows)
    return off, rows


def schedule(const uint8_t[:, ::1] mask, Py_ssize_t B, Py_ssize_t T, bint go_backwards,
             row_subset=None):
    """(off (T+1,), rows) of the active rows per processing step, rows ascending.

    mask None = every step active. row_subset: ascending batch rows to schedule
    (default all B rows).
    """
    cdef Py_ssize_t s, t, i, b, n = 0
    if mask is None and row_subset is None:
        return _full_schedule(B, T)
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


cdef Py_ssize_t _step(const fm_rnn_args *a, int isa, Py_ssize_t s, int tid, int nth, int mr,
                      Py_ssize_t G, bint two_phase) noexcept nogil:
    """Thread `tid`'s share of step s; every thread of the team calls it.
    Returns the (row, unit group) tiles of phase 0 it computed (the work count)."""
    cdef Py_ssize_t M = a.off[s + 1] - a.off[s]
    cdef Py_ssize_t nb, i_lo, i_hi, g_lo, g_hi
    if M == 0:
        return 0
    if nth == 1:
        fm_rnn_gather(a, s, 0, M)
        fm_rnn_tiles(isa, a, s, 0, 0, M, 0, G)
        if two_phase:
            fm_rnn_tiles(isa, a, s, 1, 0, M, 0, G)
        return M * G
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
        fm_rnn_barrier()
        return max(i_hi - i_lo, 0) * G
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
        return M * (g_hi - g_lo)


cdef void _time_loop(const fm_rnn_args *a, int isa, int n_threads,
                     long long *work) noexcept nogil:
    """The recurrence of one part; work[tid] += the tiles thread tid computed."""
    cdef Py_ssize_t s
    cdef Py_ssize_t G = fm_rnn_groups(a.U, fm_rnn_unit_block(a.cell, fm_rnn_lanes(isa, a.dbl)))
    cdef bint two_phase = a.cell == FM_CELL_GRU and not a.reset_after
    cdef int mr = fm_rnn_mr(isa, a.dbl, a.cell, a.reset_after, 0)
    cdef int tid = 0, nth = 1
    s = 0
    if n_threads <= 1:
        if a.xw != NULL:
            fm_rnn_xproj(isa, a, 0, G)
        for s in range(a.T):
            work[0] += _step(a, isa, s, 0, 1, mr, G, two_phase)
        return
    with parallel(num_threads=n_threads):
        tid = omp_get_thread_num()
        nth = omp_get_num_threads()
        if a.xw != NULL:
            fm_rnn_xproj(isa, a, tid * G // nth, (tid + 1) * G // nth)
            fm_rnn_barrier()
        for s in range(a.T):
            work[tid] += _step(a, isa, s, tid, nth, mr, G, two_phase)


cdef void _run_parts(fm_rnn_args *parts, int n_parts, int n_threads, int isa,
                     long long *work, Py_ssize_t work_stride) noexcept nogil:
    """Batch split: each part (a problem's rows, own schedule and scratch) runs
    the whole time loop on one thread; parts are independent: no barrier."""
    cdef int p
    for p in prange(n_parts, schedule='dynamic', num_threads=n_threads):
        _time_loop(&parts[p], isa, 1, &work[p * work_stride])


cdef void _fill_masked_outputs(char *out, Py_ssize_t ldo_bytes, const char *h0,
                               const uint8_t[:, ::1] mask, Py_ssize_t B, Py_ssize_t T,
                               Py_ssize_t row_bytes, bint go_backwards, bint out_time, int mode,
                               int n_threads) noexcept nogil:
    """Output rows of the masked steps, walking each row in processing order.

    mode 0 = previous h (h0 first), 1 = zeros, 2 = previous output (zeros
    first). Step s lives in time slot s, or t(s) with out_time; rows of
    `row_bytes` are `ldo_bytes` apart.
    """
    cdef Py_ssize_t b, s, t, slot
    cdef const char *prev
    cdef char *dst
    for b in prange(B, schedule='static', num_threads=n_threads):
        if mode != 0:
            prev = NULL
        else:
            prev = h0 + b * row_bytes
        for s in range(T):
            t = T - 1 - s if go_backwards else s
            slot = t if out_time else s
            dst = out + (b * T + slot) * ldo_bytes
            if mask[b, t]:
                if mode != 1:
                    prev = dst
            elif prev == NULL:
                memset(dst, 0, row_bytes)
            else:
                memcpy(dst, prev, row_bytes)


cdef inline void *_data(arr):
    return cnp.PyArray_DATA(arr) if arr.size > 0 else NULL


def _step_counts(const intp_t[::1] off):
    """(the most rows any step of a schedule runs, the steps that run any row)."""
    cdef Py_ssize_t s, most = 0, busy = 0
    for s in range(off.shape[0] - 1):
        most = max(most, off[s + 1] - off[s])
        busy += off[s + 1] > off[s]
    return most, busy


def _padded_copy(arr, Py_ssize_t width):
    """A new (rows, width) C array: `arr` (rows, U <= width) then zeros."""
    if arr.shape[1] == width:
        return arr.copy()
    out = np.zeros((arr.shape[0], width), dtype=arr.dtype)
    out[:, :arr.shape[1]] = arr
    return out


def _c_array(arr, dtype, name):
    if not (isinstance(arr, np.ndarray) and arr.dtype == dtype and arr.flags.c_contiguous):
        raise TypeError(f"`{name}` must be a C-contiguous {np.dtype(dtype).name} array.")
    return arr


class Problem:
    """One recurrence for `forward_many` (arrays validated, output layout fixed)."""
    __slots__ = ("cell", "x", "packed", "bias_rows", "h0", "c0", "mask", "go_backwards",
                 "return_sequences", "zero_output_for_mask", "unroll", "act", "ract",
                 "out", "out_offset", "out_time", "dtype", "B", "T", "F", "U")


def problem(str cell_name, x, packed, bias_rows, h0, c0, mask, bint go_backwards=False,
            bint return_sequences=False, bint zero_output_for_mask=False, bint unroll=False,
            str activation="tanh", str recurrent_activation="sigmoid", out=None,
            Py_ssize_t out_offset=0, bint out_time=False):
    """Describe one recurrence (arguments as `forward`).

    out: optional (B, T, ldo) C-contiguous output buffer: this recurrence
    writes units [out_offset, out_offset + U) of each row; out_time writes
    step s at time t(s) (the backward half of a Bidirectional, flipped back).
    """
    p = Problem()
    p.cell = CELLS[cell_name]
    dtype = packed.dtype
    p.dtype = dtype
    p.x = _c_array(x, dtype, "x")
    if p.x.ndim != 3:
        raise ValueError("`x` must have rank 3.")
    p.B, p.T, p.F = p.x.shape
    p.h0 = _c_array(h0, dtype, "h0")
    p.U = p.h0.shape[1]
    if p.h0.shape != (p.B, p.U):
        raise ValueError(f"h0 must have shape (batch, units) = {(p.B, p.U)}.")
    p.c0 = _c_array(c0, dtype, "c0") if p.cell == FM_CELL_LSTM else None
    if p.c0 is not None and p.c0.shape != (p.B, p.U):
        raise ValueError(f"c0 must have shape (batch, units) = {(p.B, p.U)}.")
    if not packed.matches(p.cell, packed.reset_after, p.F, p.U, dtype, packed.isa):
        raise ValueError("packed weights do not match this call (cell, shapes, dtype or ISA).")
    p.packed = packed
    nb = fm_rnn_bias_rows(p.cell, packed.reset_after)
    p.bias_rows = _c_array(bias_rows, dtype, "bias_rows")
    if p.bias_rows.shape != (nb, p.U):
        raise ValueError(f"bias_rows must have shape ({nb}, {p.U}).")
    if mask is not None:
        mask = _c_array(mask, np.uint8, "mask")
        if mask.shape != (p.B, p.T):
            raise ValueError(f"mask must have shape (batch, timesteps) = {(p.B, p.T)}.")
    p.mask = mask
    p.go_backwards, p.return_sequences = go_backwards, return_sequences
    p.zero_output_for_mask, p.unroll = zero_output_for_mask, unroll
    p.act, p.ract = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    if return_sequences and out is not None:
        out = _c_array(out, dtype, "out")
        if out.ndim != 3 or out.shape[:2] != (p.B, p.T) or not (
                0 <= out_offset and out_offset + p.U <= out.shape[2]):
            raise ValueError("`out` must be (batch, timesteps, >= out_offset + units).")
    elif return_sequences:
        out, out_offset = np.empty((p.B, p.T, p.U), dtype=dtype), 0
    else:
        out = None
    p.out, p.out_offset, p.out_time = out, out_offset, out_time
    return p


def _flops(p, row_steps):
    """Flops of `row_steps` (row, step) pairs of problem p (one fused GEMM each)."""
    return 2.0 * row_steps * (p.F + p.U) * fm_rnn_gates(p.cell) * p.U


def _team(double total, int n_threads):
    """The team size for `total` flops of recurrences when n_threads are asked for."""
    nt = max(1, n_threads)
    if nt > 1 and MIN_PART_FLOPS > 0:
        nt = max(1, min(nt, int(total / MIN_PART_FLOPS)))
    return nt


def _n_parts(p, int per, int nt):
    """Batch parts of problem p with `per` threads of a team of nt: each part keeps
    >= 1 register block of rows (as many parts as blocks when blocks are fewer)."""
    if nt <= 1:
        return 1
    mr = fm_rnn_mr(p.packed.isa, p.dtype == np.float64, p.cell, p.packed.reset_after, 0)
    return max(1, min(PARTS_PER_THREAD * per, p.B // mr))


def _step_threads(p, double p_flops, Py_ssize_t n_steps, int nt):
    """Threads splitting each step of a single unsplit problem (1: none)."""
    if nt <= 1:
        return 1
    if p.B <= STREAM_MAX_ROWS and _step_weight_bytes(p) >= MIN_STEP_WEIGHT_BYTES:
        # streaming-bound steps: split the unit groups (see MIN_STEP_WEIGHT_BYTES)
        return max(1, min(nt, fm_rnn_groups(p.U, p.packed.lanes)))
    if p_flops < 10 * MIN_STEP_FLOPS_PER_THREAD:
        return 1
    step_threads = max(1, min(nt, p.B))
    if MIN_STEP_FLOPS_PER_THREAD > 0:
        step_threads = max(1, min(step_threads,
                                  int(p_flops / max(1, n_steps) / MIN_STEP_FLOPS_PER_THREAD)))
    return step_threads


def _plan(problems, int n_threads):
    """[parts per problem], team size: batch split per problem when it has the
    rows for it, per-step split for a single problem with few rows."""
    flops = []
    for p in problems:      # lengths None: every row runs all T steps
        lengths = None if p.mask is None else np.count_nonzero(p.mask, axis=1)
        row_steps = p.B * p.T if lengths is None else int(lengths.sum())
        flops.append((lengths, _flops(p, row_steps)))
    nt = _team(sum(f for _, f in flops), n_threads)
    per = max(1, nt // len(problems))
    parts = [_n_parts(p, per, nt) for p in problems]
    step_threads = 1
    if len(problems) == 1 and parts[0] == 1:
        p = problems[0]
        n_steps = p.T if p.mask is None else int(np.count_nonzero(p.mask.any(axis=0)))
        step_threads = _step_threads(p, flops[0][1], n_steps, nt)
    return [(lengths, k) for (lengths, _), k in zip(flops, parts)], nt, step_threads


cdef _set_args(fm_rnn_args *a, p, Py_ssize_t Upad, bias, hs, cs, x, out,
               Py_ssize_t out_offset):
    """Fill *a for problem p (a `Problem` or `Recurrence`: its cell, flags and sizes) on
    these arrays: bias and states padded to Upad units, x, out (None: no sequence
    output) written from unit out_offset. The schedule and scratch are the caller's."""
    a.cell, a.reset_after, a.act, a.ract = p.cell, p.packed.reset_after, p.act, p.ract
    a.dbl = p.dtype == np.float64
    a.go_backwards = p.go_backwards
    a.B, a.T, a.F, a.U, a.Upad, a.lda = p.B, p.T, p.F, p.U, Upad, p.F + Upad
    a.x = _data(x)
    a.wp = _data(p.packed.wp)
    a.bias = _data(bias)
    a.h = _data(hs)
    a.c = _data(cs)
    a.out = NULL
    a.xw = NULL
    a.xw_T = p.T
    a.ldo = p.U
    a.out_time = p.out_time
    cdef Py_ssize_t itemsize = p.dtype.itemsize
    if out is not None and out.size > 0:
        a.out = <char *>_data(out) + out_offset * itemsize
        a.ldo = out.shape[2]


def forward_many(problems, int n_threads=1):
    """Run independent recurrences (e.g. both halves of a Bidirectional) in one
    OpenMP team: each is split into batch parts (or run whole, one per
    thread), and every part runs its time loop with no barrier.

    Returns [(outputs or None, h (B, U), c (B, U) or None)] per problem.
    """
    global last_plan
    plan, nt, step_threads = _plan(problems, n_threads)
    total_parts = sum(k for _, k in plan)
    cdef fm_rnn_args a
    cdef fm_rnn_args *parts = <fm_rnn_args *>malloc(max(1, total_parts) * sizeof(fm_rnn_args))
    if parts == NULL:
        raise MemoryError()
    cdef const intp_t[::1] off, rows
    cdef int i = 0, c_parts = total_parts, c_team, c_step, isa = problems[0].packed.isa
    cdef Py_ssize_t itemsize, a_block, s_stride
    cdef int jj, kk
    cdef char *base
    # Work counts: (row, unit group) tiles computed, per part and thread slot.
    work_arr = np.zeros((max(1, total_parts), max(1, nt)), dtype=np.int64)
    cdef long long[:, ::1] work = work_arr
    cdef Py_ssize_t work_stride = work_arr.shape[1]
    part_problem, part_groups = [], []
    keep, states = [], []
    n_hoisted = 0
    try:
        for p, (lengths, k) in zip(problems, plan):
            if p.packed.isa != isa:
                raise ValueError("all problems must use weights packed for the same ISA.")
            L = p.packed.lanes
            Upad = fm_rnn_groups(p.U, L) * L
            two_phase = p.cell == FM_CELL_GRU and not p.packed.reset_after
            if k > 1 and lengths is None:
                lengths = np.full(p.B, p.T, dtype=np.intp)
            subsets = partition_rows(lengths, k) if k > 1 else [None]
            scheds = [schedule(p.mask, p.B, p.T, p.go_backwards, sub) for sub in subsets]
            Mmax = max(1, max(_step_counts(o)[0] for o, _ in scheds))
            hs = _padded_copy(p.h0, Upad)       # updated in place by the kernel
            cs = (_padded_copy(p.c0, Upad) if p.cell == FM_CELL_LSTM
                  else np.zeros((1, 1), dtype=p.dtype))
            bias = p.bias_rows if Upad == p.U else _padded_copy(p.bias_rows, Upad)
            A = np.empty((k, Mmax, p.F + Upad), dtype=p.dtype)
            scratch = np.empty((3, k, Mmax * Upad if two_phase else 1), dtype=p.dtype)
            keep.append((hs, cs, bias, A, scratch))
            states.append((hs, cs))
            itemsize = p.dtype.itemsize
            _set_args(&a, p, Upad, bias, hs, cs, p.x, p.out, p.out_offset)
            xw = _hoisted_xw(p, p.B, Upad) if k == 1 else None
            if xw is not None:
                keep.append(xw)
                a.xw = _data(xw)
                a.lda = Upad
                n_hoisted += 1
            a_block = Mmax * (p.F + Upad) * itemsize
            s_stride = scratch.shape[2] * itemsize
            kk = k
            for jj in range(kk):
                off_arr, rows_arr = scheds[jj]
                if rows_arr.shape[0] == 0:
                    rows_arr = np.zeros(1, np.intp)
                keep.append((off_arr, rows_arr))
                off, rows = off_arr, rows_arr
                parts[i] = a
                parts[i].off = <const ptrdiff_t *>&off[0]
                parts[i].rows = <const ptrdiff_t *>&rows[0]
                base = <char *>_data(A)
                parts[i].A = base + jj * a_block
                base = <char *>_data(scratch)
                parts[i].z = base + (0 * kk + jj) * s_stride
                parts[i].hx = base + (1 * kk + jj) * s_stride
                parts[i].rh = base + (2 * kk + jj) * s_stride
                part_problem.append(len(states) - 1)
                part_groups.append(fm_rnn_groups(p.U, L))
                i += 1
        c_team = min(nt, total_parts)
        c_step = step_threads
        with nogil:
            if c_parts > 1 and c_team > 1:
                _run_parts(parts, c_parts, c_team, isa, &work[0, 0], work_stride)
            else:
                for i in range(c_parts):
                    _time_loop(&parts[i], isa, c_step, &work[i, 0])
    finally:
        free(parts)
    last_plan = _Plan(work_arr, part_problem, part_groups, len(problems),
                      n_threads=min(nt, total_parts) if total_parts > 1 else step_threads,
                      batch_split=total_parts > len(problems), parts=total_parts,
                      problems=len(problems), hoisted=n_hoisted)
    results = []
    for p, (hs, cs) in zip(problems, states):
        out = None
        if p.return_sequences:
            if p.mask is not None and p.out.size > 0:
                _fill(p, p.out, p.out_offset, p.h0, p.mask,
                      nt if p.out.nbytes >= MIN_FILL_BYTES else 1)
            out = p.out if p.out.shape[2] == p.U else None
        c = _unpadded(cs, p.U) if p.cell == FM_CELL_LSTM else None
        results.append((out, _unpadded(hs, p.U), c))
    return results


def _fill(p, out_arr, Py_ssize_t out_offset, h0_arr, mask_arr, int n_threads):
    """Problem p's masked sequence outputs in out_arr (units from out_offset): the
    previous h (h0_arr before the first step), 0 or the previous output."""
    cdef Py_ssize_t itemsize = p.dtype.itemsize
    cdef char *out = <char *>_data(out_arr) + out_offset * itemsize
    cdef Py_ssize_t ldo_bytes = out_arr.shape[2] * itemsize
    cdef Py_ssize_t row_bytes = p.U * itemsize
    cdef const char *h0 = <const char *>_data(h0_arr)
    cdef const uint8_t[:, ::1] mask = mask_arr
    cdef int mode = 2 if p.unroll else (1 if p.zero_output_for_mask else 0)
    cdef bint gb = p.go_backwards, ot = p.out_time
    cdef Py_ssize_t B = p.B, T = p.T
    with nogil:
        _fill_masked_outputs(out, ldo_bytes, h0, mask, B, T, row_bytes, gb, ot, mode, n_threads)


def _unpadded(arr, Py_ssize_t U):
    """arr (rows, Upad >= U) without its padding units (arr itself when there is none)."""
    return arr if arr.shape[1] == U else np.ascontiguousarray(arr[:, :U])


def forward(str cell_name, x, packed, bias_rows, h0, c0, mask, bint go_backwards=False,
            bint return_sequences=False, bint zero_output_for_mask=False, bint unroll=False,
            str activation="tanh", str recurrent_activation="sigmoid", int n_threads=1):
    """Run one recurrence. Arguments are validated by fastmask.kernels.recurrent:

    x (B, T, F); packed = pack(...) of x's dtype; bias_rows (fm_rnn_bias_rows, U);
    h0 (B, U); c0 (B, U) for LSTM (ignored otherwise); mask (B, T) uint8 or None.
    Returns (outputs (B, T, U) in processing order or None, h (B, U), c (B, U) or None).
    """
    return forward_many([problem(cell_name, x, packed, bias_rows, h0, c0, mask, go_backwards,
                                 return_sequences, zero_output_for_mask, unroll, activation,
                                 recurrent_activation)], n_threads)[0]


cdef class Recurrence:
    """One recurrence made ready for repeated calls on inputs of one shape and dtype.

    `forward` checks its arrays, plans its threads and pads its bias on every call:
    at batch 1 that was about half of an LSTM(128) call over 7 steps. A Recurrence is
    made once from a checked `Problem` (`problem(...)`) and keeps its cell, flags,
    sizes, packed weights and padded bias rows (not its arrays). Calling it with x
    (the problem's x shape and dtype, C order), h0 and c0 (None: zeros) and mask
    ((B, T) uint8 C array or None) runs the recurrence as `forward` would, with the
    same thread plan and the same results bit for bit, or returns None when
    `forward_many` would split the batch into parts (the caller then runs
    `forward`). Immutable: any number of threads may call one.
    """
    cdef readonly int cell, act, ract
    cdef readonly bint go_backwards, return_sequences, zero_output_for_mask, unroll, out_time
    cdef readonly Py_ssize_t B, T, F, U, Upad
    cdef readonly object packed, dtype, bias_rows
    cdef int isa, two_phase
    cdef Py_ssize_t groups

    def __init__(self, p):
        self.cell, self.act, self.ract = p.cell, p.act, p.ract
        self.go_backwards, self.return_sequences = p.go_backwards, p.return_sequences
        self.zero_output_for_mask, self.unroll = p.zero_output_for_mask, p.unroll
        self.out_time = False
        self.B, self.T, self.F, self.U = p.B, p.T, p.F, p.U
        self.packed, self.dtype = p.packed, p.dtype
        self.isa = p.packed.isa
        L = p.packed.lanes
        self.groups = fm_rnn_groups(p.U, L)
        self.Upad = self.groups * L
        self.bias_rows = (p.bias_rows if self.Upad == p.U
                          else _padded_copy(p.bias_rows, self.Upad))
        self.two_phase = p.cell == FM_CELL_GRU and not p.packed.reset_after

    def _state(self, s, name):
        """State s (B, U) padded to Upad units (zeros for None)."""
        if s is None:
            return np.zeros((self.B, self.Upad), dtype=self.dtype)
        s = _c_array(s, self.dtype, name)
        if s.shape != (self.B, self.U):
            raise ValueError(f"{name} must have shape (batch, units) = {(self.B, self.U)}.")
        return _padded_copy(s, self.Upad)

    def __call__(self, x, h0, c0, mask, int n_threads=1, bint repeated=False):
        """(outputs (B, T, U) in processing order or None, h (B, U), c (B, U) or None),
        or None when this call needs forward_many's batch split.

        repeated: x is (B, F), every step's input (RepeatVector's output, not made):
        its input projections are computed once per row (hoisted into one time slot)
        and the steps split between threads (no batch split); the results are those of
        x repeated T times, bit for bit (the hoisted sums are the fused ones). No mask."""
        global last_plan
        cdef Py_ssize_t B = self.B, T = self.T, Upad = self.Upad, row_steps, n_steps, most
        x = _c_array(x, self.dtype, "x")
        if repeated:
            if x.shape != (B, self.F) or mask is not None or B == 0 or T == 0:
                raise ValueError(f"a repeated `x` must have shape {(B, self.F)} (no mask). "
                                 f"Received: {x.shape}.")
        elif x.shape != (B, T, self.F):
            raise ValueError(f"`x` must have shape {(B, T, self.F)}. Received: {x.shape}.")
        if mask is None:
            off_arr, rows_arr = _full_schedule(B, T)
            row_steps, n_steps, most = B * T, T, B
        else:
            mask = _c_array(mask, np.uint8, "mask")
            if mask.shape != (B, T):
                raise ValueError(f"mask must have shape (batch, timesteps) = {(B, T)}.")
            off_arr, rows_arr = schedule(mask, B, T, self.go_backwards)
            row_steps = off_arr[T]
            most, n_steps = _step_counts(off_arr)
        flops = _flops(self, row_steps)
        nt = _team(flops, n_threads)
        cdef int step_threads
        if repeated:
            # Rows split per step (a barrier a step: repeated inputs feed short decoders).
            step_threads = max(1, min(nt, B // fm_rnn_mr(self.isa, self.dtype == np.float64,
                                                         self.cell, self.packed.reset_after, 0)))
        elif _n_parts(self, nt, nt) > 1:
            return None
        else:
            step_threads = _step_threads(self, flops, n_steps, nt)
        hs = self._state(h0, "h0")
        cs = (self._state(c0, "c0") if self.cell == FM_CELL_LSTM
              else np.zeros((1, 1), dtype=self.dtype))
        A = np.empty((max(1, most), self.F + Upad), dtype=self.dtype)
        scratch = np.empty((3, max(1, most) * Upad if self.two_phase else 1), dtype=self.dtype)
        out = np.empty((B, T, self.U), dtype=self.dtype) if self.return_sequences else None
        if rows_arr.shape[0] == 0:
            rows_arr = np.zeros(1, np.intp)
        cdef const intp_t[::1] off = off_arr
        cdef const intp_t[::1] rows = rows_arr
        cdef fm_rnn_args a
        _set_args(&a, self, Upad, self.bias_rows, hs, cs, x, out, 0)
        if repeated:
            xw = np.empty(B * fm_rnn_gates(self.cell) * Upad, dtype=self.dtype)
            a.xw_T = 1
        else:
            xw = _hoisted_xw(self, B, Upad)
        if xw is not None:
            a.xw = _data(xw)
            a.lda = Upad
        a.off = <const ptrdiff_t *>&off[0]
        a.rows = <const ptrdiff_t *>&rows[0]
        a.A = _data(A)
        cdef char *base = <char *>_data(scratch)
        cdef Py_ssize_t stride = scratch.shape[1] * scratch.itemsize
        a.z, a.hx, a.rh = base, base + stride, base + 2 * stride
        work_arr = np.zeros((1, max(1, step_threads)), dtype=np.int64)
        cdef long long[:, ::1] work = work_arr
        with nogil:
            _time_loop(&a, self.isa, step_threads, &work[0, 0])
        last_plan = _Plan(work_arr, [0], [self.groups], 1, n_threads=step_threads,
                          batch_split=False, parts=1, problems=1,
                          hoisted=int(xw is not None))
        if out is not None and mask is not None and out.size > 0:
            _fill(self, out, 0, np.zeros((B, self.U), self.dtype) if h0 is None else h0, mask,
                  nt if out.nbytes >= MIN_FILL_BYTES else 1)
        return (out, _unpadded(hs, self.U),
                _unpadded(cs, self.U) if self.cell == FM_CELL_LSTM else None)
