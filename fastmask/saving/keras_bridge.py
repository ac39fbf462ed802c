"""`from_keras`: convert a live Keras 3 model (any backend) to a fastmask model in memory.

The config is Keras's own `serialize_keras_object(model)` (through JSON, as in
a `.keras` file) and the weights are collected by Keras's own saving walk
(`saving_lib._save_state` into an in-memory store), so the conversion sees
exactly what `model.save()` would write, without touching the disk and
without h5py.
"""
import json

import numpy as np

from ..core.registry import custom_object_scope, safe_mode_scope
from ..core.serialization import deserialize, json_default
from .keras_h5 import assign_weights

__all__ = ["from_keras", "keras_weight_entries"]


def _is_keras_object(obj):
    return any(c.__module__.startswith("keras.") for c in type(obj).__mro__)


def keras_weight_entries(keras_obj):
    """{group path: {"0": array, ...}}: what Keras would write to `model.weights.h5`."""
    from keras import ops
    from keras.src.saving import saving_lib

    class _MemoryStore(saving_lib.NpzIOStore):
        """Keras's npz store, kept in memory (never written)."""

        def __init__(self):
            self.mode = "w"
            self.archive = None
            self.contents = {}

        def make(self, path, metadata=None):
            self.contents[path] = {}
            return self.contents[path]

    store = _MemoryStore()
    saving_lib._save_state(keras_obj, weights_store=store, assets_store=None, inner_path="",
                           visited_saveables=set())
    return {path: {k: np.asarray(ops.convert_to_numpy(v)) for k, v in values.items()}
            for path, values in store.contents.items()}


def from_keras(keras_model, custom_objects=None):
    """A fastmask copy of a Keras 3 model or layer: same config, same weights.

    Args:
        keras_model: a built `keras.Model` (Sequential, Functional or a
            registered subclass) or `keras.layers.Layer`, on any backend.
        custom_objects: optional `{name: fastmask class}` for custom layers
            not registered with `fastmask.saving.register_keras_serializable`.

    Returns:
        The fastmask model (or layer), built, with the Keras weights.

    Raises:
        TypeError: not a Keras object, or a layer class fastmask lacks.
        ValueError: the weights do not fit the rebuilt model.
    """
    if not _is_keras_object(keras_model):
        raise TypeError("`from_keras` expects a Keras 3 model or layer. Received: "
                        f"keras_model={keras_model!r} (of type {type(keras_model).__name__}). "
                        "For a `.keras` file use `fastmask.models.load_model(path)`.")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError("`custom_objects` must be a dict {name: class or function}. "
                        f"Received: custom_objects={custom_objects!r}")
    import keras
    if not getattr(keras_model, "built", True):
        raise ValueError(f"Keras model '{keras_model.name}' is not built: call it on data (or "
                         "start it with an `Input`) before converting it.")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(keras_model),
                                   default=json_default))
    # The object is live in this process: its lambdas are as trusted as the caller.
    with custom_object_scope(custom_objects), safe_mode_scope(False):
        model = deserialize(config, custom_objects=custom_objects, safe_mode=False)
    assign_weights(model, keras_weight_entries(keras_model),
                   what=f"Keras model '{keras_model.name}'")
    return model
