"""`BatchNormalization`: moving statistics at inference, batch (masked) moments in training."""
import numpy as np

from ... import backend, constraints, initializers, regularizers
from ...core.tensor import plain
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Normalizes `axis` with moving or batch statistics (keras.layers.BatchNormalization).

    At inference (the default, and in `predict`):
    `(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta`,
    computed as Keras's NumPy backend does (`x * inv + (beta - mean * inv)` with
    `inv = gamma / sqrt(var + epsilon)`), in float32 or wider (float16 inputs are
    upcast, the result cast to the compute dtype).

    With `training=True` (and `trainable`), the batch's moments are used and the
    moving statistics updated by `momentum`; a mask `(batch, steps)` restricts
    the moments to the kept steps (Keras's rule), renormalization (`renorm`) as
    in Keras. The mask passes through unchanged; a mask whose rank is not the
    input's rank - 1 is a ValueError, as in Keras.

    >>> import numpy as np, fastmask
    >>> bn = fastmask.layers.BatchNormalization()
    >>> bn(np.ones((2, 3, 4))).shape
    (2, 3, 4)

    Args:
        axis: the feature axis (int, default -1).
        momentum: moving-average momentum (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center / scale: use `beta` / `gamma` (default True).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: "zeros", "ones", "zeros", "ones" by default.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint:
            kept for the config (inference ignores them).
        renorm, renorm_clipping, renorm_momentum: batch renormalization (training).
        synchronized: must be False (Keras: TensorFlow only).

    Weights (Keras's order): `gamma`, `beta` (trainable), `moving_mean`,
    `moving_variance` (non-trainable), then with renorm `moving_stddev`,
    `renorm_mean`, `renorm_stddev`; each of shape `(input_shape[axis],)`.
    """

    _check_mask_shape = False   # checked in call() with Keras's own rule and message

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        if synchronized:
            raise ValueError("Argument synchronized=True is only supported with the "
                             "TensorFlow backend.")
        self.synchronized = synchronized
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.renorm = renorm
        if renorm:
            renorm_clipping = renorm_clipping or {}
            keys = ["rmax", "rmin", "dmax"]
            if set(renorm_clipping) - set(keys):
                raise ValueError("Received invalid keys for `renorm_clipping` argument: "
                                 f"{renorm_clipping}. Supported values: {keys}.")
            rmax, rmin = renorm_clipping.get("rmax"), renorm_clipping.get("rmin")
            dmax = renorm_clipping.get("dmax")
            if rmax is not None and rmin is not None and rmax < rmin:
                raise ValueError("rmax should be greater than rmin in the `renorm_clipping` "
                                 f"argument. Received: rmax={rmax}, rmin={rmin}.")
            if dmax is not None and dmax < 0:
                raise ValueError("dmax should be non-negative in the `renorm_clipping` "
                                 f"argument. Received: dmax={dmax}.")
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._reduction_axes = None

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                             f"{tuple(input_shape)}. Received: axis={self.axis}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} of the input must be "
                             f"defined. Received: input_shape={tuple(input_shape)}")
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, trainable=True,
                                         autocast=False)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, trainable=True,
                                        autocast=False)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False, autocast=False)
        if self.renorm:
            variance_init = self.moving_variance_initializer

            def stddev_init(shape, dtype=None):
                return np.sqrt(np.asarray(variance_init(shape, dtype=dtype)))

            self.moving_stddev = self.add_weight(shape=shape, name="moving_stddev",
                                                 initializer=stddev_init, trainable=False,
                                                 autocast=False)
            self.renorm_mean = self.add_weight(shape=shape, name="renorm_mean",
                                               initializer=self.moving_mean_initializer,
                                               trainable=False, autocast=False)
            self.renorm_stddev = self.add_weight(shape=shape, name="renorm_stddev",
                                                 initializer=stddev_init, trainable=False,
                                                 autocast=False)
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: channels})
        reduction_axes = list(range(rank))
        del reduction_axes[self.axis]
        self._reduction_axes = reduction_axes

    def compute_output_shape(self, input_shape):
        if self.axis >= len(input_shape) or self.axis < -len(input_shape):
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                             f"{input_shape}. Received: axis={self.axis}")
        return input_shape

    def call(self, inputs, training=None, mask=None):
        x = plain(inputs)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Layer '{self.name}' (of type BatchNormalization) normalizes real "
                            f"numbers. Received: inputs.dtype={x.dtype}")
        if mask is not None:
            mask = plain(mask)
            if np.ndim(mask) != x.ndim - 1:
                raise ValueError("The mask provided should be one dimension less than the "
                                 f"inputs. Received: mask.shape={np.shape(mask)}, "
                                 f"inputs.shape={x.shape}")
            try:
                np.broadcast_shapes(np.shape(mask) + (1,), x.shape)
            except ValueError:
                raise ValueError(f"Layer '{self.name}' (of type BatchNormalization): the mask "
                                 "must broadcast to the inputs once a last axis is added. "
                                 f"Received: mask.shape={np.shape(mask)}, inputs.shape="
                                 f"{x.shape}") from None
        dtype = np.result_type(x.dtype, np.float32)
        if dtype.kind != "f":
            dtype = np.dtype(np.float32)
        x = x.astype(dtype, copy=False)
        gamma = None if self.gamma is None else self.gamma.value.astype(dtype, copy=False)
        beta = None if self.beta is None else self.beta.value.astype(dtype, copy=False)
        if training and self.trainable:
            mean, variance = self._moments(x, mask)
            if self.renorm:
                gamma, beta = self._renorm(mean, variance, gamma, beta, dtype)
            else:
                momentum = dtype.type(self.momentum)
                one = dtype.type(1.0)
                self.moving_mean.assign(
                    self.moving_mean.value.astype(dtype) * momentum + mean * (one - momentum))
                self.moving_variance.assign(
                    self.moving_variance.value.astype(dtype) * momentum
                    + variance * (one - momentum))
        else:
            mean = self.moving_mean.value.astype(dtype, copy=False)
            variance = self.moving_variance.value.astype(dtype, copy=False)
        out = self._normalize(x, mean, variance, gamma, beta)
        return out.astype(self.compute_dtype, copy=False)

    def _normalize(self, x, mean, variance, gamma, beta):
        """Keras's backend.nn.batch_normalization (NumPy backend), operation for operation."""
        shape = [1] * x.ndim
        shape[self.axis] = mean.shape[0]
        inv = x.dtype.type(1.0) / np.sqrt(variance.reshape(shape) + x.dtype.type(self.epsilon))
        if gamma is not None:
            inv = inv * gamma.reshape(shape)
        res = -mean.reshape(shape) * inv
        if beta is not None:
            res = res + beta.reshape(shape)
        return x * inv + res

    def _moments(self, x, mask):
        """(mean, variance) over the reduction axes, each (channels,); masked: kept steps only."""
        axes = tuple(a % x.ndim for a in self._reduction_axes) if self._reduction_axes \
            is not None else tuple(a for a in range(x.ndim) if a != self.axis % x.ndim)
        channels = x.shape[self.axis]
        if mask is None:
            mean = np.mean(x, axis=axes, keepdims=True)
            variance = np.mean(np.square(x), axis=axes, keepdims=True) - np.square(mean)
            return mean.reshape(channels), variance.reshape(channels)
        try:
            keep = np.broadcast_to(np.expand_dims(np.asarray(mask), -1), x.shape).astype(bool)
        except ValueError:
            raise ValueError(f"Layer '{self.name}': the mask of shape {np.shape(mask)} does "
                             f"not broadcast to the inputs. Received: mask.shape="
                             f"{np.shape(mask)}, inputs.shape={x.shape}") from None
        zero = x.dtype.type(0)
        weights = np.sum(keep.astype(x.dtype), axis=axes, keepdims=True)
        weights = weights + x.dtype.type(backend.epsilon())
        mean = np.sum(np.where(keep, x, zero), axis=axes, keepdims=True) / weights
        variance = np.sum(np.square(np.where(keep, x - mean, zero)), axis=axes,
                          keepdims=True) / weights
        return mean.reshape(channels), variance.reshape(channels)

    def _renorm(self, mean, variance, gamma, beta, dtype):
        """Batch renormalization (training): corrections r, d, then the statistics updates."""
        eps = dtype.type(self.epsilon)
        stddev = np.sqrt(variance + eps)
        renorm_mean = self.renorm_mean.value.astype(dtype)
        renorm_stddev = np.maximum(self.renorm_stddev.value.astype(dtype), np.sqrt(eps))
        r = stddev / renorm_stddev
        d = (mean - renorm_mean) / renorm_stddev
        clipping = self.renorm_clipping or {}
        if clipping.get("rmin") is not None:
            r = np.maximum(r, dtype.type(clipping["rmin"]))
        if clipping.get("rmax") is not None:
            r = np.minimum(r, dtype.type(clipping["rmax"]))
        if clipping.get("dmax") is not None:
            d = np.clip(d, -dtype.type(clipping["dmax"]), dtype.type(clipping["dmax"]))
        if gamma is not None:
            new_gamma, new_beta = r * gamma, d * gamma
        else:
            new_gamma, new_beta = r.astype(dtype), d.astype(dtype)
        if beta is not None:
            new_beta = new_beta + beta
        # Statistics updates.
        rm, m = dtype.type(self.renorm_momentum), dtype.type(self.momentum)
        one = dtype.type(1.0)
        self.renorm_mean.assign(self.renorm_mean.value.astype(dtype) * rm + mean * (one - rm))
        self.renorm_stddev.assign(self.renorm_stddev.value.astype(dtype) * rm
                                  + stddev * (one - rm))
        self.moving_mean.assign(self.moving_mean.value.astype(dtype) * m + mean * (one - m))
        moving_stddev = self.moving_stddev.value.astype(dtype) * m + stddev * (one - m)
        self.moving_stddev.assign(moving_stddev)
        self.moving_variance.assign(np.maximum(moving_stddev * moving_stddev - eps, 0))
        return new_gamma, new_beta

    def get_config(self):
        return {**super().get_config(),
                "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(
                    self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}
