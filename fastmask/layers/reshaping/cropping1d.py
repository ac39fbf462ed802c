"""`Cropping1D`: trims steps from both ends of axis 1 (drops a mask, with Keras's warning)."""
from ...core.tensor import plain
from ..argument_validation import standardize_tuple
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["Cropping1D"]


def _too_much(what, shape, cropping):
    return ValueError("`cropping` parameter of `Cropping1D` layer must be smaller than the "
                      f"input length. Received: {what}={shape}, cropping={cropping}")


class Cropping1D(Layer):
    """Removes `cropping[0]` steps at the start and `cropping[1]` at the end of axis 1.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.Cropping1D((1, 2))(np.ones((2, 6, 3))).shape
    (2, 3, 3)

    Args:
        cropping: int (both ends) or a pair `(start, end)` of ints >= 0.

    The output is a view of the input. Input `(batch, steps, features)`; at
    least one step must remain. Does not support masking.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        x = plain(inputs)
        start, end = self.cropping
        if start + end >= x.shape[1]:
            raise _too_much("inputs.shape", x.shape, self.cropping)
        return x[:, start:x.shape[1] - end, :]

    def compute_output_shape(self, input_shape):
        length = None
        if input_shape[1] is not None:
            length = input_shape[1] - self.cropping[0] - self.cropping[1]
            if length <= 0:
                raise _too_much("input_shape", input_shape, self.cropping)
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}
