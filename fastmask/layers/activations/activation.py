"""`Activation` layer (mask pass-through)."""
from ... import activations
from ...core.tensor import plain
from ..layer import Layer

__all__ = ["Activation"]


class Activation(Layer):
    """Applies an activation function (name or callable); passes the mask through."""

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)
        self._build_at_init()

    def call(self, inputs):
        return self.activation(plain(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
