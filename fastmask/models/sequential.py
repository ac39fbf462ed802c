"""`fastmask.Sequential`: a linear stack of layers (Keras 3 semantics).

With an `Input` first, the model is built at once as a Functional graph.
Without one, it is built on the first call from the actual input shape
(fastmask keeps integer inputs' own dtype there, where Keras would convert
them to the first layer's float dtype; floats are cast as in Keras).
Masks propagate between the layers exactly as in a Functional model.
"""
import inspect

import numpy as np

from ..core.serialization import deserialize, serialize
from ..core.tensor import KerasTensor, get_mask, standardize_shape
from ..core.tree import flatten
from ..layers.core.input_layer import InputLayer
from ..layers.core.lambda_layer import Lambda
from ..layers.layer import Layer
from .functional import Functional
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """`Sequential(layers=None, trainable=True, name=None)`; `add(layer)`, `pop()`."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._functional = None
        self._layer_list = []
        if layers:
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_rebuild()

    @property
    def _layers(self):
        return list(self._layer_list)

    @property
    def layers(self):
        layers = self._layer_list
        if layers and isinstance(layers[0], InputLayer):
            return layers[1:]
        return list(layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be "
                             "used. Use `add()` and `pop()` to change the layers in this "
                             "model.")

    def _lock_state(self):
        pass   # a Sequential model stays mutable after build (as in Keras)

    def _obj_type(self):
        return "Sequential"

    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input` tensor, which becomes the InputLayer)."""
        if not self._layer_list and getattr(layer, "_input_shape_arg", None) is not None:
            self.add(InputLayer(shape=layer._input_shape_arg), rebuild=False)
        if hasattr(layer, "_keras_history") and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `fastmask.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer} (of type {type(layer)})")
        for ref in self._layer_list:
            if ref.name == layer.name and ref is not layer:
                raise ValueError("All layers added to a Sequential model should have unique "
                                 f"names. Name '{layer.name}' is already the name of a layer "
                                 "in this model. Update the `name` argument to pass a unique "
                                 "name.")
        if isinstance(layer, InputLayer) and self._layer_list and \
                isinstance(self._layer_list[0], InputLayer):
            raise ValueError(f"Sequential model '{self.name}' has already been configured to "
                             f"use input shape {self._layer_list[0].batch_shape}. You cannot "
                             "add a different Input layer to it.")
        self._layer_list.append(layer)
        self.built = False
        self._functional = None
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layer_list.pop()
        self.built = False
        self._functional = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self.built = False
        self._functional = None
        if self._layer_list and isinstance(self._layer_list[0], InputLayer) and \
                len(self._layer_list) > 1:
            self.build(self._layer_list[0].batch_shape)
        elif len(self._layer_list) > 1 and _has_input_shape(self._layer_list[0]):
            self.build(self._layer_list[0].input_shape)

    def build(self, input_shape=None):
        """Build the graph for `input_shape` (including the batch dim).

        Without an `Input`, this prepends an `InputLayer` of exactly that shape (the
        first call's shape, batch included, as in Keras); calls with other batch
        sizes and lengths still run (only the rank is checked).
        """
        try:
            input_shape = standardize_shape(input_shape)
        except (ValueError, TypeError):
            return   # not a single input tensor: the layers run one by one
        dtype, self._first_input_dtype = self.__dict__.get("_first_input_dtype"), None
        self._build_graph(input_shape, dtype)

    def _build_graph(self, input_shape, dtype):
        if not self._layer_list:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has "
                             "no layers. Call `model.add(layer)`.")
        first = self._layer_list[0]
        if isinstance(first, InputLayer):
            if first.batch_shape != tuple(input_shape):
                raise ValueError(f"Sequential model '{self.name}' has already been configured "
                                 f"to use input shape {first.batch_shape}. You cannot build it "
                                 f"with input_shape {input_shape}")
        else:
            if dtype is None:
                dtype = first.compute_dtype
            self._layer_list.insert(0, InputLayer(batch_shape=input_shape, dtype=dtype))
        x = self._layer_list[0].output
        inputs = x
        for layer in self._layer_list[1:]:
            try:
                x = layer(x)
            except NotImplementedError:
                return
            except TypeError as e:
                _check_single_positional(layer)
                raise e
        self._functional = Functional(inputs=inputs, outputs=x)

    def _maybe_build(self, arguments, tensors, eager):
        if self.built:
            return
        first = next(iter(arguments.values()), None)
        if isinstance(first, (np.ndarray, KerasTensor)):
            # fastmask keeps an integer first input's dtype (Keras casts it to the first
            # layer's float dtype); float inputs get the first layer's compute dtype.
            dtype = np.dtype(first.dtype).name if isinstance(first, np.ndarray) else first.dtype
            self._first_input_dtype = None if "float" in dtype else dtype
        super()._maybe_build(arguments, tensors, eager)

    def call(self, inputs, training=None, mask=None, **kwargs):
        if self._functional is not None:
            return self._functional.call(inputs, training=training, mask=mask, **kwargs)
        for layer in self.layers:
            layer_kwargs = {}
            if layer._call_info.has_mask:
                layer_kwargs["mask"] = mask
            if layer._call_info.has_training and training is not None:
                layer_kwargs["training"] = training
            inputs = layer(inputs, **layer_kwargs)
            mask = get_mask(inputs)
        return inputs

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`): its graph's (`Functional`)."""
        if type(self).call is not Sequential.call or self._functional is None:
            return None
        return self._functional._plan_call(x, self)

    def compute_output_spec(self, inputs, training=None, mask=None, **kwargs):
        if self._functional is not None:
            return self._functional.compute_output_spec(inputs, training=training, mask=mask)
        for layer in self.layers:
            inputs = layer.compute_output_spec(inputs)
        return inputs

    def compute_output_shape(self, input_shape):
        if self._functional is not None:
            return self._functional.compute_output_shape(input_shape)
        for layer in self.layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def _require_graph(self, what):
        if self._functional is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet.")
        return self._functional

    input_shape = property(lambda self: self._require_graph("input shape").input_shape)
    output_shape = property(lambda self: self._require_graph("output shape").output_shape)
    inputs = property(lambda self: self._require_graph("inputs").inputs)
    outputs = property(lambda self: self._require_graph("outputs").outputs)

    @property
    def input(self):
        return self._require_graph("input").input

    @property
    def output(self):
        return self._require_graph("output").output

    @property
    def input_dtype(self):
        if self._layer_list and isinstance(self._layer_list[0], InputLayer):
            return self._layer_list[0].dtype
        return super().input_dtype

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": self.dtype_policy.serialize(),
                  "layers": [serialize(layer) for layer in self._layer_list]}
        if self._functional is not None:
            config["build_input_shape"] = self._layer_list[0].batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "name" not in config or "layers" not in config:
            raise ValueError("A Sequential model configuration must be a dictionary "
                             "containing the 'name' and 'layers' keys. "
                             f"Received: config={config}")
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        configs = config["layers"]
        for i, layer_config in enumerate(configs):
            layer = deserialize(layer_config, custom_objects=custom_objects)
            if isinstance(layer, Lambda) and i + 1 < len(configs):
                # Its output shape is the next layer's build shape: the graph is then
                # rebuilt without running code from the file.
                following = configs[i + 1]
                build = following.get("build_config") if isinstance(following, dict) else None
                shape = build.get("input_shape") if isinstance(build, dict) else None
                if isinstance(shape, list):
                    layer.set_recorded_outputs(0, [(shape, None)])
            model.add(layer, rebuild=False)
        model._maybe_rebuild()
        shape = config.get("build_input_shape")
        if model._functional is None and shape and isinstance(shape, (tuple, list)):
            model.build(tuple(shape))
        return model


def _has_input_shape(layer):
    try:
        layer.input_shape
    except Exception:
        return False
    return True


def _check_single_positional(layer):
    """Keras's errors for a layer that cannot take one positional input in a Sequential."""
    sig = inspect.signature(layer.call)
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if not positional:
        raise ValueError("Layers added to a Sequential model should have a single positional "
                         f"argument, the input tensor. Layer {layer.__class__.__name__} has "
                         "no positional arguments.")
    if len(required) > 1:
        raise ValueError("Layers added to a Sequential model can only have a single required "
                         f"positional argument, the input tensor. Layer "
                         f"{layer.__class__.__name__} has multiple required positional "
                         f"arguments: {required}")
