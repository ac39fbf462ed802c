"""Pickling of layers and models (pickle, cloudpickle; what Dask uses to ship them).

* Sequential and Functional models pickle as (Keras config, weights, the
  callables and custom classes they use): unpickling rebuilds the graph from
  the config, as `load_model` does (names resolved without importing
  anything), and sets the weights. Their symbolic graph (nodes, KerasTensors)
  is never pickled. Custom layer classes and the functions held by layers
  (e.g. a Lambda's `np.tanh` or a function of the user's) travel with the
  pickle as objects (by reference with `pickle`, by value for `__main__`
  objects with cloudpickle) and are handed to the rebuild as
  `custom_objects`, so nothing needs registering in the unpickling process.
  Python lambdas travel as marshalled bytecode in the config.
* Other layers (and subclassed models) pickle their state: their attributes,
  without graph nodes, with weights restored as `fastmask.Variable`s (same
  sharing between attributes as in the original).

Pickle is for trusted input only: unpickling data can run any code (that is
how pickle works, whatever fastmask does), so never unpickle a model, or run
a Dask graph, that came from someone you do not trust; share `.keras` files
instead (`fastmask.models.load_model` runs no code from the file).

`Layer.__reduce_ex__` calls `reduce_layer`. Outputs are identical after a
round trip; as in Keras, RNN states of stateful layers inside models reset.
Sequential and Functional are recognised by looking their classes up in the
registry (this module imports no model).
"""
import types

import numpy as np

from ..core.registry import _NAMES, builtin_class, custom_object_scope, safe_mode_scope
from ..core.serialization import deserialize, serialize, serialize_function
from ..core.tensor import Variable
from .call_signature import _signature_of

__all__ = ["reduce_layer"]


def reduce_layer(layer, protocol=2):
    """The `__reduce_ex__` value of a fastmask layer or model (see the module docstring)."""
    if _is_graph_model(layer):
        config = serialize(layer)
        weights = [np.array(w.value) for w in layer.weights]
        return (_rebuild_model, (config, weights, _custom_objects(layer)))
    boxes = {}
    state = {k: _box(v, boxes) for k, v in list(layer.__dict__.items())
             if k not in ("_inbound_nodes", "_outbound_nodes", "_call_info", "_weight_cache")}
    return (_restore_layer, (type(layer), state))


def _is_graph_model(layer):
    """True for a Sequential or Functional model (their classes found in the registry)."""
    for name in ("Functional", "Sequential"):
        cls = builtin_class(name)
        if cls is not None and isinstance(layer, cls):
            return True
    return False


def _custom_objects(model):
    """{registered or class name: object} for the non-fastmask classes in `model` and the
    named callables its layers hold (found by these names when the config is rebuilt:
    the unpickling process imports nothing by name)."""
    found = {}
    for layer in model._flatten_layers(include_self=False):
        cls = type(layer)
        if not cls.__module__.startswith("fastmask."):
            found[_NAMES.get(cls, cls.__name__)] = cls
            found.setdefault(cls.__name__, cls)
        for value in vars(layer).values():
            if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) \
                    and getattr(value, "__name__", "<lambda>") != "<lambda>":
                found.setdefault(serialize_function(value)["config"], value)
    return found


def _rebuild_model(config, weights, custom_objects):
    # Lambdas come back from their bytecode: the pickle itself is trusted input (see above).
    with custom_object_scope(custom_objects), safe_mode_scope(False):
        model = deserialize(config, custom_objects=custom_objects, safe_mode=False)
    model.set_weights(weights)
    return model


class _VariableBox:
    """Stands for one `Variable` in a pickled layer state (restored as a Variable)."""

    def __init__(self, var):
        self.var = var

    def __reduce__(self):
        v = self.var
        extra = {k: getattr(v, k) for k in ("regularizer", "constraint") if hasattr(v, k)}
        return (_make_variable, (np.array(v.value), v.name, v.trainable, v.path, extra))


def _make_variable(value, name, trainable, path, extra):
    var = Variable.create(value, name=name, trainable=trainable, path=path)
    for k, v in extra.items():
        setattr(var, k, v)
    return var


def _box(value, boxes):
    if isinstance(value, Variable):
        box = boxes.get(id(value))
        if box is None:
            box = boxes[id(value)] = _VariableBox(value)
        return box
    if type(value) in (list, tuple):
        return type(value)(_box(v, boxes) for v in value)
    if type(value) is dict:
        return {k: _box(v, boxes) for k, v in value.items()}
    return value


def _restore_layer(cls, state):
    layer = object.__new__(cls)
    layer.__dict__.update(state)
    layer.__dict__["_inbound_nodes"] = []
    layer.__dict__["_outbound_nodes"] = []
    layer.__dict__["_call_info"] = _signature_of(cls.call)
    return layer
