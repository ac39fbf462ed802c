"""`fastmask.layers.Layer`: Keras 3.15.1's Layer semantics over NumPy.

How to write a layer (for layer authors)
=========================================

A layer is written exactly as in Keras 3::

    import numpy as np
    from fastmask import ops
    from fastmask.layers import Layer

    class Scale(Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)          # first statement, always
            self.factor = factor
            self.supports_masking = True        # pass the incoming mask through

        def build(self, input_shape):           # called once, on the first call
            self.w = self.add_weight(shape=(input_shape[-1],),
                                     initializer="ones", name="w")

        def call(self, inputs):                 # NumPy arrays in, NumPy arrays out
            return inputs * self.w * self.factor

        def compute_output_shape(self, input_shape):   # optional (see below)
            return input_shape

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

* **Arrays.** `call` receives NumPy arrays (float inputs already cast to the
  layer's compute dtype, float32 by default; ints and bools untouched) and
  returns an array, or a list/tuple/dict of arrays. Inside `call`, use NumPy
  or `fastmask.ops` freely; the kernels of `fastmask.kernels` are the fast path.
  Inputs may be `fastmask.Tensor` (an ndarray subclass carrying a mask); any
  NumPy operation on them returns plain ndarrays, so nothing special is needed,
  but `fastmask._tensor.plain(x)` (a free plain view) avoids the subclass's
  Python-level dispatch in hot code and before handing arrays to Cython.
* **Weights.** `self.add_weight(shape, initializer, dtype, trainable=True,
  name=...)` returns a `fastmask.Variable` (an ndarray updated in place by
  `set_weights`). Initializers: names ("zeros", "glorot_uniform", ...) or
  `fastmask.initializers` objects. `layer.weights` lists own trainable, then
  own non-trainable weights, then those of sublayers assigned as attributes
  (also inside lists/dicts), in Keras order.
* **How masks arrive.** If `call` has a `mask` parameter and receives exactly
  one tensor argument, `mask` is filled from that argument's `_keras_mask`
  (for a list input: the list of masks) unless the caller passed one. With
  several tensor arguments, only parameters named `<arg>_mask` are filled
  (e.g. `value_mask` for `value`). A layer whose `call` has no `mask`
  parameter never sees the mask but can still propagate it.
* **How masks leave.** After `call`, if `self.supports_masking` is True, each
  output that does not already carry a mask gets the matching entry of
  `self.compute_mask(inputs, previous_mask)` (`inputs` = the first call
  argument, `previous_mask` = the explicit/auto `mask`, else the first
  argument's mask). The default `compute_mask` returns `previous_mask`
  (pass-through). `supports_masking` defaults to True iff `compute_mask` is
  overridden; set it in `__init__` to override. A layer that does not
  support masking but receives a mask drops it with Keras's warning.
  To attach a mask yourself inside `call` (it then wins over
  `compute_mask`), return `fastmask.with_mask(out, mask)` (a new view of
  `out` carrying `mask`). Returning the input object itself keeps its mask
  (Keras: masks belong to tensor objects).
* **Several outputs.** Return a tuple/list; `compute_mask` returns a
  tuple/list of the same length (None entries = no mask), e.g. an RNN with
  `return_state` returns `(out, h, c)` and masks `(mask, None, None)`.
* **compute_mask must work symbolically.** In the Functional API it receives
  `KerasTensor`s; use `fastmask.ops` functions (they accept both) rather than
  raw NumPy there. `call` itself is only ever given real arrays: symbolic
  output shapes come from `compute_output_shape` when it is overridden
  (its argument is the first input's shape; `foo_shape` arguments for
  several inputs), else from running `call` on dummy arrays (unknown dims set
  to 83, then 89; bool dummies True, others 0), as Keras's NumPy backend does.
  Each symbolic output is one new `KerasTensor` (names `keras_tensor_N` come
  from a global counter, as in Keras).
* **TimeDistributed.** A per-sample layer (its output at a row depends only on
  that row) can set the class attribute `_time_distributed_merge = True`:
  `TimeDistributed` then runs it once on the `(batch*time, ...)` array instead
  of once per timestep.
* **Validation.** Set `self.input_spec = InputSpec(ndim=3)` (or `min_ndim`,
  `max_ndim`, `axes`, `dtype`, `shape`) to get Keras's rank/shape errors for the
  first argument. An explicit `mask=` whose shape is not the input's leading
  (batch, time...) dims, or whose dtype is not bool/int/float, is rejected by
  `__call__` with a ValueError/TypeError naming the layer; set the class
  attribute `_check_mask_shape = False` if the layer accepts other mask
  shapes (e.g. broadcastable masks) and validates them itself.
* **dtype policy.** `dtype=None` means float32 compute and variables;
  "float64", "float16" and "mixed_float16" (float16 compute, float32 weights)
  are supported. `autocast=False` skips the input cast (as Embedding does).
* **training.** If `call` has a `training` parameter it receives the value given
  to this call, else the one of the outermost layer call, else its default.
  Passing `training=` to a layer whose `call` lacks it is allowed (it only
  reaches nested layers).
* **Recurrent layers and `initial_state`.** Keras fills `mask` only when there is
  exactly one tensor argument, so `RNN(x, initial_state=s)` silently ignores
  x's mask (a known Keras bug). A layer can opt out of this by setting the class
  attribute `_mask_from_first_arg = True`: `mask` is then filled from the first
  argument's mask even when other tensor arguments are present. This is a
  documented deviation from Keras, used by fastmask's RNN layers.
"""
import inspect
import threading
import warnings
from functools import wraps

import numpy as np

from .. import initializers as _initializers
from .._graph import (CALL_CONTEXT, Node, Operation, auto_name, compute_output_spec,
                      flatten, map_structure, pack_as)
from .._tensor import (KerasTensor, Tensor, Variable, get_mask, standardize_dtype,
                       standardize_shape, with_mask)
from .._validation import check_mask_values

__all__ = ["Layer", "InputSpec", "DTypePolicy"]

# Held while a layer builds, so that threads making the first call of an unbuilt
# layer at the same time build it once (one set of weights). Reentrant: building a
# model calls (and builds) its sublayers.
_BUILD_LOCK = threading.RLock()
# Array dtypes Keras refuses as layer inputs ("Invalid dtype"): str, bytes, object,
# void, datetime, timedelta.
_NON_NUMERIC_KINDS = frozenset("SUOVMm")


def _check_input_dtype(layer, x, name="inputs"):
    if isinstance(x, np.ndarray) and x.dtype.kind in _NON_NUMERIC_KINDS:
        raise ValueError(f"Layer '{layer.name}' (of type {layer.__class__.__name__}) "
                         f"received an input of non-numeric dtype {x.dtype} (Keras: Invalid "
                         f"dtype). Received: {name}.dtype={x.dtype}")


# --------------------------------------------------------------------------- dtype policy

class DTypePolicy:
    """A layer's compute and variable dtypes ("float32", "mixed_float16", ...)."""

    def __init__(self, name=None):
        name = "float32" if name is None else name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. "
                            f"Received: name={name} (of type {type(name)})")
        if name.startswith("mixed_"):
            compute = name[len("mixed_"):]
            variable = "float32"
        else:
            compute = variable = name
        try:
            compute, variable = standardize_dtype(compute), standardize_dtype(variable)
        except (ValueError, TypeError):
            raise ValueError(f"Cannot convert '{name}' to a mixed precision or dtype "
                             "policy; NumPy has no such dtype.") from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable
        self._compute_np = np.dtype(compute)

    name = property(lambda self: self._name)
    compute_dtype = property(lambda self: self._compute_dtype)
    variable_dtype = property(lambda self: self._variable_dtype)
    quantization_mode = None

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def get_config(self):
        return {"name": self._name}

    def serialize(self):
        """Keras's serialized form (what `Layer.get_config()["dtype"]` holds)."""
        return {"module": "keras", "class_name": "DTypePolicy",
                "config": {"name": self._name}, "registered_name": None}


_POLICIES = {}


def _policy_name_from_config(config):
    """The policy name in Keras's serialized DTypePolicy dict (or `{"name": ...}`).

    Any other dict (another class, such as a quantized policy, or no name) is a
    ValueError naming it, never the float32 default.
    """
    if "class_name" in config:
        inner = config.get("config")
        if config["class_name"] in ("DTypePolicy", "FloatDTypePolicy") \
                and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    elif set(config) == {"name"} and isinstance(config["name"], str):
        return config["name"]
    raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance "
                     "of DTypePolicy (fastmask supports DTypePolicy and FloatDTypePolicy "
                     f"configs). Received: dtype={config}")


def get_policy(dtype):
    """DTypePolicy from None, a dtype name/object, a policy, or its serialized dict."""
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        dtype = _policy_name_from_config(dtype)
    elif dtype is not None and not isinstance(dtype, str):
        name = getattr(dtype, "name", None)  # e.g. a Keras DTypePolicy
        if isinstance(name, str) and not isinstance(dtype, np.dtype):
            dtype = name
        else:
            dtype = standardize_dtype(dtype)
    key = "float32" if dtype is None else dtype
    policy = _POLICIES.get(key)
    if policy is None:
        policy = _POLICIES[key] = DTypePolicy(key)
    return policy


def constructor_config(config):
    """A copy of a `get_config()` dict for the constructor (`cls(**config)`): a
    serialized dtype policy (dict) is replaced by its name."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = get_policy(config["dtype"]).name
    return config


# --------------------------------------------------------------------------- input spec

class InputSpec:
    """Expected rank/shape/dtype of a layer's first input (Keras's InputSpec)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = standardize_dtype(dtype) if dtype is not None else None
        if shape is not None:
            self.shape = standardize_shape(shape)
            self.ndim = len(shape)
        else:
            self.ndim = ndim
            self.shape = None
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. "
                            f"Received: axes={axes}") from None

    def __repr__(self):
        spec = [f"dtype={self.dtype}" if self.dtype else "",
                f"shape={self.shape}" if self.shape else "",
                f"ndim={self.ndim}" if self.ndim else "",
                f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                f"min_ndim={self.min_ndim}" if self.min_ndim else "",
                f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}


def _assert_input_compatibility(input_spec, inputs, layer_name):
    if type(input_spec) is InputSpec and isinstance(inputs, np.ndarray) \
            and input_spec.dtype is None and input_spec.shape is None:
        # Common case (rank/axes checks on one array), without the generality.
        ndim = inputs.ndim
        if (input_spec.ndim is None or input_spec.allow_last_axis_squeeze
                or ndim == input_spec.ndim) \
                and (input_spec.max_ndim is None or ndim <= input_spec.max_ndim) \
                and (input_spec.min_ndim is None or ndim >= input_spec.min_ndim):
            shape = inputs.shape
            for axis, value in input_spec.axes.items():
                if value is not None and (axis >= ndim or axis < -ndim
                                          or shape[axis] != value):
                    break
            else:
                return
    specs = list(input_spec) if isinstance(input_spec, (list, tuple)) else [input_spec]
    flat = flatten(inputs)
    if len(flat) != len(specs) and len(specs) > 1:
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it '
                         f"received {len(flat)} input tensors. Inputs received: {inputs}")
    for i, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' "
                             f"(of type {type(x)}) as input for layer '{layer_name}'.")
        shape = tuple(x.shape)
        ndim = len(shape)
        head = f"Input {i} of layer '{layer_name}' is incompatible with the layer: "
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
            raise ValueError(head + f"expected ndim={spec.ndim}, found ndim={ndim}. "
                             f"Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(head + f"expected max_ndim={spec.max_ndim}, found ndim={ndim}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(head + f"expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {shape}")
        if spec.dtype is not None and standardize_dtype(x.dtype) != spec.dtype:
            raise ValueError(head + f"expected dtype={spec.dtype}, found "
                             f"dtype={standardize_dtype(x.dtype)}")
        for axis, value in (spec.axes or {}).items():
            if value is not None and (axis >= ndim or axis < -ndim
                                      or shape[axis] not in (value, None)):
                raise ValueError(head + f"expected axis {axis} of input shape to have "
                                 f"value {value}, but received input with shape {shape}")
        if spec.shape is not None:
            for s, d in zip(spec.shape, shape):
                if s is not None and d is not None and s != d:
                    raise ValueError(head + f"expected shape={spec.shape}, found shape={shape}")


# --------------------------------------------------------------------------- call signature

class _Signature:
    """What `__call__` needs to know about a `call` (or `build`) function, computed once."""

    def __init__(self, fn):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]  # drop self
        self.signature = sig.replace(parameters=params)
        self.names = [p.name for p in params
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.all_names = set(sig.parameters) - {next(iter(sig.parameters))}
        self.positional = [p.name for p in params
                           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.required = [p.name for p in params if p.default is p.empty
                         and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.var_positional = next((p.name for p in params
                                    if p.kind == p.VAR_POSITIONAL), None)
        self.var_keyword = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)
        self.has_mask = "mask" in self.names
        self.has_training = "training" in self.names
        # Names in the order `signature.bind(...).arguments` (with defaults) lists them.
        self.order = [p.name for p in params]
        self.simple = (self.var_positional is None
                       and all(p.kind == p.POSITIONAL_OR_KEYWORD or p.kind == p.VAR_KEYWORD
                               for p in params))
        # Fast path of __call__: `layer(x)` with one array and nothing else.
        self.single = (self.simple and len(self.positional) >= 1
                       and len(self.required) <= 1
                       and (not self.required or self.required[0] == self.positional[0]))
        self.first = self.positional[0] if self.positional else None
        self.mask_default_none = self.defaults.get("mask", None) is None
        self.training_default = self.defaults.get("training")

    def bind(self, args, kwargs):
        """(arguments with defaults applied in signature order, user arguments)."""
        if self.simple and len(args) <= len(self.positional):
            given = dict(zip(self.positional, args))
            extra = None
            for k, v in kwargs.items():
                if k in given:
                    raise TypeError(f"multiple values for argument '{k}'")
                if k not in self.all_names:
                    if self.var_keyword is None:
                        raise TypeError(f"got an unexpected keyword argument '{k}'")
                    if extra is None:
                        extra = {}
                    extra[k] = v
                    continue
                given[k] = v
            arguments = {}
            for name in self.order:
                if name in given:
                    arguments[name] = given[name]
                elif name == self.var_keyword:
                    arguments[name] = extra or {}
                elif name in self.defaults:
                    arguments[name] = self.defaults[name]
                else:
                    raise TypeError(f"missing a required argument: '{name}'")
            if extra:
                given[self.var_keyword] = extra
            return arguments, given
        bound = self.signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        bound.apply_defaults()
        return dict(bound.arguments), given


_SIGNATURES = {}


def _signature_of(fn):
    """Cached `_Signature` of a plain function (class attribute, not bound method)."""
    try:
        return _SIGNATURES[fn]
    except KeyError:
        info = _SIGNATURES[fn] = _Signature(fn)
        return info
    except TypeError:  # unhashable callable
        return _Signature(fn)


def _is_tensor_arg(x):
    return isinstance(x, (np.ndarray, np.generic, KerasTensor))


def _shape_of(x):
    return None if x is None else tuple(x.shape)


def _default(method):
    method._is_default = True
    return method


def _is_default(method):
    return getattr(method, "_is_default", False)


# --------------------------------------------------------------------------- Layer

class Layer(Operation):
    """Base class of all layers (Keras 3 semantics; see the module docstring).

    Args:
        trainable: whether the layer's weights are trainable (default True).
        dtype: dtype policy name ("float32", "float64", "mixed_float16", ...)
            or a `DTypePolicy`; None means float32.
        autocast: cast float inputs to the compute dtype (default True).
        name: layer name (default: snake_case class name, made unique).
    """

    _plain_input_dtype = True
    # Class-level hooks (see the module docstring).
    _mask_from_first_arg = False
    _check_mask_shape = True

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        # Auto-config: constructor arguments of plain serializable types, for
        # layers that do not override get_config (as Keras's Operation.__new__).
        auto = None
        try:
            sig = inspect.signature(cls.__init__)
            bound = sig.bind(None, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            params = list(sig.parameters.values())
            arguments.pop(params[0].name)
            for p in params:
                if p.kind == p.VAR_KEYWORD:
                    arguments.update(arguments.pop(p.name, {}))
                elif p.kind == p.VAR_POSITIONAL:
                    if arguments.pop(p.name, ()):
                        raise TypeError
                elif p.kind == p.POSITIONAL_ONLY:
                    raise TypeError
            arguments.pop("name", None)
            if all(isinstance(v, (str, int, float, bool, type(None)))
                   for v in flatten(arguments)):
                auto = arguments
        except (TypeError, ValueError):
            auto = None
        object.__setattr__(obj, "_auto_config", auto)
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._plain_input_dtype = cls.input_dtype is Layer.input_dtype
        # Wrap a subclass's own `build` so that calling it marks the layer built.
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_fm_build_wrapper", False):
            @wraps(build)
            def build_wrapper(self, *args, **kw):
                build(self, *args, **kw)
                self.built = True
            build_wrapper._fm_build_wrapper = True
            cls.build = build_wrapper

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None,
                 autocast=True, name=None, **kwargs):
        Operation.__init__(self, name=name)
        input_dim = kwargs.pop("input_dim", None)
        input_shape = (input_dim,) if input_dim is not None else kwargs.pop("input_shape", None)
        if input_shape is not None:
            warnings.warn(
                "Do not pass an `input_shape`/`input_dim` argument to a layer. When "
                "using Sequential models, prefer using an `Input(shape)` object as the "
                "first layer in the model instead.", stacklevel=2)
            self._input_shape_arg = tuple(input_shape)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{self.__class__.__name__}: {kwargs}")
        if not isinstance(trainable, bool):
            raise ValueError(f"Expected `trainable` to be a boolean. Received: "
                             f"trainable={trainable} (of type {type(trainable)})")
        self._dtype_policy = get_policy(dtype)
        self.activity_regularizer = activity_regularizer
        self.built = False
        self.autocast = autocast
        self._input_spec = None
        self._called = False
        self._trainable = trainable
        self._trainable_variables = []
        self._non_trainable_variables = []
        self._call_info = _signature_of(type(self).call)
        self._supports_masking = not _is_default(self.compute_mask)
        self._convert_input_args = True
        self._allow_non_tensor_positional_args = False
        self._build_shapes_dict = None
        if _is_default(type(self).build) and type(self).call is not Layer.call:
            pass  # built lazily in __call__ (sublayers may need building first)

    # ------------------------------------------------------------------ properties

    @property
    def input_spec(self):
        return self._input_spec

    @input_spec.setter
    def input_spec(self, value):
        self._input_spec = value

    @property
    def supports_masking(self):
        """Whether this layer propagates/computes masks (see `compute_mask`)."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value):
        self._supports_masking = value

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = get_policy(value)

    @property
    def dtype(self):
        """Alias of `variable_dtype`."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self):
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self._dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        return self._dtype_policy.compute_dtype

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

    @property
    def path(self):
        return self.name

    # ------------------------------------------------------------------ tracking

    @property
    def _layers(self):
        """Sublayers assigned as attributes (directly or in lists/tuples/dicts), in order."""
        found, seen = [], set()

        def visit(v, depth=0):
            if isinstance(v, Layer):
                if id(v) not in seen and v is not self:
                    seen.add(id(v))
                    found.append(v)
            elif depth < 3 and isinstance(v, (list, tuple)):
                for item in v:
                    visit(item, depth + 1)
            elif depth < 3 and isinstance(v, dict):
                for item in v.values():
                    visit(item, depth + 1)

        for key, value in self.__dict__.items():
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
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        init = _initializers.get(initializer)
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype)
        if value.shape != shape:
            value = np.broadcast_to(value, shape)
        if name is None:
            name = auto_name("variable")
        var = Variable.create(value, name=name, trainable=trainable,
                              path=f"{self.name}/{name}")
        var.regularizer = regularizer
        var.constraint = constraint
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
            values.append(arr)
        for variable, arr in zip(layer_weights, values):
            variable.assign(arr)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', "
                             "but the layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ------------------------------------------------------------------ API to override

    @_default
    def build(self, input_shape):
        self._check_super_called()
        self.built = True

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {self.__class__.__name__} does not have a "
                                  "`call()` method implemented.")

    @_default
    def compute_mask(self, inputs, previous_mask):
        return previous_mask

    @_default
    def compute_output_shape(self, *args, **kwargs):
        raise NotImplementedError(
            f"Layer {self.__class__.__name__} has no `compute_output_shape()`. "
            "Should implement `def compute_output_shape(self, input_shape)`.")

    def compute_output_spec(self, *args, **kwargs):
        """Output KerasTensor(s) for symbolic args: `compute_output_shape` or a dry run."""
        if not _is_default(self.compute_output_shape):
            arguments, _ = self._call_info.bind(args, kwargs)
            tensors = self._tensor_arguments(arguments)
            shapes = self._shapes_for(self.compute_output_shape, arguments, tensors)
            output_shape = self.compute_output_shape(**shapes)
            if isinstance(output_shape, list) and output_shape and \
                    isinstance(output_shape[0], (int, type(None))):
                output_shape = tuple(output_shape)
            if isinstance(output_shape, tuple) and (
                    not output_shape or isinstance(output_shape[0], (int, type(None)))):
                return KerasTensor(output_shape, dtype=self.compute_dtype)
            return _map_shapes(lambda s: KerasTensor(s, dtype=self.compute_dtype),
                               output_shape)
        try:
            return compute_output_spec(self.call, *args, **kwargs)
        except Exception as e:
            raise e.__class__(
                f"Could not automatically infer the output shape / dtype of '{self.name}' "
                f"(of type {self.__class__.__name__}). Either the "
                f"`{self.__class__.__name__}.call()` method is incorrect, or you need to "
                f"implement the `{self.__class__.__name__}.compute_output_spec() / "
                f"compute_output_shape()` method. Error encountered:\n\n{e}"
            ).with_traceback(e.__traceback__) from None

    @_default
    def get_config(self):
        """Serializable constructor arguments ({name, trainable, dtype, ...own})."""
        self._check_super_called()
        config = {"name": self.name}
        if _is_default(self.get_config):
            auto = getattr(self, "_auto_config", None)
            if auto is None:
                raise NotImplementedError(
                    f"Object {self.__class__.__name__} was created by passing "
                    "non-serializable argument values in `__init__()`, and therefore the "
                    "object must override `get_config()` in order to be serializable. "
                    "Please implement `get_config()`.")
            config.update(auto)
            params = inspect.signature(self.__init__).parameters
            if "name" not in params and not any(p.kind == p.VAR_KEYWORD
                                                for p in params.values()):
                config.pop("name", None)
        config["trainable"] = self.trainable
        config["dtype"] = self.dtype_policy.serialize()
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = self.activity_regularizer
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Instantiate from `get_config()` output (Keras configs are accepted too)."""
        config = constructor_config(config)
        try:
            return cls(**config)
        except Exception as e:
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using "
                            f"config={config}.\n\nException encountered: {e}") from e

    # ------------------------------------------------------------------ __call__

    def _check_super_called(self):
        if "_call_info" not in self.__dict__:
            raise RuntimeError(
                f"In layer '{self.__class__.__name__}', you forgot to call "
                "`super().__init__()` as the first statement in the `__init__()` "
                "method. Go add it!")

    def _maybe_convert(self, x):
        """Cast float arrays to the compute dtype (keeping their mask); ints/bools untouched."""
        if isinstance(x, np.ndarray):
            if self.autocast and x.dtype.kind == "f" and x.dtype != np.dtype(self.input_dtype):
                y = x.astype(self.input_dtype)
                m = get_mask(x)
                return with_mask(y, m) if m is not None else y
            return x
        if isinstance(x, KerasTensor):
            if self.autocast and "float" in x.dtype and x.dtype != self.input_dtype:
                from .. import ops
                m = get_mask(x)
                y = ops.cast(x, self.input_dtype)
                return with_mask(y, m) if m is not None else y
            return x
        if isinstance(x, np.generic) or (hasattr(x, "__array__") and not isinstance(x, type)):
            arr = np.asarray(x)
            if self.autocast and arr.dtype.kind == "f" and arr.dtype.name != self.input_dtype:
                arr = arr.astype(self.input_dtype)
            return arr
        return x

    def _tensor_arguments(self, arguments):
        tensors = {}
        for name, value in arguments.items():
            if _is_tensor_arg(value):
                tensors[name] = value
            elif isinstance(value, (list, tuple, dict)) and len(value) > 0:
                flat = flatten(value)
                if all(x is None or _is_tensor_arg(x) for x in flat):
                    tensors[name] = value
                elif any(_is_tensor_arg(x) for x in flat):
                    raise ValueError("In a nested call() argument, you cannot mix tensors "
                                     f"and non-tensors. Received invalid mixed argument: "
                                     f"{name}={value}")
        return tensors

    def _shapes_for(self, target_fn, arguments, tensors):
        """Keras's alignment of call-argument shapes with build/compute_output_shape args."""
        shapes = {}
        for k, v in tensors.items():
            if k in ("mask", "kwargs", "args"):
                continue
            if isinstance(v, (list, tuple, dict)):
                shapes[f"{k}_shape"] = map_structure(_shape_of, v)
            else:
                shapes[f"{k}_shape"] = _shape_of(v)
        info = _signature_of(getattr(type(self), target_fn.__name__))
        expected = [n for n in info.names]
        if len(expected) == 1:
            values = tuple(shapes.values())
            return {expected[0]: values[0] if values else None}
        out = {}
        for name in expected:
            head = (f"For a `{target_fn.__name__}()` method with more than one argument, all "
                    "arguments should have a `_shape` suffix and match an argument from "
                    f"`call()`. E.g. `{target_fn.__name__}(self, foo_shape, bar_shape)` ")
            if not name.endswith("_shape"):
                raise ValueError(f"{head} For layer '{self.__class__.__name__}', Received "
                                 f"`{target_fn.__name__}()` argument `{name}`, which does "
                                 "not end in `_shape`.")
            if name[:-len("_shape")] not in arguments:
                raise ValueError(f"{head} For layer '{self.__class__.__name__}', received "
                                 f"`{target_fn.__name__}()` argument `{name}`, but `call()` "
                                 f"does not have argument `{name[:-len('_shape')]}`.")
            if name in shapes:
                out[name] = shapes[name]
        return out

    def _maybe_build(self, arguments, tensors, eager):
        if _is_default(self.build):
            if any(not lr.built for lr in self._layers):
                # Build sublayers by tracing `call` (Keras does the same).
                try:
                    compute_output_spec(self.call, **arguments)
                except Exception as e:
                    if not eager:
                        warnings.warn(
                            f"Layer '{self.name}' looks like it has unbuilt state, but "
                            "fastmask is not able to trace the layer `call()` in order to "
                            "build it automatically. You may need to implement the "
                            "`def build(self, input_shape)` method on your layer. "
                            f"Exception encountered: ''{e}''")
                    return
            self.built = True
            return
        shapes = self._shapes_for(self.build, arguments, tensors)
        self.build(**shapes)
        self._build_shapes_dict = shapes
        self.built = True
        if self._input_spec is not None and tensors:
            first = next(iter(arguments.values()))
            _assert_input_compatibility(self._input_spec, first, self.name)

    def _check_mask_values(self, masks, name="mask"):
        """Every non-bool ndarray in `masks` (nested) is a valid mask (`check_mask_values`):
        a str/complex/object mask is a TypeError and a NaN mask a ValueError naming
        this layer, whether the mask was passed or came with the input."""
        if isinstance(masks, (list, tuple, dict)):
            items = masks.items() if isinstance(masks, dict) else enumerate(masks)
            for key, m in items:
                self._check_mask_values(m, f"{name}[{key!r}]")
        elif isinstance(masks, np.ndarray) and masks.dtype != bool:
            check_mask_values(masks, name, f"Layer '{self.name}' (of type "
                                           f"{self.__class__.__name__}): ")

    def _check_explicit_mask(self, x, mask):
        """Reject an explicit `mask=` that cannot belong to input `x` (clear errors)."""
        if isinstance(mask, (list, tuple)) or not isinstance(mask, np.ndarray) \
                or not isinstance(x, np.ndarray):
            return
        if self._check_mask_shape and (mask.ndim > x.ndim
                                       or tuple(mask.shape) != tuple(x.shape[:mask.ndim])):
            raise ValueError(
                f"Layer '{self.name}' (of type {self.__class__.__name__}) received a `mask` "
                f"that does not match its input: the mask must have the input's leading "
                f"(batch, time) dimensions {tuple(x.shape[:max(mask.ndim, 1)])}. "
                f"Received: mask.shape={mask.shape}, inputs.shape={x.shape}")

    def __call__(self, *args, **kwargs):
        info = self.__dict__.get("_call_info")
        if info is None:
            self._check_super_called()
        if (not kwargs and len(args) == 1 and self.built and info.single
                and (type(args[0]) is np.ndarray or type(args[0]) is Tensor)
                and self._convert_input_args):
            return self._fast_call(args[0], info)
        self._called = True
        original_args, original_kwargs = args, kwargs

        # 1. Convert array arguments (floats cast to the compute dtype).
        if self._convert_input_args and (
                kwargs or len(args) != 1 or not isinstance(args[0], np.ndarray)
                or (args[0].dtype.kind == "f" and self.autocast
                    and args[0].dtype != np.dtype(self.input_dtype))):
            args = map_structure(self._maybe_convert, args)
            kwargs = map_structure(self._maybe_convert, kwargs)
        else:
            kwargs = dict(kwargs)

        if self._convert_input_args:
            for arg in flatten(args):
                _check_input_dtype(self, arg)
            for k, v in kwargs.items():
                if not k.endswith("mask"):
                    for arg in flatten(v):
                        _check_input_dtype(self, arg, k)

        # 2. Only tensors positionally.
        if not self._allow_non_tensor_positional_args:
            for arg in flatten(args):
                if not (arg is None or _is_tensor_arg(arg)):
                    raise ValueError(
                        "Only input tensors may be passed as positional arguments. The "
                        f"following argument value should be passed as a keyword argument: "
                        f"{arg} (of type {type(arg)})")

        # Context args not in the signature are removed (Keras's CallSpec).
        explicit_training = "training" in kwargs
        training_value = kwargs.get("training")
        if explicit_training and not info.has_training and "training" not in info.all_names:
            kwargs.pop("training")
        try:
            arguments, given = info.bind(args, kwargs)
        except TypeError as e:
            raise TypeError(f"Layer '{self.name}' (of type {self.__class__.__name__}): "
                            f"invalid arguments for call(): {e}") from None
        if "training" in given and not explicit_training:
            explicit_training, training_value = True, given["training"]
        first_arg = next(iter(arguments.values())) if arguments else None
        tensors = self._tensor_arguments(arguments)
        symbolic = False
        for v in tensors.values():
            if isinstance(v, KerasTensor) or (not isinstance(v, np.ndarray)
                                              and any(isinstance(t, KerasTensor)
                                                      for t in flatten(v))):
                symbolic = True
                break

        # 3. Input spec of the first argument.
        if self._input_spec is not None:
            _assert_input_compatibility(self._input_spec, first_arg, self.name)

        # 4. Build (once, also when several threads make the first call together).
        if not self.built:
            with _BUILD_LOCK:
                if not self.built:
                    self._maybe_build(arguments, tensors, eager=not symbolic)

        # 5. training: explicit, else outer call's, else signature default.
        ctx = CALL_CONTEXT
        is_entry = ctx.entry is None
        if is_entry:
            ctx.entry = self
            ctx.training = None
        try:
            if explicit_training:
                value = training_value
            elif ctx.training is not None:
                value = ctx.training
            else:
                value = arguments.get("training")
            ctx.training = value
            if info.has_training and value is not None:
                kwargs["training"] = value

            # 6. Masks.
            if len(tensors) == 1:
                if info.has_mask and arguments["mask"] is None:
                    only = next(iter(tensors.values()))
                    kwargs["mask"] = map_structure(get_mask, only)
            elif len(tensors) > 1:
                for k, v in tensors.items():
                    name = f"{k}_mask"
                    if name in arguments and arguments[name] is None:
                        kwargs[name] = map_structure(get_mask, v)
                if (self._mask_from_first_arg and info.has_mask
                        and arguments["mask"] is None and first_arg is not None):
                    kwargs["mask"] = map_structure(get_mask, first_arg)
            if not symbolic:
                for k, v in kwargs.items():
                    if k.endswith("mask") and v is not None:
                        self._check_mask_values(v, k)
            mask_kw = kwargs.get("mask")
            if mask_kw is not None:
                previous_mask = mask_kw
                if given.get("mask") is not None and not symbolic:
                    self._check_explicit_mask(first_arg, mask_kw)
            else:
                if isinstance(first_arg, (list, tuple, dict)):
                    previous_mask = map_structure(get_mask, first_arg)
                else:
                    previous_mask = get_mask(first_arg)
                if not symbolic and previous_mask is not None:
                    self._check_mask_values(previous_mask)

            # 7. Call.
            if symbolic:
                outputs = self.compute_output_spec(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
            self.built = True

            if self._supports_masking:
                outputs = self._set_mask_metadata(first_arg, outputs, previous_mask)
            elif previous_mask is not None and any(
                    m is not None for m in flatten(previous_mask)):
                warnings.warn(
                    f"Layer '{self.name}' (of type {self.__class__.__name__}) was passed "
                    "an input with a mask attached to it. However, this layer does not "
                    "support masking and will therefore destroy the mask information. "
                    "Downstream layers will not see the mask.", stacklevel=2)
        finally:
            if is_entry:
                ctx.entry = None
                ctx.training = None

        # 8. Record a graph node for symbolic calls.
        if symbolic:
            Node(self, original_args, original_kwargs, outputs)
        return outputs

    def _fast_call(self, x, info):
        """`layer(x)` for one built array argument: the general path, minus its generality."""
        self._called = True
        if x.dtype.kind in _NON_NUMERIC_KINDS:
            _check_input_dtype(self, x)
        if x.dtype.kind == "f" and self.autocast:
            target = (self._dtype_policy._compute_np if self._plain_input_dtype
                      else np.dtype(self.input_dtype))
            if x.dtype != target:
                m = get_mask(x)
                x = x.astype(target)
                if m is not None:
                    x = with_mask(x, m)
        if self._input_spec is not None:
            _assert_input_compatibility(self._input_spec, x, self.name)
        kwargs = {}
        ctx = CALL_CONTEXT
        is_entry = ctx.entry is None
        if is_entry:
            ctx.entry = self
            ctx.training = None
        try:
            value = ctx.training
            if value is None:
                value = info.training_default
            ctx.training = value
            if info.has_training and value is not None:
                kwargs["training"] = value
            previous_mask = get_mask(x)
            if previous_mask is not None and getattr(previous_mask, "dtype", bool) != bool:
                self._check_mask_values(previous_mask)
            if info.has_mask and info.mask_default_none:
                kwargs["mask"] = previous_mask
            outputs = self.call(x, **kwargs) if kwargs else self.call(x)
            if self._supports_masking:
                if type(outputs) is np.ndarray:
                    m = self.compute_mask(x, previous_mask)
                    if m is not None:
                        outputs = (with_mask(outputs, m) if not isinstance(m, (list, tuple))
                                   else self._set_mask_metadata(x, outputs, previous_mask))
                else:
                    outputs = self._set_mask_metadata(x, outputs, previous_mask)
            elif previous_mask is not None:
                warnings.warn(
                    f"Layer '{self.name}' (of type {self.__class__.__name__}) was passed "
                    "an input with a mask attached to it. However, this layer does not "
                    "support masking and will therefore destroy the mask information. "
                    "Downstream layers will not see the mask.", stacklevel=2)
        finally:
            if is_entry:
                ctx.entry = None
                ctx.training = None
        return outputs

    def _set_mask_metadata(self, inputs, outputs, previous_mask):
        """Attach `compute_mask(inputs, previous_mask)` to outputs lacking a mask."""
        if isinstance(outputs, (list, tuple, dict)):
            flat = flatten(outputs)
        else:
            if get_mask(outputs) is not None:
                return outputs
            flat = [outputs]
        if all(get_mask(x) is not None for x in flat):
            return outputs
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return outputs
        flat_masks = flatten(masks) if isinstance(masks, (list, tuple, dict)) else [masks]
        new = list(flat)
        changed = False
        for i, (t, m) in enumerate(zip(flat, flat_masks)):
            if m is not None and get_mask(t) is None and isinstance(
                    t, (np.ndarray, np.generic, KerasTensor)):
                new[i] = with_mask(t, m)
                changed = True
        if not changed:
            return outputs
        if not isinstance(outputs, (list, tuple, dict)):
            return new[0]
        return pack_as(outputs, new)

    # ------------------------------------------------------------------ misc

    def __reduce_ex__(self, protocol):
        # Pickling (pickle, cloudpickle, Dask): see fastmask/saving/pickling.py.
        from ..saving.pickling import reduce_layer
        return reduce_layer(self, protocol)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}, built={self.built}>"

    __str__ = __repr__


def _map_shapes(fn, shapes):
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and (
            not shapes or not isinstance(shapes[0], (int, type(None)))):
        return type(shapes)(_map_shapes(fn, s) for s in shapes)
    return fn(tuple(shapes))


def is_tensor_output(x):
    """True when `x` is what a layer returns (ndarray, `Tensor` or `KerasTensor`)."""
    return isinstance(x, (np.ndarray, Tensor, KerasTensor))
