"""Keras 3 `.keras` archives: a zip of `metadata.json`, `config.json`, `model.weights.h5`.

`config.json` is `keras.saving.serialize_keras_object(model)` (the model's
class, its config with every layer's, build and compile configs);
`model.weights.h5` is the HDF5 layout of `keras_h5`. Keras also writes
archives unzipped into a directory (`zipped=False`); both are read here.

`load_model` is all or nothing: it reads and checks the whole archive,
rebuilds the model from the config, matches every weight against the file,
then assigns them, and only then returns the model. Any problem raises a
ValueError (TypeError for a layer class fastmask does not have) that names
the file and the part at fault.
"""
import datetime
import io
import json
import os
import warnings
import zipfile
import zlib

from .. import __version__
from ..core.registry import custom_object_scope, safe_mode_scope
from ..core.serialization import deserialize, serialize
from .keras_h5 import assign_weights, read_weights_h5, require_h5py, save_weights_h5

__all__ = ["save_model", "load_model", "KERAS_VERSION"]

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
KERAS_VERSION = "3.15.1"        # the Keras version whose format fastmask writes
_MAX_JSON = 256 * 2 ** 20       # refuse absurd config/metadata members (zip bombs)


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
    config_json = json.dumps(config, default=_json_default)
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


def _json_default(obj):
    import numpy as np
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable: {obj!r}")


def _read_members(filepath):
    """(config text, weights bytes or None) from an archive path, file object or directory."""
    what = _what(filepath)
    if isinstance(filepath, (str, os.PathLike)) and os.path.isdir(filepath):
        names = os.listdir(filepath)
        if CONFIG not in names:
            raise ValueError(f"{what} is a directory without a `{CONFIG}`: not a Keras model "
                             "saved with `zipped=False`.")
        with open(os.path.join(filepath, CONFIG), "rb") as f:
            config = f.read()
        weights = None
        if WEIGHTS in names:
            with open(os.path.join(filepath, WEIGHTS), "rb") as f:
                weights = f.read()
        elif "model.weights.npz" in names:
            raise ValueError(f"{what} stores its weights as `model.weights.npz` (Keras's "
                             "weights_format='npz'); fastmask reads the default HDF5 format: "
                             "save it again with `model.save(path)`.")
        return config, weights
    try:
        zf = zipfile.ZipFile(filepath, "r")
    except zipfile.BadZipFile as e:
        raise ValueError(f"{what} is not a valid `.keras` archive (not a readable zip file: "
                         f"{e}). It may be truncated or corrupt.") from None
    with zf:
        names = zf.namelist()
        if CONFIG not in names:
            raise ValueError(f"{what} is a zip file without a `{CONFIG}`: not a Keras 3 "
                             f"`.keras` archive (members: {names[:10]}).")
        if "model.weights.npz" in names and WEIGHTS not in names:
            raise ValueError(f"{what} stores its weights as `model.weights.npz` (Keras's "
                             "weights_format='npz'); fastmask reads the default HDF5 format: "
                             "save it again with `model.save(path)`.")
        try:
            if zf.getinfo(CONFIG).file_size > _MAX_JSON:
                raise ValueError(f"{what}: `{CONFIG}` is implausibly large.")
            config = zf.read(CONFIG)
            weights = zf.read(WEIGHTS) if WEIGHTS in names else None
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error) as e:
            raise ValueError(f"{what} is corrupt: reading its members failed ({e}). It may "
                             "be truncated.") from None
    return config, weights


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a Keras 3 `.keras` model (saved by Keras or by fastmask) as a fastmask model.

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

    Returns:
        The Sequential/Functional (or custom) model, built, with all weights.

    Raises:
        ValueError: not a `.keras` archive, truncated or corrupt, or weights
            that do not match the config (missing, extra, mis-shaped).
        TypeError: a layer class fastmask does not support (the message lists
            the supported ones).
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
    config_bytes, weights_bytes = _read_members(filepath)
    try:
        config = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what}: `{CONFIG}` is not valid JSON ({e}).") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{what}: `{CONFIG}` is not a serialized Keras model (no "
                         "'class_name').")
    if not compile:
        config["compile_config"] = None
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        model = deserialize(config, custom_objects=custom_objects, safe_mode=safe_mode)
    entries = {}
    if weights_bytes is not None:
        entries = read_weights_h5(io.BytesIO(weights_bytes), f"{WEIGHTS} of {what}")
    elif model.weights:
        raise ValueError(f"{what} has no `{WEIGHTS}` but model '{model.name}' has "
                         f"{len(model.weights)} weights.")
    assign_weights(model, entries, what=f"{WEIGHTS} of {what}")
    return model
