"""`Conv1D` (alias `Convolution1D`): 1D convolution, im2col + one GEMM per block."""
from ...core import registry
from ...core.tensor import plain
from ...kernels.conv import conv1d
from .base_conv import _BaseConv

__all__ = ["Conv1D", "Convolution1D"]


class Conv1D(_BaseConv):
    """1D convolution layer (temporal convolution), as `keras.layers.Conv1D`.

    `activation(conv1d(inputs, kernel) + bias)` over the steps axis. Runs as
    `fastmask.kernels.conv.conv1d`: each block of output rows is one BLAS GEMM
    of the input windows (copied straight from the input, zeros standing in for
    the padding) with the (kernel_size * channels, filters) kernel; bias and
    activation are applied to the block in the same pass.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.Conv1D(32, 3, activation="relu")(np.random.rand(4, 10, 128)).shape
    (4, 8, 32)

    Args:
        filters: number of output channels (positive int).
        kernel_size: window length (int or 1-tuple).
        strides: step between windows (int or 1-tuple; > 1 excludes dilation_rate > 1).
        padding: "valid" (no padding), "same" (output steps = ceil(steps / strides),
            XLA's split: the extra zero on the right) or "causal" (zeros on the
            left only: output[t] sees inputs[:t + 1]).
        data_format: "channels_last" (batch, steps, channels) or "channels_first"
            (batch, channels, steps); default `fastmask.backend.image_data_format()`.
        dilation_rate: gap between the taps of a window (int or 1-tuple).
        groups: split the channels into `groups` independent convolutions.
        activation: name or callable (default linear).
        use_bias: add a bias (default True).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer,
        kernel_constraint / bias_constraint: kept for the config (inference
            ignores them).

    Weights: `kernel` (kernel_size, channels // groups, filters), `bias` (filters,).
    Does not support masking: an incoming mask is dropped with Keras's warning
    (padded steps are convolved like the others, as in Keras).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=1, filters=filters, kernel_size=kernel_size, strides=strides,
                         padding=padding, data_format=data_format, dilation_rate=dilation_rate,
                         groups=groups, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                         **kwargs)

    def call(self, inputs):
        dtype = self._dtype_policy._compute_np
        kernel, bias = self._weights_in(dtype)
        out = conv1d(plain(inputs), kernel, bias, strides=self.strides[0], padding=self.padding,
                     dilation_rate=self.dilation_rate[0], groups=self.groups,
                     data_format=self.data_format, activation=self._activation_fn())
        return out.astype(dtype, copy=False)


# An alias, which `deserialize` finds too.
Convolution1D = registry.register_alias("Convolution1D", Conv1D)
