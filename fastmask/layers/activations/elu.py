"""`ELU`: `x` where `x > 0`, else `alpha * (exp(x) - 1)` (mask passes through)."""
from ... import activations
from ..call_signature import _is_default
from ..layer import Layer
from .real_inputs import real_inputs

__all__ = ["ELU"]


class ELU(Layer):
    """Exponential Linear Unit (keras.layers.ELU).

    >>> import numpy as np, fastmask
    >>> fastmask.layers.ELU()(np.array([-1., 0., 2.]))
    array([-0.63212055,  0.        ,  2.        ], dtype=float32)

    Args:
        alpha: scale of the negative part (default 1.0).

    The config is Keras's automatic one (`name`, `alpha`, `trainable`, `dtype`).
    """

    _time_distributed_merge = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs):
        x = real_inputs(self, inputs, "ELU")
        return activations.elu(x, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape
