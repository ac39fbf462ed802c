# C declarations of the masked softmax kernels (csrc/fm_softmax.h), for
# _softmax.pyx and _attention.pyx.
from fastmask.kernels._typedefs cimport float32_t, float64_t, int64_t, uint8_t

cdef extern from "fm_softmax.h" nogil:
    int FM_REPLACE
    int FM_SUBTRACT
    int FM_LSE_INF
    int FM_COL_BLOCK
    int FM_ROW_GROUP
    int FM_SOFTMAX_ISA_MAX
    int fm_softmax_isa() noexcept
    Py_ssize_t fm_outer_offset(Py_ssize_t o, int nd, const int64_t *shape,
                               const int64_t *stride) noexcept
    void fm_softmax_row_f32(const float32_t *x, const uint8_t *m, int m_stride,
                            float32_t *out, Py_ssize_t n, int mode, float32_t fill,
                            int zero_masked, float32_t *row_max) noexcept
    void fm_softmax_row_f64(const float64_t *x, const uint8_t *m, int m_stride,
                            float64_t *out, Py_ssize_t n, int mode, float64_t fill,
                            int zero_masked, float64_t *row_max) noexcept
    void fm_softmax_rows_f32(const float32_t *x, Py_ssize_t ldx, float32_t *out,
                             Py_ssize_t ldo, Py_ssize_t rows, const uint8_t *m,
                             Py_ssize_t m_ls, int m_stride, Py_ssize_t n, int mode,
                             float32_t fill, int zero_masked) noexcept
    void fm_softmax_rows_f64(const float64_t *x, Py_ssize_t ldx, float64_t *out,
                             Py_ssize_t ldo, Py_ssize_t rows, const uint8_t *m,
                             Py_ssize_t m_ls, int m_stride, Py_ssize_t n, int mode,
                             float64_t fill, int zero_masked) noexcept
    void fm_softmax_cols_f32(const float32_t *x, Py_ssize_t n, Py_ssize_t row_stride,
                             Py_ssize_t w, const uint8_t *m, Py_ssize_t m_ls,
                             Py_ssize_t m_cs, float32_t *out, int mode,
                             float32_t fill, int zero_masked) noexcept
    void fm_softmax_cols_f64(const float64_t *x, Py_ssize_t n, Py_ssize_t row_stride,
                             Py_ssize_t w, const uint8_t *m, Py_ssize_t m_ls,
                             Py_ssize_t m_cs, float64_t *out, int mode,
                             float64_t fill, int zero_masked) noexcept
