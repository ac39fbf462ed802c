"""`Lambda`: wrap a function as a layer (mask dropped unless `mask=` is given).

Loading: a Lambda rebuilt from a config gets its function by name (fastmask's
activations and ops, custom objects; nothing imported) or, only with
`safe_mode=False`, from marshalled bytecode. Code from a file never runs while
the model is being built: the output spec of a bytecode function (or
`output_shape` callable) comes from the shapes the file recorded (Functional:
the KerasTensors of the consuming nodes; Sequential: the next layer's build
shape, see `set_recorded_outputs`), else from the input's spec; the function
runs only when the model is called on data.
"""
import inspect

from ... import activations
from ...core.registry import resolve_safe_mode
from ...core.serialization import (deserialize_function, is_bytecode_function,
                                   serialize_function)
from ...core.shape_inference import compute_output_spec
from ...core.tensor import KerasTensor, standardize_dtype, standardize_shape
from ...core.tree import flatten, map_structure
from ..layer import Layer

__all__ = ["Lambda"]


class Lambda(Layer):
    """Applies `function(inputs, **arguments)` (plus `mask=`/`training=` if it takes them).

    Mask rules (Keras): without `mask=` the layer does not support masking, so
    an incoming mask is dropped with a warning (unless the function returns its
    input object unchanged). With `mask=` a callable `mask(inputs, previous_mask)`
    or a constant gives the output mask.

    Args:
        function: callable on the input array(s).
        output_shape: optional shape (without batch) or callable(input_shape).
        mask: None, a callable `(inputs, mask) -> mask`, or a constant mask.
        arguments: extra keyword arguments for `function`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"`function` must be callable. Received: function={function!r}")
        self.arguments = arguments or {}
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_training_arg = "training" in params
        self._fn_expects_mask_arg = "mask" in params
        self._recorded_outputs = {}   # node index -> [(shape, dtype or None)], from a file

    def set_recorded_outputs(self, node_index, specs):
        """Output specs a file recorded for this layer's call number `node_index`.

        `specs`: one `(shape, dtype or None)` per output tensor, in order.
        Used for symbolic calls instead of running code from the file.
        Invalid entries are ignored.
        """
        try:
            specs = [(standardize_shape(shape), None if dtype is None
                      else standardize_dtype(dtype)) for shape, dtype in specs]
        except (TypeError, ValueError):
            return
        if specs:
            self._recorded_outputs[node_index] = specs

    def _file_code(self):
        """True when a symbolic call would run code that came from a file (bytecode)."""
        return is_bytecode_function(self.function) or is_bytecode_function(self._output_shape)

    def _spec_without_running(self, args):
        """Output KerasTensor(s) from recorded shapes, else the first input's spec."""
        specs = getattr(self, "_recorded_outputs", {}).get(len(self._inbound_nodes))
        first = next((x for x in flatten(args) if isinstance(x, KerasTensor)), None)
        default_dtype = first.dtype if first is not None else self.compute_dtype
        if specs:
            out = [KerasTensor(shape, dtype or default_dtype) for shape, dtype in specs]
            return out[0] if len(out) == 1 else out
        if first is None:
            raise ValueError(f"Lambda layer '{self.name}' holds code from a file and has no "
                             "recorded output shape: call it on data instead.")
        return KerasTensor(first.shape, first.dtype)

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            if is_bytecode_function(self.mask) and any(
                    isinstance(x, KerasTensor) for x in flatten(inputs)):
                return mask   # code from a file does not run on symbolic tensors
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._file_code():   # never run code from a file on made-up data
            specs = getattr(self, "_recorded_outputs", {}).get(0)
            if specs:
                shapes = [shape for shape, _ in specs]
                return shapes[0] if len(shapes) == 1 else shapes
            return input_shape if _is_shape(input_shape) else flatten(input_shape)[0]
        if self._output_shape is None:
            spec = self._traced_spec(
                map_structure(lambda s: KerasTensor(s, self.compute_dtype), input_shape)
                if not _is_shape(input_shape) else KerasTensor(input_shape, self.compute_dtype))
            return map_structure(lambda x: x.shape, spec)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = flatten(input_shape)[0] if not _is_shape(input_shape) else input_shape[0]
        return (batch,) + tuple(self._output_shape)

    def compute_output_spec(self, *args, **kwargs):
        if self._file_code() or getattr(self, "_recorded_outputs", {}).get(
                len(self._inbound_nodes)):
            return self._spec_without_running(args)
        if self._output_shape is None:
            return self._traced_spec(*args, **kwargs)
        return super().compute_output_spec(*args, **kwargs)

    def _traced_spec(self, *args, **kwargs):
        """The function's output spec: traced symbolically (a dry run if it needs numbers)."""
        try:
            return compute_output_spec(self.call, *args, **kwargs)
        except Exception as e:
            raise NotImplementedError(
                "We could not automatically infer the shape of the Lambda's output. Please "
                "specify the `output_shape` argument for this Lambda layer. Error encountered: "
                f"{e}") from e

    def get_config(self):
        config = {"function": serialize_function(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = (serialize_function(self._output_shape)
                                      if callable(self._output_shape) else self._output_shape)
        if self.mask is not None:
            config["mask"] = (serialize_function(self.mask) if callable(self.mask)
                              else self.mask)
        config["arguments"] = self.arguments
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Rebuild from `get_config()`: functions by name; Python lambdas (bytecode) only
        with `safe_mode=False` (None: the enclosing `safe_mode_scope`, True by default)."""
        safe_mode = resolve_safe_mode(safe_mode)
        config = dict(config)
        if "function" not in config:
            raise ValueError("A Lambda config needs a 'function'. "
                             f"Received: config keys {sorted(config)[:20]}")
        config["function"] = deserialize_function(config["function"], custom_objects,
                                                  safe_mode, fallback=activations.get)
        if isinstance(config.get("output_shape"), dict):
            config["output_shape"] = deserialize_function(config["output_shape"],
                                                          custom_objects, safe_mode)
        elif isinstance(config.get("output_shape"), list):
            config["output_shape"] = tuple(config["output_shape"])
        if isinstance(config.get("mask"), dict):
            config["mask"] = deserialize_function(config["mask"], custom_objects, safe_mode)
        return super().from_config(config)


def _is_shape(s):
    return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)
