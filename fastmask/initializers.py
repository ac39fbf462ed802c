"""Weight initializers with Keras 3 names, arguments, defaults and configs.

Values are drawn with NumPy (so they differ from Keras's random streams; copy
weights with `set_weights` to reproduce a Keras model). A seeded initializer
returns the same values on every call, as in Keras; unseeded ones draw their
seed from Python's `random` module, as Keras's default seeds do (so they never
consume NumPy's global random stream; `random.seed` makes them reproducible).

`get(identifier)` accepts a name ("glorot_uniform", "GlorotUniform",
"uniform", "zeros", ...), a serialized dict (Keras's format), a class, an
instance, an array (its values), or a callable `fn(shape, dtype=None)`;
anything else is a ValueError naming it.
"""
import math
import random

import numpy as np

from .core.config_objects import builtin_table, lookup_custom
from .core.naming import to_snake_case

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomUniform",
           "RandomNormal", "TruncatedNormal", "VarianceScaling", "GlorotUniform",
           "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
           "Orthogonal", "get", "serialize", "deserialize"]


def _dtype(dtype):
    return np.dtype("float32" if dtype is None else dtype)


class Initializer:
    """Base class: `init(shape, dtype=None)` returns a NumPy array."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=_dtype(dtype))


class Constant(Initializer):
    """All equal to `value` (a scalar, or an array broadcastable to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.broadcast_to(np.asarray(self.value, dtype=_dtype(dtype)), shape).copy()

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        return {"value": value}


class Identity(Initializer):
    """`gain * eye(rows, cols)` for 2-D shapes."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D "
                             f"matrices. Received: shape={shape} of rank {len(shape)}.")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class _Random(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("`seed` argument should be an instance of an integer or "
                             f"None. Received: seed={seed}")
        self.seed = seed

    def _rng(self):
        if self.seed is None:
            return np.random.default_rng(random.randint(1, int(1e9)))
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class RandomUniform(_Random):
    """Uniform in [minval, maxval) (defaults -0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, size=shape).astype(_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class RandomNormal(_Random):
    """Normal(mean, stddev) (defaults 0, 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, size=shape).astype(_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal values redrawn until within 2 stddev of the mean."""
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


class TruncatedNormal(_Random):
    """Normal(mean, stddev) truncated to 2 standard deviations (defaults 0, 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), shape, self.mean,
                                 self.stddev).astype(_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape, as Keras computes them."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes])),
                int(np.prod([shape[a] for a in output_axes])))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(_Random):
    """Scaled by fan_in/fan_out/fan_avg; normal (truncated), untruncated normal or uniform."""

    _defaults = dict(scale=1.0, mode="fan_in", distribution="truncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError("Argument `scale` must be positive float. "
                             f"Received: scale={scale}")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f"{{'fan_in', 'fan_out', 'fan_avg'}}. Received: mode={mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in {"uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError("Invalid value for argument `distribution`. Expected one of "
                             "{'uniform', 'truncated_normal', 'untruncated_normal'}. "
                             f"Received: distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        denom = {"fan_in": max(1.0, fan_in), "fan_out": max(1.0, fan_out),
                 "fan_avg": max(1.0, (fan_in + fan_out) / 2.0)}[self.mode]
        scale = self.scale / denom
        rng = self._rng()
        if self.distribution == "truncated_normal":
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(scale), size=shape)
        else:
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, size=shape)
        return np.asarray(out).astype(_dtype(dtype))

    def get_config(self):
        config = {"seed": self.seed, "input_axes": self.input_axes,
                  "output_axes": self.output_axes}
        if type(self) is VarianceScaling:
            config.update(scale=self.scale, mode=self.mode, distribution=self.distribution)
        return config


def _scaled(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution,
                                 seed=seed, input_axes=input_axes, output_axes=output_axes)
    return type(name, (VarianceScaling,), {"__init__": __init__, "__doc__": doc})


GlorotUniform = _scaled("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in ±sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _scaled("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).")
HeNormal = _scaled("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, stddev sqrt(2 / fan_in).")
HeUniform = _scaled("HeUniform", 2.0, "fan_in", "uniform", "Uniform in ±sqrt(6 / fan_in).")
LecunNormal = _scaled("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, stddev sqrt(1 / fan_in).")
LecunUniform = _scaled("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform in ±sqrt(3 / fan_in).")


class Orthogonal(_Random):
    """(Semi-)orthogonal matrix from the QR decomposition of a normal matrix, times `gain`."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        num_rows = int(np.prod(shape[:-1]))
        num_cols = shape[-1]
        flat = (max(num_cols, num_rows), min(num_cols, num_rows))
        a = self._rng().normal(0.0, 1.0, size=flat)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


_CLASSES = [Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
            LecunUniform, Orthogonal]
ALL_OBJECTS = builtin_table(_CLASSES)
ALL_OBJECTS.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones,
                    "zero": Zeros, "OrthogonalInitializer": Orthogonal,
                    "IdentityInitializer": Identity})

# Lower-case aliases as in Keras (keras.initializers.glorot_uniform is the class).
for _cls in _CLASSES:
    globals()[to_snake_case(_cls.__name__)] = _cls
del _cls


def serialize(initializer):
    """Keras's serialized dict for an initializer (None stays None)."""
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        raise TypeError(f"Cannot serialize {initializer!r}: not a fastmask initializer.")
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """An initializer from Keras's config dict (or a name).

    The class is looked up among the user's objects (`custom_objects`,
    `custom_object_scope`, `register_keras_serializable`), then fastmask's
    initializers; nothing is imported. A config naming no initializer class is a
    ValueError naming it ("Could not interpret initializer identifier: ...", as
    Keras), never a default.
    """
    if not isinstance(config, dict):
        return get(config)
    name = config.get("class_name")
    cls = None
    if isinstance(name, str):
        keys = (config.get("registered_name"), name)
        if name == "function":      # a registered initializer function, saved by name
            keys = (config.get("registered_name"), config.get("config"))
        cls = lookup_custom(keys, custom_objects)
        if cls is None:
            cls = ALL_OBJECTS.get(name)
    if name == "function" and callable(cls) and not isinstance(cls, type):
        return cls
    inner = config.get("config", {}) or {}
    if not isinstance(cls, type) or not isinstance(inner, dict):
        raise ValueError(f"Could not interpret initializer identifier: {config}")
    return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)


def _array_initializer(value):
    """Keras's initializer for an array identifier: returns `value` cast to the dtype."""
    value = np.asarray(value)

    def initialize_fn(shape, dtype=None):
        if tuple(shape) != value.shape:
            raise ValueError(f"Expected `shape` to be {value.shape} for direct tensor as "
                             f"initializer. Received shape={tuple(shape)}")
        return value.astype(_dtype(dtype))
    return initialize_fn


def get(identifier):
    """An initializer from a name, config dict, class, instance, array or callable.

    Anything else (an unknown name, a config of no initializer class) is a
    ValueError("Could not interpret initializer identifier: ...").
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret initializer identifier: {identifier}")
        return cls()
    if isinstance(identifier, (np.ndarray, np.generic)):
        if identifier.dtype.kind not in "biuf":
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r} "
                             f"(an array of dtype {identifier.dtype})")
        return _array_initializer(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


def _install_variable_hook():
    # `fastmask.Variable("ones", shape=...)` (core/tensor.py imports no upper room).
    from .core.tensor import Variable
    Variable._initializer_get = staticmethod(get)


_install_variable_hook()
