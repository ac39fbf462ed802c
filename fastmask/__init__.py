"""fastmask: Keras 3 masking & padding semantics on the CPU.

Drop-in for code written against Keras's masking guide:

    import fastmask as keras
    from fastmask import ops, layers

Kernels (Cython + OpenMP) are plain functions in `fastmask.kernels`; padding
utilities in `fastmask.utils`.
"""
__version__ = "0.1.0"

from ._config import get_num_threads, num_threads, set_num_threads, show_config

from . import kernels, utils

__all__ = [
    "__version__", "get_num_threads", "num_threads", "set_num_threads", "show_config",
    "kernels", "utils",
]
