"""`AveragePooling1D` (alias `AvgPool1D`): mean over windows of steps (masks dropped, as Keras)."""
from ...core import registry
from .base_pooling import _BasePooling

__all__ = ["AveragePooling1D", "AvgPool1D"]


class AveragePooling1D(_BasePooling):
    """Mean over windows of `pool_size` steps (keras.layers.AveragePooling1D).

    >>> import numpy as np, fastmask
    >>> x = np.array([1., 2., 3., 4., 5.]).reshape(1, 5, 1)
    >>> fastmask.layers.AveragePooling1D(2, strides=1, padding="same")(x)[0, :, 0]
    array([1.5, 2.5, 3.5, 4.5, 5. ], dtype=float32)

    Args:
        pool_size: window length (int or 1-tuple; required, as in Keras).
        strides: step between windows (default `pool_size`).
        padding: "valid" or "same" ("same": padded steps are not counted, so an
            edge window averages its real steps only, as Keras).
        data_format: "channels_last" or "channels_first"; default
            `fastmask.backend.image_data_format()`.

    Does not support masking: masked steps are averaged like the others and the
    mask is dropped with Keras's warning (use GlobalAveragePooling1D for a masked mean).
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, pool_dimensions=1, pool_mode="average",
                         padding=padding, data_format=data_format, name=name, **kwargs)


# An alias, which `deserialize` finds too.
AvgPool1D = registry.register_alias("AvgPool1D", AveragePooling1D)
