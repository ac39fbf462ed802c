"""`RepeatVector`: (batch, features) -> (batch, n, features); drops a mask with Keras's warning."""
import numpy as np

from ...core.tensor import plain
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = ["RepeatVector"]


class RepeatVector(Layer):
    """Repeats a 2D input `n` times along a new time axis.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.RepeatVector(3)(np.ones((2, 4))).shape
    (2, 3, 4)

    Args:
        n: repetition factor (a positive Python int).

    Input shape: `(batch, features)`. Output shape: `(batch, n, features)`.
    Does not support masking: an incoming mask is dropped with Keras's warning.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        x = plain(inputs)
        return np.repeat(x[:, None, :], self.n, axis=1)

    # Its output is its input repeated along axis 1: an execution plan may hand the
    # input itself to the consuming layer's `_plan_repeated_call` (recurrent layers).
    _repeats_input = True

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`): the repeat, without the layer
        call's checks."""
        if type(self) is not RepeatVector or x.ndim != 2:
            return None
        n = self.n

        def run(x):
            return np.repeat(x[:, None, :], n, axis=1)
        return run, ()

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
