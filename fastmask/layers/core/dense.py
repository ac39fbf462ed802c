"""`Dense`: `activation(x @ kernel + bias)` on the last axis, one GEMM for any rank."""
import math

import numpy as np

from ... import activations, constraints, initializers, regularizers
from ...kernels.dense import (dense as fused_dense, isa_in_use, pack_kernel,
                               prepare_dense, use_small_gemm)
from ..input_spec import InputSpec
from ..layer import Layer, usable_out
from ..weight_cache import weight_cache

__all__ = ["Dense"]

_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Dense(Layer):
    """Densely-connected layer on the last axis; passes the incoming mask through.

    A `(batch, time, features)` input runs as one `(batch*time, features)`
    matrix product with the bias and the activation fused into its output
    pass (`fastmask.kernels.dense`), not a loop over time. Masked steps are
    computed like the others (Keras does not zero them).

    Args:
        units: output size (positive int).
        activation: name or callable (default linear).
        use_bias: add a bias vector (default True).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer,
        kernel_constraint / bias_constraint: kept for the config (inference only).

    Weights: `kernel` (input_dim, units), `bias` (units,).
    """

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time
    _writes_out = True              # `Layer._take_out`: the fused kernel writes into it

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units}")
        if lora_rank or quantization_config is not None:
            raise ValueError("fastmask's Dense supports neither LoRA nor quantization.")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank = None
        self.quantization_config = None
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True
        self.bias = None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Layer '{self.name}': the last dimension of the input must be "
                             f"defined to build a Dense layer. Received: input_shape={input_shape}")
        self._kernel = self.add_weight(name="kernel", shape=(input_dim, self.units),
                                       initializer=self.kernel_initializer,
                                       regularizer=self.kernel_regularizer,
                                       constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})

    @property
    def kernel(self):
        return self._kernel

    def call(self, inputs, training=None):
        out = self._take_out()
        dtype = self._dtype_policy._compute_np
        kernel = self._kernel.value
        if kernel.dtype != dtype:
            kernel = kernel.astype(dtype)
        x = np.ndarray.view(inputs, np.ndarray)  # drop the Tensor subclass: plain NumPy
        if x.dtype.kind not in "biuf":  # complex would lose its imaginary part in the cast
            raise TypeError(f"Layer '{self.name}' (of type Dense) computes in {dtype}; its "
                            f"inputs must be real numbers (bool, int or float dtype). "
                            f"Received: inputs.dtype={x.dtype}")
        lead = x.shape[:-1]
        if x.dtype == dtype and dtype in _FUSED_DTYPES and x.flags.c_contiguous \
                and x.flags.aligned \
                and x.ndim >= 1 and x.shape[-1] == self._kernel.shape[0]:
            # The common case: weights and activation resolved once (weight cache).
            prepared = self._prepared(dtype)
            if not usable_out(out, lead + (self.units,), dtype,
                              (x, prepared.w, prepared.b)):
                out = None
            return prepared(x, out=out)
        bias = None if self.bias is None else self.bias.value
        if np.dtype(dtype) in _FUSED_DTYPES:
            # One pass: bias and activation fused into the GEMM's output blocks.
            if not usable_out(out, lead + (self.units,), dtype, (x, kernel, bias)):
                out = None
            return fused_dense(x if x.dtype == dtype else x.astype(dtype), kernel,
                               bias, self.activation, out=out,
                               packed=self._packed_kernel(kernel, dtype))
        # Other compute dtypes (float16): one GEMM for all steps, on a C-contiguous
        # (rows, features) matrix (BLAS rounds differently for transposed/strided
        # operands, so this makes the result independent of the memory layout).
        x = np.ascontiguousarray(x.reshape(math.prod(lead), x.shape[-1]), dtype=dtype)
        out = np.matmul(x, kernel)
        if bias is not None:
            out += bias if bias.dtype == dtype else bias.astype(dtype)
        out = out.reshape(lead + (self.units,))
        if self.activation is not None and self.activation is not activations.linear:
            out = self.activation(out)  # None: set after construction, as Keras allows
        return out

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`) for inputs like x: the prepared
        kernel's small-GEMM call for x's shape, or None."""
        dtype = self._dtype_policy._compute_np
        if type(self) is not Dense or x.dtype != dtype or dtype not in _FUSED_DTYPES \
                or x.ndim < 2 or x.shape[-1] != self._kernel.shape[0]:
            return None
        run = self._prepared(dtype).planned(x.shape)
        return None if run is None else (run, (self._kernel, self.bias))

    def _prepared(self, dtype):
        """This layer's `PreparedDense` in `dtype` (float32/float64), kept in its
        weight cache until a weight or the activation changes."""
        def make():
            kernel = self._kernel.value
            return prepare_dense(kernel, None if self.bias is None else self.bias.value,
                                 self.activation, dtype,
                                 packed=self._packed_kernel(kernel, dtype))

        return weight_cache(self).get("prepared", (self._kernel, self.bias),
                                      (dtype.str, isa_in_use(), self.activation), make)

    def _packed_kernel(self, kernel, dtype):
        """The kernel (in `dtype`) packed for the small-GEMM path, kept in the layer's
        weight cache until it changes (one pack for both call paths); None when its
        shape takes BLAS."""
        K, N = kernel.shape
        if not use_small_gemm(1, K, N, np.dtype(dtype)):
            return None
        return weight_cache(self).get(
            "packed_kernel", (self._kernel,),
            (np.dtype(dtype).str, isa_in_use()),
            lambda: pack_kernel(kernel, dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(),
                "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "quantization_config": None}
