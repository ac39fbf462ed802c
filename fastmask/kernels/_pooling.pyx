"""Masked reductions over the time axis (kernel; validation in kernels/pooling.py).

x is viewed as (B, P, T, Q), C-contiguous and flattened, the mask as (B, T)
uint8 (1 = keep, or no mask), the output as (B, P, Q). Work items are
(b, p, block of Q): each output element is reduced over t in order by one
thread, so results do not depend on the thread count. Sums and means
accumulate in float64 (float32 only within groups of 16 kept steps), so the
mean of 2**25 float32 ones is exactly 1 and long sums keep float32 accuracy.
The instruction-set variant (generic / AVX2 / AVX-512) is the library-wide
choice of fastmask.kernels._isa (FASTMASK_ISA), read once per call.
"""
from cython.parallel cimport prange

from fastmask.kernels._isa cimport bind_kernels
from fastmask.kernels._openmp_helpers cimport threads_for_work
from fastmask.kernels._typedefs cimport float32_t, float64_t, uint8_t

cdef extern from *:
    """
    #include "fm_softmax.h"   /* fm_softmax_isa, FM_TARGET_V3/V4, FM_MULTIVERSION */
    #include "fm_hot.h"      /* FM_HOT_BEGIN/END: these kernels stay at -O3 */
    FM_HOT_BEGIN

    #define FM_POOL_SUM 0
    #define FM_POOL_MEAN 1
    #define FM_POOL_MAX 2
    #define FM_POOL_MIN 3
    #define FM_POOL_BLOCK 256

    /* Sums: the kept rows are split into two halves, each read as one forward
     * stream, and added a pair at a time (one from each half) into a T
     * partial, which is added into the ACC (double) sum every FM_POOL_FLUSH
     * pairs. So a float32 sum or mean keeps float32 accuracy at any length (a
     * float32 accumulator stops growing at 2**24 ones) at the speed of one
     * float32 accumulator: one store of the partial per two rows, and the
     * order depends only on the mask. */
    #define FM_POOL_FLUSH 8

    /* Reduce rows x[t * q_stride + c] (c < w) over t < n where m[t] (m NULL:
     * all t) into out[c]; empty (no kept t) -> empty_value. NaN propagates
     * through max/min as in NumPy (tracked apart, so max/min vectorise). */
    #define FM_POOL_DEFINE(T, ACC, SFX, ATTR)                                   \\
    ATTR static void fm_pool_##SFX(const T *x, const uint8_t *m, ptrdiff_t n,   \\
                                   ptrdiff_t q_stride, ptrdiff_t w, int op,     \\
                                   T empty_value, T *out) {                     \\
        ptrdiff_t t, c, count = 0;                                              \\
        if (op == FM_POOL_SUM || op == FM_POOL_MEAN) {                          \\
            ACC sum[FM_POOL_BLOCK];                                             \\
            T part[FM_POOL_BLOCK];                                              \\
            ptrdiff_t t1 = 0, t2 = n, half, i, seen = 0;                        \\
            for (c = 0; c < w; ++c) {                                           \\
                sum[c] = 0;                                                     \\
                part[c] = 0;                                                    \\
            }                                                                   \\
            for (t = 0; t < n; ++t)                                             \\
                count += m == NULL || m[t];                                     \\
            half = count / 2;                                                   \\
            for (t = 0; t < n; ++t) {   /* t2: first row of the second half */  \\
                if (m != NULL && !m[t])                                         \\
                    continue;                                                   \\
                if (seen++ == count - half) {                                   \\
                    t2 = t;                                                     \\
                    break;                                                      \\
                }                                                               \\
            }                                                                   \\
            for (i = 0; i < half; ++i, ++t1, ++t2) {                            \\
                const T *a, *b;                                                 \\
                while (m != NULL && !m[t1])                                     \\
                    ++t1;                                                       \\
                while (m != NULL && !m[t2])                                     \\
                    ++t2;                                                       \\
                a = x + t1 * q_stride;                                          \\
                b = x + t2 * q_stride;                                          \\
                if ((i + 1) % FM_POOL_FLUSH != 0) {                             \\
                    for (c = 0; c < w; ++c)                                     \\
                        part[c] += a[c] + b[c];                                 \\
                } else {                                                        \\
                    for (c = 0; c < w; ++c) {                                   \\
                        sum[c] += (ACC)(part[c] + (a[c] + b[c]));               \\
                        part[c] = 0;                                            \\
                    }                                                           \\
                }                                                               \\
            }                                                                   \\
            if (count & 1) {            /* the last row of the first half */    \\
                const T *a;                                                     \\
                while (m != NULL && !m[t1])                                     \\
                    ++t1;                                                       \\
                a = x + t1 * q_stride;                                          \\
                for (c = 0; c < w; ++c)                                         \\
                    part[c] += a[c];                                            \\
            }                                                                   \\
            if (count == 0) {                                                   \\
                for (c = 0; c < w; ++c)                                         \\
                    out[c] = empty_value;                                       \\
            } else if (op == FM_POOL_MEAN) {                                    \\
                ACC d = (ACC)count;                                             \\
                for (c = 0; c < w; ++c)                                         \\
                    out[c] = (T)((sum[c] + (ACC)part[c]) / d);                  \\
            } else {                                                            \\
                for (c = 0; c < w; ++c)                                         \\
                    out[c] = (T)(sum[c] + (ACC)part[c]);                        \\
            }                                                                   \\
            return;                                                             \\
        }                                                                       \\
        T acc[FM_POOL_BLOCK];                                                   \\
        int32_t nan[FM_POOL_BLOCK];                                             \\
        T init = op == FM_POOL_MAX ? -INFINITY : INFINITY;                      \\
        for (c = 0; c < w; ++c) {                                               \\
            acc[c] = init;                                                      \\
            nan[c] = 0;                                                         \\
        }                                                                       \\
        for (t = 0; t < n; ++t) {                                               \\
            const T *row = x + t * q_stride;                                    \\
            if (m != NULL && !m[t])                                             \\
                continue;                                                       \\
            ++count;                                                            \\
            if (op == FM_POOL_MAX) {                                            \\
                for (c = 0; c < w; ++c) {                                       \\
                    T v = row[c];                                               \\
                    acc[c] = v > acc[c] ? v : acc[c];                           \\
                    nan[c] |= (v != v);                                         \\
                }                                                               \\
            } else {                                                            \\
                for (c = 0; c < w; ++c) {                                       \\
                    T v = row[c];                                               \\
                    acc[c] = v < acc[c] ? v : acc[c];                           \\
                    nan[c] |= (v != v);                                         \\
                }                                                               \\
            }                                                                   \\
        }                                                                       \\
        if (count == 0) {                                                       \\
            for (c = 0; c < w; ++c)                                             \\
                out[c] = empty_value;                                           \\
        } else {                                                                \\
            for (c = 0; c < w; ++c)                                             \\
                out[c] = nan[c] ? (T)NAN : acc[c];                              \\
        }                                                                       \\
    }
    FM_POOL_DEFINE(float, double, f32_base, )
    FM_POOL_DEFINE(double, double, f64_base, )
    #if FM_MULTIVERSION
    FM_POOL_DEFINE(float, double, f32_v3, FM_TARGET_V3)
    FM_POOL_DEFINE(double, double, f64_v3, FM_TARGET_V3)
    FM_POOL_DEFINE(float, double, f32_v4, FM_TARGET_V4)
    FM_POOL_DEFINE(double, double, f64_v4, FM_TARGET_V4)
    #endif
    /* isa: the FM_ISA_* variant to run, fm_softmax_isa() read once per call
     * (fastmask.kernels._isa's choice, clamped to what fm_softmax.h compiled). */
    #if FM_MULTIVERSION
    #define FM_POOL_DISPATCH(fn, isa, args) do {                              \\
            if ((isa) == FM_ISA_AVX512) fn##_v4 args;                         \\
            else if ((isa) == FM_ISA_AVX2) fn##_v3 args;                      \\
            else fn##_base args;                                              \\
        } while (0)
    #else
    #define FM_POOL_DISPATCH(fn, isa, args) fn##_base args
    #endif
    static void fm_pool_f32(int isa, const float *x, const uint8_t *m, ptrdiff_t n,
                            ptrdiff_t q_stride, ptrdiff_t w, int op, float empty_value,
                            float *out) {
        FM_POOL_DISPATCH(fm_pool_f32, isa, (x, m, n, q_stride, w, op, empty_value, out));
    }
    static void fm_pool_f64(int isa, const double *x, const uint8_t *m, ptrdiff_t n,
                            ptrdiff_t q_stride, ptrdiff_t w, int op, double empty_value,
                            double *out) {
        FM_POOL_DISPATCH(fm_pool_f64, isa, (x, m, n, q_stride, w, op, empty_value, out));
    }
    FM_HOT_END
    """
    int FM_POOL_BLOCK
    int FM_SOFTMAX_ISA_MAX
    int fm_softmax_isa() noexcept nogil
    void fm_pool_f32(int isa, const float32_t *x, const uint8_t *m, Py_ssize_t n,
                     Py_ssize_t q_stride, Py_ssize_t w, int op, float32_t empty_value,
                     float32_t *out) noexcept nogil
    void fm_pool_f64(int isa, const float64_t *x, const uint8_t *m, Py_ssize_t n,
                     Py_ssize_t q_stride, Py_ssize_t w, int op, float64_t empty_value,
                     float64_t *out) noexcept nogil

ctypedef fused floating:
    float32_t
    float64_t

# Bytes of x per thread below which no further thread is started, so small
# inputs run on one thread: 1 MiB is ~20 us of the reduction on one thread
# (0.019 ns per byte measured, in cache). Tests lower it to run the threaded
# paths on small inputs.
MIN_BYTES_PER_THREAD = 1 << 20

from fastmask.kernels._isa import NAMES as ISA_NAMES    # index = FM_ISA_* level

bind_kernels()     # run the variant fastmask.kernels._isa selects (FASTMASK_ISA)


def compiled_isas():
    """The ISA variants compiled into the pooling kernels, lowest first."""
    return ISA_NAMES[:FM_SOFTMAX_ISA_MAX + 1]


def isa_in_use():
    """The variant the next call runs: fastmask.kernels._isa's choice, at most the best
    compiled."""
    return ISA_NAMES[fm_softmax_isa()]


cpdef int threads_for(Py_ssize_t n_items, double nbytes, int n_threads):
    """The OpenMP threads masked_reduce_flat runs for n_items work items over
    nbytes of x when asked for n_threads."""
    return threads_for_work(n_threads, nbytes, MIN_BYTES_PER_THREAD, n_items)


cdef inline void _pool(int isa, const floating *x, const uint8_t *m, Py_ssize_t n,
                       Py_ssize_t q_stride, Py_ssize_t w, int op, floating empty_value,
                       floating *out) noexcept nogil:
    if floating is float32_t:
        fm_pool_f32(isa, x, m, n, q_stride, w, op, empty_value, out)
    else:
        fm_pool_f64(isa, x, m, n, q_stride, w, op, empty_value, out)


def masked_reduce_flat(
        const floating[::1] x,        # IN  (B * P * T * Q,)
        const uint8_t[::1] mask,      # IN  (B * T,) when has_mask
        bint has_mask,
        Py_ssize_t n_batch, Py_ssize_t n_pre, Py_ssize_t n_time, Py_ssize_t n_post,
        int op,                       # 0 sum, 1 mean, 2 max, 3 min
        double empty_value,
        floating[::1] out,            # OUT (B * P * Q,)
        int n_threads):
    """Reduce x (B, P, T, Q) over T where mask (B, T) keeps, into out (B, P, Q)."""
    cdef const floating *xp = &x[0] if x.shape[0] > 0 else NULL
    cdef const uint8_t *mp = &mask[0] if has_mask and mask.shape[0] > 0 else NULL
    cdef floating *op_ = &out[0] if out.shape[0] > 0 else NULL
    cdef floating ev = <floating>empty_value
    cdef Py_ssize_t n_blocks = (n_post + FM_POOL_BLOCK - 1) // FM_POOL_BLOCK
    cdef Py_ssize_t n_items = n_batch * n_pre * n_blocks
    cdef Py_ssize_t it, bp, b, blk, q0, w
    cdef int isa = fm_softmax_isa()     # one variant for the whole call
    if op_ == NULL or n_items <= 0:
        return
    n_threads = threads_for(n_items, <double>x.shape[0] * sizeof(floating), n_threads)
    # dynamic: rows differ in kept steps, and a thread slowed by another process
    # takes fewer items instead of the call waiting for its static share
    for it in prange(n_items, nogil=True, schedule='dynamic', num_threads=n_threads):
        bp = it // n_blocks
        blk = it - bp * n_blocks
        b = bp // n_pre
        q0 = blk * FM_POOL_BLOCK
        w = n_post - q0
        if w > FM_POOL_BLOCK:
            w = FM_POOL_BLOCK
        _pool(isa, xp + bp * n_time * n_post + q0 if xp != NULL else NULL,
              (mp + b * n_time) if mp != NULL else NULL,
              n_time, n_post, w, op, ev, op_ + bp * n_post + q0)
