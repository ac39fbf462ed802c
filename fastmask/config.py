"""`keras.config`: the global settings of Keras 3.15.1 that concern inference and loading.

`dtype_policy()` / `set_dtype_policy(policy)`: the policy of layers created
with `dtype=None` ("float32" by default; "mixed_float16" computes in float16
with float32 weights). The data format, epsilon and floatx functions are those
of `fastmask.backend`.

`enable_unsafe_deserialization()` lets every later load rebuild Python lambdas
from marshalled bytecode, whatever `safe_mode` it is given (as in Keras). Only
for files you trust: that bytecode runs when the model is called.
"""
from .backend import (backend, epsilon, floatx, image_data_format, set_epsilon,
                      set_image_data_format)
from .core.dtype_policy import global_policy as dtype_policy
from .core.dtype_policy import set_global_policy as set_dtype_policy
from .core.registry import enable_unsafe_deserialization

__all__ = ["dtype_policy", "set_dtype_policy", "backend", "epsilon", "set_epsilon", "floatx",
           "image_data_format", "set_image_data_format", "enable_unsafe_deserialization"]
