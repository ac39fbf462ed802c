"""`Multiply`: elementwise product; masked entries count as 1 (see `base_merge`)."""
import numpy as np

from ... import ops
from ...core.tensor import get_mask, with_mask
from .base_merge import Merge

__all__ = ["Multiply", "multiply"]


class Multiply(Merge):
    """Elementwise product; masked entries count as 1 (see the module docstring)."""

    def _merge_function(self, inputs):
        masks = [get_mask(x) for x in inputs]
        has_output_mask = all(m is not None for m in masks)
        output = None
        output_mask = None
        for x, mask in zip(inputs, masks):
            x = np.asarray(x)
            if mask is not None:
                mask = np.broadcast_to(np.expand_dims(mask, -1), x.shape)
                x = np.where(mask, x, np.ones((), x.dtype))
                if has_output_mask:
                    output_mask = mask if output_mask is None else np.logical_or(
                        output_mask, mask)
            output = x if output is None else ops.multiply(output, x)
        if has_output_mask:
            output = np.where(output_mask, output, np.zeros((), output.dtype))
            return with_mask(output, np.any(output_mask, axis=-1))
        return output


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)
