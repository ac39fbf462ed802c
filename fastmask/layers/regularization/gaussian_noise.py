"""`GaussianNoise`: adds N(0, stddev) noise in training; identity at inference."""
import numpy as np

from ...core.tensor import plain
from ..call_signature import _is_default
from ..layer import Layer

__all__ = ["GaussianNoise"]


class GaussianNoise(Layer):
    """Additive zero-centered Gaussian noise (keras.layers.GaussianNoise).

    With `training=True`: `inputs + normal(0, stddev)` drawn in the compute
    dtype; otherwise (the default, and in `predict`) the input unchanged.
    The draws come from the layer's own NumPy generator (reproducible with
    `seed`; the numbers differ from Keras's, as for Dropout). Passes the mask through.

    Args:
        stddev: standard deviation of the noise, in [0, 1].
        seed: optional int seed.
    """

    _time_distributed_merge = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float, np.number)) \
                or not 0 <= stddev <= 1:
            raise ValueError("Invalid value received for argument `stddev`. Expected a float "
                             f"value between 0 and 1. Received: stddev={stddev}")
        self.stddev = stddev
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.supports_masking = True
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs, training=False):
        if not training or self.stddev <= 0:
            return inputs
        x = plain(inputs)
        dtype = np.dtype(self.compute_dtype)
        noise = self._rng.normal(0.0, self.stddev, size=x.shape).astype(dtype)
        return x + noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
