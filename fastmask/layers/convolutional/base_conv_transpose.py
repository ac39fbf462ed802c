"""`_BaseConvTranspose`: what Keras's N-D transposed convolutions share.

Private, as in Keras (`keras/src/layers/convolutional/base_conv_transpose.py`).
Weights: `kernel` (kernel_size + (filters, channels)) then `bias` (filters,).
"""
from ... import activations, backend, constraints, initializers, regularizers
from ...kernels.conv import conv1d_transpose_output_length
from ..argument_validation import standardize_padding, standardize_tuple
from ..input_spec import InputSpec
from ..layer import Layer

__all__ = []


class _BaseConvTranspose(Layer):
    """Arguments, weights and config of Keras's transposed convolutions (see Conv1DTranspose)."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.rank = rank
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding)
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = standardize_tuple(output_padding, rank, "output_padding",
                                                    allow_zero=True)
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
        if isinstance(filters, bool) or not isinstance(filters, int):
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive integer. Received filters={filters}.")
        if self.filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={self.filters}.")
        if not all(self.kernel_size):
            raise ValueError("The argument `kernel_size` cannot contain 0. Received "
                             f"kernel_size={self.kernel_size}.")
        if not all(self.strides):
            raise ValueError("The argument `strides` cannot contains 0. Received "
                             f"strides={self.strides}.")
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {op} but "
                        f"`strides` is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.bias = None

    def build(self, input_shape):
        if self.data_format == "channels_last":
            channel_axis, input_channel = -1, input_shape[-1]
        else:
            channel_axis, input_channel = 1, input_shape[1]
        if input_channel is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs must "
                             f"be defined. Received: input_shape={tuple(input_shape)}")
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes={channel_axis: input_channel})
        self.kernel = self.add_weight(name="kernel",
                                      shape=self.kernel_size + (self.filters, input_channel),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, trainable=True,
                                      dtype=self.dtype)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, trainable=True,
                                        dtype=self.dtype)
        else:
            self.bias = None

    def _weights_in(self, dtype):
        bias = None if self.bias is None else self.bias.value.astype(dtype, copy=False)
        return self.kernel.value.astype(dtype, copy=False), bias

    def _activation_fn(self):
        return None if self.activation is activations.linear else self.activation

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]
        if self.padding not in ("valid", "same"):
            raise ValueError("The `padding` argument must be one of 'valid', 'same'. "
                             f"Received: padding={self.padding}")
        out = [conv1d_transpose_output_length(
            spatial[i], self.kernel_size[i], self.strides[i], self.padding,
            None if self.output_padding is None else self.output_padding[i],
            self.dilation_rate[i]) for i in range(self.rank)]
        if self.data_format == "channels_last":
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
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
