"""`GlobalAveragePooling1D` (alias `GlobalAvgPool1D`): masked mean over the steps."""
import math

from ...core import registry
from ...kernels.pooling import masked_mean
from .base_global_pooling import _GlobalPooling1D

__all__ = ["GlobalAveragePooling1D", "GlobalAvgPool1D"]


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

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`): the mean over the steps of
        unmasked x, without the layer call's checks."""
        if type(self) is not GlobalAveragePooling1D or "call" in self.__dict__ or x.ndim != 3:
            return None
        axis, empty_value, keepdims = self._steps_axis, self.empty_value, self.keepdims
        dtype = self._dtype_policy._compute_np      # (`_cast`; the closure keeps no layer)

        def run(x):
            out = masked_mean(x, None, axis=axis, empty_value=empty_value, keepdims=keepdims)
            return out if out.dtype == dtype else out.astype(dtype)
        return run, ()

    def get_config(self):
        config = super().get_config()
        if not math.isnan(self.empty_value):
            config["empty_value"] = self.empty_value
        return config


# An alias, which `deserialize` finds too.
GlobalAvgPool1D = registry.register_alias("GlobalAvgPool1D", GlobalAveragePooling1D)
