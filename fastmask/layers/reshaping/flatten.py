"""`Flatten` (drops the mask, with Keras's warning)."""
import math

import numpy as np

from ...core.tensor import KerasTensor
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flattens all non-batch dims: `(batch, d1, d2, ...) -> (batch, d1*d2*...)`.

    Does not support masking: an incoming mask is dropped with a warning.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = "channels_last" if data_format is None else str(data_format).lower()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be one of {'channels_first', "
                             f"'channels_last'}}. Received: data_format={data_format}")
        self.data_format = data_format
        self.input_spec = InputSpec(min_ndim=1)
        self._channels_first = data_format == "channels_first"

    def call(self, inputs):
        rank = inputs.ndim
        if self._channels_first and rank > 1:
            inputs = np.transpose(inputs, (0, *range(2, rank), 1))
        n = math.prod(inputs.shape[1:]) if rank > 1 else 1
        return np.reshape(inputs, (inputs.shape[0], n))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if len(rest) == 0:
            dim = 1
        elif any(d is None for d in rest):
            dim = None
        else:
            dim = math.prod(rest)
        return (input_shape[0], dim)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
