"""`GlobalAveragePooling1D` and `GlobalMaxPooling1D` over masked sequences."""
import math

import numpy as np

from .._tensor import plain
from ..kernels.pooling import masked_max, masked_mean
from .layer import InputSpec, Layer
from .layer import _signature_of

__all__ = ["GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPooling1D", "GlobalMaxPool1D"]


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
        self.built = True

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


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Average over the (kept) time steps; supports masking, output has no mask.

    Keras's result for a sample whose steps are all masked is 0/0 = NaN, and
    that stays the default here; `empty_value=0.0` (or any number) gives a
    defined result instead. One pass over the input; masked steps are not read.

    >>> import numpy as np, fastmask
    >>> x = np.array([[[1.], [2.], [100.]], [[3.], [5.], [7.]]])
    >>> m = np.array([[True, True, False], [False, False, False]])
    >>> fastmask.layers.GlobalAveragePooling1D()(x, mask=m)
    array([[1.5],
           [nan]], dtype=float32)
    >>> fastmask.layers.GlobalAveragePooling1D(empty_value=0.0)(x, mask=m)
    array([[1.5],
           [0. ]], dtype=float32)

    Args:
        data_format: "channels_last" (batch, steps, features; default) or
            "channels_first" (batch, features, steps).
        keepdims: keep the steps axis with length 1.
        empty_value: result for a sample with no kept step (default NaN, as Keras).

    Call arguments:
        inputs: 3D array. mask: optional (batch, steps) bool array.
    """

    def __init__(self, data_format=None, keepdims=False, empty_value=math.nan, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self._set_empty_value(empty_value)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return self._masked(masked_mean, inputs, mask)

    def get_config(self):
        config = super().get_config()
        if not math.isnan(self.empty_value):
            config["empty_value"] = self.empty_value
        return config


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


GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
