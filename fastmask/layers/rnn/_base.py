"""Shared pieces of fastmask's LSTM/GRU/SimpleRNN cells and layers.

`KernelCell`: the common constructor arguments of the three cells and the
`_fm_forward` hook through which `RNN` runs the compiled masked kernel
(`fastmask.kernels.recurrent`) instead of calling the cell step by step.
`KernelRNN`: the layer classes' attribute delegation and Keras's config.
The subclasses keep Keras's explicit signatures and pass their arguments on
with `arguments(locals(), names)`.
"""
import numpy as np

from ... import activations, constraints, initializers, regularizers
from ...kernels import recurrent as _kr
from ..layer import Layer
from ..layer_config import constructor_config
from ..weight_cache import weight_cache
from .dropout_rnn_cell import DropoutRNNCell
from .rnn import RNN

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# The constructor arguments of `KernelCell`, shared by the three cells and layers.
CELL_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
             "recurrent_initializer", "bias_initializer", "kernel_regularizer",
             "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
             "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed")
# The arguments a layer passes on to `RNN` (besides its cell and **kwargs).
RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
            "activity_regularizer")


def arguments(namespace, names):
    """{name: value} of the `names` found in `namespace` (a constructor's `locals()`)."""
    return {k: namespace[k] for k in names if k in namespace}


def check_units(units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError("Received an invalid value for argument `units`, expected a "
                         f"positive integer, got {units}.")
    return int(units)


def serialize_activation(fn):
    try:
        return activations.serialize(fn)
    except (ValueError, TypeError):
        return getattr(fn, "__name__", fn)


class KernelCell(Layer, DropoutRNNCell):
    """Base of LSTMCell/GRUCell/SimpleRNNCell (constructor arguments as Keras)."""

    _fm_kernel = None          # "lstm" | "gru" | "simple_rnn"
    _gates = 1                 # gate blocks of the kernels (LSTM 4, GRU 3)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        units = check_units(units)
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        self.seed = seed
        self.bias = None
        self.state_size = self.units
        self.output_size = self.units

    def _set_implementation(self, implementation):
        """Keras's `implementation` of LSTM/GRU: 1 (one mask and product per gate) is
        forced by recurrent dropout."""
        self.implementation = 1 if self.recurrent_dropout != 0.0 else implementation
        if self.implementation == 1:
            self.dropout_mask_count = self._gates

    def _gate_inputs(self, x, h, training):
        """Implementation 1: per-gate copies of the input `x` and state `h`, each with
        its own dropout mask in training."""
        xs, hs = [x] * self._gates, [h] * self._gates
        if training and 0.0 < self.dropout < 1.0:
            dp = self.get_dropout_mask(x)
            xs = [x * m for m in dp]
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rdp = self.get_recurrent_dropout_mask(h)
            hs = [h * m for m in rdp]
        return xs, hs

    def _add_kernels(self, input_dim):
        gates = self._gates
        self.kernel = self.add_weight(shape=(input_dim, gates * self.units), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates * self.units), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) \
            else [self.state_size]
        return [np.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def _base_config(self):
        return {
            "units": self.units,
            "activation": serialize_activation(self.activation),
            "recurrent_activation": serialize_activation(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    # ------------------------------------------------------------ compiled path
    def _fm_weights(self, dtype):
        k = self.kernel.value
        r = self.recurrent_kernel.value
        b = self.bias.value if self.bias is not None else None
        if k.dtype != dtype:
            k, r = k.astype(dtype), r.astype(dtype)
            b = None if b is None else b.astype(dtype)
        return k, r, b

    def _fm_packed(self, dtype, k, r):
        """The kernels packed for the compiled kernel in `dtype` (`k`, `r`: the weights in
        `dtype`), kept in the layer's weight cache until a kernel changes; None when an
        activation runs the NumPy loop (nothing to pack)."""
        if _kr.resolve_activation(self.activation)[0] is None or _kr.resolve_activation(
                self.recurrent_activation, "recurrent_activation")[0] is None:
            return None
        reset_after = getattr(self, "reset_after", True)
        return weight_cache(self).get(
            "packed", (self.kernel, self.recurrent_kernel),
            (self._fm_kernel, dtype.str, bool(reset_after), _kr.isa_in_use()),
            lambda: _kr.pack_weights(self._fm_kernel, k, r, reset_after, dtype))

    def _fm_applicable(self, sequences, training):
        if type(self).call is not self._fm_call_impl:
            return False  # a subclass changed the cell's computation
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            return False
        return (np.dtype(self.compute_dtype) in _FLOATS and sequences.ndim == 3
                and self.built)

    def _fm_default_state_is_zeros(self):
        """Whether this cell's `get_initial_state` is zeros (not overridden): `RNN`
        then passes None for the state, which the compiled kernel takes as zeros."""
        return type(self).get_initial_state is KernelCell.get_initial_state

    def _fm_recurrence(self, x, flags):
        """The recurrence of this cell for inputs of x's shape and dtype (the compute
        dtype) and these (go_backwards, return_sequences, zero_output_for_mask,
        unroll), checked and laid out once (`fastmask.kernels.recurrent.prepare`) and
        kept in the weight cache until a weight, the shape or a flag changes; None
        when an activation runs the NumPy loop."""
        dtype = x.dtype
        reset_after = getattr(self, "reset_after", True)

        def make():
            k, r, b = self._fm_weights(dtype)
            return _kr.prepare(
                self._fm_kernel, x, k, r, b, go_backwards=flags[0],
                return_sequences=flags[1], zero_output_for_mask=flags[2], unroll=flags[3],
                activation=self.activation, recurrent_activation=self.recurrent_activation,
                reset_after=reset_after, packed=self._fm_packed(dtype, k, r))

        return weight_cache(self).get(
            "recurrence", (self.kernel, self.recurrent_kernel, self.bias),
            (x.shape, dtype.str, flags, self.activation, self.recurrent_activation,
             bool(reset_after), _kr.isa_in_use()), make)

    def _fm_forward(self, sequences, initial_state, mask, training, *, go_backwards,
                    return_sequences, zero_output_for_mask, unroll):
        """(output, states) computed by the masked kernel, or None to use the generic loop.
        initial_state None: zeros (the cell's default state)."""
        if not self._fm_applicable(sequences, training):
            return None
        dtype = np.dtype(self.compute_dtype)
        x = sequences if sequences.dtype == dtype else sequences.astype(dtype)
        flags = (bool(go_backwards), bool(return_sequences), bool(zero_output_for_mask),
                 bool(unroll))
        recurrence = self._fm_recurrence(x, flags)
        if recurrence is not None:
            res = _kr.run_prepared(recurrence, self._fm_kernel, x, mask, initial_state)
            if res is not None:
                return res[0], list(res[1:])
        k, r, b = self._fm_weights(dtype)
        if initial_state is None:
            initial_state = self.get_initial_state(batch_size=x.shape[0])
        res = _kr._run(self._fm_kernel, x, k, r, b, mask, list(initial_state), go_backwards,
                       return_sequences, zero_output_for_mask, unroll, self.activation,
                       self.recurrent_activation, getattr(self, "reset_after", True), None,
                       packed=self._fm_packed(dtype, k, r))
        return res[0], list(res[1:])


class KernelRNN(RNN):
    """Base of the LSTM/GRU/SimpleRNN layers: cell attributes and Keras's config."""

    _cell_keys = ()   # extra cell config keys (unit_forget_bias, reset_after, ...)

    def _planned_recurrence(self, x):
        """(recurrence, dtype, cast) of the planned calls for sequences like x (no mask,
        the cell's zero initial state): the cell's prepared recurrence, the dtype it
        runs in and whether x is cast to it first (bool/int one-hot sequences, as
        `_fm_forward` casts); or None when `call` would take another path (states kept
        or returned, a method overridden, an activation without a compiled kernel)."""
        cell = self.cell
        cls = type(self)
        if (self.stateful or self.return_state or x.ndim != 3 or cls.call is not RNN.call
                or cls._run is not RNN._run or cls.get_initial_state is not RNN.get_initial_state
                or cls.compute_mask is not RNN.compute_mask
                or type(cell)._fm_forward is not KernelCell._fm_forward
                or not cell._fm_default_state_is_zeros()
                or not cell._fm_applicable(x, False)
                or np.dtype(cell.compute_dtype) != np.dtype(self.compute_dtype)):
            return None
        dtype = np.dtype(cell.compute_dtype)
        cast = x.dtype != dtype
        if cast and x.dtype.kind not in "biu":
            return None
        if cast:
            x = x.astype(dtype)
        flags = (bool(self.go_backwards), bool(self.return_sequences),
                 bool(self.zero_output_for_mask), bool(self.unroll))
        recurrence = cell._fm_recurrence(x, flags)
        return None if recurrence is None else (recurrence, dtype, cast)

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`) for sequences like x: the cell's
        prepared recurrence run on x, or None (see `_planned_recurrence`)."""
        planned = self._planned_recurrence(x)
        if planned is None:
            return None
        recurrence, dtype, cast = planned
        cell = self.cell
        kind = cell._fm_kernel
        flags = dict(go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                     zero_output_for_mask=self.zero_output_for_mask, unroll=self.unroll)

        def run(x):
            if cast:
                x = x.astype(dtype)
            elif not (x.flags.c_contiguous and x.flags.aligned):
                return NotImplemented
            res = _kr.run_prepared(recurrence, kind, x, None, None)
            if res is None:      # the batch split between threads: the kernel's own path
                res = cell._fm_forward(x, None, None, False, **flags)
            return NotImplemented if res is None else res[0]
        return run, self._fm_weights_of_cell()

    def _plan_repeated_call(self, x):
        """The planned call of this layer on `RepeatVector(n)(v)` for sequences like x
        (B, n, F), as a function of v (B, F): the repeated array is not made and each
        row's input projections are computed once (`kernels.recurrent.run_repeated`);
        the same results bit for bit. None when `_plan_call` would give none."""
        planned = self._planned_recurrence(x)
        if planned is None or x.shape[0] == 0 or x.shape[1] == 0:
            return None
        recurrence, dtype, cast = planned
        kind = self.cell._fm_kernel

        def run(v):
            return _kr.run_repeated(recurrence, kind, v.astype(dtype) if cast else v)[0]
        return run, self._fm_weights_of_cell()

    def _fm_weights_of_cell(self):
        cell = self.cell
        return (cell.kernel, cell.recurrent_kernel, cell.bias)

    def __init__(self, cell, _use_cudnn=None, **kwargs):
        # `_use_cudnn`: LSTM's and GRU's `use_cudnn` (SimpleRNN has none, as in Keras: a
        # `use_cudnn=` given to it stays in `kwargs` and is refused by `Layer`).
        super().__init__(cell, **kwargs)
        from ..input_spec import InputSpec
        self.input_spec = InputSpec(ndim=3)
        if _use_cudnn is not None:
            if _use_cudnn not in ("auto", True, False):
                raise ValueError("Invalid valid received for argument `use_cudnn`. Expected "
                                 "one of {'auto', True, False}. Received: "
                                 f"use_cudnn={_use_cudnn}")
            self.use_cudnn = _use_cudnn

    def _cell_arguments(self, namespace, kwargs, name):
        """The cell's arguments from the layer constructor's `locals()` (as Keras: the
        layer's dtype and trainable, the cell named `name`)."""
        return {**arguments(namespace, CELL_ARGS + self._cell_keys),
                "dtype": kwargs.get("dtype", None), "trainable": kwargs.get("trainable", True),
                "name": name}

    def __getattr__(self, name):
        # units, activation, use_bias, initializers, dropout, ... live on the cell.
        if name in _CELL_ATTRS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_config(self):
        cell_config = self.cell._base_config()
        base = super().get_config()
        del base["cell"]
        config = {k: v for k, v in cell_config.items() if k != "seed"}
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        for key in self._cell_keys:
            config[key] = getattr(self.cell, key)
        config["seed"] = self.cell.seed
        ordered = {**base, **{k: config[k] for k in self._config_order if k in config}}
        return ordered

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**constructor_config(config))   # as Keras: errors not wrapped


_CELL_ATTRS = frozenset(CELL_ARGS + ("unit_forget_bias", "reset_after", "implementation")) \
    - {"seed"}
