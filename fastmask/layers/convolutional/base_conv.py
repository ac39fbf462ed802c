"""`_BaseConv`: what Keras's N-D convolutions share (arguments, weights, config, shapes).

Private, as in Keras (`keras/src/layers/convolutional/base_conv.py`); fastmask's
`Conv1D` is built on it. Weights: `kernel` (kernel_size + (channels // groups,
filters)) then `bias` (filters,).
"""
from ... import regularizers
from ..argument_validation import standardize_padding
from ..layer import Layer
from .conv_arguments import ConvArguments

__all__ = []


def conv_output_shape(input_shape, filters, kernel_size, strides, padding, data_format,
                      dilation_rate):
    """Keras's `compute_conv_output_shape` (ops/operation_utils.py): None dims stay None."""
    input_shape = tuple(input_shape)
    rank = len(kernel_size)
    if data_format == "channels_last":
        spatial, channels = input_shape[1:-1], input_shape[-1]
    else:
        spatial, channels = input_shape[2:], input_shape[1]
    kernel_shape = tuple(kernel_size) + (channels, filters)
    if len(kernel_shape) != len(input_shape):
        raise ValueError("Kernel shape must have the same length as input, but received "
                         f"kernel of shape {kernel_shape} and input of shape {input_shape}.")
    out = []
    for i in range(rank):
        size = spatial[i]
        if size is None:
            out.append(None)
            continue
        if padding == "valid":
            n = (size - dilation_rate[i] * (kernel_size[i] - 1) - 1) // strides[i] + 1
            if n <= 0:
                raise ValueError(
                    "Computed output size would be zero or negative. Received "
                    f"`inputs shape={input_shape}`, `kernel shape={kernel_shape}`, "
                    f"`dilation_rate={list(dilation_rate)}`, `strides={strides}`, "
                    f"`padding={padding}`.")
        elif padding in ("same", "causal"):
            n = (size - 1) // strides[i] + 1
        else:
            raise ValueError(f"`padding` must be either `'valid'` or `'same'`. Received "
                             f"{padding}.")
        out.append(n)
    if data_format == "channels_last":
        return (input_shape[0],) + tuple(out) + (filters,)
    return (input_shape[0], filters) + tuple(out)


class _BaseConv(ConvArguments, Layer):
    """Arguments, weights and config of Keras's N-D convolution layers (see Conv1D)."""

    _CONFIG_ARGS = ("filters", "kernel_size", "strides", "padding", "data_format",
                    "dilation_rate", "groups")

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**kwargs)
        if lora_rank:
            raise ValueError("fastmask's convolution layers do not support LoRA. "
                             f"Received: lora_rank={lora_rank}")
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.groups = groups
        self._set_window_arguments(rank, filters, kernel_size, strides, dilation_rate)
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self._set_weight_arguments(data_format, activation, use_bias, kernel_initializer,
                                   bias_initializer, kernel_regularizer, bias_regularizer,
                                   kernel_constraint, bias_constraint)
        self.lora_rank = None
        self.lora_alpha = None
        self.lora_enabled = False
        self._check_filters()
        if isinstance(groups, bool) or not isinstance(groups, int) or self.groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={self.groups}.")
        if self.filters % self.groups != 0:
            raise ValueError("The number of filters must be evenly divisible by the number "
                             f"of groups. Received: groups={self.groups}, "
                             f"filters={self.filters}.")
        self._check_kernel_size_and_strides()
        self._check_strides_with_dilation()
        self.bias = None

    def build(self, input_shape):
        input_channel = self._input_channels(input_shape)
        if input_channel % self.groups != 0:
            raise ValueError("The number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input "
                             f"has {input_channel} channels (full input shape is "
                             f"{tuple(input_shape)}).")
        self.compute_output_shape(input_shape)   # validates the output size
        self._kernel = self._add_kernel(
            self.kernel_size + (input_channel // self.groups, self.filters))
        self._add_bias()

    @property
    def kernel(self):
        if not self.built:
            raise AttributeError("You must build the layer before accessing `kernel`.")
        return self._kernel

    def _weights_in(self, dtype):
        """(kernel, bias or None) as arrays of `dtype`."""
        kernel = self._kernel.value
        bias = None if self.bias is None else self.bias.value
        return (kernel.astype(dtype, copy=False),
                None if bias is None else bias.astype(dtype, copy=False))

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.filters, self.kernel_size, self.strides,
                                 self.padding, self.data_format, self.dilation_rate)
