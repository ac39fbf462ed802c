"""Layer weights and sublayer tracking: `add_weight`, `weights`, `get/set_weights`."""
import numpy as np

from .. import initializers as _initializers
from ..core.naming import auto_name
from ..core.tensor import Variable, standardize_dtype, standardize_shape
from ..core.weight_budget import charge_weight
from ..core.weight_swap import stage, writing
from .name_scope import current_path, layer_scope

__all__ = ["LayerWeightsMixin", "assign_all"]


def assign_all(variables, values):
    """Copy prepared `values` (same shapes and dtypes) into `variables` in one step: no
    layer call runs meanwhile, so a call sees all old or all new values."""
    staged = stage()
    if staged is not None:   # inside a loader's `staging()`: recorded, written later at once
        for variable, value in zip(variables, values):
            staged[id(variable)] = (variable, value)
        return
    with writing():
        for variable, value in zip(variables, values):
            variable._write(value)


_LOCKED_MESSAGE = ("You cannot add new elements of state (variables or sub-layers) to a "
                   "layer that is already built. All state must be created in the "
                   "`__init__()` method or in the `build()` method.")


# Attributes whose change can change how a built layer runs a call (its build state,
# dtype policy, masking, input checks, its `call`): setting one, or assigning a
# `Variable` or a layer as an attribute, moves the structure epoch on. Compiled
# execution plans (`models/execution_plan.py`) hold on to what these decided, and are
# dropped when the epoch they were made at is no longer the current one.
_STRUCTURE_ATTRIBUTES = frozenset({
    "built", "_dtype_policy", "dtype_policy", "trainable", "_trainable", "autocast",
    "supports_masking", "_supports_masking", "input_spec", "_input_spec", "call",
    "_call_info", "compute_mask", "_convert_input_args", "_scope_calls",
    "_mask_from_first_arg", "_writes_out", "_functional", "_layers"})
_epoch = [0]
# Moves on every attribute set or deleted on any layer (planned calls, which depend on
# attributes such as `activation`, are stale after it: `layers/planned_call.py`).
_attribute_epoch = [0]


def structure_epoch():
    """A number that changes whenever some layer's structure may have changed (see
    `_STRUCTURE_ATTRIBUTES`); equal numbers mean no such change happened in between."""
    return _epoch[0]


def bump_structure_epoch():
    """Declare that some layer's structure changed (drops every compiled plan)."""
    _epoch[0] += 1


class LayerWeightsMixin:
    """`Layer`'s weights, `trainable` and sublayer tracking (see `fastmask.layers.Layer`)."""

    def __setattr__(self, name, value):
        _attribute_epoch[0] += 1
        # A `Variable` assigned as an attribute is one of the layer's weights (Keras's
        # tracker), even before `super().__init__()` ran.
        if isinstance(value, Variable):
            self._track_variable(value)
            _epoch[0] += 1
        elif name in _STRUCTURE_ATTRIBUTES or isinstance(value, LayerWeightsMixin):
            _epoch[0] += 1
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        _attribute_epoch[0] += 1
        _epoch[0] += 1
        object.__delattr__(self, name)

    def _track_variable(self, var):
        d = self.__dict__
        store = d.setdefault("_trainable_variables" if var.trainable
                             else "_non_trainable_variables", [])
        for v in d.get("_trainable_variables", ()):
            if v is var:
                return
        for v in d.get("_non_trainable_variables", ()):
            if v is var:
                return
        if d.get("_tracker_locked"):
            raise ValueError(_LOCKED_MESSAGE)
        if not d.get("_trainable", True):
            var.trainable = False
        store.append(var)
        _epoch[0] += 1

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    # ------------------------------------------------------------------ tracking

    @property
    def _layers(self):
        """Sublayers assigned as attributes (directly or in lists/tuples/dicts), in order."""
        found, seen = [], set()

        def visit(v, depth=0):
            if isinstance(v, LayerWeightsMixin):   # a Layer
                if id(v) not in seen and v is not self:
                    seen.add(id(v))
                    found.append(v)
            elif depth < 3 and isinstance(v, (list, tuple)):
                for item in v:
                    visit(item, depth + 1)
            elif depth < 3 and isinstance(v, dict):
                for item in v.values():
                    visit(item, depth + 1)

        # A snapshot: another thread's call may add a helper attribute (the weight
        # cache, execution plans) while this one walks.
        for key, value in list(self.__dict__.items()):
            if key in ("_inbound_nodes", "_outbound_nodes", "_auto_config"):
                continue
            visit(value)
        return found

    def _flatten_layers(self, include_self=True, recursive=True):
        layers = [self] if include_self else []
        seen = set()
        queue = list(self._layers)
        while queue:
            layer = queue.pop(0)
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            layers.append(layer)
            if recursive:
                queue = layer._layers + queue
        return layers

    # ------------------------------------------------------------------ weights

    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Create a weight (`fastmask.Variable`) owned by this layer.

        Args:
            shape: shape tuple (default `()`); at most 3 positional arguments
                `(shape, initializer, dtype)` are accepted, as in Keras 3.
            initializer: name or `fastmask.initializers` object; default
                "glorot_uniform" for floats, "zeros" otherwise.
            dtype: default the layer's variable dtype (float32).
            trainable: listed in `trainable_weights` (else `non_trainable_weights`).
            name: weight name (its path is "<layer name>/<name>").
        """
        self._check_super_called()
        if self._tracker_locked:
            raise ValueError(_LOCKED_MESSAGE)
        if args:
            if len(args) > 3:
                raise TypeError("add_weight() takes at most 3 positional arguments "
                                f"but {len(args)} were given.")
            if isinstance(args[0], str):
                raise ValueError("`name` must be passed as a keyword argument. "
                                 f"Received: add_weight('{args[0]}', ...). "
                                 f"Use: add_weight(shape=..., name='{args[0]}').")
            if shape is not None:
                raise ValueError("`shape` was passed both positionally and as a keyword argument.")
            shape = args[0]
            if len(args) > 1:
                if initializer is not None:
                    raise ValueError("`initializer` was passed both positionally and as "
                                     "a keyword argument.")
                initializer = args[1]
            if len(args) > 2:
                if dtype is not None:
                    raise ValueError("`dtype` was passed both positionally and as a "
                                     "keyword argument.")
                dtype = args[2]
        shape = () if shape is None else shape
        try:
            shape = standardize_shape(shape)
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}': invalid weight shape. {e} "
                             f"Received: shape={shape}") from None
        if None in shape:
            raise ValueError(f"Layer '{self.name}': weight shapes must be fully defined. "
                             f"Received: shape={shape}")
        dtype = standardize_dtype(dtype) if dtype is not None else self.variable_dtype
        # While a file's config builds a model, its weights are capped (core/weight_budget.py).
        charge_weight(shape, np.dtype(dtype).itemsize,
                      f"weight '{name or 'variable'}' of layer '{self.name}' (shape {shape})")
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        init = _initializers.get(initializer)
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        if value.shape != shape:
            value = np.broadcast_to(value, shape)
        if name is None:
            name = auto_name("variable")
        with layer_scope(self):
            path = f"{current_path()}/{name}"
        var = Variable.create(value, name=name, trainable=trainable, path=path)
        var.regularizer = regularizer
        var.constraint = constraint
        if not self._trainable:
            var.trainable = False   # Keras: a frozen layer's weights are created frozen
        if trainable:
            self._trainable_variables.append(var)
        else:
            self._non_trainable_variables.append(var)
        return var

    add_variable = add_weight

    @property
    def weights(self):
        """All weights: own trainable, own non-trainable, then sublayers' (Keras order)."""
        out, seen = [], set()
        for w in self._trainable_variables + self._non_trainable_variables:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        for layer in self._layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    variables = weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """Copies of `layer.weights` as NumPy arrays (Keras order)."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Set `layer.weights` from a list of arrays (same order, shapes and count)."""
        layer_weights = self.weights
        try:
            n = len(weights)
        except TypeError:
            raise TypeError(f"`set_weights(weights)` on layer '{self.name}' expects a list "
                            f"of arrays. Received: weights={weights!r}") from None
        if len(layer_weights) != n:
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight "
                f"list of length {n}, but the layer was expecting "
                f"{len(layer_weights)} weights.")
        values = []
        for i, (variable, value) in enumerate(zip(layer_weights, weights)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"Layer {self.name}: weight {i} ('{variable.path}') must be "
                                f"a numeric array. Received: dtype={arr.dtype}")
            if variable.shape != arr.shape:
                raise ValueError(f"Layer {self.name} weight shape {variable.shape} is not "
                                 f"compatible with provided weight shape {arr.shape}.")
            values.append(arr.astype(variable.dtype, copy=True))
        assign_all(layer_weights, values)

    # ------------------------------------------------------------------ saving

    def save_own_variables(self, store):
        """Write this layer's own weights (not its sublayers') to `store["0"]`,
        `store["1"]`, ...: trainable, then non-trainable, in creation order."""
        for i, v in enumerate(self._trainable_variables + self._non_trainable_variables):
            store[f"{i}"] = v

    def load_own_variables(self, store):
        """Assign this layer's own weights from `store` (what `save_own_variables`
        wrote); the number of entries must match, with Keras's errors."""
        all_vars = self._trainable_variables + self._non_trainable_variables
        keys = list(store.keys())
        if len(keys) != len(all_vars):
            if len(all_vars) == 0 and not self.built:
                raise ValueError(
                    f"Layer '{self.name}' was never built and thus it doesn't have any "
                    f"variables. However the weights file lists {len(keys)} variables for "
                    "this layer.\nIn most cases, this error indicates that either:\n\n1. "
                    "The layer is owned by a parent layer that implements a `build()` "
                    "method, but calling the parent's `build()` method did NOT create the "
                    f"state of the child layer '{self.name}'. A `build()` method must create "
                    "ALL state for the layer, including the state of any children layers."
                    "\n\n2. You need to implement the `def build_from_config(self, config)` "
                    f"method on layer '{self.name}', to specify how to rebuild it during "
                    "loading. In this case, you might also want to implement the method "
                    "that generates the build config at saving time, `def "
                    "get_build_config(self)`. The method `build_from_config()` is meant to "
                    "create the state of the layer (i.e. its variables) upon "
                    "deserialization.")
            raise ValueError(
                f"Layer '{self.name}' expected {len(all_vars)} variables, but received "
                f"{len(keys)} variables during loading. Expected: "
                f"{[v.name for v in all_vars]}")
        values = []
        for i, v in enumerate(all_vars):
            arr = np.asarray(store[f"{i}"])
            if arr.shape != v.shape:
                v.assign(arr)   # raises Keras's shape-mismatch error
            values.append(arr.astype(v.dtype, copy=True))
        assign_all(all_vars, values)   # a concurrent call sees all old or all new values

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', "
                             "but the layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))
