"""`keras.ops` over NumPy: same names, signatures and result dtypes as Keras 3's NumPy
backend (64-bit results are canonicalized to 32-bit where Keras does so).

Laid out as Keras's `keras/src/ops/`: `core.py` (cast, convert_to_tensor, shape,
cond, slice, unstack), `numpy.py` (shapes, elementwise math, reductions, creation),
`nn.py` (activations, softmaxes, one_hot), `math.py` (logsumexp, top_k, segment
reductions, FFTs, masked reductions). `symbolic.py` is how an op declares its
shape rule (`@op(rule)`), `dtypes.py` Keras's dtype promotion, `keras_tensor.py`
what `KerasTensor`'s operators and NumPy's functions do on symbolic tensors.

Every op accepts symbolic `KerasTensor`s: it then returns symbolic outputs
computed from shapes alone (no numerical work) and records a graph node, so ops
can be used in Functional models, in `compute_mask`, and in layer `call`s that
shape inference traces. Results are plain `np.ndarray`s (masks never propagate
through ops).
"""
from . import keras_tensor as _keras_tensor  # noqa: F401  (installs KerasTensor's operators)
from .core import (cast, cond, convert_to_numpy, convert_to_tensor, dtype, is_tensor, shape,
                   slice, unstack)
from .dtypes import result_type
from .math import (fft2, logsumexp, masked_max, masked_mean, masked_min, masked_sum, rfft,
                   segment_max, segment_sum, top_k)
from .nn import gelu, log_softmax, masked_softmax, one_hot, relu, sigmoid, silu, softmax
from .numpy import (abs, absolute, add, all, any, arange, argmax, argmin, broadcast_to,
                    clip, concatenate, count_nonzero, cumsum, divide, divide_no_nan, dot,
                    einsum, equal, exp, expand_dims, flip, floor, floor_divide, full,
                    full_like, get_item, greater, greater_equal, less, less_equal, log,
                    log1p, logical_and, logical_not, logical_or, logical_xor, matmul, max,
                    maximum, mean, min, minimum, mod, moveaxis, multiply, negative,
                    not_equal, ones, ones_like, power, prod, real, repeat, reshape, round,
                    sign, split, sqrt, square, squeeze, stack, subtract, sum, swapaxes, take,
                    take_along_axis, tanh, tile, transpose, true_divide, where, zeros,
                    zeros_like)

__all__ = [
    "cast", "convert_to_tensor", "convert_to_numpy", "is_tensor", "shape", "dtype",
    "reshape", "transpose", "expand_dims", "squeeze", "tile", "split", "concatenate",
    "stack", "take", "take_along_axis", "where", "equal", "not_equal", "greater",
    "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_not",
    "logical_xor", "any", "all", "sum", "mean", "max", "min", "prod", "argmax", "argmin",
    "cumsum", "exp", "log", "log1p", "sqrt", "square", "abs", "absolute", "negative",
    "sign", "floor", "round", "clip", "maximum", "minimum", "add", "subtract",
    "multiply", "divide", "true_divide", "divide_no_nan", "power", "matmul", "dot",
    "einsum", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu",
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange",
    "count_nonzero", "repeat", "swapaxes", "moveaxis", "flip", "broadcast_to",
    "cond", "slice", "logsumexp",
    "masked_softmax", "masked_mean", "masked_sum", "masked_max", "masked_min",
    # added with the symbolic rules (issue 14): Keras ops the keras-io examples use
    "top_k", "one_hot", "unstack", "rfft", "real", "fft2", "segment_sum", "segment_max",
    "get_item", "floor_divide", "mod",
]

# Found by name when a file's Lambda names a `keras.ops` function (no import by name).
from ..core.registry import register_builtin_functions  # noqa: E402

register_builtin_functions("ops", {name: globals()[name] for name in __all__
                                   if callable(globals()[name])})
