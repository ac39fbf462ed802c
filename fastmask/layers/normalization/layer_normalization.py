"""`LayerNormalization` (the mask passes through; every step is normalized)."""
import numpy as np

from ... import constraints, initializers, regularizers
from ...kernels.normalization import layer_norm, prepare_layer_norm
from ..layer import Layer, usable_out
from ..weight_cache import weight_cache

__all__ = ["LayerNormalization"]


_PREPARED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _value(weight):
    return None if weight is None else weight.value


class LayerNormalization(Layer):
    """Normalizes over `axis` (default last): `(x - mean) / sqrt(var + epsilon) * gamma + beta`.

    Computed in at least float32, as Keras; masked steps are normalized like
    the others (Keras's `call` ignores the mask) and the mask passes through.
    Over the last axis (the default) it runs `fastmask.kernels.layer_norm`
    (one pass per row); other axes use NumPy.

    Weights: `gamma` then `beta`, shaped like the normalized axes.
    """

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time
    _writes_out = True              # `Layer._take_out`: the one-pass kernel writes into it

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.autocast = False
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if a >= ndim or a < -ndim:
                raise ValueError(f"Axis {a} is out of bounds for input shape {input_shape}. "
                                 f"Received: axis={self.axis}")
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(name="gamma", shape=shape,
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, trainable=True)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(name="beta", shape=shape,
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, trainable=True)

    def call(self, inputs):
        into = self._take_out()
        x = np.ndarray.view(inputs, np.ndarray)
        dtype = self._dtype_policy._compute_np
        if (x.dtype == dtype and dtype in _PREPARED_DTYPES and x.flags.c_contiguous
                and x.flags.aligned
                and self.axis in ([-1], [x.ndim - 1])):
            # The common case: over the last axis, parameters checked once (weight cache).
            prepared = self._prepared(x.shape[-1], dtype)
            if not usable_out(into, x.shape, dtype, (x, prepared.gamma, prepared.beta)):
                into = None
            return prepared(x, out=into)
        orig = x.dtype
        if x.dtype.kind != "f" or x.dtype.itemsize < 4:
            x = x.astype(np.float32)
        ndim = x.ndim
        axes = [a % ndim for a in self.axis]
        if axes == [ndim - 1]:
            # The common case: one pass per row (fastmask.kernels.layer_norm).
            gamma, beta = _value(self.gamma), _value(self.beta)
            if not (x.dtype == orig == np.dtype(self.compute_dtype)
                    and usable_out(into, x.shape, x.dtype, (x, gamma, beta))):
                into = None
            out = layer_norm(x, gamma, beta, self.epsilon, self.rms_scaling, out=into)
            return self._cast_out(out, orig)
        bshape = [1] * ndim
        for a in axes:
            bshape[a] = x.shape[a]

        def bcast(v):
            return None if v is None else v.value.astype(x.dtype, copy=False).reshape(bshape)

        gamma, beta = bcast(self.gamma), bcast(self.beta)
        axes_t = tuple(axes)
        if self.rms_scaling:
            var = np.var(x, axis=axes_t, keepdims=True)
            out = x * (1.0 / np.sqrt(var + x.dtype.type(self.epsilon)))
            if gamma is not None:
                out = out * gamma
        else:
            mean = np.mean(x, axis=axes_t, keepdims=True)
            var = np.mean(np.square(x - mean), axis=axes_t, keepdims=True)
            inv = x.dtype.type(1.0) / np.sqrt(var + x.dtype.type(self.epsilon))
            if gamma is not None:
                inv = inv * gamma
            res = -mean * inv
            if beta is not None:
                res = res + beta
            out = x * inv + res
        return self._cast_out(out, orig)

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`) for inputs like x: the prepared
        kernel's call over the last axis for x's shape, or None."""
        dtype = self._dtype_policy._compute_np
        if type(self) is not LayerNormalization or x.dtype != dtype \
                or dtype not in _PREPARED_DTYPES or self.axis not in ([-1], [x.ndim - 1]):
            return None
        run = self._prepared(x.shape[-1], dtype).planned(x.shape)
        return None if run is None else (run, (self.gamma, self.beta))

    def _prepared(self, n, dtype):
        """This layer's `PreparedLayerNorm` for rows of n values in `dtype`, kept in its
        weight cache until gamma, beta or a setting changes."""
        return weight_cache(self).get(
            "prepared", (self.gamma, self.beta),
            (n, dtype.str, self.epsilon, self.rms_scaling),
            lambda: prepare_layer_norm(n, _value(self.gamma), _value(self.beta),
                                       self.epsilon, self.rms_scaling, dtype))

    def _cast_out(self, out, orig):
        """Back to the input's float dtype (Keras's cast), then the compute dtype."""
        out = out.astype(orig if np.dtype(orig).kind == "f" else self.compute_dtype,
                         copy=False)
        return out.astype(self.compute_dtype, copy=False)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}
