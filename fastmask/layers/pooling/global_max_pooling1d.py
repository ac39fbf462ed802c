"""`GlobalMaxPooling1D` (alias `GlobalMaxPool1D`): max over the steps (mask ignored, as Keras)."""
import numpy as np

from ...core.tensor import plain
from ...core import registry
from ...kernels.pooling import masked_max
from ..call_signature import _signature_of
from .base_global_pooling import _GlobalPooling1D

__all__ = ["GlobalMaxPooling1D", "GlobalMaxPool1D"]


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the time steps.

    Keras's layer ignores the mask: padded steps count in the max, and an
    input mask is dropped with Keras's warning (an explicit `mask=` is a
    TypeError). That is the default here. With `masked=True` the max runs over
    the kept steps only (what Keras users have long asked for); a sample with
    no kept step gets `empty_value` (default 0.0); NaN propagates as in NumPy.
    The output has no mask in both modes.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the steps axis with length 1.
        masked: take the mask into account (default False, as Keras).
        empty_value: result for a fully masked sample when masked=True.

    Call arguments:
        inputs: 3D array. mask (masked=True only): optional (batch, steps) bool.
    """

    def __init__(self, data_format=None, keepdims=False, masked=False, empty_value=0.0,
                 **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self._set_empty_value(empty_value)
        self.masked = bool(masked)
        self.supports_masking = self.masked    # Keras: False (mask dropped, with a warning)
        if self.masked:
            # A `call` with a `mask` parameter, so that the mask reaches it.
            self.call = self._masked_call
            self._call_info = _signature_of(GlobalMaxPooling1D._masked_call)

    def call(self, inputs):
        return self._cast(np.max(plain(inputs), axis=self._steps_axis, keepdims=self.keepdims))

    def _masked_call(self, inputs, mask=None):
        return self._masked(masked_max, inputs, mask)

    def get_config(self):
        config = super().get_config()
        if self.masked:
            config.update(masked=True, empty_value=self.empty_value)
        return config


# An alias, which `deserialize` finds too.
GlobalMaxPool1D = registry.register_alias("GlobalMaxPool1D", GlobalMaxPooling1D)
