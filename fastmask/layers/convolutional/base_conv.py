"""`_BaseConv`: what Keras's N-D convolutions share (arguments, weights, config, shapes).

Private, as in Keras (`keras/src/layers/convolutional/base_conv.py`); fastmask's
`Conv1D` is built on it. Weights: `kernel` (kernel_size + (channels // groups,
filters)) then `bias` (filters,).
"""
from ... import activations, backend, constraints, initializers, regularizers
from ..argument_validation import standardize_padding, standardize_tuple
from ..input_spec import InputSpec
from ..layer import Layer

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


class _BaseConv(Layer):
    """Arguments, weights and config of Keras's N-D convolution layers (see Conv1D)."""

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
        self.rank = rank
        self.filters = filters
        self.groups = groups
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = backend.standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank = None
        self.lora_alpha = None
        self.lora_enabled = False
        self.input_spec = InputSpec(min_ndim=self.rank + 2)
        if isinstance(filters, bool) or not isinstance(filters, int):
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive integer. Received filters={filters}.")
        if self.filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive value. Received filters={self.filters}.")
        if isinstance(groups, bool) or not isinstance(groups, int) or self.groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={self.groups}.")
        if self.filters % self.groups != 0:
            raise ValueError("The number of filters must be evenly divisible by the number "
                             f"of groups. Received: groups={self.groups}, "
                             f"filters={self.filters}.")
        if not all(self.kernel_size):
            raise ValueError("The argument `kernel_size` cannot contain 0. Received "
                             f"kernel_size={self.kernel_size}.")
        if not all(self.strides):
            raise ValueError("The argument `strides` cannot contains 0. Received "
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
        if input_channel % self.groups != 0:
            raise ValueError("The number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input "
                             f"has {input_channel} channels (full input shape is "
                             f"{tuple(input_shape)}).")
        kernel_shape = self.kernel_size + (input_channel // self.groups, self.filters)
        self.compute_output_shape(input_shape)   # validates the output size
        self._kernel = self.add_weight(name="kernel", shape=kernel_shape,
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

    def _activation_fn(self):
        return None if self.activation is activations.linear else self.activation

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.filters, self.kernel_size, self.strides,
                                 self.padding, self.data_format, self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
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
