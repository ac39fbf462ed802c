"""`ConvArguments`: what `_BaseConv` and `_BaseConvTranspose` share.

Keras writes the two base classes separately (`keras/src/layers/convolutional/
base_conv.py`, `base_conv_transpose.py`); their argument checks, the channel
axis found at build, the bias weight and most of the config are the same, and
live here once. Each base class keeps what differs (padding, groups,
output_padding, the kernel's layout) and the order of Keras's checks.
"""
from ... import activations, backend, constraints, initializers, regularizers
from ..argument_validation import standardize_tuple
from ..input_spec import InputSpec

__all__ = []


class ConvArguments:
    """Mixin for a convolution `Layer`: shared arguments, checks, build steps and config.

    A subclass sets `_CONFIG_ARGS`, the names of its own config entries (filters
    ... dilation_rate, in Keras's config order); `get_config` adds the activation,
    initializers, regularizers and constraints after them.
    """

    _CONFIG_ARGS = ()

    def _set_window_arguments(self, rank, filters, kernel_size, strides, dilation_rate):
        """rank, filters, kernel_size, strides and dilation_rate (tuples of length `rank`)."""
        self.rank = rank
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")

    def _set_weight_arguments(self, data_format, activation, use_bias, kernel_initializer,
                              bias_initializer, kernel_regularizer, bias_regularizer,
                              kernel_constraint, bias_constraint):
        """data_format, activation, use_bias, the weights' initializers/regularizers/
        constraints, and an input_spec of `rank + 2` dimensions at least."""
        self.data_format = backend.standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=self.rank + 2)

    def _check_filters(self):
        """`filters` must be a positive int (Keras's two messages)."""
        filters = self.filters
        if isinstance(filters, bool) or not isinstance(filters, int):
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive integer. Received filters={filters}.")
        if filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={filters}.")

    def _check_kernel_size_and_strides(self, strides_end=""):
        """No 0 in kernel_size or strides (`strides_end`: Keras's conv message ends
        without a period, its transposed conv's with one)."""
        if not all(self.kernel_size):
            raise ValueError("The argument `kernel_size` cannot contain 0. Received "
                             f"kernel_size={self.kernel_size}.")
        if not all(self.strides):
            raise ValueError("The argument `strides` cannot contains 0. Received "
                             f"strides={self.strides}{strides_end}")

    def _check_strides_with_dilation(self):
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")

    def _input_channels(self, input_shape):
        """The inputs' channel count (must be known); fixes it in the input_spec."""
        if self.data_format == "channels_last":
            channel_axis, input_channel = -1, input_shape[-1]
        else:
            channel_axis, input_channel = 1, input_shape[1]
        if input_channel is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs must "
                             f"be defined. Received: input_shape={tuple(input_shape)}")
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes={channel_axis: input_channel})
        return input_channel

    def _add_kernel(self, shape):
        """The `kernel` weight of `shape`."""
        return self.add_weight(name="kernel", shape=shape, initializer=self.kernel_initializer,
                               regularizer=self.kernel_regularizer,
                               constraint=self.kernel_constraint, trainable=True,
                               dtype=self.dtype)

    def _add_bias(self):
        """`self.bias`: a (filters,) weight, or None without use_bias."""
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, trainable=True,
                                        dtype=self.dtype)
        else:
            self.bias = None

    def _activation_fn(self):
        return None if self.activation is activations.linear else self.activation

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._CONFIG_ARGS})
        config.update({
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config
