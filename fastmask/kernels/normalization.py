"""Layer normalization over the last axis as a plain function.

    layer_norm(x, gamma=None, beta=None, epsilon=1e-3, rms_scaling=False, *,
               out=None, n_threads=None)

Keras 3.15.1's `ops.layer_normalization` (the formula of
keras.layers.LayerNormalization) for `axis=-1`, in one pass per row: the row is
read once for its mean and variance (summed in double), then normalised,
scaled and shifted while it is in cache. See csrc/fm_layer_norm.h for the
formula and its rounding. Rows run on OpenMP threads; each row's result does
not depend on the thread count or on the other rows.
"""
import math
import numbers

import numpy as np

from ._threads import effective_num_threads
from ._validation import as_float_array, check_out, check_row_input
from . import _normalization

__all__ = ["layer_norm", "prepare_layer_norm", "PreparedLayerNorm"]


def _param(v, name, n, dtype):
    if v is None:
        return None
    a = as_float_array(v, name, dtype=dtype)
    if a.size != n or a.ndim > 1 and a.shape[-1] != n:
        raise ValueError(f"`{name}` must have shape ({n},) (the last axis of x). "
                         f"Received: {name}.shape={a.shape}")
    return a.reshape(n)


def _check_scalars(epsilon, rms_scaling):
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) \
            or not epsilon >= 0:
        raise ValueError(f"`epsilon` must be a real number >= 0. Received: epsilon={epsilon!r}")
    if not isinstance(rms_scaling, (bool, np.bool_)):
        raise TypeError(f"`rms_scaling` must be a bool. Received: rms_scaling={rms_scaling!r}")


def layer_norm(x, gamma=None, beta=None, epsilon=1e-3, rms_scaling=False, *, out=None,
               n_threads=None):
    """Normalise x over its last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta.

    Args:
        x: (..., n) real array; float32/float64 kept, float16, ints and bools
            computed in float32 (as Keras computes in at least float32).
        gamma, beta: None or (n,) arrays (scale and offset).
        epsilon: small float added to the variance (>= 0).
        rms_scaling: Keras's deprecated variant: x / sqrt(var + epsilon) * gamma
            (the centred variance, no mean subtracted; beta unused).
        out: optional array of x's shape and compute dtype, C-contiguous and
            writeable; it may be x itself (in place) but must not otherwise
            overlap x, gamma or beta.
        n_threads: OpenMP threads (None: fastmask's setting).

    Returns:
        Array of x's shape in the compute dtype (`out` when given).
    """
    xa = as_float_array(x, "x", min_ndim=1)
    dtype = xa.dtype
    _check_scalars(epsilon, rms_scaling)
    n = xa.shape[-1]
    g = _param(gamma, "gamma", n, dtype)
    b = None if rms_scaling else _param(beta, "beta", n, dtype)
    if out is None:
        out = np.empty_like(xa)
    elif out is not xa or xa is not x:
        # `out` is x itself only when x was used as it is (no copy was made).
        same = (isinstance(out, np.ndarray) and out.shape == xa.shape and out.dtype == dtype
                and out.flags.c_contiguous and out.flags.writeable
                and out.__array_interface__["data"][0] == xa.__array_interface__["data"][0])
        check_out(out, xa.shape, dtype, [a for a in (g, b) if a is not None]
                  + ([] if same else [xa]))
    return _compute(xa, g, b, float(epsilon), bool(rms_scaling), out, n_threads)


def _compute(xa, g, b, epsilon, rms_scaling, out, n_threads):
    """layer_norm on checked arguments: xa (..., n) C-contiguous float32/float64, g and b
    (n,) C arrays of its dtype or None, out like xa (or xa itself)."""
    if xa.size == 0:
        return out
    n = xa.shape[-1]
    dummy = np.zeros(1, xa.dtype)
    _normalization.layer_norm_flat(xa.reshape(-1), out.reshape(-1), xa.size // n, n,
                                   dummy if g is None else g, g is not None,
                                   dummy if b is None else b, b is not None,
                                   epsilon, rms_scaling, effective_num_threads(n_threads))
    return out


class PreparedLayerNorm:
    """`layer_norm(x, gamma, beta, epsilon, rms_scaling)` with its parameters checked
    once for inputs (..., n) of one dtype (float32 or float64): what a
    LayerNormalization layer keeps between calls. Immutable; `__call__` computes
    exactly what layer_norm computes. Made by `prepare_layer_norm`."""

    __slots__ = ("gamma", "beta", "epsilon", "rms_scaling", "n", "dtype")

    def __call__(self, x, out=None, n_threads=None):
        """x (..., n): a C-contiguous array of this dtype; out: None, x itself, or an
        array of x's shape and dtype, C-contiguous, writeable, overlapping neither the
        parameters nor (unless it is x) x (the caller has checked it)."""
        if not (type(x) is np.ndarray and x.dtype == self.dtype and x.ndim >= 1
                and x.shape[-1] == self.n and x.flags.c_contiguous and x.flags.aligned):
            check_row_input(x, self.dtype, self.n)
        if out is None:
            out = np.empty_like(x)
        return _compute(x, self.gamma, self.beta, self.epsilon, self.rms_scaling, out,
                        n_threads)

    def planned(self, shape):
        """`self(x)` for C-contiguous aligned inputs x of `shape` (..., n) and this dtype,
        its kernel call's arguments worked out once (a LayerNormalization layer's planned
        call, `layers/planned_call.py`): a function of x giving the result
        (NotImplemented for an x that is not C-contiguous and aligned), or None for an
        empty shape or one whose rows are not n values."""
        if len(shape) < 1 or shape[-1] != self.n or math.prod(shape) == 0:
            return None
        n, rows, dtype = self.n, math.prod(shape) // self.n, self.dtype
        dummy = np.zeros(1, dtype)
        g = dummy if self.gamma is None else self.gamma
        b = dummy if self.beta is None else self.beta
        has_g, has_b = self.gamma is not None, self.beta is not None
        epsilon, rms_scaling = self.epsilon, self.rms_scaling
        flat = _normalization.layer_norm_flat

        def run(x):
            if not (x.flags.c_contiguous and x.flags.aligned):
                return NotImplemented
            out = np.empty(shape, dtype)
            flat(x.reshape(-1), out.reshape(-1), rows, n, g, has_g, b, has_b, epsilon,
                 rms_scaling, effective_num_threads(None))
            return out
        return run


def prepare_layer_norm(n, gamma, beta, epsilon, rms_scaling, dtype):
    """A `PreparedLayerNorm` over rows of n values in `dtype` (float32 or float64);
    arguments as `layer_norm`'s."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"`dtype` must be float32 or float64. Received: dtype={dtype}")
    _check_scalars(epsilon, rms_scaling)
    prep = PreparedLayerNorm()
    prep.gamma = _param(gamma, "gamma", n, dtype)
    prep.beta = None if rms_scaling else _param(beta, "beta", n, dtype)
    prep.gamma = None if prep.gamma is None else np.ascontiguousarray(prep.gamma)
    prep.beta = None if prep.beta is None else np.ascontiguousarray(prep.beta)
    prep.epsilon, prep.rms_scaling = float(epsilon), bool(rms_scaling)
    prep.n, prep.dtype = n, dtype
    return prep
