"""`Reshape` (drops the mask, with Keras's warning)."""
import math

import numpy as np

from ...core.tensor import KerasTensor
from ..layer import Layer

__all__ = ["Reshape"]


def _resolve_target(input_shape, target_shape):
    """Keras's compute_reshape_output_shape: fill a single -1 from the input size."""
    unknown = [i for i, d in enumerate(target_shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError("There must be at most one unknown dimension (-1) in target_shape. "
                         f"Received: target_shape={target_shape}.")
    if None in input_shape:
        return tuple(None if d == -1 else d for d in target_shape)
    size = math.prod(input_shape)
    known = math.prod(d for d in target_shape if d != -1)
    if unknown:
        if known == 0 or size % known:
            raise ValueError("The total size of the tensor must be unchanged. Received: "
                             f"input_shape={tuple(input_shape)}, "
                             f"target_shape={target_shape}")
        out = list(target_shape)
        out[unknown[0]] = size // known
        return tuple(out)
    if known != size:
        raise ValueError("The total size of the tensor must be unchanged. Received: "
                         f"input_shape={tuple(input_shape)}, target_shape={target_shape}")
    return tuple(target_shape)


class Reshape(Layer):
    """Reshapes the non-batch dims to `target_shape` (one entry may be -1).

    Does not support masking: an incoming mask is dropped with a warning.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise ValueError("`target_shape` must be a tuple of integers. "
                             f"Received: target_shape={target_shape}") from None
        for d in target_shape:
            if isinstance(d, bool) or not isinstance(d, int):
                raise ValueError("`target_shape` must be a tuple of integers. "
                                 f"Received: target_shape={target_shape}")
            if d < -1:
                raise ValueError("Each dimension in `target_shape` must be a non-negative "
                                 "integer, or `-1` for a single unknown dimension. "
                                 f"Received: target_shape={target_shape}.")
        if target_shape.count(-1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={target_shape}.")
        self.target_shape = target_shape
        self.built = True

    def call(self, inputs):
        target = _resolve_target(tuple(inputs.shape[1:]), self.target_shape)
        return np.reshape(inputs, (inputs.shape[0],) + target)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + _resolve_target(tuple(input_shape[1:]), self.target_shape)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
