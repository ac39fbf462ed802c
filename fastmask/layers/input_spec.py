"""`InputSpec`: the rank/shape/dtype a layer expects of its first input, and its check."""
import numpy as np

from ..core.tensor import standardize_dtype, standardize_shape
from ..core.tree import flatten

__all__ = ["InputSpec"]


class InputSpec:
    """Expected rank/shape/dtype of a layer's first input (Keras's InputSpec)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = standardize_dtype(dtype) if dtype is not None else None
        if shape is not None:
            self.shape = standardize_shape(shape)
            self.ndim = len(shape)
        else:
            self.ndim = ndim
            self.shape = None
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. "
                            f"Received: axes={axes}") from None

    def __repr__(self):
        spec = [f"dtype={self.dtype}" if self.dtype else "",
                f"shape={self.shape}" if self.shape else "",
                f"ndim={self.ndim}" if self.ndim else "",
                f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                f"min_ndim={self.min_ndim}" if self.min_ndim else "",
                f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}


def _assert_input_compatibility(input_spec, inputs, layer_name):
    if type(input_spec) is InputSpec and isinstance(inputs, np.ndarray) \
            and input_spec.dtype is None and input_spec.shape is None:
        # Common case (rank/axes checks on one array), without the generality.
        ndim = inputs.ndim
        if (input_spec.ndim is None or input_spec.allow_last_axis_squeeze
                or ndim == input_spec.ndim) \
                and (input_spec.max_ndim is None or ndim <= input_spec.max_ndim) \
                and (input_spec.min_ndim is None or ndim >= input_spec.min_ndim):
            shape = inputs.shape
            for axis, value in input_spec.axes.items():
                if value is not None and (axis >= ndim or axis < -ndim
                                          or shape[axis] != value):
                    break
            else:
                return
    specs = flatten(input_spec)
    if isinstance(inputs, dict):
        names = [spec.name if spec is not None else None for spec in specs]
        if names and all(names):
            for name in names:
                if name not in inputs:
                    raise ValueError(f'Missing data for input "{name}". You passed a data '
                                     f"dictionary with keys {list(inputs.keys())}. Expected "
                                     f"the following keys: {names}")
            inputs = [inputs[name] for name in names]
    flat = flatten(inputs)
    if len(flat) != len(specs):
        names = [spec.name for spec in specs if spec is not None]
        if len(names) == len(specs) and all(names):
            raise ValueError(
                f'Layer "{layer_name}" expects {len(specs)} named input(s) with keys {names}, '
                f"but it received {len(flat)} input tensors. Pass inputs as a dict, e.g. "
                "`layer({" + ", ".join(f"'{n}': ..." for n in names) + "})`.")
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it '
                         f"received {len(flat)} input tensors. Inputs received: {inputs}")
    for i, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' "
                             f"(of type {type(x)}) as input for layer '{layer_name}'.")
        shape = tuple(x.shape)
        ndim = len(shape)
        head = (f"Input {i} with name '{spec.name}' of layer '{layer_name}' is incompatible "
                "with the layer: ")
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
            raise ValueError(head + f"expected ndim={spec.ndim}, found ndim={ndim}. "
                             f"Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(head + f"expected max_ndim={spec.max_ndim}, found ndim={ndim}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(head + f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {shape}")
        if spec.dtype is not None and standardize_dtype(x.dtype) != spec.dtype:
            raise ValueError(head + f"expected dtype={spec.dtype}, found "
                             f"dtype={standardize_dtype(x.dtype)}")
        for axis, value in (spec.axes or {}).items():
            if value is not None and (axis >= ndim or axis < -ndim
                                      or shape[axis] not in (value, None)):
                raise ValueError(head + f"expected axis {axis} of input shape to have "
                                 f"value {value}, but received input with shape {shape}")
        if spec.shape is not None:
            spec_shape = spec.shape
            if spec.allow_last_axis_squeeze:
                if shape and shape[-1] == 1:
                    shape = shape[:-1]
                if spec_shape and spec_shape[-1] == 1:
                    spec_shape = spec_shape[:-1]
            for s, d in zip(spec_shape, shape):
                if s is not None and d is not None and s != d:
                    raise ValueError(head + f"expected shape={spec.shape}, found "
                                     f"shape={shape}")
