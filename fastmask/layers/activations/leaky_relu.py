"""`LeakyReLU`: `x` where `x >= 0`, else `negative_slope * x` (mask passes through)."""
import warnings

import numpy as np

from ..call_signature import _is_default
from ..layer import Layer
from .real_inputs import real_inputs

__all__ = ["LeakyReLU"]


class LeakyReLU(Layer):
    """Leaky version of a Rectified Linear Unit (keras.layers.LeakyReLU).

    `f(x) = negative_slope * x` for `x < 0`, `x` for `x >= 0`: Keras's
    documented formula, which its JAX, TensorFlow and torch backends compute.
    (Keras's NumPy backend computes `max(x, negative_slope * x)`, which differs
    only for a slope > 1.)

    >>> import numpy as np, fastmask
    >>> fastmask.layers.LeakyReLU(negative_slope=0.5)(np.array([-10., -5., 0., 5., 10.]))
    array([-5. , -2.5,  0. ,  5. , 10. ], dtype=float32)

    Args:
        negative_slope: slope for `x < 0` (float >= 0, default 0.3). The Keras 2
            name `alpha=` is accepted, with Keras's deprecation warning.
    """

    _time_distributed_merge = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if negative_slope is None or isinstance(negative_slope, bool) or not isinstance(
                negative_slope, (int, float, np.number)) or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or "
                             "negative value. Expected a float. Received: "
                             f"negative_slope={negative_slope}")
        self.negative_slope = negative_slope
        self.supports_masking = True
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs):
        x = real_inputs(self, inputs, "LeakyReLU")
        return np.where(x >= 0, x, x.dtype.type(self.negative_slope) * x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
