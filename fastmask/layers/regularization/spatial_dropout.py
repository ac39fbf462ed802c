"""`SpatialDropout1D`: drops whole feature channels in training; identity at inference."""
import numpy as np

from ...core.tensor import plain
from ..call_signature import _is_default
from ..input_spec import InputSpec
from .dropout import Dropout

__all__ = ["SpatialDropout1D"]


class SpatialDropout1D(Dropout):
    """Dropout of entire 1D feature maps (keras.layers.SpatialDropout1D).

    With `training=True`, each (sample, channel) pair is kept with probability
    `1 - rate` for all steps at once (noise shape `(batch, 1, channels)`) and
    scaled by `1 / (1 - rate)`, as Dropout does per element; otherwise (the
    default, and in `predict`) the input is returned unchanged. The numbers of
    the random draws differ from Keras's (as for Dropout); `seed` makes them
    reproducible. Passes the mask through.

    Args:
        rate: fraction of the channels to drop, in [0, 1].
        seed: optional int seed.
        name, dtype: as every layer (Keras accepts no other keyword argument here).

    Input shape: `(batch, steps, channels)`.
    """

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.input_spec = InputSpec(ndim=3)
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        x = plain(inputs)
        if self.rate >= 1:
            return np.zeros_like(x)
        keep_prob = 1.0 - self.rate
        keep = self._rng.random((x.shape[0], 1, x.shape[2])) < keep_prob
        scale = np.asarray(1.0 / keep_prob, dtype=x.dtype)
        return np.where(keep, x * scale, np.zeros((), x.dtype))

    def get_config(self):
        # Keras's exact keys: no `trainable`, and `dtype` as the variable dtype name.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}
