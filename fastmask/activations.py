"""Activation functions with Keras 3 names and formulas (NumPy backend), dtype-preserving.

`get(identifier)` accepts a name ("relu", "softmax", ...; None means
"linear"), Keras's config dict of a function, or a callable; anything else
is a ValueError naming it. `serialize(fn)` gives the name stored in configs.
"""
import math
import warnings

import numpy as np

from .core.config_objects import lookup_custom
from .core.registry import register_builtin_functions

__all__ = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
           "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
           "silu", "swish", "mish", "exponential", "get", "serialize", "deserialize"]


def _arr(x):
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _scalar(v, x):
    return x.dtype.type(v)


def linear(x):
    """Identity."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras's optional slope below `threshold` and cap `max_value`."""
    x = _arr(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return np.maximum(x, _scalar(0, x))
    if threshold != 0:
        out = np.where(x > threshold, x, _scalar(0, x))
    else:
        out = np.maximum(x, _scalar(0, x))
    if max_value is not None:
        out = np.minimum(out, _scalar(max_value, x))
    if negative_slope != 0.0:
        out = np.where(x < threshold, _scalar(negative_slope, x) * (x - _scalar(threshold, x)),
                       out)
    return out.astype(x.dtype, copy=False)


def relu6(x):
    x = _arr(x)
    return np.clip(x, _scalar(0, x), _scalar(6, x))


def leaky_relu(x, negative_slope=0.2):
    x = _arr(x)
    return np.where(x >= 0, x, _scalar(negative_slope, x) * x)


def elu(x, alpha=1.0):
    x = _arr(x)
    return np.where(x > 0, x, _scalar(alpha, x) * np.expm1(np.minimum(x, 0)))


def selu(x):
    x = _arr(x)
    alpha, scale = 1.67326324, 1.05070098
    return _scalar(scale, x) * np.where(x > 0, x, _scalar(alpha, x) * np.expm1(np.minimum(x, 0)))


def gelu(x, approximate=False):
    x = _arr(x)
    if approximate:
        c = _scalar(math.sqrt(2.0 / math.pi), x)
        return _scalar(0.5, x) * x * (1 + np.tanh(c * (x + _scalar(0.044715, x) * x ** 3)))
    from scipy.special import erf
    return (x * _scalar(0.5, x) * (1 + erf(x / _scalar(math.sqrt(2.0), x)))).astype(x.dtype)


def sigmoid(x):
    """1 / (1 + exp(-x)) (the NumPy backend's formula)."""
    x = _arr(x)
    with np.errstate(over="ignore"):
        return _scalar(1, x) / (_scalar(1, x) + np.exp(-x))


def hard_sigmoid(x):
    x = _arr(x)
    return relu6(x + _scalar(3, x)) / _scalar(6, x)


def tanh(x):
    return np.tanh(_arr(x))


def warn_if_softmax_axis_has_size_one(shape, axis, stacklevel=3):
    """Keras's warning (from `ops.softmax`) when `axis` (an int) has size 1 in `shape`."""
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) \
            and -len(shape) <= axis < len(shape) and shape[axis] == 1:
        warnings.warn(
            f"You are using a softmax over axis {axis} of a tensor of shape {tuple(shape)}. "
            "This axis has size 1. The softmax operation will always return the value 1, "
            "which is likely not what you intended. Did you mean to use a sigmoid instead?",
            stacklevel=stacklevel)


def softmax(x, axis=-1):
    """exp(x - max) / sum over `axis` (int or tuple); Keras's warning for a size-1 axis."""
    x = _arr(x)
    warn_if_softmax_axis_has_size_one(x.shape, axis)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = _arr(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softplus(x):
    x = _arr(x)
    return np.logaddexp(x, _scalar(0, x))


def softsign(x):
    x = _arr(x)
    return x / (_scalar(1, x) + np.abs(x))


def silu(x):
    x = _arr(x)
    return x * sigmoid(x)


swish = silu


def mish(x):
    x = _arr(x)
    return x * np.tanh(softplus(x))


def exponential(x):
    return np.exp(_arr(x))


ALL_OBJECTS = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu,
                                       sigmoid, hard_sigmoid, tanh, softmax, log_softmax,
                                       softplus, softsign, silu, mish, exponential)}
ALL_OBJECTS["swish"] = silu
# Found by name when a file names an activation ("relu" from "builtins"): no import by name.
register_builtin_functions("activations", ALL_OBJECTS)


def serialize(activation):
    """The name Keras stores in configs ("linear", "relu", ...)."""
    name = getattr(activation, "__name__", None)
    if name in ALL_OBJECTS and ALL_OBJECTS[name] is activation:
        return name
    if name == "swish":
        return "silu"
    raise ValueError(f"Cannot serialize activation {activation!r}: not a built-in "
                     "fastmask activation.")


_LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda. This carries a potential risk of "
    "arbitrary code execution and thus it is disallowed by default. If you trust the "
    "source of the artifact, you can override this error by passing `safe_mode=False` to "
    "the loading function, or calling `keras.config.enable_unsafe_deserialization()`.")


def _not_found(kind, name, config):
    return TypeError(
        f"Could not locate {kind} '{name}'. Make sure custom classes and functions are "
        "decorated with `@keras.saving.register_keras_serializable()` (fastmask: "
        "`fastmask.saving.register_keras_serializable`) or passed in `custom_objects`. "
        f"Full object config: {config}")


def _from_dict(config, custom_objects):
    """The activation a Keras config dict names (see `deserialize`)."""
    class_name = config.get("class_name")
    inner = config.get("config")
    if class_name == "__lambda__":
        from .core.registry import in_safe_mode
        from .core.serialization import deserialize_function
        if in_safe_mode():
            raise ValueError(_LAMBDA_REFUSED)
        if isinstance(inner, dict) and "value" in inner:    # Keras's func_dump triple
            value = inner["value"]
            if not isinstance(value, (list, tuple)) or len(value) != 3:
                raise ValueError("A serialized Python lambda's 'value' must be Keras's "
                                 "[code, defaults, closure]. Received: "
                                 f"value={str(value)[:80]}")
            code, defaults, closure = value
            inner = {"code": code, "defaults": defaults, "closure": closure}
        return deserialize_function({"class_name": "__lambda__", "config": inner},
                                    safe_mode=False)
    if class_name == "function":
        found = lookup_custom([config.get("registered_name"), inner], custom_objects)
        if found is None and isinstance(inner, str):
            found = ALL_OBJECTS.get(inner)
        if found is None and isinstance(inner, str):
            # The loader's resolution (core/serialization.py, never imports a module):
            # Keras <= 3.6 bare names of registered functions, `keras.ops.*`, and
            # Keras's refusal of non-modeling APIs; else its "Could not locate" TypeError.
            from .core.serialization import deserialize_function
            found = deserialize_function(config, custom_objects)
        if found is None:
            raise _not_found("function", inner, config)
        return found
    if "config" not in config:
        raise ValueError(f"Could not interpret activation function identifier: {config}")
    found = lookup_custom([config.get("registered_name"), class_name], custom_objects)
    if not isinstance(found, type):
        raise _not_found("class", class_name, config)
    return found.from_config(inner or {}) if hasattr(found, "from_config") \
        else found(**(inner or {}))


def deserialize(config, custom_objects=None):
    """An activation from its config: a name, or Keras's dict of a function or class.

    Names resolve to the built-ins, then to the user's objects (`custom_objects`,
    `custom_object_scope`, `register_keras_serializable`). No module is imported;
    a bytecode `__lambda__` is rebuilt only outside safe mode. A config naming no
    known function raises (ValueError "Could not interpret activation function
    identifier: ...", or TypeError "Could not locate function '...'" as Keras).
    """
    if isinstance(config, dict):
        found = _from_dict(config, custom_objects)
    elif isinstance(config, str):
        found = ALL_OBJECTS.get(config) or lookup_custom([config], custom_objects)
    else:
        found = config
    if callable(found) and not isinstance(found, type):
        return found
    raise ValueError(f"Could not interpret activation function identifier: {config}")


def get(identifier):
    """Activation function from a name, None ("linear"), a config dict or a callable.

    An identifier that names no activation raises ValueError("Could not
    interpret activation function identifier: ..."), never a silent default.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (dict, str)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")
