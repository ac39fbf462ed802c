"""`UpSampling1D`: repeats each step `size` times (drops a mask, with Keras's warning)."""
import numpy as np

from ...core.tensor import plain
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["UpSampling1D"]


class UpSampling1D(Layer):
    """Repeats each step of a `(batch, steps, features)` input `size` times along axis 1.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.UpSampling1D(2)(np.arange(6.).reshape(1, 3, 2))[0, :, 0]
    array([0., 0., 2., 2., 4., 4.], dtype=float32)

    Args:
        size: upsampling factor (a positive Python int, default 2).

    Does not support masking: an incoming mask is dropped with Keras's warning.
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = size
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return np.repeat(plain(inputs), self.size, axis=1)

    def compute_output_shape(self, input_shape):
        size = self.size * input_shape[1] if input_shape[1] is not None else None
        return [input_shape[0], size, input_shape[2]]   # a list, as Keras returns

    def get_config(self):
        return {**super().get_config(), "size": self.size}
