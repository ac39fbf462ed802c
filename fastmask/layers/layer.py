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
  but `fastmask.core.tensor.plain(x)` (a free plain view) avoids the subclass's
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
* **Symbolic shapes (how a model is built).** In the Functional API a layer
  receives `KerasTensor`s. Its output specs come from `compute_output_shape`
  when it is overridden (its argument is the first input's shape; `foo_shape`
  arguments for several inputs; `call` never runs), else from a symbolic trace
  of `call`: `call` runs on fresh KerasTensors, on which `fastmask.ops`
  functions, operators (`x + y`, `x[:, ::2]`, `x @ w`), NumPy ufuncs
  (`np.tanh(x)`) and the common NumPy functions (`np.sum`, `np.concatenate`,
  ...) answer from shapes; nested layers build themselves and answer
  symbolically; `ops.shape(x)` gives `Dim`s for unknown sizes, so
  `ops.arange(ops.shape(x)[1])` or `ops.reshape(x, (batch, -1, h, d))` work.
  Nothing runs on numbers and no graph node is recorded. Only when `call`
  needs a number from a symbolic value (`np.asarray(x)`, a NumPy function with
  no rule, `int(dim)`, `if x:`) does it run on small arrays instead (zeros,
  True for bools; unknown dims 83, then 89, as Keras's NumPy backend does).
  A failure of both names the layer (Keras's message). `compute_mask` gets
  KerasTensors too: use `fastmask.ops` (or operators) there. Each symbolic
  output is one new `KerasTensor` (names `keras_tensor_N` from a global
  counter, as in Keras; tensors inside a trace take no number).
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
import contextlib
import inspect
import threading
import warnings
from functools import wraps

import numpy as np

from .. import regularizers
from ..core import registry
from ..core.dtype_policy import DTypePolicy, get_policy  # noqa: F401  (DTypePolicy: re-export)
from ..core.operation import CALL_CONTEXT, Operation, record_node
from ..core.shape_inference import compute_output_spec, detached, trace_output_spec, tracing
from ..core.tensor import (KerasTensor, SymbolicValueError, Tensor, get_mask,
                           scratch_tensors, standardize_dtype, with_mask)
from ..core.tree import flatten, map_structure
from ..core.weight_swap import begin_read, end_read
from .call_signature import _default, _is_default, _is_tensor_arg, _shape_of, _signature_of
from .input_spec import InputSpec, _assert_input_compatibility  # noqa: F401  (InputSpec: re-export)
from .layer_config import LayerConfigMixin, constructor_config  # noqa: F401  (re-export)
from .layer_masking import LayerMaskingMixin
from .layer_weights import LayerWeightsMixin
from .name_scope import any_scope_open, current_path, layer_scope
from .pickling import reduce_layer
from . import planned_call
from .planned_call import MISS, call_planned, make_planned, self_key

# InputSpec, DTypePolicy and constructor_config live in input_spec.py, core/dtype_policy.py
# and layer_config.py; they are importable from here too, as before the split.
__all__ = ["Layer", "InputSpec", "DTypePolicy"]

# Held while a layer builds, so that threads making the first call of an unbuilt
# layer at the same time build it once (one set of weights). Reentrant: building a
# model calls (and builds) its sublayers.
_BUILD_LOCK = threading.RLock()
# Array dtypes Keras refuses as layer inputs ("Invalid dtype"): str, bytes, object,
# void, datetime, timedelta.
_NON_NUMERIC_KINDS = frozenset("SUOVMm")


def _unmasked_arrays(args):
    """Every one of `args` is an ndarray or a `Tensor` carrying no mask."""
    for a in args:
        t = type(a)
        if t is np.ndarray:
            continue
        if t is not Tensor or get_mask(a) is not None:
            return False
    return True


def _check_input_dtype(layer, x, name="inputs"):
    if isinstance(x, np.ndarray) and x.dtype.kind in _NON_NUMERIC_KINDS:
        raise ValueError(f"Layer '{layer.name}' (of type {layer.__class__.__name__}) "
                         f"received an input of non-numeric dtype {x.dtype} (Keras: Invalid "
                         f"dtype). Received: {name}.dtype={x.dtype}")


# --------------------------------------------------------------------------- Layer

class Layer(LayerConfigMixin, LayerWeightsMixin, LayerMaskingMixin, Operation):
    """Base class of all layers (Keras 3 semantics; see the module docstring).

    The call/build protocol is here; configs, weights and mask handling are in
    `layer_config`, `layer_weights` and `layer_masking` (mixins).

    Args:
        trainable: whether the layer's weights are trainable (default True).
        dtype: dtype policy name ("float32", "float64", "mixed_float16", ...)
            or a `DTypePolicy`; None means float32.
        autocast: cast float inputs to the compute dtype (default True).
        name: layer name (default: snake_case class name, made unique).
    """

    _plain_input_dtype = True
    # Set on a layer marked built with unbuilt sublayers (they build in its calls, under
    # its name scope); other built layers' calls open no scope (the hot path).
    _scope_calls = False
    # Class-level hooks (see the module docstring).
    _mask_from_first_arg = False
    _check_mask_shape = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("fastmask."):
            registry.register_builtin(cls)   # found by name when deserializing
        cls._plain_input_dtype = cls.input_dtype is Layer.input_dtype
        # Wrap a subclass's own `build` as Keras's `Layer.__new__` does: after the
        # outermost build call returns, the layer is built, its build shapes are
        # recorded (`get_build_config`) and its state is locked.
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_fm_build_wrapper", False):
            cls.build = _wrap_build(build)

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
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.autocast = autocast
        self._input_spec = None
        self._called = False
        self._trainable = trainable
        # Variables assigned as attributes before `super().__init__()` are kept.
        self.__dict__.setdefault("_trainable_variables", [])
        self.__dict__.setdefault("_non_trainable_variables", [])
        self._tracker_locked = False
        self._call_info = _signature_of(type(self).call)
        self._supports_masking = not _is_default(self.compute_mask)
        self._convert_input_args = True
        self._allow_non_tensor_positional_args = False
        self._build_shapes_dict = None

    # ------------------------------------------------------------------ properties

    @property
    def input_spec(self):
        return self._input_spec

    @input_spec.setter
    def input_spec(self, value):
        self._input_spec = value

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
    def path(self):
        """The layer's path ("parent/name" when built inside a parent); its name until
        built."""
        return self.__dict__.get("_path") or self.name

    # ------------------------------------------------------------------ API to override

    @_default
    def build(self, input_shape):
        """Create the layer's state for inputs of `input_shape` (override it).

        The default marks the layer built, with Keras's warning when sublayers
        are still unbuilt (nothing would build them).
        """
        self._check_super_called()
        if _is_default(self.build) and _might_have_unbuilt_state(self):
            self._scope_calls = True
            warnings.warn(
                f"`build()` was called on layer '{self.name}', however the layer does not "
                "have a `build()` method implemented and it looks like it has unbuilt "
                "state. This will cause the layer to be marked as built, despite not "
                "being actually built, which may cause failures down the line. Make sure "
                "to implement a proper `build()` method.", stacklevel=2)
        self.built = True

    def _build_at_init(self):
        """Mark the layer built in `__init__` if (and only if) `build` is not overridden.

        Layers without state (Softmax, Masking, pooling, Dropout, ...) call this
        last in `__init__`, as in Keras: a subclass overriding `build` then
        stays unbuilt until its first call, and records its build shapes.
        """
        if _is_default(self.build):
            self.built = True
            self._lock_state()

    def _lock_state(self):
        """After a build: no more weights may be added (Keras's tracker lock)."""
        self._tracker_locked = True

    def get_build_config(self):
        """`{"input_shape": shape}` (or `{"shapes_dict": {...}}` for a multi-input
        build) recorded by the first build; None if `build` never ran."""
        shapes = self._build_shapes_dict
        if shapes is not None:
            if len(shapes) == 1:
                return {"input_shape": tuple(shapes.values())[0]}
            return {"shapes_dict": shapes}
        return None

    def build_from_config(self, config):
        """Re-create the layer's state from `get_build_config()` output (on load)."""
        if config:
            if "input_shape" in config:
                self.build(config["input_shape"])
            elif "shapes_dict" in config:
                self.build(**config["shapes_dict"])

    def _obj_type(self):
        """The kind of object in Keras's saving walk (`saving/keras_h5.py`)."""
        return "Layer"

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {self.__class__.__name__} does not have a `call` "
                                  "method implemented.")

    @_default
    def compute_output_shape(self, *args, **kwargs):
        raise NotImplementedError(
            f"Layer {self.__class__.__name__} does not have a `compute_output_shape` method "
            "implemented. Should implement `def compute_output_shape(self, input_shape)`.")

    def compute_output_spec(self, *args, **kwargs):
        """Output KerasTensor(s) for symbolic args, from shapes alone.

        An overridden `compute_output_shape` answers and `call` never runs (Keras).
        Otherwise `call` is traced on fresh KerasTensors (nothing recorded in any
        graph; nested layers build and answer symbolically); only when the trace
        meets plain NumPy on a symbolic value does `call` run on small valid arrays
        (zeros, True for bools, unknown dims 83 then 89). A failure names the layer.
        """
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
            raise self._inference_error(e) from None

    def _inference_error(self, e):
        """Keras's error for a failed shape inference of this layer, caused by `e`."""
        cls = ValueError if isinstance(e, SymbolicValueError) else e.__class__
        name = self.__class__.__name__
        try:
            error = cls(
                f"Could not automatically infer the output shape / dtype of '{self.name}' "
                f"(of type {name}). Either the `{name}.call()` method is incorrect, or you need "
                f"to implement the `{name}.compute_output_spec() / compute_output_shape()` "
                f"method. Error encountered:\n\n{e}")
        except Exception:   # an exception class with another constructor
            error = ValueError(f"Could not automatically infer the output shape / dtype of "
                               f"'{self.name}' (of type {name}). Error encountered:\n\n{e!r}")
        return error.with_traceback(e.__traceback__)

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
                y = ops.cast(detached(x), self.input_dtype)   # the layer's node takes `x`
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

    def _assert_input_compatibility(self, arg):
        """Check `arg` (the first call argument) against `self.input_spec`."""
        _assert_input_compatibility(self._input_spec, arg, self.name)

    def _maybe_build(self, arguments, tensors, eager):
        """Keras's `_maybe_build`: an overridden `build` gets the call's shapes (the
        first tensor's, or `<arg>_shape` keywords); the default one first traces
        `call` on the inputs when sublayers are unbuilt, so that they build."""
        if self.built:
            return
        if not _is_default(self.build):
            shapes = self._shapes_for(self.build, arguments, tensors)
            self.build(**shapes)
            if self._input_spec is not None and tensors:
                self._assert_input_compatibility(next(iter(arguments.values())))
            return
        if _might_have_unbuilt_state(self):
            # Sublayers build by tracing `call` symbolically (Keras does the same); on an
            # eager call the arrays stand in as KerasTensors of their shapes.
            try:
                if eager:
                    trace_output_spec(self.call, **map_structure(_spec_of_array, arguments))
                else:
                    compute_output_spec(self.call, **arguments)
            except Exception as e:
                if eager:
                    return   # the eager call itself builds the sublayers
                warnings.warn(
                    f"Layer '{self.name}' looks like it has unbuilt state, but fastmask "
                    "is not able to trace the layer `call()` in order to build it "
                    "automatically. Possible causes:\n1. The `call()` method of your layer "
                    "may be crashing. Try to `__call__()` the layer eagerly on some test "
                    "input first to see if it works. E.g. `x = np.random.random((3, 4)); "
                    "y = layer(x)`\n2. If the `call()` method is correct, then you may need "
                    "to implement the `def build(self, input_shape)` method on your layer. "
                    "It should create all variables used by the layer (e.g. by calling "
                    "`layer.build()` on all its children layers).\nException encountered: "
                    f"''{e}''")
        first_shape = None
        for k, v in tensors.items():
            if k in ("mask", "kwargs", "args"):
                continue
            first_shape = map_structure(_shape_of, v) if isinstance(
                v, (list, tuple, dict)) else _shape_of(v)
            break
        self.build(first_shape)

    def __call__(self, *args, **kwargs):
        if args and type(args[0]) is np.ndarray:
            # A planned call (layers/planned_call.py) for `layer(x)` or `layer(x, x)`.
            if len(args) == 1:
                if self._plan_call is not None:
                    y = call_planned(self, args[0], kwargs, args[0].shape)
                    if y is not MISS:
                        return y
            elif len(args) == 2 and args[1] is args[0] and self._plan_self_call is not None:
                y = call_planned(self, args[0], kwargs, self_key(args[0]))
                if y is not MISS:
                    return y
        info = self.__dict__.get("_call_info")
        if info is None:
            self._check_super_called()
        if self.built and len(kwargs) <= 1 and not CALL_CONTEXT.tracing and (
                (len(args) == 1 and info.single
                 and (type(args[0]) is np.ndarray or type(args[0]) is Tensor))
                or (len(args) > 1 and info.simple
                    and info.n_leading_required <= len(args) <= len(info.positional)
                    and _unmasked_arrays(args))):
            # One array, or several unmasked ones: the fast call, alone or with
            # `training=` a bool or None.
            if not kwargs:
                return self._fast_call(args, info)
            training = kwargs.get("training", 0)
            if training is None or type(training) is bool:
                return self._fast_call(args, info, True, training)
        self.__dict__["_called"] = True
        original_args, original_kwargs = args, kwargs

        # 1. Convert array arguments (floats cast to the compute dtype).
        # Keras converts (copying `kwargs`) unless the call is one tensor of the input
        # dtype; then the `training`/`mask` values filled in below also land in the
        # recorded graph node (and in the saved config), which is reproduced here.
        keep_kwargs = not kwargs and (not self._convert_input_args or (
            len(args) == 1 and isinstance(args[0], (np.ndarray, KerasTensor))
            and standardize_dtype(args[0].dtype) == self.input_dtype))
        if self._convert_input_args and (
                kwargs or len(args) != 1 or not isinstance(args[0], np.ndarray)
                or (args[0].dtype.kind == "f" and self.autocast
                    and args[0].dtype != np.dtype(self.input_dtype))):
            args = map_structure(self._maybe_convert, args)
            kwargs = map_structure(self._maybe_convert, kwargs)
        else:
            kwargs = dict(kwargs)
        if keep_kwargs:
            kwargs = original_kwargs

        if CALL_CONTEXT.tracing:
            # In a shape-inference trace arrays stand for values computed at run time (a
            # position table, a constant mask): the layer answers from their shapes too.
            args, kwargs = map_structure(_spec_of_array, (args, kwargs))
            original_args, original_kwargs = args, kwargs

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
            self._assert_input_compatibility(first_arg)

        # 4. Build (once, also when several threads make the first call together).
        if not self.built:
            with _BUILD_LOCK, layer_scope(self):
                if not self.built:
                    self._maybe_build(arguments, tensors, eager=not symbolic)

        # 5. training: explicit, else outer call's, else signature default.
        ctx = CALL_CONTEXT
        is_entry = ctx.entry is None
        guarded = is_entry and not symbolic
        if guarded:   # the whole call sees one set of weights (core/weight_swap.py)
            begin_read()
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

            # 7. Call (symbolic: output specs and masks from shapes, `ops.shape` gives Dims;
            # in the layer's name scope while it is not built: sublayers built lazily in
            # `call` get paths under it).
            with tracing() if symbolic else contextlib.nullcontext():
                if self.built and not (symbolic or self._scope_calls or any_scope_open()):
                    outputs = self.call(*args, **kwargs)
                else:
                    with layer_scope(self):
                        outputs = (self.compute_output_spec(*args, **kwargs) if symbolic
                                   else self.call(*args, **kwargs))
                if not self.built:
                    self.built = True
                if self._supports_masking:
                    outputs = self._set_mask_metadata(first_arg, outputs, previous_mask)
            if not self._supports_masking and previous_mask is not None and any(
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
            if guarded:
                end_read()

        # 8. Record a graph node for symbolic calls (none for a trace's detached tensors;
        # with the filled-in `training` and None masks when Keras records them; mask
        # tensors stay out of the graph).
        if symbolic:
            node_kwargs = original_kwargs
            if keep_kwargs and original_kwargs:
                node_kwargs = {k: v for k, v in original_kwargs.items()
                               if not (k.endswith("mask") and k not in given
                                       and any(isinstance(m, KerasTensor)
                                               for m in flatten(v)))}
            record_node(self, original_args, node_kwargs, outputs)
        return outputs

    def _fast_call(self, args, info, explicit=False, training=None):
        """`layer(*args)` (or with `training=training` when `explicit`, training a bool or
        None) for a built layer and array arguments: one array (with or without a
        mask), or several none of which carries a mask, bound to the first positional
        parameters of a simple signature (every mask argument the general path would
        fill is then None, so the call's defaults stand). What the general path does
        for them (casts, dtype and input-spec checks, `training`, masks), minus its
        generality."""
        self.__dict__["_called"] = True
        convert = self._convert_input_args    # False: a model converts its inputs itself
        plan = False
        if len(args) == 1:
            x = args[0]
            if type(x) is np.ndarray and self._plan_call is not None and planned_call.ENABLED:
                plan = x      # plan the call below (`__call__` found no planned call)
            if convert and x.dtype.kind in _NON_NUMERIC_KINDS:
                _check_input_dtype(self, x)
            if convert and x.dtype.kind == "f" and self.autocast:
                target = (self._dtype_policy._compute_np if self._plain_input_dtype
                          else np.dtype(self.input_dtype))
                if x.dtype != target:
                    m = get_mask(x)
                    x = x.astype(target)
                    if m is not None:
                        x = with_mask(x, m)
                    args = (x,)
            previous_mask = get_mask(x)
        else:
            if (len(args) == 2 and args[1] is args[0] and type(args[0]) is np.ndarray
                    and self._plan_self_call is not None and planned_call.ENABLED):
                plan = args[0]   # `layer(x, x)`: plan it below (as above)
            if convert:
                # `_maybe_convert` and `_check_input_dtype` of each argument, for arrays
                # without masks (what `__call__` sends here)
                target = None
                converted = []
                for a in args:
                    kind = a.dtype.kind
                    if kind in _NON_NUMERIC_KINDS:
                        _check_input_dtype(self, a)
                    if kind == "f" and self.autocast:
                        if target is None:
                            target = (self._dtype_policy._compute_np if self._plain_input_dtype
                                      else np.dtype(self.input_dtype))
                        if a.dtype != target:
                            a = a.astype(target)
                    converted.append(a)
                args = tuple(converted)
            x, previous_mask = args[0], None
        if self._input_spec is not None:
            self._assert_input_compatibility(x)
        kwargs = {}
        ctx = CALL_CONTEXT
        is_entry = ctx.entry is None
        if is_entry:
            begin_read()   # the whole call sees one set of weights (core/weight_swap.py)
            ctx.entry = self
            ctx.training = None
        try:
            if explicit:
                value = training
            else:
                value = ctx.training
                if value is None:
                    value = info.training_default
            ctx.training = value
            if info.has_training and value is not None:
                kwargs["training"] = value
            if previous_mask is not None and getattr(previous_mask, "dtype", bool) != bool:
                self._check_mask_values(previous_mask)
            if info.has_mask and info.mask_default_none and len(args) == 1:
                kwargs["mask"] = previous_mask
            if self._scope_calls or any_scope_open():   # sublayers may build: paths nest
                with layer_scope(self):
                    outputs = self.call(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
            if self._supports_masking:
                outputs = self._attach_output_mask(x, outputs, previous_mask)
            elif previous_mask is not None:
                warnings.warn(
                    f"Layer '{self.name}' (of type {self.__class__.__name__}) was passed "
                    "an input with a mask attached to it. However, this layer does not "
                    "support masking and will therefore destroy the mask information. "
                    "Downstream layers will not see the mask.", stacklevel=2)
            if plan is x:     # not cast: plan the call for inputs like this one
                if len(args) == 1:
                    make_planned(self, x, value, x.shape, self._plan_call)
                elif args[1] is x:
                    make_planned(self, x, value, self_key(x), self._plan_self_call)
        finally:
            if is_entry:
                ctx.entry = None
                ctx.training = None
                end_read()
        return outputs

    # A built-in layer whose inference call on a plain array can be worked out once per
    # input shape and dtype defines `_plan_call(x)`: None, or (run, weights) as
    # `layers/planned_call.PlannedCall` takes them (`run(x)` gives what `call` gives for
    # inputs like x with `training` None/False and no mask, bit for bit, or None when a
    # module setting changed; `weights`: the Variables it was made from).
    _plan_call = None
    # The same for `layer(x, x)` (`_plan_self_call(x)`: MultiHeadAttention).
    _plan_self_call = None

    # ------------------------------------------------------------------ out= (private)

    # A built-in layer that can write its one output into a caller's array sets
    # `_writes_out = True` and, first thing in `call`, takes the array with
    # `self._take_out()` (None when none was offered); it writes there when the
    # array has exactly the output's shape and dtype (`usable_out`) and returns
    # it, else returns a new array as usual. Callers (`predict`, through the
    # Functional graph) offer one with `layer._call_into(out, *args, **kwargs)`
    # and check whether the result is `out`'s memory.
    _writes_out = False

    def _call_into(self, out, *args, **kwargs):
        """`self(*args, **kwargs)`, offering `out` (an array) to this call of this layer."""
        ctx = CALL_CONTEXT
        ctx.into = (self, out)
        try:
            return self(*args, **kwargs)
        finally:
            ctx.into = None

    def _take_out(self):
        """The array offered to this call (see `_call_into`), or None; the offer ends."""
        ctx = CALL_CONTEXT
        into = ctx.into
        if into is None or into[0] is not self:
            return None
        ctx.into = None
        return into[1]

    # ------------------------------------------------------------------ misc

    def __reduce_ex__(self, protocol):
        # Pickling (pickle, cloudpickle, Dask): see fastmask/layers/pickling.py.
        return reduce_layer(self, protocol)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}, built={self.built}>"

    __str__ = __repr__


def _spec_of_array(x):
    """An array argument as a KerasTensor of its shape, dtype and mask, recording no graph
    history (others as they are)."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        with scratch_tensors():
            spec = KerasTensor(x.shape, x.dtype, record_history=False)
            mask = get_mask(x)
            if isinstance(mask, np.ndarray):
                spec._keras_mask = KerasTensor(mask.shape, mask.dtype, record_history=False)
        return spec
    return x


def _might_have_unbuilt_state(layer):
    return any(not lr.built for lr in layer._layers)


def _wrap_build(build):
    """`build` wrapped as Keras's `Layer.__new__` wraps it: when the outermost call
    returns, the bound shape arguments are recorded (`get_build_config`), the layer
    is marked built and its state locked."""
    sig = inspect.signature(build)

    @wraps(build)
    def build_wrapper(self, *args, **kwargs):
        depth = self.__dict__.get("_fm_build_depth", 0)
        self.__dict__["_fm_build_depth"] = depth + 1
        try:
            with layer_scope(self):
                if depth == 0:
                    self.__dict__["_path"] = current_path()
                build(self, *args, **kwargs)
        finally:
            self.__dict__["_fm_build_depth"] = depth
        if depth == 0:
            try:
                arguments = sig.bind(self, *args, **kwargs).arguments
                arguments.pop(next(iter(sig.parameters)))
                self._build_shapes_dict = dict(arguments)
            except TypeError:
                pass
            self.built = True
            self._lock_state()

    build_wrapper._fm_build_wrapper = True
    return build_wrapper


def _map_shapes(fn, shapes):
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)) and (
            not shapes or not isinstance(shapes[0], (int, type(None)))):
        return type(shapes)(_map_shapes(fn, s) for s in shapes)
    return fn(tuple(shapes))


def usable_out(out, shape, dtype, inputs=()):
    """`out` (an array offered through `Layer._take_out`, or None) can take a result
    of `shape` and `dtype`: C-contiguous, writeable, and sharing no memory with
    `inputs`."""
    return (out is not None and isinstance(out, np.ndarray) and out.shape == tuple(shape)
            and out.dtype == dtype and out.flags.c_contiguous and out.flags.writeable
            and out.flags.aligned
            and not any(isinstance(a, np.ndarray) and np.may_share_memory(out, a)
                        for a in inputs))


def is_tensor_output(x):
    """True when `x` is what a layer returns (ndarray, `Tensor` or `KerasTensor`)."""
    return isinstance(x, (np.ndarray, Tensor, KerasTensor))


Layer.build = _wrap_build(Layer.build)   # the default build records its shape too
registry.register_base(Layer)   # `is_layer` (serialize, saving) recognises layers by it
