# Explicit-width C types that must match the NumPy dtypes of the arrays.
from libc.stdint cimport int32_t, int64_t, uint8_t
ctypedef float float32_t
ctypedef double float64_t
ctypedef Py_ssize_t intp_t

ctypedef fused index_t:
    int32_t
    int64_t
