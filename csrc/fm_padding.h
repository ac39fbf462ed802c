/* Row copy/cast helpers for fastmask/kernels/_padding.pyx.
 *
 * Element type codes (FM_*) name the native NumPy dtypes the kernels convert
 * between; anything else is FM_OTHER and is only ever copied byte for byte
 * (same dtype) or converted by NumPy in the Python layer.
 *
 * The conversions reproduce NumPy's results bit for bit:
 *   - arrays (fm_copy_block) follow NumPy's array casts (C casts: ints wrap,
 *     int64 -> float32 rounds once). Casts where NumPy would warn or where C
 *     is undefined (NaN/inf/out-of-range float -> int, float64 -> float32
 *     overflow) are not done here: the function returns 1 and the caller lets
 *     NumPy cast that row (same values, same warnings).
 *   - Python scalars (fm_list_row_*) follow NumPy's per-item assignment,
 *     i.e. `np.asarray(list_of_scalars, dtype)`: ints must fit the dtype
 *     (NumPy raises otherwise), floats go through int() (truncation toward
 *     zero) then the same range check, ints -> float32 round via double.
 *     Anything else (another type, a value NumPy would reject or warn about)
 *     returns 1 and the caller falls back to the Python implementation.
 */
#ifndef FASTMASK_FM_PADDING_H
#define FASTMASK_FM_PADDING_H

#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fm_hot.h"
FM_HOT_BEGIN

enum {
    FM_BOOL = 0, FM_I8, FM_I16, FM_I32, FM_I64,
    FM_U8, FM_U16, FM_U32, FM_U64, FM_F32, FM_F64,
    FM_SKIP = 254,   /* row not handled by this kernel */
    FM_OTHER = 255   /* dtype without a C conversion here */
};

/* dst[0:count] = fill (one element of `itemsize` bytes). */
static inline void fm_fill(char *dst, const char *fill, Py_ssize_t count, Py_ssize_t itemsize)
{
    Py_ssize_t i, k;
    int zero = 1;
    if (count <= 0) return;
    for (k = 0; k < itemsize; k++) zero &= (fill[k] == 0);
    if (zero) { memset(dst, 0, (size_t)(count * itemsize)); return; }
    switch (itemsize) {
    case 1: memset(dst, fill[0], (size_t)count); return;
#define FM_FILL_CASE(N, T) \
    case N: { T v, *d = (T *)dst; memcpy(&v, fill, N);                         \
              for (i = 0; i < count; i++) { d[i] = v; } return; }
    FM_FILL_CASE(2, uint16_t)
    FM_FILL_CASE(4, uint32_t)
    FM_FILL_CASE(8, uint64_t)
#undef FM_FILL_CASE
    default:
        for (i = 0; i < count; i++) memcpy(dst + i * itemsize, fill, (size_t)itemsize);
    }
}

/* ---- array rows ---------------------------------------------------------- */

/* Load element i of a strided run (memcpy: safe for unaligned arrays). */
#define FM_LOAD(ST, v, src, i, stride) ST v; memcpy(&v, (src) + (i) * (stride), sizeof(ST))

/* d[i] = (DT)(EXPR) for each element v (type ST) of the run; returns 1 (NumPy
 * casts the run) as soon as BAD holds for an element. */
#define FM_RUN(DT, ST, EXPR, BAD)                                               \
    { DT *d = (DT *)dst;                                                        \
      for (i = 0; i < n; i++) {                                                 \
          FM_LOAD(ST, v, src, i, stride);                                       \
          if (BAD) return 1;                                                    \
          d[i] = (DT)(EXPR); }                                                  \
      return 0; }

#define FM_RUN_PLAIN(DT, ST, EXPR) FM_RUN(DT, ST, EXPR, 0)

/* float -> int: only when trunc(v) fits the destination (else NumPy casts). */
#define FM_RUN_F2I(DT, ST, LOM1, HIP1)                                          \
    FM_RUN(DT, ST, v, !((double)v > (LOM1) && (double)v < (HIP1)))

/* The cases of the bool and integer sources: plain C conversions. */
#define FM_FROM_INTS(DT)                                                        \
    case FM_BOOL: FM_RUN_PLAIN(DT, uint8_t, v != 0)                             \
    case FM_I8:  FM_RUN_PLAIN(DT, int8_t, v)                                    \
    case FM_I16: FM_RUN_PLAIN(DT, int16_t, v)                                   \
    case FM_I32: FM_RUN_PLAIN(DT, int32_t, v)                                   \
    case FM_I64: FM_RUN_PLAIN(DT, int64_t, v)                                   \
    case FM_U8:  FM_RUN_PLAIN(DT, uint8_t, v)                                   \
    case FM_U16: FM_RUN_PLAIN(DT, uint16_t, v)                                  \
    case FM_U32: FM_RUN_PLAIN(DT, uint32_t, v)                                  \
    case FM_U64: FM_RUN_PLAIN(DT, uint64_t, v)

#define FM_INT_DST(DT, LOM1, HIP1)                                              \
    switch (src_type) {                                                         \
    FM_FROM_INTS(DT)                                                            \
    case FM_F32: FM_RUN_F2I(DT, float, LOM1, HIP1)                              \
    case FM_F64: FM_RUN_F2I(DT, double, LOM1, HIP1)                             \
    default: return 1; }

/* float64 -> float32 overflow (NumPy warns) is left to NumPy. */
#define FM_FLOAT_DST(DT)                                                        \
    switch (src_type) {                                                         \
    FM_FROM_INTS(DT)                                                            \
    case FM_F32: FM_RUN_PLAIN(DT, float, v)                                     \
    case FM_F64: FM_RUN(DT, double, v, sizeof(DT) == 4 && fabs(v) > FLT_MAX && isfinite(v)) \
    default: return 1; }

/* dst[0:n] (contiguous, dst_type) = src[0:n:stride] (src_type).
 * Returns 0, or 1 when NumPy must cast this run (see the header comment). */
static int fm_cast_run(char *dst, int dst_type, const char *src, int src_type,
                       Py_ssize_t n, Py_ssize_t stride)
{
    Py_ssize_t i;
    switch (dst_type) {
    case FM_I8:  FM_INT_DST(int8_t, -129.0, 128.0)
    case FM_I16: FM_INT_DST(int16_t, -32769.0, 32768.0)
    case FM_I32: FM_INT_DST(int32_t, -2147483649.0, 2147483648.0)
    /* -9223372036854777856.0 is the double just below -2**63 */
    case FM_I64: FM_INT_DST(int64_t, -9223372036854777856.0, 9223372036854775808.0)
    case FM_U8:  FM_INT_DST(uint8_t, -1.0, 256.0)
    case FM_U16: FM_INT_DST(uint16_t, -1.0, 65536.0)
    case FM_U32: FM_INT_DST(uint32_t, -1.0, 4294967296.0)
    case FM_U64: FM_INT_DST(uint64_t, -1.0, 18446744073709551616.0)
    case FM_F32: FM_FLOAT_DST(float)
    case FM_F64: FM_FLOAT_DST(double)
    default: return 1;
    }
}

/* Copy an (nrows, ncols) block of src (byte strides s0, s1) into the
 * contiguous dst. Same type (src_type == dst_type, FM_OTHER included: the
 * caller passes equal codes only for equal dtypes): plain copies. Otherwise
 * fm_cast_run. Returns 0, or 1 when NumPy must cast this block. */
static int fm_copy_block(char *dst, int dst_type, Py_ssize_t itemsize, const char *src,
                         int src_type, Py_ssize_t nrows, Py_ssize_t ncols,
                         Py_ssize_t s0, Py_ssize_t s1)
{
    Py_ssize_t r, j, dst_row;
    if (nrows <= 0 || ncols <= 0) return 0;
    if (ncols == 1) { ncols = nrows; nrows = 1; s1 = s0; }   /* one strided run */
    if (nrows == 1) s0 = ncols * s1;                          /* s0 never used */
    dst_row = ncols * itemsize;
    if (src_type == dst_type && (src_type == FM_OTHER || src_type == FM_BOOL || s1 == itemsize)) {
        if (s1 == itemsize && s0 == dst_row) {
            memcpy(dst, src, (size_t)(nrows * dst_row));
        } else if (s1 == itemsize) {
            for (r = 0; r < nrows; r++) memcpy(dst + r * dst_row, src + r * s0, (size_t)dst_row);
        } else {
            for (r = 0; r < nrows; r++)
                for (j = 0; j < ncols; j++)
                    memcpy(dst + r * dst_row + j * itemsize, src + r * s0 + j * s1,
                           (size_t)itemsize);
        }
        return 0;
    }
    /* casts, and same-type strided copies of known types (typed loops) */
    if (s0 == ncols * s1) return fm_cast_run(dst, dst_type, src, src_type, nrows * ncols, s1);
    for (r = 0; r < nrows; r++)
        if (fm_cast_run(dst + r * dst_row, dst_type, src + r * s0, src_type, ncols, s1)) return 1;
    return 0;
}

/* ---- rows of Python scalars (caller holds the GIL) ----------------------- */

typedef int (*fm_list_row_fn)(PyObject *const *items, Py_ssize_t n, char *dst);

/* CPython's one-digit ("compact") ints, read inline: |value| < 2**30. */
#if PY_VERSION_HEX >= 0x030C0000
#define FM_LONG_IS_COMPACT(o) PyUnstable_Long_IsCompact((PyLongObject *)(o))
#define FM_LONG_COMPACT(o) ((long long)PyUnstable_Long_CompactValue((PyLongObject *)(o)))
#elif PY_VERSION_HEX >= 0x030900A0 && !defined(Py_LIMITED_API) && !defined(PYPY_VERSION)
#define FM_LONG_IS_COMPACT(o) ((size_t)(Py_SIZE(o) + 1) <= 2)
#define FM_LONG_COMPACT(o) ((long long)Py_SIZE(o) * (long long)((PyLongObject *)(o))->ob_digit[0])
#else
#define FM_LONG_IS_COMPACT(o) 0
#define FM_LONG_COMPACT(o) 0LL
#endif
/* Does every compact int fit [LO, HI]? (then the range check is skipped) */
#define FM_COMPACT_FITS(LO, HI) ((long long)(LO) <= -(1LL << 30) && (long long)(HI) >= (1LL << 30))

/* NAME(items, n, dst) converts n Python scalars into the DT array dst with
 * ITEM, a statement that stores item `o` in `dst[i]` or returns 1 (the caller
 * falls back to the Python implementation). */
#define FM_DEFINE_LIST_ROW(NAME, DT, ITEM)                                      \
static int NAME(PyObject *const *items, Py_ssize_t n, char *dst_)               \
{                                                                               \
    DT *dst = (DT *)dst_;                                                       \
    Py_ssize_t i;                                                               \
    for (i = 0; i < n; i++) {                                                   \
        PyObject *o = items[i];                                                 \
        ITEM                                                                    \
    }                                                                           \
    return 0;                                                                   \
}

/* Exact int/float item o -> integer DT d. ints: must lie in [LO, HI];
 * floats: int(x) must lie there (LOM1 < x < HIP1, NaN/inf fail). */
#define FM_ITEM_INT(o, d, DT, LO, HI, LOM1, HIP1)                               \
    if (Py_IS_TYPE(o, &PyLong_Type) && FM_LONG_IS_COMPACT(o)) {                 \
        long long v = FM_LONG_COMPACT(o);                                       \
        if (!FM_COMPACT_FITS(LO, HI) && (v < (long long)(LO) || v > (long long)(HI))) \
            return 1;                                                           \
        d = (DT)v;                                                              \
    } else if (Py_IS_TYPE(o, &PyLong_Type)) {                                   \
        int overflow;                                                           \
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);               \
        if (overflow || v < (long long)(LO) || v > (long long)(HI)) return 1;   \
        d = (DT)v;                                                              \
    } else if (Py_IS_TYPE(o, &PyFloat_Type)) {                                  \
        double x = PyFloat_AS_DOUBLE(o);                                        \
        if (!(x > (LOM1) && x < (HIP1))) return 1;                              \
        d = (DT)x;                                                              \
    } else {                                                                    \
        return 1;                                                               \
    }

#define FM_DEFINE_LIST_INT(NAME, DT, LO, HI, LOM1, HIP1)                        \
    FM_DEFINE_LIST_ROW(NAME, DT, FM_ITEM_INT(o, dst[i], DT, LO, HI, LOM1, HIP1))

FM_DEFINE_LIST_INT(fm_list_row_i8, int8_t, INT8_MIN, INT8_MAX, -129.0, 128.0)
FM_DEFINE_LIST_INT(fm_list_row_i16, int16_t, INT16_MIN, INT16_MAX, -32769.0, 32768.0)
FM_DEFINE_LIST_INT(fm_list_row_i32, int32_t, INT32_MIN, INT32_MAX, -2147483649.0, 2147483648.0)
FM_DEFINE_LIST_INT(fm_list_row_i64, int64_t, INT64_MIN, INT64_MAX,
                   -9223372036854777856.0, 9223372036854775808.0)
FM_DEFINE_LIST_INT(fm_list_row_u8, uint8_t, 0, UINT8_MAX, -1.0, 256.0)
FM_DEFINE_LIST_INT(fm_list_row_u16, uint16_t, 0, UINT16_MAX, -1.0, 65536.0)
FM_DEFINE_LIST_INT(fm_list_row_u32, uint32_t, 0, UINT32_MAX, -1.0, 4294967296.0)

/* uint64: ints above INT64_MAX go through PyLong_AsUnsignedLongLong. */
#define FM_ITEM_U64(o, d)                                                       \
    if (Py_IS_TYPE(o, &PyLong_Type) && FM_LONG_IS_COMPACT(o)) {                 \
        long long v = FM_LONG_COMPACT(o);                                       \
        if (v < 0) return 1;                                                    \
        d = (uint64_t)v;                                                        \
    } else if (Py_IS_TYPE(o, &PyLong_Type)) {                                   \
        int overflow;                                                           \
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);               \
        if (overflow > 0) {                                                     \
            unsigned long long u = PyLong_AsUnsignedLongLong(o);                \
            if (u == (unsigned long long)-1 && PyErr_Occurred()) { PyErr_Clear(); return 1; } \
            d = (uint64_t)u;                                                    \
        } else {                                                                \
            if (overflow || v < 0) return 1;                                    \
            d = (uint64_t)v;                                                    \
        }                                                                       \
    } else if (Py_IS_TYPE(o, &PyFloat_Type)) {                                  \
        double x = PyFloat_AS_DOUBLE(o);                                        \
        if (!(x > -1.0 && x < 18446744073709551616.0)) return 1;                \
        d = (uint64_t)x;                                                        \
    } else {                                                                    \
        return 1;                                                               \
    }

FM_DEFINE_LIST_ROW(fm_list_row_u64, uint64_t, FM_ITEM_U64(o, dst[i]))

/* Exact int/float item o -> float DT d, as NumPy's per-item assignment: the
 * value goes through a C double first (ints: correctly rounded), then to DT.
 * float32 overflow (NumPy warns) returns 1. */
#define FM_ITEM_FLOAT(o, d, DT, CHECK_F32)                                      \
    {                                                                           \
        double x;                                                               \
        if (Py_IS_TYPE(o, &PyFloat_Type)) {                                     \
            x = PyFloat_AS_DOUBLE(o);                                           \
        } else if (Py_IS_TYPE(o, &PyLong_Type) && FM_LONG_IS_COMPACT(o)) {      \
            x = (double)FM_LONG_COMPACT(o);                                     \
        } else if (Py_IS_TYPE(o, &PyLong_Type)) {                               \
            int overflow;                                                       \
            long long v = PyLong_AsLongLongAndOverflow(o, &overflow);           \
            if (overflow) {                                                     \
                x = PyLong_AsDouble(o);                                         \
                if (x == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 1; } \
            } else {                                                            \
                x = (double)v;                                                  \
            }                                                                   \
        } else {                                                                \
            return 1;                                                           \
        }                                                                       \
        if (CHECK_F32 && fabs(x) > FLT_MAX && isfinite(x)) return 1;            \
        d = (DT)x;                                                              \
    }

FM_DEFINE_LIST_ROW(fm_list_row_f32, float, FM_ITEM_FLOAT(o, dst[i], float, 1))
FM_DEFINE_LIST_ROW(fm_list_row_f64, double, FM_ITEM_FLOAT(o, dst[i], double, 0))

/* The row converter for a destination code (NULL: no Python-scalar path). */
static inline fm_list_row_fn fm_list_row_for(int dst_type)
{
    switch (dst_type) {
    case FM_I8: return fm_list_row_i8;
    case FM_I16: return fm_list_row_i16;
    case FM_I32: return fm_list_row_i32;
    case FM_I64: return fm_list_row_i64;
    case FM_U8: return fm_list_row_u8;
    case FM_U16: return fm_list_row_u16;
    case FM_U32: return fm_list_row_u32;
    case FM_U64: return fm_list_row_u64;
    case FM_F32: return fm_list_row_f32;
    case FM_F64: return fm_list_row_f64;
    default: return NULL;
    }
}

/* Python scalars that make `np.asarray(row).shape == (len(row),)` certain:
 * exact floats and exact ints within int64 (larger ints change NumPy's
 * dtype discovery, which may raise). Returns 1 if every item qualifies. */
static inline int fm_items_are_plain_scalars(PyObject *const *items, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        PyObject *o = items[i];
        if (Py_IS_TYPE(o, &PyFloat_Type)) continue;
        if (Py_IS_TYPE(o, &PyLong_Type)) {
            int overflow;
            (void)PyLong_AsLongLongAndOverflow(o, &overflow);
            if (!overflow) continue;
        }
        return 0;
    }
    return 1;
}

/* Row layout shared by every kernel: `keep` elements (each `inner` items of
 * `itemsize` bytes) land at step `off` of a row of `maxlen` steps; the rest
 * is `fill`; mask (if any) is 1 on the kept steps, 0 elsewhere. This writes
 * the padding and the mask; the caller writes the kept elements.
 * prezeroed: row and mask_row are already all zero bytes and so is `fill`
 * (fresh np.zeros output): only the mask's 1s are written. */
static inline void fm_pad_row(char *row, Py_ssize_t maxlen, Py_ssize_t inner, Py_ssize_t itemsize,
                              const char *fill, Py_ssize_t off, Py_ssize_t keep,
                              uint8_t *mask_row, int prezeroed)
{
    if (!prezeroed) {
        fm_fill(row, fill, off * inner, itemsize);
        fm_fill(row + (off + keep) * inner * itemsize, fill, (maxlen - off - keep) * inner,
                itemsize);
    }
    if (mask_row) {
        if (!prezeroed) {
            memset(mask_row, 0, (size_t)off);
            memset(mask_row + off + keep, 0, (size_t)(maxlen - off - keep));
        }
        memset(mask_row + off, 1, (size_t)keep);
    }
}

/* Number of nonzero bytes in p[0:n] (a bool mask row). 32 byte lanes count
 * in uint8 accumulators (<= 255 steps), which compilers vectorise. */
static inline int64_t fm_count_nonzero(const uint8_t *p, Py_ssize_t n)
{
    enum { W = 32 };
    int64_t total = 0;
    Py_ssize_t i = 0, b, blocks;
    int l;
    while (n - i >= W) {
        uint8_t acc[W] = {0};
        blocks = (n - i) / W;
        if (blocks > 255) blocks = 255;
        for (b = 0; b < blocks; b++, i += W)
            for (l = 0; l < W; l++) acc[l] += (uint8_t)(p[i + l] != 0);
        for (l = 0; l < W; l++) total += acc[l];
    }
    for (; i < n; i++) total += (p[i] != 0);
    return total;
}

FM_HOT_END

#endif /* FASTMASK_FM_PADDING_H */
