"""Weight constraints with Keras 3 names, arguments and configs.

Constraints project weights after an optimizer step, so at inference they
change nothing: layers keep them for their config (a saved `kernel_constraint`
loads and saves back unchanged). Calling one applies Keras's projection in NumPy.

`get(identifier)` accepts a name ("max_norm", "NonNeg", ...), a serialized
dict (Keras's format), a class, an instance, or a callable.
"""
import inspect
import re

import numpy as np

from . import backend
from .core.registry import get_registered_name, get_registered_object

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


def _snake(name):
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
ALL_OBJECTS = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS.update({_snake(c.__name__): c for c in _CLASSES})

# Keras's lower-case exports (keras.constraints.max_norm is the class MaxNorm).
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


def serialize(constraint):
    """Keras's serialized dict of a constraint (None stays None)."""
    if constraint is None:
        return None
    if isinstance(constraint, Constraint) and type(constraint) in _CLASSES:
        return {"module": "keras.constraints", "class_name": type(constraint).__name__,
                "config": constraint.get_config(), "registered_name": None}
    if hasattr(constraint, "get_config"):
        cls = type(constraint)
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": constraint.get_config(), "registered_name": get_registered_name(cls)}
    if callable(constraint):
        return {"module": getattr(constraint, "__module__", None) or "builtins",
                "class_name": "function", "config": get_registered_name(constraint),
                "registered_name": "function"}
    raise ValueError(f"Cannot serialize constraint {constraint!r}.")


def _custom(name, registered_name, custom_objects):
    for key in (registered_name, name):
        if not isinstance(key, str):
            continue
        if custom_objects and key in custom_objects:
            return custom_objects[key]
        found = get_registered_object(key)
        if found is not None:
            return found
    return None


def deserialize(config, custom_objects=None):
    """The constraint a `serialize` dict (or Keras's) describes."""
    if not isinstance(config, dict):
        return get(config)
    class_name = config.get("class_name")
    inner = config.get("config") or {}
    if class_name == "function":
        name = inner if isinstance(inner, str) else config.get("registered_name")
        found = _custom(name, config.get("registered_name"), custom_objects)
    else:
        found = _custom(class_name, config.get("registered_name"), custom_objects)
        if found is None:
            found = ALL_OBJECTS.get(class_name)
    if found is None:
        raise ValueError(f"Could not interpret constraint identifier: {config}")
    return found.from_config(inner) if inspect.isclass(found) else found


def get(identifier):
    """A constraint from None, a name, a config dict, a class, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = ALL_OBJECTS.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret constraint identifier: {identifier}")
