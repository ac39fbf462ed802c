"""Keras 3 `.keras` archives: a zip of `metadata.json`, `config.json`, `model.weights.h5`.

`config.json` is `keras.saving.serialize_keras_object(model)` (the model's
class, its config with every layer's, build and compile configs);
`model.weights.h5` is the HDF5 layout of `keras_h5`. Keras also writes
archives unzipped into a directory (`zipped=False`); both are read here.

`load_model` is all or nothing, and safe for files from strangers: it reads
`config.json` (bounded, `archive_reader.py`), rebuilds the model from it
(no module imported, no file code run, weights capped by the stored weights'
size), reads `model.weights.h5` (bounded by what the model needs), lists it
with every link and dataset checked (`h5_reader.py`), matches every weight
against it, reads only those arrays and assigns them in one step, and only
then returns the model. Any problem raises a ValueError (`UnsafeFileError`
for a refusal on safety grounds; TypeError for a class or function fastmask
cannot find) that names the file and the part at fault.
"""
import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from .. import __version__
from ..core.registry import safe_mode_scope
from ..core.serialization import (MAX_CONFIG_DEPTH, check_config_depth, deserialize,
                                  json_default, serialize)
from ..core.weight_budget import weight_budget
from .archive_reader import CONFIG, METADATA, WEIGHTS, open_archive
from .h5_reader import open_weights_h5
from .keras_h5 import assign_weights, require_h5py, save_weights_h5
from .limits import UnsafeFileError, build_budget, weights_member_budget

__all__ = ["save_model", "load_model", "load_weights_into", "KERAS_VERSION"]

KERAS_VERSION = "3.15.1"        # the Keras version whose format fastmask writes


def _what(filepath):
    return repr(os.fspath(filepath)) if isinstance(filepath, (str, os.PathLike)) \
        else "the archive"


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """A `.keras` path that does not exist (a ValueError, as in Keras, and a
    FileNotFoundError)."""


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save `model` as a Keras 3 `.keras` archive (or a directory with `zipped=False`).

    The file loads in `keras.saving.load_model` (any backend) and in
    `fastmask.models.load_model`, with the same outputs. The archive is written
    whole, then moved into place: a failure leaves no partial file (Keras may leave
    one without weights).

    Args:
        model: a built fastmask model (or layer).
        filepath: path ending in `.keras` (a directory path with `zipped=False`),
            or a writable binary file object.
        overwrite: if False, refuse to replace an existing file.
        zipped: False writes the archive's members into a directory.
        **kwargs: `include_optimizer` (ignored) and `save_format` (deprecated, as in
            Keras 3); anything else is refused.
    """
    kwargs.pop("include_optimizer", None)
    save_format = kwargs.pop("save_format", False)
    if save_format:
        if not str(filepath).endswith((".h5", ".hdf5", ".keras")):
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please "
                             "remove this argument and pass a file path with either `.keras` "
                             f"or `.h5` extension.Received: save_format={save_format}")
        warnings.warn("The `save_format` argument is deprecated in Keras 3. We recommend "
                      "removing this argument as it can be inferred from the file path. "
                      f"Received: save_format={save_format}", stacklevel=2)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    require_h5py()
    zipped = True if zipped is None else zipped
    if not getattr(model, "built", False):
        warnings.warn(f"You are saving model '{model.name}', which has not yet been built: "
                      "it might not contain any weights yet. Consider building it first by "
                      "calling it on some data.", stacklevel=2)
    is_file_obj = hasattr(filepath, "write")
    if not is_file_obj:
        filepath = os.fspath(filepath)
        if zipped and filepath.endswith((".h5", ".hdf5")):
            raise ValueError("fastmask does not write the legacy HDF5 model format: save as "
                             f"a `.keras` archive instead. Received: filepath={filepath}")
        if zipped and not filepath.endswith(".keras"):
            raise ValueError("Invalid filepath extension for saving. Please add either a "
                             "`.keras` extension for the native Keras format (recommended) or "
                             "a `.h5` extension. Use `model.export(filepath)` if you want to "
                             "export a SavedModel for use with TFLite/TFServing/etc. "
                             f"Received: filepath={filepath}.")
        if not zipped and filepath.endswith(".keras"):
            raise ValueError("When using `zipped=False`, the `filepath` argument should not "
                             f"end in `.keras`. Received: filepath={filepath}")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False.")
    config = serialize(model)
    config_json = json.dumps(config, default=json_default)
    metadata_json = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "saved_by": f"fastmask {__version__}"})
    weights = io.BytesIO()
    save_weights_h5(model, weights)
    if not zipped:
        os.makedirs(filepath, exist_ok=True)
        for name, data in ((METADATA, metadata_json.encode()), (CONFIG, config_json.encode()),
                           (WEIGHTS, weights.getvalue())):
            with open(os.path.join(filepath, name), "wb") as f:
                f.write(data)
        return
    buffer = io.BytesIO()   # written whole, then moved into place: no half-written file
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(METADATA, metadata_json)
        zf.writestr(CONFIG, config_json)
        zf.writestr(WEIGHTS, weights.getvalue())
    if is_file_obj:
        filepath.write(buffer.getvalue())
        return
    tmp = f"{filepath}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, filepath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _weight_counts(model):
    """(weight values, layers + weights) of `model`: what its weights member may hold."""
    weights = model.weights
    n_values = sum(int(np.prod(w.shape, dtype=np.int64)) for w in weights)
    return n_values, len(weights) + len(model._flatten_layers())


def _parse_config(config_bytes, what):
    try:
        config = json.loads(config_bytes)
    except RecursionError:
        raise UnsafeFileError(f"{what}: `{CONFIG}` nests lists/dicts too deeply to parse; "
                              f"refusing it (limit {MAX_CONFIG_DEPTH} levels).") from None
    except (UnicodeDecodeError, ValueError) as e:   # JSONDecodeError, over-long integers
        raise ValueError(f"{what}: `{CONFIG}` is not valid JSON ({e}).") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{what}: `{CONFIG}` is not a serialized Keras model (no "
                         "'class_name').")
    try:
        check_config_depth(config, what=f"`{CONFIG}` of {what}")
    except ValueError as e:
        raise UnsafeFileError(str(e)) from None
    return config


def _build_model(config, custom_objects, safe_mode, stored_weight_bytes, what):
    """The model the config describes, its weights capped by what the file stores."""
    limit = build_budget(stored_weight_bytes or 0)
    with weight_budget(limit, what) as budget:
        try:
            with safe_mode_scope(safe_mode):   # custom_objects: Keras's precedence (deserialize)
                model = deserialize(config, custom_objects=custom_objects, safe_mode=safe_mode)
        except MemoryError:
            raise UnsafeFileError(f"{what}: building the model its `{CONFIG}` describes needs "
                                  "more memory than is available; refusing it.") from None
        except RecursionError:
            raise UnsafeFileError(f"{what}: `{CONFIG}` nests models too deeply to build; "
                                  "refusing it.") from None
        except Exception as e:
            if budget.exceeded:
                raise UnsafeFileError(budget.exceeded) from None
            if isinstance(e, (KeyError, IndexError, AttributeError)):
                # A malformed config (a graph naming a layer it lacks, a list where a dict
                # belongs, ...): say so, in the loader's error type.
                raise ValueError(f"{what}: `{CONFIG}` is not a valid Keras model config "
                                 f"({type(e).__name__}: {str(e)[:200]}).") from e
            raise
    if budget.exceeded:   # a layer swallowed the error: the model is incomplete
        raise UnsafeFileError(budget.exceeded)
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a Keras 3 `.keras` model (saved by Keras or by fastmask) as a fastmask model.

    A file from a stranger runs no code, reads no other file and cannot
    exhaust memory (README, "Loading files you did not make"): names in the
    config are resolved without importing anything, the HDF5 weights may not
    link or point outside the member, and every size is bounded
    (`fastmask/saving/limits.py`).

    Args:
        filepath: path of a `.keras` archive (or of a directory saved with
            `zipped=False`), or a readable binary file object.
        custom_objects: optional `{name: class or function}` for custom layers
            (by registered name "package>Name" or class name); classes
            registered with `fastmask.saving.register_keras_serializable` are
            found without it.
        compile: True records the file's compile config on the model (its
            optimizer, losses and metrics stay configs: fastmask does inference
            only and runs no code from them); False drops it, as in Keras.
        safe_mode: refuse to rebuild `Lambda` layers holding Python lambdas
            (marshalled bytecode); pass False only for files you trust.
            Even then that code runs only when the model is called, never
            while it is loaded.

    Returns:
        The Sequential/Functional (or custom) model, built, with all weights.

    Raises:
        ValueError: not a `.keras` archive, truncated or corrupt, or weights
            that do not match the config (missing, extra, mis-shaped);
            `UnsafeFileError` (a ValueError) for a file refused for safety.
        TypeError: a layer class or function fastmask cannot find (the
            message lists the supported layers).
        ImportError: h5py is not installed (`pip install fastmask[keras]`).
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError("`custom_objects` must be a dict {name: class or function}. "
                        f"Received: custom_objects={custom_objects!r}")
    is_file_obj = hasattr(filepath, "read")
    if not is_file_obj:
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a path or a binary file object. Received: "
                            f"filepath={filepath!r}")
        path = os.fspath(filepath)
        if not os.path.exists(path):
            if path.endswith(".keras"):
                raise ModelFileNotFoundError(f"File not found: filepath={path}. Please ensure "
                                             "the file is an accessible `.keras` zip file.")
            raise ModelFileNotFoundError(
                f"File format not supported: filepath={path}. Keras 3 only supports V3 "
                "`.keras` files, legacy H5 format files (`.h5` extension). (No such file or "
                "directory.)")
        if path.endswith(".h5") or path.endswith(".hdf5"):
            if path.endswith(".weights.h5"):
                raise ValueError(f"{path!r} holds weights only: build the model (e.g. from its "
                                 "code or config) and call `model.load_weights(path)`.")
            raise ValueError(f"{path!r} is a legacy Keras 2 HDF5 model file; fastmask reads "
                             "Keras 3 `.keras` archives. Re-save it with Keras 3: "
                             "`keras.saving.load_model(path).save('model.keras')`.")
    what = _what(filepath)
    require_h5py()
    with open_archive(filepath, what) as archive:
        config = _parse_config(archive.read_config(), what)
        if not compile:
            config["compile_config"] = None
        stored = archive.weights_size()
        model = _build_model(config, custom_objects, safe_mode, stored, what)
        weights_file = None
        if stored is not None:
            weights_file = archive.read_weights(weights_member_budget(*_weight_counts(model)))
    member = f"{WEIGHTS} of {what}"
    if weights_file is None:
        if model.weights:
            raise ValueError(f"{what} has no `{WEIGHTS}` but model '{model.name}' has "
                             f"{len(model.weights)} weights.")
        return model
    with open_weights_h5(weights_file, member) as entries:
        assign_weights(model, entries, what=member)
    return model


def load_weights_into(model, filepath, skip_mismatch=False):
    """`model.load_weights(path)` for `.weights.h5` and `.keras` files, all or nothing.

    The HDF5 file is listed with every link and dataset checked, and only the
    arrays the model's layers ask for are read, once their shapes and dtypes
    match (`h5_reader.py`). A `.keras` archive's weights member may
    decompress to at most `limits.weights_member_budget` for this model.
    """
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        what = repr(filepath)
        with open_archive(filepath, what) as archive:
            if archive.weights_size() is None:
                raise ValueError(f"{filepath!r} has no `{WEIGHTS}`.")
            source = archive.read_weights(weights_member_budget(*_weight_counts(model)))
        what = f"{WEIGHTS} of {what}"
    else:
        source, what = filepath, repr(filepath)
    with open_weights_h5(source, what) as entries:
        assign_weights(model, entries, what=what, skip_mismatch=skip_mismatch)
