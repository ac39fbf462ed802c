"""`PReLU`: a learned slope `alpha` for the negative part (mask passes through)."""
import numpy as np

from ... import constraints, initializers, regularizers
from ..input_spec import InputSpec
from ..layer import Layer
from .real_inputs import real_inputs

__all__ = ["PReLU"]


class PReLU(Layer):
    """Parametric Rectified Linear Unit (keras.layers.PReLU).

    `f(x) = relu(x) - alpha * relu(-x)`, with `alpha` a weight shaped like the
    input without its batch axis (size 1 along `shared_axes`).

    >>> import numpy as np, fastmask
    >>> layer = fastmask.layers.PReLU(alpha_initializer=fastmask.initializers.Constant(0.1))
    >>> layer(np.array([[-2., 3.]]))
    array([[-0.2,  3. ]], dtype=float32)

    Args:
        alpha_initializer: default "Zeros".
        alpha_regularizer, alpha_constraint: kept for the config (inference ignores them).
        shared_axes: axes (1-based, after the batch axis) along which `alpha`
            is shared, e.g. `[1]` for one slope per channel of a (batch, steps,
            channels) input.

    Weights: `alpha` of shape `input_shape[1:]` with 1 on the shared axes.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)
        self.alpha = None

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        if self.shared_axes is not None:
            for i in self.shared_axes:
                if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i < len(input_shape):
                    raise ValueError(f"Layer '{self.name}': `shared_axes` must be axes of the "
                                     f"input after the batch axis (1 to {len(input_shape) - 1})."
                                     f" Received: shared_axes={self.shared_axes}, input_shape="
                                     f"{tuple(input_shape)}")
                param_shape[i - 1] = 1
        self.alpha = self.add_weight(shape=param_shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        axes = {}
        if self.shared_axes:
            for i in range(1, len(input_shape)):
                if i not in self.shared_axes:
                    axes[i] = input_shape[i]
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, inputs):
        x = real_inputs(self, inputs, "PReLU")
        alpha = self.alpha.value.astype(x.dtype, copy=False)
        zero = x.dtype.type(0)
        return np.maximum(x, zero) + (-alpha) * np.maximum(-x, zero)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}
