"""`Lambda`: wrap a function as a layer (mask dropped unless `mask=` is given)."""
import inspect

from ... import activations
from ...core.serialization import deserialize_function, serialize_function
from ...core.shape_inference import compute_output_spec
from ...core.tensor import KerasTensor
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

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
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
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        config = dict(config)
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
