"""`_BaseConvTranspose`: what Keras's N-D transposed convolutions share.

Private, as in Keras (`keras/src/layers/convolutional/base_conv_transpose.py`).
Weights: `kernel` (kernel_size + (filters, channels)) then `bias` (filters,).
"""
from ... import regularizers
from ...kernels.conv import conv1d_transpose_output_length
from ..argument_validation import standardize_padding, standardize_tuple
from ..layer import Layer
from .conv_arguments import ConvArguments

__all__ = []


class _BaseConvTranspose(ConvArguments, Layer):
    """Arguments, weights and config of Keras's transposed convolutions (see Conv1DTranspose)."""

    _CONFIG_ARGS = ("filters", "kernel_size", "strides", "padding", "output_padding",
                    "data_format", "dilation_rate")

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._set_window_arguments(rank, filters, kernel_size, strides, dilation_rate)
        self.padding = standardize_padding(padding)
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = standardize_tuple(output_padding, rank, "output_padding",
                                                    allow_zero=True)
        self._set_weight_arguments(data_format, activation, use_bias, kernel_initializer,
                                   bias_initializer, kernel_regularizer, bias_regularizer,
                                   kernel_constraint, bias_constraint)
        self._check_filters()
        self._check_kernel_size_and_strides(strides_end=".")
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {op} but "
                        f"`strides` is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}")
        self._check_strides_with_dilation()
        self.bias = None

    def build(self, input_shape):
        input_channel = self._input_channels(input_shape)
        self.kernel = self._add_kernel(self.kernel_size + (self.filters, input_channel))
        self._add_bias()

    def _weights_in(self, dtype):
        bias = None if self.bias is None else self.bias.value.astype(dtype, copy=False)
        return self.kernel.value.astype(dtype, copy=False), bias

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
