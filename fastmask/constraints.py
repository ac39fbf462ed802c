"""Weight constraints with Keras 3 names, arguments and configs.

Constraints project weights after an optimizer step, so at inference they
change nothing: layers keep them for their config (a saved `kernel_constraint`
loads and saves back unchanged). Calling one applies Keras's projection in NumPy.

`get(identifier)` accepts a name ("max_norm", "NonNeg", ...), a serialized
dict (Keras's format), a class, an instance, or a callable.
"""

import numpy as np

from . import backend
from .core.config_objects import (builtin_table, deserialize_object, get_object,
                                  serialize_object)

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm",
           "min_max_norm", "non_neg", "unit_norm", "get", "serialize", "deserialize"]


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `constraint(w)` returns the projected weights (unchanged here)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales weights whose norm along `axis` exceeds `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips weights at 0 from below."""

    def __call__(self, w):
        w = np.asarray(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Rescales weights to unit norm along `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        return w / (backend.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves weight norms along `axis` into [min_value, max_value] at `rate`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = np.asarray(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
ALL_OBJECTS = builtin_table(_CLASSES)

# Keras's lower-case exports (keras.constraints.max_norm is the class MaxNorm).
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


def serialize(constraint):
    """Keras's serialized dict of a constraint (None stays None)."""
    return serialize_object(constraint, "constraint", "keras.constraints", _CLASSES)


def deserialize(config, custom_objects=None):
    """The constraint a `serialize` dict (or Keras's) describes."""
    if not isinstance(config, dict):
        return get(config)
    return deserialize_object(config, "constraint", ALL_OBJECTS, custom_objects)


def get(identifier):
    """A constraint from None, a name, a config dict, a class, an instance or a callable."""
    return get_object(identifier, "constraint", ALL_OBJECTS, deserialize)
