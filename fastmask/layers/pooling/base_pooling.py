"""`_BasePooling`: Keras's windowed pooling base (keras/src/layers/pooling/base_pooling.py), 1D."""
from ... import backend
from ...core.tensor import plain
from ...kernels.window_pooling import average_pool1d, max_pool1d, pool1d_output_length
from ..argument_validation import standardize_tuple
from ..call_signature import _is_default
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = []


class _BasePooling(Layer):
    """Max or average over sliding windows of the steps axis (see MaxPooling1D)."""

    def __init__(self, pool_size, strides, pool_dimensions, pool_mode="max", padding="valid",
                 data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        strides = pool_size if strides is None else strides
        self.strides = standardize_tuple(strides, pool_dimensions, "strides", allow_zero=True)
        self.pool_mode = pool_mode
        self.padding = padding
        self.data_format = backend.standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError("Argument `padding` must be either 'valid' or 'same'. Received: "
                             f"padding={padding}")
        if 0 in self.strides:
            raise ValueError("The `strides` argument must be positive. "
                             f"Received: strides={strides}")
        self.built = _is_default(self.build)   # Keras's _build_at_init: stateless

    def call(self, inputs):
        pool = max_pool1d if self.pool_mode == "max" else average_pool1d
        out = pool(plain(inputs), self.pool_size[0], self.strides[0], self.padding.lower(),
                   self.data_format)
        return out if out.dtype.kind != "f" else out.astype(self.compute_dtype, copy=False)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        padding = self.padding.lower()
        axis = 1 if self.data_format == "channels_last" else 2
        length = pool1d_output_length(input_shape[axis], self.pool_size[0], self.strides[0],
                                      padding)
        if length is not None and length <= 0:
            raise ValueError("Computed output size would be zero or negative. Received: "
                             f"`inputs.shape={list(input_shape)}`, `pool_size="
                             f"{list(self.pool_size)}`, `strides={self.strides}`, "
                             f"`padding={self.padding}`.")
        out = list(input_shape)
        out[axis] = length
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config
