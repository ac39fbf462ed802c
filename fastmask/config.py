"""`fastmask.config`: the part of `keras.config` that loading needs.

`enable_unsafe_deserialization()` lets every later load rebuild Python lambdas
from marshalled bytecode, whatever `safe_mode` it is given (as in Keras). Only
for files you trust: that bytecode runs when the model is called.
"""
from .core.registry import enable_unsafe_deserialization

__all__ = ["enable_unsafe_deserialization"]
