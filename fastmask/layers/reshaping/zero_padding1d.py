"""`ZeroPadding1D`: zeros before/after the steps axis (drops a mask, with Keras's warning)."""
import numpy as np

from ... import backend
from ...core.tensor import plain
from ..argument_validation import standardize_tuple
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["ZeroPadding1D"]


class ZeroPadding1D(Layer):
    """Adds `padding[0]` zero steps before and `padding[1]` after the steps axis.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.ZeroPadding1D(2)(np.ones((1, 3, 2))).shape
    (1, 7, 2)

    Args:
        padding: int (both sides) or a pair `(left, right)` of ints >= 0.
        data_format: "channels_last" (batch, steps, features) or
            "channels_first" (batch, features, steps); default
            `fastmask.backend.image_data_format()`.

    Does not support masking: an incoming mask is dropped with Keras's warning.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = backend.standardize_data_format(data_format)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        x = plain(inputs)
        axis = 2 if self.data_format == "channels_first" else 1
        left, right = self.padding
        shape = list(x.shape)
        shape[axis] += left + right
        out = np.zeros(shape, x.dtype)
        index = [slice(None)] * 3
        index[axis] = slice(left, left + x.shape[axis])
        out[tuple(index)] = x
        return out

    def compute_output_shape(self, input_shape):
        output_shape = list(input_shape)
        axis = 2 if self.data_format == "channels_first" else 1
        if output_shape[axis] is not None:
            output_shape[axis] += self.padding[0] + self.padding[1]
        return tuple(output_shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}
