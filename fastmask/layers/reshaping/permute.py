"""`Permute`: reorders the non-batch axes (drops a mask, with Keras's warning)."""
import numpy as np

from ...core.tensor import KerasTensor, plain
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["Permute"]


class Permute(Layer):
    """Permutes the non-batch dimensions by the 1-based pattern `dims`.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.Permute((2, 1))(np.zeros((4, 10, 64))).shape
    (4, 64, 10)

    Args:
        dims: tuple of ints, a permutation of `1..rank-1` (the batch axis stays first).

    The output is a transposed view of the input (as NumPy's transpose), in the
    input's dtype (int inputs stay int, as in Keras). Does not support masking.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set "
                             "of indices in `dims` must be consecutive and start from 1. "
                             f"Received dims={dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return np.transpose(plain(inputs), (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return tuple([input_shape[0]] + [input_shape[d] for d in self.dims])

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}
