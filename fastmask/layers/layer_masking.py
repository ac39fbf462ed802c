"""How a layer's output masks are set: `supports_masking`, `compute_mask`, explicit-mask checks."""
import numpy as np

from ..core.tensor import KerasTensor, get_mask, with_mask
from ..core.tree import flatten, pack_as
from ..kernels._validation import check_mask_values
from .call_signature import _default

__all__ = ["LayerMaskingMixin"]


class LayerMaskingMixin:
    """`Layer`'s mask handling (see "How masks leave" in `fastmask.layers.layer`)."""

    @property
    def supports_masking(self):
        """Whether this layer propagates/computes masks (see `compute_mask`)."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = value

    @_default
    def compute_mask(self, inputs, previous_mask):
        return previous_mask

    def _check_mask_values(self, masks, name="mask"):
        """Every non-bool ndarray in `masks` (nested) is a valid mask (`check_mask_values`):
        a str/complex/object mask is a TypeError and a NaN mask a ValueError naming
        this layer, whether the mask was passed or came with the input."""
        if isinstance(masks, (list, tuple, dict)):
            items = masks.items() if isinstance(masks, dict) else enumerate(masks)
            for key, m in items:
                self._check_mask_values(m, f"{name}[{key!r}]")
        elif isinstance(masks, np.ndarray) and masks.dtype != bool:
            check_mask_values(masks, name, f"Layer '{self.name}' (of type "
                                           f"{self.__class__.__name__}): ")

    def _check_explicit_mask(self, x, mask):
        """Reject an explicit `mask=` that cannot belong to input `x` (clear errors)."""
        if isinstance(mask, (list, tuple)) or not isinstance(mask, np.ndarray) \
                or not isinstance(x, np.ndarray):
            return
        if self._check_mask_shape and (mask.ndim > x.ndim
                                       or tuple(mask.shape) != tuple(x.shape[:mask.ndim])):
            raise ValueError(
                f"Layer '{self.name}' (of type {self.__class__.__name__}) received a `mask` "
                f"that does not match its input: the mask must have the input's leading "
                f"(batch, time) dimensions {tuple(x.shape[:max(mask.ndim, 1)])}. "
                f"Received: mask.shape={mask.shape}, inputs.shape={x.shape}")

    def _attach_output_mask(self, inputs, outputs, previous_mask):
        """`outputs` carrying `compute_mask(inputs, previous_mask)`: the step after
        `call` in `__call__` and in an execution plan's fast steps. A plain ndarray
        output (the common case) is wrapped directly; anything else goes through
        `_set_mask_metadata`."""
        if type(outputs) is not np.ndarray:
            return self._set_mask_metadata(inputs, outputs, previous_mask)
        mask = self.compute_mask(inputs, previous_mask)
        if mask is None:
            return outputs
        if isinstance(mask, (list, tuple)):
            return self._set_mask_metadata(inputs, outputs, previous_mask)
        return with_mask(outputs, mask)

    def _set_mask_metadata(self, inputs, outputs, previous_mask):
        """Attach `compute_mask(inputs, previous_mask)` to outputs lacking a mask."""
        if isinstance(outputs, (list, tuple, dict)):
            flat = flatten(outputs)
        else:
            if get_mask(outputs) is not None:
                return outputs
            flat = [outputs]
        if all(get_mask(x) is not None for x in flat):
            return outputs
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return outputs
        flat_masks = flatten(masks) if isinstance(masks, (list, tuple, dict)) else [masks]
        new = list(flat)
        changed = False
        for i, (t, m) in enumerate(zip(flat, flat_masks)):
            if m is not None and get_mask(t) is None and isinstance(
                    t, (np.ndarray, np.generic, KerasTensor)):
                new[i] = with_mask(t, m)
                changed = True
        if not changed:
            return outputs
        if not isinstance(outputs, (list, tuple, dict)):
            return new[0]
        return pack_as(outputs, new)
