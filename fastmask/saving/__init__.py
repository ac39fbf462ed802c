"""Saving and loading in Keras 3's formats, with Keras's names.

* `load_model(path)` reads a Keras 3 `.keras` archive (saved by Keras or by
  fastmask) into a fastmask model; `save_model(model, path)` /
  `model.save(path)` writes one that `keras.saving.load_model` reads.
* `model.save_weights("m.weights.h5")` / `model.load_weights(...)` use Keras's
  HDF5 layout (`keras_h5`); `.weights.npz` files stay supported.
* `fastmask.models.from_keras(keras_model)` converts a live Keras model.
* Custom layers: `register_keras_serializable(package="Custom", name=None)`
  (alias `register_serializable`), `custom_objects=` or `custom_object_scope`.
  Register the fastmask twin of a Keras layer under the Keras layer's name;
  its `supports_masking` and `compute_mask` come back with it.
* Layers and models pickle (`fastmask/layers/pickling.py`), so they run in
  Dask workers (`fastmask.dask.predict`).

* Files from strangers: loading runs no code from the file, reads no other
  file and cannot exhaust memory (`UnsafeFileError` otherwise); the limits
  are in `limits.py`, the checked readers in `archive_reader.py`,
  `h5_reader.py` and `npz_reader.py`.

h5py is needed for `.keras` and `.weights.h5` files (`pip install fastmask[keras]`).
"""
from ..core.registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                             get_registered_name, get_registered_object,
                             register_keras_serializable, register_serializable)
from ..core.serialization import deserialize as deserialize_keras_object
from ..core.serialization import serialize as serialize_keras_object
from .keras_archive import load_model, save_model
from .keras_bridge import from_keras
from .keras_h5 import WeightsFileError
from .limits import UnsafeFileError


def save_weights(model, filepath, overwrite=True):
    """`model.save_weights(filepath)` (`.weights.h5` in Keras's layout, or `.npz`)."""
    return model.save_weights(filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """`model.load_weights(filepath)` (`.weights.h5`, `.keras` or `.npz`)."""
    return model.load_weights(filepath, skip_mismatch=skip_mismatch)


__all__ = ["load_model", "save_model", "save_weights", "load_weights", "from_keras",
           "register_keras_serializable", "register_serializable", "get_custom_objects",
           "get_registered_name", "get_registered_object", "custom_object_scope",
           "CustomObjectScope", "serialize_keras_object", "deserialize_keras_object",
           "WeightsFileError", "UnsafeFileError"]
