"""`Identity`: returns its input (the same object, so its mask survives)."""
from ...core.tree import map_structure
from ...core.tensor import KerasTensor
from ..layer import Layer

__all__ = ["Identity"]


class Identity(Layer):
    """Returns the input unchanged; supports masking."""

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return map_structure(lambda x: KerasTensor(x.shape, dtype=x.dtype), inputs)
