"""`Minimum`: elementwise minimum; masked entries never win."""
from ... import ops
from .base_merge import Merge

__all__ = ["Minimum", "minimum"]


class Minimum(Merge):
    """Elementwise minimum; masked entries never win."""

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.minimum, inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)
