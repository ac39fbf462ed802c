"""`Conv1DTranspose` (alias `Convolution1DTranspose`): one GEMM + overlap-adds per block."""
from ...core import registry
from ...core.tensor import plain
from ...kernels.conv import conv1d_transpose
from .base_conv_transpose import _BaseConvTranspose

__all__ = ["Conv1DTranspose", "Convolution1DTranspose"]


class Conv1DTranspose(_BaseConvTranspose):
    """1D transposed convolution (a.k.a. deconvolution), as `keras.layers.Conv1DTranspose`.

    Each input step scatters `kernel[j] @ x[t]` to output step
    `t * strides + j * dilation_rate - offset`, summed; then bias and
    activation. Output length: "valid" `(steps - 1) * strides + span + extra`
    (span = dilated kernel length, extra = `output_padding` or
    `max(span, strides) - span`), "same" `steps * strides` (or
    `(steps - 1) * strides + span % 2 + output_padding`), exactly as Keras.

    >>> import numpy as np, fastmask
    >>> fastmask.layers.Conv1DTranspose(32, 3, 2, activation="relu")(np.ones((4, 10, 128))).shape
    (4, 21, 32)

    Args:
        filters, kernel_size, strides, dilation_rate, activation, use_bias,
        initializers, regularizers, constraints, data_format: as `Conv1D`.
        padding: "valid" or "same".
        output_padding: None or an int < strides: extra steps on the right.

    Weights: `kernel` (kernel_size, filters, channels), `bias` (filters,).
    Does not support masking: an incoming mask is dropped with Keras's warning.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=1, filters=filters, kernel_size=kernel_size, strides=strides,
                         padding=padding, output_padding=output_padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         activation=activation, use_bias=use_bias,
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
        out = conv1d_transpose(
            plain(inputs), kernel, bias, strides=self.strides[0], padding=self.padding,
            output_padding=None if self.output_padding is None else self.output_padding[0],
            dilation_rate=self.dilation_rate[0], data_format=self.data_format,
            activation=self._activation_fn())
        return out.astype(dtype, copy=False)


# An alias, which `deserialize` finds too.
Convolution1DTranspose = registry.register_alias("Convolution1DTranspose", Conv1DTranspose)
