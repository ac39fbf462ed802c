"""Keras 3's HDF5 weights layout: `.weights.h5` files and `model.weights.h5` in `.keras`.

Keras (saving_lib._save_state) writes one group per layer, at the path of
attribute names that leads to it from the model:

* the model itself: `vars` (no datasets, `vars.attrs["name"]` = model name);
* the entries of `model.layers`: `layers/<snake_case class name>[_N]`
  (`layers/dense`, `layers/dense_1`, ...; N counts per class name);
* a sublayer held in an attribute: `<parent path>/<attribute>`
  (`layers/bidirectional/forward_layer/cell`, `layers/multi_head_attention/query_dense`);
* sublayers inside a list/tuple/dict attribute:
  `<parent path>/<attribute>/<snake_case class name>[_N]`
  (`layers/rnn/cell/cells/lstm_cell`).

For a custom class registered with `register_keras_serializable`, the class
name used is the registered one (`"Custom>MaskedDense"` -> `masked_dense`),
the name of its Keras twin, whatever the fastmask class is called.

Attributes are visited public ones first, each in sorted order, and a layer
reachable twice is saved at the first path only. Each layer's group holds
`vars/0`, `vars/1`, ...: its own weights (trainable, then non-trainable, in
creation order), never those of its sublayers. fastmask layers use Keras's
attribute names, so the same walk over a fastmask model gives Keras's paths.

Loading is all or nothing: every weight of the model is matched (path, count,
shape, dtype) against the file before any is read, and weights the file holds
under `layers/` that the model has no place for are an error too (a file for
another architecture); `skip_mismatch=True` skips mismatched layers with a
warning instead, as Keras does. Then the arrays the model asks for (and only
those) are read and cast, and all are copied in at once: a call running in
another thread sees the old weights or the new ones, never a mix.

h5py is imported lazily (`pip install fastmask[keras]`).
"""
import warnings

import numpy as np

from ..core.naming import to_snake_case
from ..core.registry import _NAMES, builtin_class
from ..layers.layer import Layer
from ..layers.layer_weights import assign_all
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
    """The kind of `obj` in Keras's walk: "Sequential", "Functional" or "Layer" (the model
    classes are looked up in the registry: saving imports no model)."""
    for name in ("Sequential", "Functional"):
        cls = builtin_class(name)
        if cls is not None and isinstance(obj, cls):
            return name
    return "Layer"


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


def weight_paths(model):
    """[(path, layer, own weights)] for every layer reachable from `model`, Keras's order.

    `path` is the HDF5 group ("" for the model itself) whose `vars/i` holds
    `own weights[i]`; layers without weights are listed too.
    """
    out, visited, seen_containers = [], set(), set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        own = list(obj._trainable_variables) + list(obj._non_trainable_variables)
        out.append((path, obj, own))
        for attr, child in _children(obj):
            child_path = f"{path}/{attr}" if path else attr
            if isinstance(child, Layer):
                visit(child, child_path)
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, child_path)

    def visit_container(container, path):
        if id(container) in seen_containers:
            return
        seen_containers.add(id(container))
        used = {}
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            if isinstance(item, Layer):
                visit(item, f"{path}/{_unique(to_snake_case(_class_name(item)), used)}")
            elif isinstance(item, (list, tuple, dict)):
                visit_container(item, f"{path}/{_unique('container', used)}")

    visit(model, "")
    return out


# ----------------------------------------------------------------------------- writing

def save_weights_h5(model, target):
    """Write `model`'s weights in Keras's layout to a path or a writable binary file object."""
    h5py = require_h5py()
    with h5py.File(target, "w") as f:
        for path, layer, own in weight_paths(model):
            group = f.create_group(f"{path}/vars" if path else "vars")
            group.attrs["name"] = layer.name
            for i, w in enumerate(own):
                group.create_dataset(str(i), data=np.asarray(w.value if hasattr(w, "value")
                                                             else w))


# ----------------------------------------------------------------------------- reading
# `open_weights_h5` (h5_reader.py): the file listed with every link and dataset checked,
# no data read until a weight asks for it.


# ----------------------------------------------------------------------------- assigning

def _describe(layer, path):
    where = f"at '{path}/vars'" if path else "at 'vars'"
    return f"layer '{layer.name}' ({type(layer).__name__}, {where})"


def assign_weights(model, entries, what="the weights file", skip_mismatch=False):
    """Set every weight of `model` from `entries` ({path: {"i": array}}), all or nothing.

    Raises WeightsFileError (a ValueError) naming the layer and the file path
    when a weight is missing or mis-shaped, or when the file holds weights
    under `layers/` (or at the model's root) that the model has no place for.
    With `skip_mismatch=True` such layers are skipped with a warning.
    """
    plan, problems, used = [], [], set()
    legacy = any(p.startswith("_layer_checkpoint_dependencies") for p in entries)
    for path, layer, own in weight_paths(model):
        stored = entries.get(path)
        if stored is None and legacy:   # Keras 2.13's `.keras` layout (as Keras 3 reads it)
            old = path.replace("layers", "_layer_checkpoint_dependencies")
            if old in entries:
                path, stored = old, entries[old]
        if stored is not None:
            used.add(path)
        stored = stored or {}
        if not own and not stored:
            continue
        keys = [str(i) for i in range(len(own))]
        if sorted(stored) != sorted(keys):
            if not stored:
                problems.append(f"{_describe(layer, path)} has {len(own)} weight(s) "
                                f"({', '.join(_wname(w) for w in own)}) but {what} has none "
                                "there")
            else:
                problems.append(f"{_describe(layer, path)} has {len(own)} weight(s) but {what} "
                                f"holds {len(stored)} ({', '.join(sorted(stored))}) there")
            continue
        pending = []
        for key, w in zip(keys, own):
            value = stored[key]
            # Checked from the stored shape and dtype: nothing is read before all match.
            shape = None if value.shape is None else tuple(value.shape)
            if shape != tuple(w.shape):
                problems.append(f"{_describe(layer, path)}: weight {key} ({_wname(w)}) has "
                                f"shape {tuple(w.shape)} but {what} holds shape {shape}")
                pending = None
                break
            dtype = np.dtype(value.dtype)
            if dtype.kind not in "biuf" or dtype.itemsize > MAX_VALUE_ITEMSIZE:
                problems.append(f"{_describe(layer, path)}: weight {key} ({_wname(w)}) in "
                                f"{what} is not numeric (dtype {dtype})")
                pending = None
                break
            pending.append((w, value))
        if pending:
            plan.extend(pending)
    extra = sorted(p for p, v in entries.items() if v and p not in used
                   and (p == "" or p.split("/")[0] in ("layers",
                                                        "_layer_checkpoint_dependencies")))
    if extra:
        problems.append(f"{what} holds weights that model '{model.name}' has no place for: "
                        + ", ".join(f"'{p}/vars' ({len(entries[p])} array(s))" if p else
                                    f"'vars' ({len(entries[p])} array(s))" for p in extra))
    if problems:
        message = (f"Cannot load {what} into model '{model.name}' "
                   f"({type(model).__name__}): it does not match the model's architecture.\n  "
                   + "\n  ".join(problems))
        if not skip_mismatch:
            raise WeightsFileError(message + "\nNothing was loaded.")
        warnings.warn(message + "\nThese layers were skipped (skip_mismatch=True).",
                      stacklevel=3)
    values = []
    for w, value in plan:
        try:
            array = value.read() if hasattr(value, "read") else np.asarray(value)
        except (OSError, RuntimeError) as e:
            raise ValueError(f"{what} is corrupt: reading '{getattr(value, 'path', '?')}' "
                             f"failed ({e}). Nothing was loaded.") from None
        if array.shape != tuple(w.shape):   # a file whose data contradicts its header
            raise WeightsFileError(f"{what}: '{getattr(value, 'path', '?')}' read as shape "
                                   f"{array.shape}, expected {tuple(w.shape)}. Nothing was "
                                   "loaded.")
        values.append(array.astype(w.dtype, copy=True))
    assign_all([w for w, _ in plan], values)


def _wname(w):
    return str(getattr(w, "path", None) or getattr(w, "name", None) or "?")
