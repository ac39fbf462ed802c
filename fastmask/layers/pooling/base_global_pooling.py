"""Base of the global 1D poolings: (batch, steps, features) -> (batch, features)."""
import numpy as np

from ...core.tensor import plain
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = []


def _data_format(data_format):
    value = "channels_last" if data_format is None else str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return value


class _GlobalPooling1D(Layer):
    """(batch, steps, features) -> (batch, features) (Keras's BaseGlobalPooling, 1D)."""

    _check_mask_shape = False   # channels_first: the (batch, steps) mask is not leading

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=3)
        self._build_at_init()

    @property
    def _steps_axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return ((input_shape[0], 1, input_shape[-1]) if self.keepdims
                    else (input_shape[0], input_shape[-1]))
        return ((input_shape[0], input_shape[1], 1) if self.keepdims
                else (input_shape[0], input_shape[1]))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}

    def _cast(self, out):
        dtype = self._dtype_policy._compute_np
        return out if out.dtype == dtype else out.astype(dtype)

    def _set_empty_value(self, empty_value):
        if isinstance(empty_value, bool) or not isinstance(empty_value, (int, float, np.number)):
            raise TypeError("`empty_value` must be a number. "
                            f"Received: empty_value={empty_value!r}")
        self.empty_value = float(empty_value)

    def _masked(self, reduce, inputs, mask):
        """`reduce` (masked_mean or masked_max) over the kept steps, in the compute dtype."""
        out = reduce(plain(inputs), None if mask is None else plain(mask),
                     axis=self._steps_axis, empty_value=self.empty_value, keepdims=self.keepdims)
        return self._cast(out)

    def compute_mask(self, inputs, mask=None):
        return None   # the steps axis is reduced: no output mask
