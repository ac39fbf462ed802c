"""`Masking`: mask the timesteps whose features all equal `mask_value` (and zero them)."""
import numpy as np

from ... import kernels, ops
from ...core.tensor import KerasTensor, with_mask
from ..layer import Layer

__all__ = ["Masking"]


class Masking(Layer):
    """Masks a timestep when every feature equals `mask_value`; masked steps become 0.

    The output mask is `any(x != mask_value, axis=-1)`, shape `x.shape[:-1]`
    (`(batch, time)` for 3-D input). Any incoming mask is ignored (replaced).
    Runs the one-pass `fastmask.kernels.masking` kernel.

    Args:
        mask_value: number compared with every feature (default 0.0; NaN masks nothing).

    >>> x = np.array([[[0., 0.], [1., 2.]]], dtype="float32")
    >>> fastmask.get_mask(Masking()(x))
    array([[False,  True]])
    """

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self._build_at_init()

    def compute_mask(self, inputs, mask=None):
        if isinstance(inputs, KerasTensor):
            return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)
        return kernels.masking_mask(inputs, self.mask_value)

    def call(self, inputs):
        if inputs.dtype.kind == "f":
            out, mask = kernels.masking(inputs, self.mask_value)
            if out.dtype != inputs.dtype:   # float16 runs in float32: copies, exact back
                out = out.astype(inputs.dtype)
        else:  # ints/bools keep Keras's dtype (where(mask, x, 0) with a weak 0)
            keep = np.any(np.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
            out = ops.where(keep, inputs, 0)
            mask = np.squeeze(keep, axis=-1)
        return with_mask(out, mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return KerasTensor(inputs.shape, dtype=inputs.dtype if "float" not in inputs.dtype
                           else self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
