"""Reading a Keras HDF5 weights file that may come from a stranger.

HDF5 can make a read fetch bytes from somewhere else than the file: external
links (a group member pointing into another file), soft links, datasets whose
raw data lives in external files (`external=[(path, offset, size)]`), virtual
datasets (their data mapped from other files), and filters that make HDF5
load a plugin library. Any of them would let a weights file read a local
file (the process environment, a key) into a model's weights.

`open_weights_h5(source, what)` lists the file without reading any data:

* it walks every group link by link, asking each link's class with
  `group.get(name, getlink=True)` *before* resolving it; only hard links are
  followed (never `name in group` or `group[path]` first: they follow links);
* every dataset's creation properties are checked: not virtual, no external
  storage, only HDF5's built-in filters, chunks no bigger than the data;
* the walk is bounded (`MAX_H5_OBJECTS` links, `MAX_H5_DEPTH` levels).

Anything else raises `UnsafeFileError` before a byte of data is read. It
yields `{group path: {key: StoredArray}}` for every `vars` group. A
`StoredArray` has the stored shape and dtype and reads its data only in
`read()`: loaders call it only for the weights a layer asks for, after the
shape and dtype were checked against that weight, so a dataset declaring
8 GiB in a group nothing uses is never read.
"""
import contextlib
import os

import numpy as np

from .limits import (H5_BUILTIN_FILTERS, H5_CHUNK_SLACK_BYTES, MAX_H5_DEPTH, MAX_H5_OBJECTS,
                     UnsafeFileError, format_bytes)

__all__ = ["require_h5py", "open_weights_h5", "StoredArray"]


def require_h5py():
    """The h5py module, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading and writing Keras `.keras` / `.weights.h5` files needs h5py. "
                          "Install it with `pip install fastmask[keras]` (or `pip install "
                          "h5py`).") from None
    return h5py


class StoredArray:
    """One checked dataset of a weights file: `shape`, `dtype`, and `read()` for the data."""

    def __init__(self, dataset, path):
        self._dataset = dataset
        self.path = path
        self.shape = dataset.shape          # None for an HDF5 null dataspace
        self.dtype = dataset.dtype

    def read(self):
        """The data as a NumPy array (read now, from this file only)."""
        if self.shape is None:
            raise ValueError(f"'{self.path}' is an empty HDF5 dataset (no data).")
        return np.asarray(self._dataset[()])

    def __repr__(self):
        return f"<StoredArray {self.path} shape={self.shape} dtype={self.dtype}>"


def _refuse(what, path, reason):
    return UnsafeFileError(f"Not allowed: '{path}' in {what} {reason}. Refusing the file before "
                           "reading any of its data (a weights file must hold its arrays "
                           "itself).")


def _check_link(h5py, link, what, path):
    if isinstance(link, h5py.HardLink):
        return
    if isinstance(link, h5py.ExternalLink):
        raise _refuse(what, path, f"is an external link (to '{link.path}' in file "
                                  f"'{link.filename}')")
    if isinstance(link, h5py.SoftLink):
        raise _refuse(what, path, f"is a soft link (to '{link.path}')")
    raise _refuse(what, path, f"is a link of an unsupported kind ({type(link).__name__})")


def _check_dataset(h5py, ds, what, path):
    plist = ds.id.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise _refuse(what, path, "is a virtual dataset (its data comes from other files)")
    if plist.get_external_count():
        files = [f for f, _, _ in (ds.external or [])][:3]
        raise _refuse(what, path, f"stores its data in external files {files}")
    for i in range(plist.get_nfilters()):
        filter_id = plist.get_filter(i)[0]
        if filter_id not in H5_BUILTIN_FILTERS:
            raise _refuse(what, path, f"uses HDF5 filter {filter_id}, which is not built into "
                                      "HDF5 (reading it would load a plugin library)")
    if layout == h5py.h5d.CHUNKED and ds.shape is not None:
        itemsize = ds.dtype.itemsize
        chunk_bytes = int(np.prod(plist.get_chunk(), dtype=object)) * itemsize
        data_bytes = int(np.prod(ds.shape, dtype=object)) * itemsize
        if chunk_bytes > data_bytes + H5_CHUNK_SLACK_BYTES:
            raise _refuse(what, path, f"has chunks of {format_bytes(chunk_bytes)} for "
                                      f"{format_bytes(data_bytes)} of data")


def _list_vars(h5py, f, what):
    """{group path: {key: StoredArray}} of every `vars` group; links and storage checked."""
    entries = {}
    count = 0
    stack = [("", f, 0)]
    while stack:
        path, group, depth = stack.pop()
        if depth > MAX_H5_DEPTH:
            raise UnsafeFileError(f"{what} nests groups more than {MAX_H5_DEPTH} levels deep "
                                  f"(at '{path}'); refusing it.")
        in_vars = path.rsplit("/", 1)[-1] == "vars"
        values = {}
        for name in group:
            count += 1
            if count > MAX_H5_OBJECTS:
                raise UnsafeFileError(f"{what} holds more than {MAX_H5_OBJECTS:,} groups and "
                                      "datasets; refusing it.")
            child = f"{path}/{name}" if path else name
            _check_link(h5py, group.get(name, getlink=True), what, child)
            obj = group[name]          # a hard link: resolving it stays in this file
            if isinstance(obj, h5py.Group):
                if in_vars:
                    raise ValueError(f"{what}: '{child}' is not a dataset.")
                stack.append((child, obj, depth + 1))
            elif isinstance(obj, h5py.Dataset):
                _check_dataset(h5py, obj, what, child)
                if in_vars:
                    values[name] = StoredArray(obj, child)
        if in_vars:
            entries[path[:-len("vars")].rstrip("/")] = values
    return entries


@contextlib.contextmanager
def open_weights_h5(source, what=None):
    """`with open_weights_h5(path or file object) as entries:` the checked listing (see the
    module docstring); the file stays open in the block so `StoredArray.read()` works."""
    h5py = require_h5py()
    what = what or (repr(os.fspath(source)) if isinstance(source, (str, os.PathLike))
                    else "the weights file")
    try:
        f = h5py.File(source, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise ValueError(f"{what} is not a readable HDF5 weights file ({e}).") from None
    try:
        try:
            entries = _list_vars(h5py, f, what)
            if not entries and ("layer_names" in f.attrs
                                or f.get("model_weights", getlink=True) is not None):
                raise ValueError(f"{what} is a legacy Keras 2 HDF5 file; fastmask reads Keras "
                                 "3's layout (`model.save_weights('x.weights.h5')` in Keras 3).")
        except (OSError, RuntimeError, KeyError) as e:
            raise ValueError(f"{what} is corrupt: reading it failed ({e}).") from None
        yield entries
    finally:
        f.close()
