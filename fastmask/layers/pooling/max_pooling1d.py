"""`MaxPooling1D` (alias `MaxPool1D`): max over windows of steps (masks dropped, as Keras)."""
from ...core import registry
from .base_pooling import _BasePooling

__all__ = ["MaxPooling1D", "MaxPool1D"]


class MaxPooling1D(_BasePooling):
    """Max over windows of `pool_size` steps, every `strides` steps (keras.layers.MaxPooling1D).

    >>> import numpy as np, fastmask
    >>> x = np.array([1., 2., 3., 4., 5.]).reshape(1, 5, 1)
    >>> fastmask.layers.MaxPooling1D(2, strides=1)(x)[0, :, 0]
    array([2., 3., 4., 5.], dtype=float32)

    Args:
        pool_size: window length (int or 1-tuple, default 2).
        strides: step between windows (default `pool_size`).
        padding: "valid" or "same" ("same": output steps = ceil(steps / strides),
            padded steps never win).
        data_format: "channels_last" (batch, steps, features) or "channels_first";
            default `fastmask.backend.image_data_format()`.

    Does not support masking (as in Keras, masked steps are pooled like the
    others; the mask is dropped with Keras's warning). One vectorised pass per
    window tap (`fastmask.kernels.window_pooling.max_pool1d`).
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, pool_dimensions=1, pool_mode="max",
                         padding=padding, data_format=data_format, name=name, **kwargs)


# An alias, which `deserialize` finds too.
MaxPool1D = registry.register_alias("MaxPool1D", MaxPooling1D)
