"""Kernels as plain functions: validated NumPy in, NumPy out, no Layer API needed.

Each wrapper `<family>.py` sits beside its Cython kernel `_<family>.pyx` (built as
`fastmask.kernels._<family>`; C headers in `csrc/`). Shared pieces: `_validation.py`
(argument checks), `_threads.py` (thread counts, BLAS limits), `_isa` (the one
instruction-set choice, FASTMASK_ISA, every family binds to), `_openmp_helpers`,
`_cython_blas`, `_typedefs.pxd`, and `_libraries.py` (which OpenMP runtime and BLAS
the kernels call, for show_config). The padding kernel's wrapper is `fastmask.utils`.
"""
from .masking import masking, masking_mask, embedding
from .recurrent import lstm, gru, simple_rnn
from .softmax import masked_softmax
from .pooling import masked_mean, masked_sum, masked_max, masked_min
from .attention import masked_attention, multi_head_attention
