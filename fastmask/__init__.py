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

# Keras-compatible Layer API (issue 3).
from ._tensor import KerasTensor, Tensor, Variable, get_mask, with_mask
from . import activations, initializers, ops, layers, models, preprocessing, saving
from .layers import Input, InputSpec, Layer
from .models import Model, Sequential

__all__ = [
    "__version__", "get_num_threads", "num_threads", "set_num_threads", "show_config",
    "kernels", "utils",
    "KerasTensor", "Tensor", "Variable", "get_mask", "with_mask", "activations",
    "initializers", "ops", "layers", "models", "preprocessing", "saving", "Input",
    "InputSpec", "Layer", "Model", "Sequential",
]
