"""Reading a Keras HDF5 weights file that may come from a stranger.

HDF5 can make a read fetch bytes from somewhere else than the file: external
links (a group member pointing into another file), soft links, datasets whose
raw data lives in external files (`external=[(path, offset, size)]`), virtual
datasets (their data mapped from other files), and filters that make HDF5
load a plugin library. Any of them would let a weights file read a local
file (the process environment, a key) into a model's weights.

`open_weights_h5(source, what)` lists the file without reading any data:

* it lists every link with its kind first (HDF5's link visit reports soft
  and external links without following them; Keras's `path in file` test
  follows them), and refuses the file if any link is not a hard link; only
  then are objects opened, all reached through hard links (the refusal names
  a link's target with `group.get(name, getlink=True)`, which does not
  resolve it);
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

    def __init__(self, dataset_id, path):
        self._id = dataset_id
        self.path = path
        self.shape = dataset_id.shape       # None for an HDF5 null dataspace
        self.dtype = dataset_id.dtype

    def read(self):
        """The data as a NumPy array (read now, from this file only)."""
        if self.shape is None:
            raise ValueError(f"'{self.path}' is an empty HDF5 dataset (no data).")
        import h5py
        return np.asarray(h5py.Dataset(self._id)[()])

    def __repr__(self):
        return f"<StoredArray {self.path} shape={self.shape} dtype={self.dtype}>"


def _refuse(what, path, reason):
    return UnsafeFileError(f"Not allowed: '{path}' in {what} {reason}. Refusing the file before "
                           "reading any of its data (a weights file must hold its arrays "
                           "itself).")


def _link_error(h5py, f, what, path):
    """The refusal for the non-hard link at `path` (its target named, never resolved: every
    component before the last is a hard link, which is how the walk reached it)."""
    link = f.get(path, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        return _refuse(what, path, f"is an external link (to '{link.path}' in file "
                                   f"'{link.filename}')")
    if isinstance(link, h5py.SoftLink):
        return _refuse(what, path, f"is a soft link (to '{link.path}')")
    return _refuse(what, path, f"is a link of an unsupported kind ({type(link).__name__})")


def _check_dataset(h5py, dsid, what, path):
    plist = dsid.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise _refuse(what, path, "is a virtual dataset (its data comes from other files)")
    n_external = plist.get_external_count()
    if n_external:
        files = [plist.get_external(i)[0].decode("utf-8", "replace")
                 for i in range(min(n_external, 3))]
        raise _refuse(what, path, f"stores its data in external files {files}")
    for i in range(plist.get_nfilters()):
        filter_id = plist.get_filter(i)[0]
        if filter_id not in H5_BUILTIN_FILTERS:
            raise _refuse(what, path, f"uses HDF5 filter {filter_id}, which is not built into "
                                      "HDF5 (reading it would load a plugin library)")
    if layout == h5py.h5d.CHUNKED and dsid.shape is not None:
        itemsize = dsid.dtype.itemsize
        chunk_bytes = int(np.prod(plist.get_chunk(), dtype=object)) * itemsize
        data_bytes = int(np.prod(dsid.shape, dtype=object)) * itemsize
        if chunk_bytes > data_bytes + H5_CHUNK_SLACK_BYTES:
            raise _refuse(what, path, f"has chunks of {format_bytes(chunk_bytes)} for "
                                      f"{format_bytes(data_bytes)} of data")


def _list_vars(h5py, f, what):
    """{group path: {key: StoredArray}} of every `vars` group; links and storage checked.

    One C-level pass over the links (H5Lvisit: soft and external links are
    reported, never followed) finds every link's kind; then only objects
    reached through hard links are opened, and only their metadata is read.
    """
    names, bad, state = [], [], {"count": 0, "deep": None}

    def on_link(name, info):
        state["count"] += 1
        if state["count"] > MAX_H5_OBJECTS:
            return True                      # stop the visit
        path = name.decode("utf-8", "surrogateescape")
        if path.count("/") >= MAX_H5_DEPTH:
            state["deep"] = path
            return True
        if info.type != h5py.h5l.TYPE_HARD:
            bad.append(path)
            return True
        names.append(path)
        return None

    f.id.links.visit(on_link, info=True)
    if bad:
        raise _link_error(h5py, f, what, bad[0])
    if state["count"] > MAX_H5_OBJECTS:
        raise UnsafeFileError(f"{what} holds more than {MAX_H5_OBJECTS:,} links; refusing it.")
    if state["deep"] is not None:
        raise UnsafeFileError(f"{what} nests groups more than {MAX_H5_DEPTH} levels deep (at "
                              f"'{state['deep'][:200]}'); refusing it.")
    entries = {}
    for path in names:
        obj = h5py.h5o.open(f.id, path.encode("utf-8", "surrogateescape"))
        parent, _, key = path.rpartition("/")
        in_vars = parent.rpartition("/")[2] == "vars"
        if isinstance(obj, h5py.h5d.DatasetID):
            _check_dataset(h5py, obj, what, path)
            if in_vars:
                entries.setdefault(parent[:-len("vars")].rstrip("/"), {})[key] = \
                    StoredArray(obj, path)
        elif isinstance(obj, h5py.h5g.GroupID):
            if in_vars:
                raise ValueError(f"{what}: '{path}' is not a dataset.")
            if key == "vars":
                entries.setdefault(parent, {})
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
