"""Activation functions with Keras 3 names and formulas (NumPy backend), dtype-preserving.

`get(identifier)` accepts a name ("relu", "softmax", ...; None means
"linear") or a callable; `serialize(fn)` gives the name stored in configs.
"""
import math
import warnings

import numpy as np

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


def serialize(activation):
    """The name Keras stores in configs ("linear", "relu", ...)."""
    name = getattr(activation, "__name__", None)
    if name in ALL_OBJECTS and ALL_OBJECTS[name] is activation:
        return name
    if name == "swish":
        return "silu"
    raise ValueError(f"Cannot serialize activation {activation!r}: not a built-in "
                     "fastmask activation.")


def deserialize(config):
    if isinstance(config, dict):
        config = config.get("config", config.get("class_name"))
    return get(config)


def get(identifier):
    """Activation function from a name, None ("linear") or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        fn = ALL_OBJECTS.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret activation function identifier: "
                             f"{identifier}")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")
