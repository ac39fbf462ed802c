"""`GaussianDropout`: multiplies by N(1, sqrt(rate / (1 - rate))) noise in training."""
import math

import numpy as np

from ...core.tensor import plain
from ..call_signature import _is_default
from ..layer import Layer

__all__ = ["GaussianDropout"]


class GaussianDropout(Layer):
    """Multiplicative 1-centered Gaussian noise (keras.layers.GaussianDropout).

    With `training=True`: `inputs * normal(1, sqrt(rate / (1 - rate)))`;
    otherwise (the default, and in `predict`) the input unchanged. The draws
    come from the layer's own NumPy generator (reproducible with `seed`; the
    numbers differ from Keras's). `rate=1` cannot train (infinite deviation:
    Keras fails with ZeroDivisionError, fastmask with a ValueError). Passes the mask through.

    Args:
        rate: drop probability, in [0, 1] (as Dropout's).
        seed: optional int seed.
    """

    _time_distributed_merge = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) \
                or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.supports_masking = True
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        if self.rate >= 1:
            raise ValueError(f"Layer '{self.name}': GaussianDropout with rate=1 has an infinite "
                             "noise deviation sqrt(rate / (1 - rate)) and cannot run in "
                             f"training mode. Received: rate={self.rate}")
        x = plain(inputs)
        dtype = np.dtype(self.compute_dtype)
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * self._rng.normal(1.0, stddev, size=x.shape).astype(dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
