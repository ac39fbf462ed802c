"""fastmask: Keras 3 masking & padding semantics on the CPU.

Drop-in for code written against Keras's masking guide:

    import fastmask as keras
    from fastmask import ops, layers

Kernels (Cython + OpenMP) are plain functions in `fastmask.kernels`; padding
utilities in `fastmask.utils`.
"""
import sys as _sys

from ._source_tree import installed_copy as _installed_copy

__version__ = "0.1.0"

_installed = _installed_copy(__file__)
if _installed is not None:
    # An unbuilt source checkout shadows the installed build: use the latter.
    _sys.modules[__name__] = _installed
else:
    # Imports run one way (ARCHITECTURE.md): core -> kernels -> ops -> layers -> saving
    # -> models -> tour.
    from .kernels._threads import get_num_threads, num_threads, set_num_threads
    from ._show_config import show_config

    from . import core, kernels, utils

    # Keras-compatible Layer API (issue 3).
    from .core.tensor import KerasTensor, Tensor, Variable, get_mask, with_mask
    from . import activations, initializers, ops, layers, saving, models, preprocessing
    from . import config
    from . import backend, constraints, regularizers   # keras.backend/.constraints/.regularizers
    from . import config                               # keras.config
    from .layers import Input, InputSpec, Layer
    from .models import Model, Sequential

    from . import tour
    models.serve_demo = tour.serve_demo   # its home before `fastmask.tour` existed
    from .profiling import profile

    __all__ = [
        "__version__", "get_num_threads", "num_threads", "set_num_threads", "show_config",
        "kernels", "utils",
        "KerasTensor", "Tensor", "Variable", "get_mask", "with_mask", "activations",
        "initializers", "ops", "layers", "models", "preprocessing", "saving", "Input",
        "InputSpec", "Layer", "Model", "Sequential", "config", "profile",
    ]
    __all__ += ["backend", "constraints", "regularizers", "config"]
