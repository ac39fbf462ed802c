"""`Dropout`: identity at inference, seeded inverted dropout with `training=True`."""
import numpy as np

from ..layer import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 (others scaled by 1/(1-rate)) when training.

    At inference (the default, and in `predict`) it returns its input
    unchanged. With a `seed`, the sequence of dropout masks is reproducible
    (each call draws a new mask from the layer's own generator, as Keras's
    SeedGenerator does; the numbers differ from Keras's). `noise_shape` entries
    of None take the input's size. Passes the mask through.
    """

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.noise_shape = self._validate_noise_shape(noise_shape)
        self._rng = np.random.default_rng(seed)
        self.supports_masking = True
        self._build_at_init()

    @staticmethod
    def _validate_noise_shape(noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str):
            raise ValueError("Invalid value received for argument `noise_shape`. Expected a "
                             f"tuple or list of integers. Received: noise_shape={noise_shape}")
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError("Invalid value received for argument `noise_shape`. Expected an "
                             "iterable of integers (e.g., a tuple or list). "
                             f"Received: noise_shape={noise_shape}") from None
        for i, dim in enumerate(noise_shape):
            if dim is None:
                continue
            if not isinstance(dim, int) or isinstance(dim, bool):
                raise ValueError("Invalid value received for argument `noise_shape`. Expected "
                                 "all elements to be integers or None. Received element at "
                                 f"index {i}: {dim} (type: {type(dim).__name__})")
            if dim <= 0:
                raise ValueError("Invalid value received for argument `noise_shape`. Expected "
                                 "all dimensions to be positive integers or None. Received "
                                 f"negative or zero value at index {i}: {dim}")
        return noise_shape

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        if self.rate >= 1:
            return np.zeros_like(inputs)
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))
        keep_prob = 1.0 - self.rate
        keep = self._rng.random(shape) < keep_prob
        scale = np.asarray(1.0 / keep_prob, dtype=inputs.dtype)
        return np.where(keep, inputs * scale, np.zeros((), inputs.dtype))

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`): in inference, x itself."""
        return None if type(self) is not Dropout else (_identity, ())

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


def _identity(x):
    return x
