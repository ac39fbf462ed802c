"""`Maximum`: elementwise maximum; masked entries never win."""
from ... import ops
from .base_merge import Merge

__all__ = ["Maximum", "maximum"]


class Maximum(Merge):
    """Elementwise maximum; masked entries never win."""

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.maximum, inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)
