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
import math
import os
import sys
import time

import numpy as np

from ..core import registry
from ..core.tensor import get_mask, plain, with_mask
from ..core.tree import flatten, pack_as
from ..layers.layer import Layer
from .predict_outputs import PredictOutputs

__all__ = ["Model", "Progbar"]


def _functional():
    """The `Functional` class (models/functional.py builds on this module: it is looked up
    in the registry, not imported)."""
    return registry.builtin_class("Functional")


def _is_functional_args(args, kwargs):
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


class Model(Layer):
    """Groups layers into an object with `predict`, `summary`, weights I/O.

    Two ways to build one, as in Keras:

    * Functional: `Model(inputs, outputs)` with `inputs` from `fastmask.Input`.
    * Subclassing: `class M(fastmask.Model)` defining `__init__` (layers as
      attributes) and `call(inputs, training=None, mask=None)`.
    """

    def __new__(cls, *args, **kwargs):
        if _is_functional_args(args, kwargs):
            Functional = _functional()
            if cls is Model:
                return Functional.__new__(Functional, *args, **kwargs)
            if not issubclass(cls, Functional):
                # Subclass used with (inputs, outputs): make it a Functional subclass.
                cls = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
                obj = Functional.__new__(cls, *args, **kwargs)
                return obj
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if _is_functional_args(args, kwargs):
            _functional().__init__(self, *args, **kwargs)
        else:
            Layer.__init__(self, *args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Model {self.__class__.__name__} does not have a `call()` "
                                  "method implemented.")

    @property
    def layers(self):
        return list(self._layers)

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
            x: array (or list/dict of arrays for multi-input models); arrays
                carrying a mask (`fastmask.get_mask`) have it sliced per batch.
            batch_size: default 32.
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
        flat_x = flatten(x)
        if not flat_x:
            raise ValueError("`x` must contain at least one array.")
        flat_x = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in flat_x]
        n = flat_x[0].shape[0] if flat_x[0].ndim else 0
        for a in flat_x:
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError("All inputs of `predict` must have the same number of "
                                 "samples (first dimension). Received shapes "
                                 f"{[a.shape for a in flat_x]}")
        n_batches = math.ceil(n / batch_size) if n else 0
        if steps is not None:
            n_batches = min(n_batches, int(steps))
        if n_batches == 0:
            raise ValueError("Expected input data to be non-empty.")
        masks = [get_mask(a) for a in flat_x]
        bar = Progbar(n_batches, verbose=verbose)
        collected = PredictOutputs(min(n, n_batches * batch_size), n_batches, flat_x)
        for b in range(n_batches):
            sl = slice(b * batch_size, min(n, (b + 1) * batch_size))
            batch = []
            for a, m in zip(flat_x, masks):
                part = plain(a)[sl]
                batch.append(with_mask(part, np.asarray(m)[sl]) if m is not None else part)
            if b:   # the layers producing the outputs may write them into their rows
                collected.offer(self._predict_graph(), sl)
            try:
                out = self(pack_as(x, batch) if isinstance(x, (list, tuple, dict)) else batch[0],
                           training=False)
            finally:
                collected.withdraw()
            collected.add(out, sl)
            bar.update(b + 1)
        return collected.result()

    def _predict_graph(self):
        """The Functional graph whose run `predict` offers its output rows to: the model
        itself, or the graph a Sequential runs through."""
        Functional = _functional()
        if isinstance(self, Functional):
            return self
        inner = self.__dict__.get("_functional")
        return inner if isinstance(inner, Functional) else None

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
        if kwargs:
            raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
        from ..saving.keras_archive import save_model
        save_model(self, filepath, overwrite=overwrite,
                   zipped=True if zipped is None else zipped)

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
                raise ValueError(f"Model '{self.name}' is not built yet: call it on data (or "
                                 "build it) before `load_weights`.")
            from ..saving.keras_archive import load_weights_into
            load_weights_into(self, filepath, skip_mismatch=skip_mismatch)
            return
        from ..saving.npz_reader import load_weights_npz
        load_weights_npz(self, filepath, skip_mismatch=skip_mismatch)

    # ------------------------------------------------------------------ config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        keys = ("name", "layers", "input_layers", "output_layers")
        if cls is Model and all(k in config for k in keys):
            # A Functional config (Functional.from_config rebuilds it and its subclasses).
            return _functional().from_config(config, custom_objects)
        try:
            return cls(**{k: v for k, v in config.items()
                          if k not in ("trainable", "dtype") or k in _init_params(cls)})
        except TypeError as e:
            raise TypeError("Unable to revive model from config. When overriding the "
                            "`get_config()` method, make sure that the returned config "
                            "contains all items used as arguments in the constructor to "
                            f"{cls}, which is the default behavior. Exception: {e}") from e


def _init_params(cls):
    import inspect
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return set(params) | {"trainable", "dtype"}
    return set(params)


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
