"""`Add`: elementwise sum of a list of inputs (mask rule: `base_merge`)."""
from ... import ops
from .base_merge import Merge

__all__ = ["Add", "add"]


class Add(Merge):
    """Elementwise sum of a list of inputs (masks ignored in the values)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


def add(inputs, **kwargs):
    """Functional interface to `Add`."""
    return Add(**kwargs)(inputs)
