"""Keras 3's HDF5 weights layout: `.weights.h5` files and `model.weights.h5` in `.keras`.

Saving and loading walk the model exactly as Keras's `saving_lib._save_state`
/ `_load_state` do, calling each layer's `save_own_variables(store)` /
`load_own_variables(store)` (so a custom layer overriding them saves and
loads what Keras would). The group of an object is the path of attribute
names that leads to it from the model (`_walk_saveable`):

* the object itself first: its own weights at `<path>/vars/0`, `1`, ...
  (trainable, then non-trainable, in creation order; `vars.attrs["name"]` =
  its name), never those of its sublayers; the model's own group is `vars`;
* then, for Sequential and Functional models, `model.layers` as the list
  attribute `layers`;
* then every other attribute in sorted `dir()` order, names starting with `_`
  last, minus the names a bare `Layer()` has: a layer attribute at
  `<path>/<attribute>` (`layers/bidirectional/forward_layer/cell`), the
  elements of a list/tuple/dict attribute at
  `<path>/<attribute>/<snake_case class name>[_N]` (`layers/dense`,
  `layers/dense_1`, ...: N counts every element, also those visited before),
  a nested list as `container[_N]`.

An object reachable twice is saved at the first path only. On load, a layer
whose weights fail to load at one path may still load them at a later path
reaching the same object (Keras's rule; a property aliasing an attribute
loads through either name). For a custom class registered with
`register_keras_serializable`, the class name used in list paths is the
registered one (`"Custom>MaskedDense"` -> `masked_dense`), the name of its
Keras twin, whatever the fastmask class is called.

Loading is all or nothing (a deliberate difference from Keras, which keeps
the weights it assigned before a failure): the weights are restored when any
object fails, and the error is Keras's aggregated one ("A total of N objects
could not be loaded. ...") followed by one line per failing group. Weights
the file holds under `layers/` (or at the model's root) that the model has no
place for are an error too, and so are weights Keras 3.15.1 would drop
silently (a layer that was never built, revisited through an alias path with
no weights). `skip_mismatch=True` turns the failures into a warning and
keeps what loaded, as in Keras.

h5py is imported lazily (`pip install fastmask[keras]`).
"""
import math
import os
import warnings

import numpy as np

from ..core.naming import to_snake_case
from ..core.registry import _NAMES
from ..core.tensor import Variable
from ..layers.layer import Layer

__all__ = ["require_h5py", "weight_paths", "save_weights_h5", "read_weights_h5",
           "assign_weights", "WeightsFileError"]


class WeightsFileError(ValueError):
    """A weights file that does not fit the model (missing, extra or mis-shaped weights)."""


def require_h5py():
    """The h5py module, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading and writing Keras `.keras` / `.weights.h5` files needs h5py. "
                          "Install it with `pip install fastmask[keras]` (or `pip install "
                          "h5py`).") from None
    return h5py


# ----------------------------------------------------------------------------- the walk

_SKIP = {}
# fastmask attributes that hold layers but have no Keras counterpart on the
# same class (Keras skips `_functional`/`operations` the same way).
_EXTRA_SKIP = {"Layer": set(),
               "Sequential": {"_layer_list", "_functional"},
               "Functional": {"operations", "_operations", "_steps", "_plan",
                              "_inputs_struct", "_outputs_struct"}}


def _obj_type(obj):
    """The kind of `obj` in Keras's walk: "Sequential", "Functional" or "Layer"."""
    get = getattr(obj, "_obj_type", None)
    kind = get() if callable(get) else "Layer"
    return kind if kind in _EXTRA_SKIP else "Layer"


def _skipset(obj_type):
    skip = _SKIP.get(obj_type)
    if skip is None:
        probe = Layer(name="_fastmask_saving_probe")
        skip = _SKIP[obj_type] = set(dir(probe)) | _EXTRA_SKIP[obj_type]
    return skip


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


def _children(obj):
    """(attribute name, value) pairs in Keras's `_walk_saveable` order."""
    obj_type = _obj_type(obj)
    if obj_type in ("Sequential", "Functional"):
        yield "layers", obj.layers
    skip = _skipset(obj_type)
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        yield attr, value


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _class_name(layer):
    """The class name Keras would see: the registered name of a custom class
    (its Keras twin is registered under the same name), else the class name."""
    registered = _NAMES.get(type(layer))
    return registered.split(">", 1)[-1] if registered else type(layer).__name__


def _join(path, name):
    return f"{path}/{name}" if path else name


def _walk(model, visit_layer, n_failed=None):
    """Keras's walk from `model`: `visit_layer(layer, path)` for each layer reached,
    returning whether it succeeded. A layer is not visited again once it succeeded
    and no object below it failed (`n_failed()` counts current failures: Keras's
    `_load_state`); when saving, once visited."""
    visited = set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        ok = visit_layer(obj, path)
        if n_failed is None:
            visited.add(id(obj))
        before = n_failed() if n_failed is not None else 0
        for attr, child in _children(obj):
            if isinstance(child, Layer):
                visit(child, _join(path, attr))
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, _join(path, attr), set())
        if ok and n_failed is not None and n_failed() <= before:
            visited.add(id(obj))

    def visit_container(container, path, seen):
        if id(container) in seen:
            return
        seen.add(id(container))
        used = {}
        items = container.values() if isinstance(container, dict) else container
        for item in list(items):
            if isinstance(item, Layer):
                visit(item, _join(path, _unique(to_snake_case(_class_name(item)), used)))
            elif isinstance(item, (list, tuple, dict)):
                visit_container(item, _join(path, _unique("container", used)), seen)

    visit(model, "")


def weight_paths(model):
    """[(path, layer, own weights)] for every layer saved from `model`, Keras's order.

    `path` is the HDF5 group ("" for the model itself) whose `vars/i` holds
    `own weights[i]`; layers without weights are listed too.
    """
    out = []

    def record(layer, path):
        out.append((path, layer, _own(layer)))
        return True

    _walk(model, record)
    return out


def _own(layer):
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


# ----------------------------------------------------------------------------- writing

def save_weights_h5(model, target):
    """Write `model`'s weights in Keras's layout to a path or a writable binary file object
    (each layer's `save_own_variables` fills its `vars` group)."""
    h5py = require_h5py()
    with h5py.File(target, "w") as f:
        def save(layer, path):
            group = f.create_group(_join(path, "vars"))
            group.attrs["name"] = layer.name
            store = {}
            layer.save_own_variables(store)
            for key, value in store.items():
                group.create_dataset(str(key), data=np.asarray(
                    value.value if isinstance(value, Variable) else value))
            return True

        _walk(model, save)


# ----------------------------------------------------------------------------- reading

# A dataset declaring more than 4 GiB must store at least 1/1000 of it on disk
# (Keras 3.15.1's rule): real arrays, even compressed, do; shape/decompression
# bombs (a huge shape filled by a fill value) do not, and are refused unread.
_BOMB_FLOOR_BYTES = 1 << 32
_MAX_EXPANSION = 1000


def _checked_dataset(ds, name, what):
    """`ds` if it is an ordinary in-file dataset of plausible size, else a ValueError."""
    if ds.external:
        raise ValueError(f"{what}: '{name}' is an external dataset ({ds.external}); "
                         "fastmask reads weights stored in the file only.")
    if ds.is_virtual:
        raise ValueError(f"{what}: '{name}' is a virtual dataset; fastmask reads weights "
                         "stored in the file only.")
    declared = math.prod(ds.shape or ()) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    if declared > _BOMB_FLOOR_BYTES and declared > _MAX_EXPANSION * stored:
        raise ValueError(f"{what}: dataset '{name}' declares shape {ds.shape} "
                         f"({declared} bytes) but stores only {stored} bytes on disk; "
                         "refusing to load a potential decompression/shape bomb.")
    return ds


def read_weights_h5(source, what=None):
    """{group path: {"0": array, ...}} of every `vars` group of a Keras weights file.

    `source` is a path or a readable binary file object; `what` names it in
    errors. Arrays are read into memory (the file is closed on return).
    """
    h5py = require_h5py()
    what = what or (os.fspath(source) if isinstance(source, (str, os.PathLike))
                    else "the weights file")
    try:
        f = h5py.File(source, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise ValueError(f"{what} is not a readable HDF5 weights file ({e}).") from None
    entries = {}
    try:
        def visit(name, obj):
            if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars":
                parent = name[:-len("vars")].rstrip("/")
                values = {}
                for key, ds in obj.items():
                    if not isinstance(ds, h5py.Dataset):
                        raise ValueError(f"{what}: '{name}/{key}' is not a dataset.")
                    values[key] = np.array(_checked_dataset(ds, f"{name}/{key}", what))
                entries[parent] = values
        f.visititems(visit)
        if not entries and ("layer_names" in f.attrs or "model_weights" in f):
            raise ValueError(f"{what} is a legacy Keras 2 HDF5 file; fastmask reads Keras 3's "
                             "layout (`model.save_weights('x.weights.h5')` in Keras 3).")
    except (OSError, RuntimeError, KeyError) as e:
        raise ValueError(f"{what} is corrupt: reading it failed ({e}).") from None
    finally:
        f.close()
    return entries


# ----------------------------------------------------------------------------- assigning

class _Failure:
    """One object that could not be loaded: Keras's error and fastmask's summary line."""

    def __init__(self, layer, error, path, store):
        self.layer, self.error, self.path, self.store = layer, error, path, store


def _summary(failure, what):
    """One line on a failure: the group, the layer, and what differs."""
    layer, store, own = failure.layer, failure.store, _own(failure.layer)
    head = f"at '{_join(failure.path, 'vars')}': layer '{layer.name}' ({type(layer).__name__})"
    keys = sorted(store, key=lambda k: (len(k), k))
    if len(keys) != len(own):
        names = ", ".join(_wname(w) for w in own)
        if not own and not layer.built:
            return (f"{head} was never built (no weights) but {what} holds {len(keys)} "
                    "there")
        if not keys:
            return f"{head} has {len(own)} weight(s) ({names}) but {what} has none there"
        return (f"{head} has {len(own)} weight(s) ({names}) but {what} holds {len(keys)} "
                f"({', '.join(keys)}) there")
    for i, w in enumerate(own):
        value = store.get(str(i))
        if value is not None and tuple(np.shape(value)) != tuple(w.shape):
            return (f"{head}: weight {i} ({_wname(w)}) has shape {tuple(w.shape)} but {what} "
                    f"holds shape {tuple(np.shape(value))}")
    first = str(failure.error).strip().splitlines()
    return f"{head}: {first[0] if first else type(failure.error).__name__}"


def _keras_message(failures):
    """Keras's `_raise_loading_failure` text."""
    first = failures[0]
    return (f"A total of {len(failures)} objects could not be loaded. Example error message "
            f"for object {first.layer!r}:\n\n{first.error}\n\nList of objects that could "
            f"not be loaded:\n{[f.layer for f in failures]}")


def assign_weights(model, entries, what="the weights file", skip_mismatch=False):
    """Load `entries` ({path: {"i": array}}) into `model` by Keras's walk, all or nothing.

    Each layer's `load_own_variables(store)` receives the arrays of its group
    (an empty store where the file has none). Raises WeightsFileError (a
    ValueError) with Keras's aggregated message and one line per failing group
    when objects fail, or when the file holds weights under `layers/` (or at
    the model's root) that the model has no place for; nothing is changed
    then. With `skip_mismatch=True` the failures become a warning.
    """
    legacy = any(p.startswith("_layer_checkpoint_dependencies") for p in entries)
    snapshot = [(w, np.array(w.value if isinstance(w, Variable) else w, copy=True))
                for w in _all_variables(model)]
    failures = {}          # id(layer) -> _Failure (erased when a later visit succeeds)
    erased = []            # failures erased by a successful revisit
    loaded_paths = set()
    used_paths = set()

    def load(layer, path):
        stored = entries.get(path)
        if stored is None and legacy:   # Keras 2.13's `.keras` layout (as Keras 3 reads it)
            old = path.replace("layers", "_layer_checkpoint_dependencies")
            if old in entries:
                path, stored = old, entries[old]
        if stored is not None:
            used_paths.add(path)
        store = dict(stored or {})
        try:
            layer.load_own_variables(store)
        except Exception as e:
            if id(layer) not in failures:
                failures[id(layer)] = _Failure(layer, e, path, store)
            return False
        if store:
            loaded_paths.add(path)
        previous = failures.pop(id(layer), None)
        if previous is not None:
            erased.append(previous)
        return True

    _walk(model, load, n_failed=lambda: len(failures))
    problems = list(failures.values())
    lines = [_summary(f, what) for f in problems]
    # Keras drops these silently: a failure erased by a revisit with no weights.
    lost = [f for f in erased if f.store and f.path not in loaded_paths and not _own(f.layer)]
    lines += [_summary(f, what) + " (Keras 3.15.1 would silently keep fresh weights)"
              for f in lost]
    extra = sorted(p for p, v in entries.items() if v and p not in used_paths
                   and (p == "" or p.split("/")[0] in ("layers",
                                                        "_layer_checkpoint_dependencies")))
    if extra:
        lines.append(f"{what} holds weights that model '{model.name}' has no place for: "
                     + ", ".join(f"'{_join(p, 'vars')}' ({len(entries[p])} array(s))"
                                 for p in extra))
    if not lines:
        return
    head = _keras_message(problems + lost) + "\n\n" if problems or lost else ""
    message = (f"{head}{what} does not match model '{model.name}' ({type(model).__name__}):"
               "\n  " + "\n  ".join(lines))
    if skip_mismatch:
        warnings.warn(message + "\nThese objects were skipped (skip_mismatch=True).",
                      stacklevel=3)
        return
    for w, value in snapshot:
        np.copyto(w.value if isinstance(w, Variable) else w, value)
    raise WeightsFileError(message + "\nNothing was loaded.")


def _all_variables(model):
    seen, out = set(), []
    for layer in [model] + model._flatten_layers(include_self=False):
        for w in _own(layer) + list(layer.weights):
            if id(w) not in seen and isinstance(w, np.ndarray):
                seen.add(id(w))
                out.append(w)
    return out


def _wname(w):
    return str(getattr(w, "path", None) or getattr(w, "name", None) or "?")
