"""`Softmax` layer: Keras's masked softmax (one fused pass, fastmask.kernels.masked_softmax)."""
import numpy as np

from ...activations import warn_if_softmax_axis_has_size_one
from ...core.tensor import plain
from ...kernels.softmax import masked_softmax
from ..layer import Layer

__all__ = ["Softmax"]


class Softmax(Layer):
    """Softmax activation layer with Keras's mask semantics; passes the mask through.

    With a mask (True = keep): masked logits are replaced by -1e9 (-3e4 for
    float16), the softmax is taken, and masked outputs are set to 0, so a
    fully masked row is all zeros. The mask must broadcast to the input the
    Keras way (no more dimensions than the input; each trailing dimension 1 or
    equal), so the automatic (batch, time) mask of a (batch, time, features)
    input raises Keras's error; pass `mask=m[..., None]` for that case.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.Softmax()(np.array([1.0, 2.0, 1.0]))
    array([0.21194157, 0.5761169 , 0.21194157], dtype=float32)

    Args:
        axis: int, or list/tuple of ints, the axes normalized over (default -1).

    Call arguments:
        inputs: the logits.
        mask: optional bool (or numeric: kept where > 0.5) array broadcastable
            to `inputs`.

    Input shape: any. Output shape: same as the input.
    """

    _check_mask_shape = False       # broadcastable masks are checked by the kernel
    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs, mask=None):
        x = plain(inputs)
        axis = self.axis
        if isinstance(axis, (list, tuple)):
            axis = axis[0] if len(axis) == 1 else tuple(axis)
        warn_if_softmax_axis_has_size_one(x.shape, axis)
        out = masked_softmax(x, None if mask is None else plain(mask), axis=axis)
        dtype = self._dtype_policy._compute_np
        return out if out.dtype == dtype else out.astype(dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
