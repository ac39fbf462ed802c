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

fastmask layers use Keras's attribute names, so the same walk over a fastmask
model gives Keras's paths.

Loading is all or nothing (a deliberate difference from Keras, which keeps
the weights it assigned before a failure). Each layer's `load_own_variables`
gets a store that reads an array only when the layer asks for it, after its
dtype (numeric) and, for the default `load_own_variables`, its shape were
checked from the file's header (`_GroupStore`); a custom loader may not read
more values than the model's weights hold. Assignments are collected
(`core/weight_swap.staging`) and copied in at once at the end: a call running
in another thread sees the old weights or the new ones, never a mix. When any
object fails, nothing is changed and the error is Keras's aggregated one ("A
total of N objects could not be loaded. ...") followed by one line per failing
group. Weights the file holds under `layers/` (or at the model's root) that
the model has no place for are an error too, and so are weights Keras 3.15.1
would drop silently (a layer that was never built, revisited through an alias
path with no weights). `skip_mismatch=True` turns the failures into a warning
and keeps what loaded, as in Keras.

h5py is imported lazily (`pip install fastmask[keras]`).
"""
import warnings
from collections.abc import Mapping

import numpy as np

from ..core.naming import to_snake_case
from ..core.registry import _NAMES
from ..core.tensor import Variable
from ..core.weight_swap import staging
from ..layers.layer import Layer
from ..layers.layer_weights import LayerWeightsMixin, assign_all
from .h5_reader import open_weights_h5, require_h5py
from .limits import MAX_VALUE_ITEMSIZE

__all__ = ["require_h5py", "weight_paths", "save_weights_h5", "open_weights_h5",
           "assign_weights", "WeightsFileError"]


class WeightsFileError(ValueError):
    """A weights file that does not fit the model (missing, extra or mis-shaped weights)."""


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
# `open_weights_h5` (h5_reader.py): the file listed with every link and dataset checked,
# no data read until a weight asks for it.


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
        if value is not None and _stored_shape(value) != tuple(w.shape):
            return (f"{head}: weight {i} ({_wname(w)}) has shape {tuple(w.shape)} but {what} "
                    f"holds shape {_stored_shape(value)}")
    first = str(failure.error).strip().splitlines()
    return f"{head}: {first[0] if first else type(failure.error).__name__}"


def _keras_message(failures):
    """Keras's `_raise_loading_failure` text."""
    first = failures[0]
    return (f"A total of {len(failures)} objects could not be loaded. Example error message "
            f"for object {first.layer!r}:\n\n{first.error}\n\nList of objects that could "
            f"not be loaded:\n{[f.layer for f in failures]}")


class _GroupStore(Mapping):
    """The store a layer's `load_own_variables` reads: the arrays of its group, each read
    from the file only when asked for, after checks on its header.

    Every value must be numeric (at most `MAX_VALUE_ITEMSIZE` bytes a value). For
    a layer with the default `load_own_variables`, value `i` must have the shape
    of the layer's own weight `i` before it is read; a custom loader may read
    values of any shape, but none holding more values than the whole model's
    weights (`limit`). A value is read once.
    """

    def __init__(self, stored, layer, what, limit):
        self._stored, self._what, self._limit = stored, what, limit
        default = type(layer).load_own_variables is LayerWeightsMixin.load_own_variables
        self._own = _own(layer) if default else None
        self._layer = layer
        self._read = {}

    def __len__(self):
        return len(self._stored)

    def __iter__(self):
        return iter(self._stored)

    def __contains__(self, key):
        return key in self._stored

    def __getitem__(self, key):
        if key in self._read:
            return self._read[key]
        value = self._stored[key]
        if not hasattr(value, "read"):   # an array already in memory (from_keras, tests)
            array = np.asarray(value)
        else:
            array = self._read_checked(key, value)
        self._read[key] = array
        return array

    def _read_checked(self, key, value):
        where = f"'{getattr(value, 'path', key)}' in {self._what}"
        dtype = np.dtype(value.dtype)
        if dtype.kind not in "biuf" or dtype.itemsize > MAX_VALUE_ITEMSIZE:
            raise ValueError(f"{where} is not numeric (dtype {dtype})")
        shape = None if value.shape is None else tuple(value.shape)
        own = self._own
        if own is not None and str(key).isdigit() and int(key) < len(own):
            w = own[int(key)]
            if shape != tuple(w.shape):   # Variable.assign's (Keras's) text, before reading
                raise ValueError(
                    "The shape of the target variable and the shape of the target value in "
                    "`variable.assign(value)` must match. "
                    f"variable.shape={w.shape}, Received: value.shape={shape}. "
                    f"Target variable: {w!r}")
        elif shape is not None and int(np.prod(shape, dtype=np.int64)) > self._limit:
            raise ValueError(f"{where} holds {int(np.prod(shape, dtype=np.int64)):,} values "
                             f"(shape {shape}), more than the model's weights hold together "
                             f"({self._limit:,}); refusing to read it")
        try:
            array = value.read()
        except (OSError, RuntimeError) as e:
            raise ValueError(f"{self._what} is corrupt: reading "
                             f"'{getattr(value, 'path', '?')}' failed ({e}).") from None
        if array.shape != shape:   # a file whose data contradicts its header
            raise ValueError(f"{where} read as shape {array.shape}, its header says {shape}")
        return array


def _stored_shape(value):
    shape = getattr(value, "shape", None)
    if shape is None and not hasattr(value, "read"):
        shape = np.shape(value)
    return None if shape is None else tuple(shape)


def assign_weights(model, entries, what="the weights file", skip_mismatch=False):
    """Load `entries` ({path: {"i": array or StoredArray}}) into `model` by Keras's walk,
    all or nothing.

    Each layer's `load_own_variables(store)` receives its group as a `_GroupStore`
    (an empty store where the file has none); what it assigns is collected and
    copied in at once at the end (`assign_all`). Raises WeightsFileError (a
    ValueError) with Keras's aggregated message and one line per failing group
    when objects fail, or when the file holds weights under `layers/` (or at
    the model's root) that the model has no place for; nothing is changed
    then. With `skip_mismatch=True` the failures become a warning and what
    loaded is kept.
    """
    legacy = any(p.startswith("_layer_checkpoint_dependencies") for p in entries)
    limit = max(1, sum(int(np.prod(w.shape, dtype=np.int64)) for w in model.weights))
    failures = {}          # id(layer) -> _Failure (erased when a later visit succeeds)
    erased = []            # failures erased by a successful revisit
    loaded_paths = set()
    used_paths = set()
    plan = {}              # id(layer) -> {id(variable): (variable, value)}: its last success

    def load(layer, path):
        stored = entries.get(path)
        if stored is None and legacy:   # Keras 2.13's `.keras` layout (as Keras 3 reads it)
            old = path.replace("layers", "_layer_checkpoint_dependencies")
            if old in entries:
                path, stored = old, entries[old]
        if stored is not None:
            used_paths.add(path)
        stored = dict(stored or {})
        try:
            with staging() as writes:
                layer.load_own_variables(_GroupStore(stored, layer, what, limit))
        except Exception as e:
            if id(layer) not in failures:
                failures[id(layer)] = _Failure(layer, e, path, stored)
            return False
        plan[id(layer)] = writes
        if stored:
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
    if lines:
        head = _keras_message(problems + lost) + "\n\n" if problems or lost else ""
        message = (f"{head}{what} does not match model '{model.name}' "
                   f"({type(model).__name__}):\n  " + "\n  ".join(lines))
        if not skip_mismatch:
            raise WeightsFileError(message + "\nNothing was loaded.")
        warnings.warn(message + "\nThese objects were skipped (skip_mismatch=True).",
                      stacklevel=3)
    writes = {}
    for layer_writes in plan.values():
        writes.update(layer_writes)
    assign_all([w for w, _ in writes.values()], [v for _, v in writes.values()])


def _wname(w):
    return str(getattr(w, "path", None) or getattr(w, "name", None) or "?")
