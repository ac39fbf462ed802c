"""`TimeDistributed`: apply a layer to every timestep (the mask passes through)."""
import numpy as np

from ...core.tensor import KerasTensor, plain, scratch_tensors
from ..core.wrapper import Wrapper
from ..layer import Layer

__all__ = ["TimeDistributed"]


class TimeDistributed(Wrapper):
    """Applies `layer` to each slice `inputs[:, t]` (input rank >= 3).

    As Keras 3.15.1: the wrapped layer's `call` runs on each timestep with
    `mask[:, t]` when it takes a mask; masked steps are computed (not zeroed);
    the output keeps the input's mask. A mask whose batch/time dims differ from
    the input's raises ValueError. Per-sample layers (Dense, Activation, ...,
    marked `_time_distributed_merge = True`) run once on the merged
    `(batch*time, ...)` array instead of a Python loop over time.
    """

    _check_mask_shape = False   # checked in call() with Keras's message; (batch, time, k) ok

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a "
                             f"`fastmask.layers.Layer` instance. Received: {layer}")
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    @staticmethod
    def _child_shape(input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with "
                             f"at least 3 dimensions, received: {input_shape}")
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        super().build(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (child[0], input_shape[1], *child[1:])

    def compute_output_spec(self, inputs, training=None, mask=None):
        """The wrapped layer's spec for one timestep, with the time axis put back."""
        shape = self._child_shape(inputs.shape)
        with scratch_tensors():   # the per-step tensors are scratch, as in a trace
            child = self.layer.compute_output_spec(KerasTensor(shape, inputs.dtype))
        return KerasTensor((child.shape[0], inputs.shape[1], *child.shape[1:]), child.dtype)

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            mask = np.asarray(mask)
            if mask.ndim < 2:
                raise ValueError("The `mask` passed to the `TimeDistributed` layer must be at "
                                 "least 2D (e.g., `(batch_size, timesteps)`), but it has "
                                 f"{mask.ndim} dimension(s) with shape {mask.shape}.")
            if mask.shape[0] != inputs.shape[0] or mask.shape[1] != inputs.shape[1]:
                raise ValueError(
                    f"The `mask` passed to the `TimeDistributed` layer has a shape "
                    f"{mask.shape} that is incompatible with the input shape "
                    f"{inputs.shape}. The first two dimensions of the mask (batch size and "
                    "timesteps) must match the input's first two dimensions. Expected mask "
                    f"shape prefix: ({inputs.shape[0]}, {inputs.shape[1]}).")
        x = plain(inputs)
        info = self.layer._call_info
        kwargs = {}
        if info.has_training:
            kwargs["training"] = training
        b, t = x.shape[0], x.shape[1]
        if getattr(self.layer, "_time_distributed_merge", False) and b * t > 0:
            merged = x.reshape((b * t,) + x.shape[2:])
            if info.has_mask and mask is not None:
                kwargs["mask"] = mask.reshape((b * t,) + mask.shape[2:])
            out = np.asarray(self.layer.call(merged, **kwargs))
            return out.reshape((b, t) + out.shape[1:])
        steps = []
        for i in range(t):
            if info.has_mask and mask is not None:
                kwargs["mask"] = mask[:, i]
            steps.append(np.asarray(self.layer.call(x[:, i], **kwargs)))
        if not steps:
            raise ValueError("`TimeDistributed` needs at least one timestep.")
        return np.stack(steps, axis=1)
