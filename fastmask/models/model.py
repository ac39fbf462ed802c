"""`fastmask.Model`: Functional (`Model(inputs, outputs)`) or subclassed models.

A model is a `Layer`: calling it runs its layers with Keras's mask rules. It
adds `predict`, `summary`, `get_layer`, `save` (a Keras 3 `.keras` archive),
`save_weights`/`load_weights` (Keras's `.weights.h5` layout, or a
`.weights.npz` file: one array per weight, in `model.weights` order) and
config round trips. Models pickle (see `fastmask/layers/pickling.py`).

A model has no `compute_mask`: like Keras, it does not "support masking"
itself (a masked input to a model emits Keras's warning), but its outputs
keep the masks set by its last inner layers, so nested models keep masks.
"""
import collections.abc
import copy
import inspect
import json
import math
import os
import sys
import time
import types
import warnings

import numpy as np

from ..core import registry
from ..core.shape_inference import compute_output_spec
from ..core.tensor import KerasTensor, get_mask, plain, with_mask
from ..core.tree import flatten, pack_as
from ..layers.call_signature import _is_default
from ..layers.layer import Layer
from .predict_outputs import PredictOutputs, output_pool

__all__ = ["Model", "Progbar", "model_from_json"]


def _functional():
    """The `Functional` class (models/functional.py builds on this module: it is looked up
    in the registry, not imported)."""
    return registry.builtin_class("Functional")


def _is_functional_args(args, kwargs):
    """Keras's `functional_init_arguments`: `(inputs, outputs)` positionally, or one
    positional and `outputs=`, or both as keywords."""
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


def _inject_functional(cls):
    """Put `Functional` in place of `Model` among the bases of `cls` (and of its Model
    ancestors), as Keras's `inject_functional_model_class` does: a subclass calling
    `super().__init__(inputs, outputs)` becomes a Functional model for good, keeping
    its own class and methods."""
    Functional = _functional()
    if cls is Model:
        return Functional
    if not isinstance(cls, type) or not issubclass(cls, Model) or issubclass(cls, Functional):
        return cls
    cls.__bases__ = tuple(_inject_functional(base) for base in cls.__bases__)
    return cls


_TRAINING_METHODS = ("fit", "evaluate", "train_on_batch", "test_on_batch", "train_step",
                     "test_step", "fit_generator", "evaluate_generator")


def _inference_only(name):
    def method(self, *args, **kwargs):
        raise NotImplementedError(
            f"fastmask is inference only: `Model.{name}()` is not available. Train the model "
            "in Keras, save it (`model.save('model.keras')`) and load it with "
            "`fastmask.models.load_model`; `predict()` and `model(x)` run it here.")
    method.__name__ = name
    method.__doc__ = f"Not available: fastmask is inference only (raises NotImplementedError)."
    return method


class Model(Layer):
    """Groups layers into an object with `predict`, `summary`, weights I/O.

    Two ways to build one, as in Keras:

    * Functional: `Model(inputs, outputs)` with `inputs` from `fastmask.Input`
      (a subclass calling `super().__init__(inputs, outputs)` becomes a
      Functional model that keeps its own methods).
    * Subclassing: `class M(fastmask.Model)` defining `__init__` (layers as
      attributes) and `call(inputs, training=None, mask=None)`.

    `compile(...)` is accepted and recorded (`get_compile_config`), so scripts
    and files made for training run; `fit`, `evaluate`, `train_on_batch` and
    the other training methods raise: fastmask is inference only.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _is_functional_args(args, kwargs):
            Functional = _functional()
            return Functional.__new__(Functional, *args, **kwargs)
        # The automatic config records the arguments given (Keras 3.15.1's sees none: it
        # records the defaults, so `M(units=6)` would save `units=4`).
        return super().__new__(cls, *args, **kwargs)

    compiled = False    # set by `compile()` / `compile_from_config()`
    optimizer = None

    def __init__(self, *args, **kwargs):
        if _is_functional_args(args, kwargs):
            _inject_functional(type(self))
            _functional().__init__(self, *args, **kwargs)
        else:
            Layer.__init__(self, *args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Model {self.__class__.__name__} does not have a `call()` "
                                  "method implemented.")

    @property
    def layers(self):
        return list(self._layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `model.layers`."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # ------------------------------------------------------------------ inference

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Run the model on `x` by batches into one array per output.

        Args:
            x: array (or list/dict of arrays for multi-input models; None for an
                optional Input); arrays carrying a mask (`fastmask.get_mask`) have
                it sliced per batch. Or a generator/iterator of batches (each `x` or
                a tuple `(x,)`, `(x, y)`, `(x, y, sample_weight)`).
            batch_size: default 32 (ignored for a generator).
            verbose: "auto" shows a Keras-style progress bar only when the run
                is long (more than ~1 s); 1 always; 2 one line at the end; 0 never.
            steps: optional number of batches to run.

        Returns:
            NumPy array(s) with the structure of the model outputs, allocated
            once and filled batch by batch (one batch: the model's own output,
            not copied). An output whose batches all carry a mask carries the
            whole mask.
        """
        if callbacks is not None:
            raise ValueError("fastmask's predict does not support callbacks.")
        batch_size = 32 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"`batch_size` must be a positive integer. "
                             f"Received: batch_size={batch_size}")
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose}")
        if type(x) is np.ndarray and steps is None and x.ndim and 0 < x.shape[0] <= batch_size:
            return self._predict_one(x, [x], [x], x.shape[0], verbose)   # (no mask)
        if _is_batch_iterator(x):
            return _concatenate(self._predict_batches(x, steps, verbose))
        return self._predict_arrays(x, batch_size, steps, verbose)

    def _predict_graph(self):
        """The Functional graph whose run `predict` offers its output rows to: the model
        itself, or the graph a Sequential runs through."""
        Functional = _functional()
        if isinstance(self, Functional):
            return self
        inner = self.__dict__.get("_functional")
        return inner if isinstance(inner, Functional) else None

    def _predict_arrays(self, x, batch_size, steps, verbose):
        """`predict` on arrays: batches of `batch_size` rows, written into one array per
        output (`PredictOutputs`)."""
        flat_x = flatten(x)
        if not flat_x or all(a is None for a in flat_x):
            raise ValueError("`x` must contain at least one array.")
        # None stands for an optional Input left out (it stays None in every batch).
        flat_x = [None if a is None else a if isinstance(a, np.ndarray) else np.asarray(a)
                  for a in flat_x]
        arrays = [a for a in flat_x if a is not None]
        n = arrays[0].shape[0] if arrays[0].ndim else 0
        for a in arrays:
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError("All inputs of `predict` must have the same number of "
                                 "samples (first dimension). Received shapes "
                                 f"{[a.shape for a in arrays]}")
        n_batches = math.ceil(n / batch_size) if n else 0
        if steps is not None:
            n_batches = min(n_batches, int(steps))
        if n_batches == 0:
            raise ValueError("Expected input data to be non-empty.")
        masks = [None if a is None else get_mask(a) for a in flat_x]
        if n_batches == 1 and n <= batch_size and not any(m is not None for m in masks):
            return self._predict_one(x, flat_x, arrays, n, verbose)
        bar = Progbar(n_batches, verbose=verbose)
        graph = self._predict_graph()
        collected = PredictOutputs(min(n, n_batches * batch_size), n_batches, arrays,
                                   pool=output_pool(self) if graph is not None else None)
        for b in range(n_batches):
            sl = slice(b * batch_size, min(n, (b + 1) * batch_size))
            batch = []
            for a, m in zip(flat_x, masks):
                if a is None:
                    batch.append(None)
                    continue
                part = plain(a)[sl]
                batch.append(with_mask(part, np.asarray(m)[sl]) if m is not None else part)
            if b:   # the layers producing the outputs may write them into their rows
                collected.offer(graph, sl)
            elif n_batches == 1:   # ... or into a free earlier output of this model
                collected.offer_recycled(graph)
            try:
                out = self(pack_as(x, batch) if isinstance(x, (list, tuple, dict)) else batch[0],
                           training=False)
            finally:
                collected.withdraw()
            collected.add(out, sl)
            bar.update(b + 1)
        return collected.result()


    def _predict_one(self, x, flat_x, arrays, n, verbose):
        """`_predict_arrays` for one batch of unmasked arrays (a server's call): the
        arrays themselves are the batch, the result is the model's output (copied only
        where it shares memory with an input or an earlier output) and the model may
        write its outputs into a free pool entry, as in the general path, without its
        per-batch bookkeeping."""
        start = time.perf_counter() if verbose != 0 else None
        graph = self._predict_graph()
        pool = output_pool(self) if graph is not None else None
        if (pool is None or not pool._entries) and type(x) is np.ndarray:
            # Nothing to offer (small outputs are never kept): `result()` inline for
            # one plain output, what a batch-1 server call costs in Python.
            out = self(x, training=False)
            if type(out) is np.ndarray and out.ndim:
                if out.size and np.may_share_memory(out, x):
                    out = out.copy()
                if pool is not None and out.nbytes >= pool.MIN_BYTES:
                    pool.give([out])
                _show_one_batch(start, verbose)
                return out
            collected = PredictOutputs(n, 1, arrays, pool=pool)
            collected.add(out, slice(0, n))
            _show_one_batch(start, verbose)
            return collected.result()
        collected = PredictOutputs(n, 1, arrays, pool=pool)
        collected.offer_recycled(graph)
        batch = [None if a is None else plain(a) for a in flat_x]
        try:
            out = self(pack_as(x, batch) if isinstance(x, (list, tuple, dict)) else batch[0],
                       training=False)
        finally:
            collected.withdraw()
        collected.add(out, slice(0, n))
        _show_one_batch(start, verbose)
        return collected.result()

    def _predict_batches(self, batches, steps, verbose):
        """`predict` on a generator/iterator of batches: each item is `x`, or a tuple
        `(x,)`, `(x, y)` or `(x, y, sample_weight)` of which `x` is used (Keras's rule)."""
        chunks = []
        bar = Progbar(steps, verbose=verbose if steps is not None else 0)
        for i, item in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(item, tuple) and not hasattr(item, "_fields") and 1 <= len(item) <= 3:
                item = item[0]
            chunks.append(self(item, training=False))
            bar.update(i + 1)
        if not chunks:
            raise ValueError("Expected input data to be non-empty.")
        return chunks

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(1, len(flatten(x)[0])), verbose=0)

    # ------------------------------------------------------------------ summary

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print a Keras-style table of layers, output shapes and parameter counts."""
        from .summary import print_summary
        print_summary(self, line_length=line_length, print_fn=print_fn,
                      show_trainable=show_trainable)

    # ------------------------------------------------------------------ saving

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save as a Keras 3 `.keras` archive (loads in `keras.saving.load_model` too).

        `zipped=False` writes the archive's members into a directory instead.
        """
        from ..saving.keras_archive import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save `model.weights` to a file.

        * `*.weights.h5`: Keras 3's HDF5 layout (`keras_model.load_weights`
          reads it); needs h5py.
        * `*.npz` (e.g. `*.weights.npz`): one array per weight, in
          `model.weights` order.
        """
        filepath = os.fspath(filepath)
        if not filepath.endswith((".h5", ".npz")):
            raise ValueError("The filename must end in `.weights.h5` (Keras's HDF5 layout) or "
                             f"`.weights.npz`. Received: filepath={filepath}")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False.")
        if not self.built:
            raise ValueError("You are saving a model that has not yet been built. Try "
                             "building the model first by calling it on some data or by "
                             "using `build()`.")
        tmp = f"{filepath}.tmp{os.getpid()}"   # written whole, then moved into place
        try:
            if filepath.endswith(".h5"):
                from ..saving.keras_h5 import save_weights_h5
                save_weights_h5(self, tmp)
            else:
                weights = self.weights
                arrays = {f"w{i:05d}": w.numpy() for i, w in enumerate(weights)}
                arrays["__paths__"] = np.array([w.path or w.name or "" for w in weights],
                                               dtype=str)
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
            os.replace(tmp, filepath)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights saved by `save_weights` (or by Keras), all or nothing.

        * `*.h5` (`*.weights.h5`): Keras 3's HDF5 layout, matched layer by
          layer by path; a missing, extra or mis-shaped weight raises a
          ValueError naming the layer (nothing is assigned), unless
          `skip_mismatch=True` (such layers are skipped with a warning).
        * `*.keras`: the weights of a Keras archive.
        * `*.npz`: arrays in `model.weights` order.

        Files from strangers are safe to load: nothing is read that the
        model's weights do not ask for, HDF5 links and external storage are
        refused, and every array's shape and dtype is checked before it is
        read (README, "Loading files you did not make"). The new values are
        copied in at once: `predict` in another thread sees the old weights or
        the new ones, never a mix.
        """
        filepath = os.fspath(filepath)
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"No such file: {filepath!r}")
        if filepath.endswith(".json"):
            raise ValueError(f"{filepath!r}: sharded Keras weights (`.weights.json` + shards) "
                             "are not supported; save them unsharded with Keras's "
                             "`model.save_weights('m.weights.h5')`.")
        if filepath.endswith((".h5", ".hdf5", ".keras")):
            if not self.built:
                raise ValueError("You are loading weights into a model that has not yet been "
                                 "built. Try building the model first by calling it on some "
                                 "data or by using `build()`.")
            from ..saving.keras_archive import load_weights_into
            load_weights_into(self, filepath, skip_mismatch=skip_mismatch)
            return
        from ..saving.npz_reader import load_weights_npz
        load_weights_npz(self, filepath, skip_mismatch=skip_mismatch)

    # ------------------------------------------------------------------ build

    def build_from_config(self, config):
        """Build from `get_build_config()` output: a subclassed model with the default
        `build` traces `call` on symbolic inputs of the recorded shape (building its
        layers); else `build(...)` is called. Keras's warning when neither works."""
        if not config:
            return
        status = False
        if "input_shape" in config:
            if _is_default(self.build):
                status = self._build_by_tracing(input_shape=config["input_shape"])
            else:
                try:
                    self.build(config["input_shape"])
                    status = True
                except Exception:
                    pass
            self._build_shapes_dict = {"input_shape": config["input_shape"]}
        elif "shapes_dict" in config:
            if _is_default(self.build):
                status = self._build_by_tracing(shapes_dict=config["shapes_dict"])
            else:
                try:
                    self.build(**config["shapes_dict"])
                    status = True
                except Exception:
                    pass
            self._build_shapes_dict = config["shapes_dict"]
        if not status:
            warnings.warn(
                f"Model '{self.name}' had a build config, but the model cannot be built "
                "automatically in `build_from_config(config)`. You should implement "
                "`def build_from_config(self, config)`, and you might also want to implement "
                "the method  that generates the config at saving time, "
                "`def get_build_config(self)`. The method `build_from_config()` is meant to "
                "create the state of the model (i.e. its variables) upon deserialization.",
                stacklevel=2)

    def _build_by_tracing(self, input_shape=None, shapes_dict=None):
        """Run `call` on symbolic inputs (Keras's `_build_by_run_for_*`); True if it worked."""
        try:
            if shapes_dict is None:
                inputs = map_shape_structure(lambda s: KerasTensor(s), input_shape)
                compute_output_spec(self.call, inputs)
            else:
                if not all(_is_shape(s) for s in shapes_dict.values()):
                    return False
                kwargs = {k[:-len("_shape")] if k.endswith("_shape") else k: KerasTensor(s)
                          for k, s in shapes_dict.items()}
                compute_output_spec(self.call, **kwargs)
            return True
        except Exception:
            return False

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Accepted for Keras compatibility: the arguments are recorded (and saved as the
        model's compile config, which Keras reads back), nothing else happens.

        fastmask is inference only: `predict` and `model(x)` need no compile, and the
        training methods (`fit`, `evaluate`, ...) raise NotImplementedError.
        """
        if jit_compile == "auto" or (jit_compile and run_eagerly):
            jit_compile = False
        self.optimizer = optimizer
        if loss is not None:
            self.loss = loss
        self._compile_config = {
            "optimizer": _compile_value(optimizer), "loss": _compile_value(loss),
            "loss_weights": _compile_value(loss_weights),
            "metrics": _compile_value(metrics),
            "weighted_metrics": _compile_value(weighted_metrics),
            "run_eagerly": run_eagerly, "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile}
        self.compiled = True

    def get_compile_config(self):
        """The recorded `compile()` arguments (Keras's serialized form); {} if never
        compiled."""
        if self.compiled and getattr(self, "_compile_config", None) is not None:
            return copy.deepcopy(self._compile_config)
        return {}

    def compile_from_config(self, config):
        """Record a compile config read from a file (optimizer, losses and metrics are
        kept as configs, never deserialized: no code runs); Keras's warning for a model
        whose `compile` is custom."""
        if type(self).compile is not Model.compile:
            warnings.warn(
                "`compile()` was not called as part of model loading because the model's "
                "`compile()` method is custom. All subclassed Models that have `compile()` "
                "overridden should also override `get_compile_config()` and "
                "`compile_from_config(config)`. Alternatively, you can call `compile()` "
                "manually after loading.", stacklevel=2)
            return
        if not isinstance(config, dict):
            raise ValueError(f"A compile config must be a dict. Received: config={config!r}")
        self._compile_config = copy.deepcopy(config)
        self.optimizer = config.get("optimizer")
        if config.get("loss") is not None:
            self.loss = config.get("loss")
        self.compiled = True

    for _name in _TRAINING_METHODS:
        locals()[_name] = _inference_only(_name)
    del _name

    # ------------------------------------------------------------------ config

    def to_json(self, **kwargs):
        """The model's Keras config (`serialize_keras_object(model)`) as a JSON string;
        `fastmask.models.model_from_json` (or Keras's) rebuilds the model from it.
        `kwargs` are passed to `json.dumps`."""
        from ..core.serialization import json_default, serialize
        return json.dumps(serialize(self), default=json_default, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Keras's rule: a graph config (`layers`, `input_layers`, `output_layers`) on
        `Model`/`Functional`, or on a subclass whose `__init__` is `(inputs, outputs,
        name)` or `(*args, **kwargs)`, is rebuilt as a graph
        (`functional_from_config`); anything else is `cls(**config)`."""
        Functional = _functional()
        keys = ("name", "layers", "input_layers", "output_layers")
        is_functional_config = all(k in config for k in keys)
        spec = inspect.getfullargspec(cls.__init__)
        revivable = (cls in (Functional, Model)
                     or spec.args[1:] == inspect.getfullargspec(Functional.__init__).args[1:]
                     or (spec.varargs == "args" and spec.varkw == "kwargs"))
        if is_functional_config and revivable:
            return Functional._from_graph_config(cls, config, custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                "Unable to revive model from config. When overriding the `get_config()` "
                "method, make sure that the returned config contains all items used as "
                f"arguments in the  constructor to {cls}, which is the default behavior. "
                "You can override this default behavior by defining a "
                "`from_config(cls, config)` class method to specify how to create an "
                f"instance of {cls.__name__} from its config.\n\nReceived config={config}"
                f"\n\nError encountered during deserialization: {e}") from e


def _is_batch_iterator(x):
    """A generator or iterator of batches (not an array or a structure of arrays)."""
    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False     # (asked first: the ABC check below is the slower one)
    return isinstance(x, (types.GeneratorType, collections.abc.Iterator))


def model_from_json(json_string, custom_objects=None):
    """The model described by `model.to_json()` (fastmask's or Keras's), with fresh
    weights: the same deserialization as `load_model` (safe mode by default: no Python
    lambdas are rebuilt).

    Args:
        json_string: JSON text of a serialized Keras model config.
        custom_objects: optional `{name: class or function}` for custom layers.
    """
    from ..core.registry import custom_object_scope
    from ..core.serialization import deserialize
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError("`json_string` must be a JSON string. Received: "
                        f"json_string={json_string!r} (of type {type(json_string).__name__})")
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"`json_string` is not valid JSON ({e}). Received: "
                         f"json_string={str(json_string)[:80]!r}") from None
    with custom_object_scope(custom_objects):
        return deserialize(config, custom_objects=custom_objects)


def _compile_value(value):
    """A compile argument as Keras serializes it: plain values as they are, objects with
    `get_config` as `{module, class_name, config, registered_name}`."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_compile_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _compile_value(v) for k, v in value.items()}
    get_config = getattr(value, "get_config", None)
    if callable(get_config) and not isinstance(value, type):
        cls = type(value)
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": get_config(), "registered_name": None}
    name = getattr(value, "__name__", None)
    if callable(value) and name:
        return name
    raise ValueError(f"Cannot record compile argument {value!r} (of type "
                     f"{type(value).__name__}): pass a name or an object with `get_config()`.")


def _is_shape(s):
    return isinstance(s, (list, tuple)) and all(d is None or isinstance(d, int) for d in s)


def map_shape_structure(fn, structure):
    """`fn(shape)` for each shape in a nested structure of shapes (tuples/lists of ints)."""
    if _is_shape(structure):
        return fn(tuple(structure))
    if isinstance(structure, dict):
        return {k: map_shape_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_shape_structure(fn, v) for v in structure)
    return structure


class Progbar:
    """Keras-style progress bar: `12/40 ━━━━━━━━━━━━━━━━━━━━ 1s 25ms/step`."""

    def __init__(self, target, verbose=1, width=20, stream=None, min_seconds=1.0):
        self.target = target
        self.verbose = verbose
        self.width = width
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.min_seconds = min_seconds
        self._shown = False
        self._last = 0.0

    def _line(self, current):
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(current, 1)
        filled = int(self.width * current / self.target) if self.target else self.width
        bar = "\u2501" * filled + " " * (self.width - filled)
        if current < self.target:
            eta = per_step * (self.target - current)
            t = f"{int(round(eta))}s"
        else:
            t = f"{int(round(elapsed))}s"
        unit = f"{per_step * 1000:.0f}ms/step" if per_step >= 1e-3 else \
            f"{per_step * 1e6:.0f}us/step"
        return f"{current}/{self.target} {bar} {t} {unit}"

    def update(self, current):
        if self.verbose == 0:
            return
        now = time.perf_counter()
        done = current >= self.target
        if self.verbose == 2:
            if done:
                self.stream.write(self._line(current) + "\n")
                self.stream.flush()
            return
        if self.verbose == "auto" and not self._shown and now - self.start < self.min_seconds:
            return
        if not done and now - self._last < 0.05:
            return
        self._last = now
        self._shown = True
        self.stream.write("\r" + self._line(current) + ("\n" if done else ""))
        self.stream.flush()


def _show_one_batch(start, verbose):
    """The progress bar of a one-batch predict that started at `start` (None: verbose 0)."""
    if start is not None:
        bar = Progbar(1, verbose=verbose)
        bar.start = start
        bar.update(1)


def _concatenate(chunks):
    """One array per output from the outputs of several batches (a generator's, whose
    number of samples is not known in advance); masks kept when every batch has one."""
    flat_chunks = [flatten(c) for c in chunks]
    merged = []
    for i in range(len(flat_chunks[0])):
        parts = [fc[i] for fc in flat_chunks]
        arr = np.concatenate([np.asarray(plain(p)) for p in parts], axis=0)
        part_masks = [get_mask(p) for p in parts]
        if all(m is not None for m in part_masks):
            arr = with_mask(arr, np.concatenate([np.asarray(m) for m in part_masks]))
        merged.append(arr)
    return pack_as(chunks[0], merged)
