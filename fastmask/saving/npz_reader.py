"""`.weights.npz` files (`model.save_weights("m.weights.npz")`), read within limits.

The file is a zip of `.npy` members `w00000.npy`, `w00001.npy`, ... in
`model.weights` order (and `__paths__.npy`, never read). Before any array is
read, every member's `.npy` header (shape, dtype; NumPy caps its size) is
checked against the weight it goes to: numeric, at most 8 bytes per value,
same shape. Object arrays are never unpickled. Then the arrays are read
(each exactly the weight's size), cast, and all are copied in at once.
"""
import zipfile
import zlib

import numpy as np

from ..layers.layer_weights import assign_all
from .archive_reader import zip_member_count
from .limits import MAX_VALUE_ITEMSIZE, MAX_ZIP_MEMBERS, UnsafeFileError

__all__ = ["load_weights_npz"]


def _header(fh):
    """(shape, dtype) from a `.npy` stream positioned at its start."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        read = getattr(np.lib.format, "_read_array_header", None)
        if read is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read(fh, version)
    return tuple(shape), np.dtype(dtype)


def load_weights_npz(model, filepath, skip_mismatch=False):
    """Set `model.weights` from a `.npz` file in `model.weights` order, all or nothing."""
    weights = model.weights
    try:
        with open(filepath, "rb") as raw:
            count = zip_member_count(raw)
            if count is not None and count > MAX_ZIP_MEMBERS:
                raise UnsafeFileError(f"{filepath!r} lists {count:,} zip members, over the "
                                      f"limit of {MAX_ZIP_MEMBERS:,}; refusing it.")
            with zipfile.ZipFile(raw) as zf:
                keys = sorted(n for n in zf.namelist() if n.startswith("w") and
                              n.endswith(".npy"))
                if len(keys) != len(weights):
                    if not weights and not model.built:
                        raise ValueError(
                            "You are loading weights into a model that has not yet been "
                            "built. Try building the model first by calling it on some "
                            "data or by using `build()`.")
                    raise ValueError(f"Weight file {filepath} holds {len(keys)} weights but "
                                     f"model '{model.name}' has {len(weights)}.")
                pending = []
                for w, key in zip(weights, keys):
                    with zf.open(key) as fh:
                        shape, dtype = _header(fh)
                    if dtype.hasobject or dtype.kind not in "biuf" \
                            or dtype.itemsize > MAX_VALUE_ITEMSIZE:
                        raise ValueError(f"Weight {w.path} of model '{model.name}': '{key}' in "
                                         f"{filepath!r} is not numeric (dtype {dtype}). "
                                         "Nothing was loaded.")
                    if shape != tuple(w.shape):
                        if skip_mismatch:
                            continue
                        raise ValueError(f"Weight {w.path} of model '{model.name}' has shape "
                                         f"{w.shape} but the file holds shape {shape}. Nothing "
                                         "was loaded.")
                    pending.append((w, key))
                values = []
                for w, key in pending:
                    with zf.open(key) as fh:
                        array = np.lib.format.read_array(fh, allow_pickle=False)
                    values.append(array.astype(w.dtype, copy=True))
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError,
            NotImplementedError) as e:
        raise ValueError(f"{filepath!r} is not a readable `.npz` weights file ({e}).") from None
    assign_all([w for w, _ in pending], values)
