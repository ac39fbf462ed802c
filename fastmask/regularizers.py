"""Weight regularizers with Keras 3 names, arguments and configs.

fastmask runs inference only, so a regularizer never changes a result: layers
keep it for their config (a saved `kernel_regularizer` loads and saves back
unchanged). Calling one still gives Keras's penalty, in NumPy.

`get(identifier)` accepts a name ("l1", "l2", "L1L2", "orthogonal_regularizer"),
a serialized dict (Keras's format), a class, an instance, or a callable.
"""
import math

import numpy as np

from .core.config_objects import (builtin_table, deserialize_object, get_object,
                                  serialize_object)

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def validate_float_arg(value, name):
    """`float(value)` for a finite non-negative number, else Keras's ValueError."""
    if (isinstance(value, bool) or not isinstance(value, (float, int))
            or math.isinf(value) or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


def _float32(value):
    """The float a Keras float32 tensor holding `value` gives back (its config value)."""
    return float(np.float32(value))


class Regularizer:
    """Base class: `regularizer(weights)` returns a scalar penalty (0.0 here)."""

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)` (both default 0.0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = np.asarray(x)
        out = np.zeros((), x.dtype)
        if self.l1 != 0.0:
            out = out + x.dtype.type(self.l1) * np.sum(np.abs(x))
        if self.l2 != 0.0:
            out = out + x.dtype.type(self.l2) * np.sum(np.square(x))
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)` (default l1=0.01, kept as a float32 as Keras does)."""

    def __init__(self, l1=0.01):
        self.l1 = _float32(validate_float_arg(0.01 if l1 is None else l1, name="l1"))

    def __call__(self, x):
        x = np.asarray(x)
        return x.dtype.type(self.l1) * np.sum(np.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)` (default l2=0.01)."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = np.asarray(x)
        return x.dtype.type(self.l2) * np.sum(np.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (`mode="rows"`) or columns of a rank-2 weight."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _float32(validate_float_arg(factor, name="factor"))
        if mode not in {"rows", "columns"}:
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def __call__(self, inputs):
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        axis = 1 if self.mode == "rows" else 0
        norm = np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))
        x = x / norm
        product = x @ x.T if self.mode == "rows" else x.T @ x
        size = product.shape[0]
        off_diagonal = product * (1.0 - np.eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return x.dtype.type(self.factor * 0.5) * np.sum(np.abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
ALL_OBJECTS = builtin_table(_CLASSES)

# Keras's lower-case exports (keras.regularizers.l1 is the class L1).
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


def serialize(regularizer):
    """Keras's serialized dict of a regularizer (None stays None)."""
    return serialize_object(regularizer, "regularizer", "keras.regularizers", _CLASSES)


def deserialize(config, custom_objects=None):
    """The regularizer a `serialize` dict (or Keras's) describes."""
    if not isinstance(config, dict):
        return get(config)
    return deserialize_object(config, "regularizer", ALL_OBJECTS, custom_objects)


def get(identifier):
    """A regularizer from None, a name, a config dict, a class, an instance or a callable."""
    return get_object(identifier, "regularizer", ALL_OBJECTS, deserialize)
