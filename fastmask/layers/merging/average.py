"""`Average`: elementwise mean of a list of inputs (mask rule: `base_merge`)."""
from ... import ops
from .base_merge import Merge

__all__ = ["Average", "average"]


class Average(Merge):
    """Elementwise mean of a list of inputs (masks ignored in the values)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out / len(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)
