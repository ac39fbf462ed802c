"""`RNN` (any cell) and the generic loop.

`RNN(cell)` runs Keras 3.15.1's generic loop (`keras/src/backend/numpy/rnn.py`)
in Python for custom cells, and the compiled masked kernels of
`fastmask.kernels.recurrent` for fastmask's `LSTMCell`, `GRUCell` and
`SimpleRNNCell` (unless dropout is active in training, or the compute dtype
is not float32/float64): the same numbers, without computing masked steps.
"""
import numpy as np

from ...core.serialization import deserialize, serialize
from ...core.tree import flatten, map_structure, pack_as
from ...kernels._validation import as_mask_array
from ..layer import Layer
from ..layer_config import constructor_config
from .dropout_rnn_cell import DropoutRNNCell
from .stacked_rnn_cells import StackedRNNCells, _is_nested

__all__ = ["RNN", "rnn_loop"]


def _no():
    return False


def _plain(x):
    return np.ndarray.view(x, np.ndarray) if isinstance(x, np.ndarray) else np.asarray(x)


def _batch_mask(m, like):
    """(B, 1) bool mask broadcastable against `like` (B, ...)."""
    return m.reshape((m.shape[0],) + (1,) * (np.ndim(like) - 1))


def rnn_loop(step_function, inputs, initial_states, go_backwards=False, mask=None,
             unroll=False, zero_output_for_mask=False, return_all_outputs=True):
    """Keras's numpy-backend `rnn` (batch-major input, no constants), step by step.

    `step_function(x_t, states) -> (output, new_states)`; `inputs` (B, T, ...);
    `mask` (B, T) or None. Returns (last_output, outputs (B, T', ...), new_states)
    with outputs in processing order (T' = 1 unless `return_all_outputs`).
    Not unrolled: a masked step keeps the states and outputs the previous
    h (`states[0]`, or `states[-1][0]` for stacked cells), or 0 with
    `zero_output_for_mask`. Unrolled: it outputs the previous output (0 first)
    and `zero_output_for_mask` is ignored, as in Keras.
    """
    x = np.swapaxes(inputs, 0, 1)
    T = x.shape[0]
    if mask is not None:
        mask = np.swapaxes(np.asarray(mask).astype(bool), 0, 1)  # (T, B)
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    if unroll:
        if not T:
            raise ValueError("Unrolling requires a fixed number of timesteps.")
        states = tuple(initial_states)
        outputs, last_states = [], None
        for t in order:
            output, new_states = step_function(x[t], tuple(states))
            if mask is not None:
                m = mask[t]
                prev = np.zeros_like(output) if not outputs else outputs[-1]
                output = np.where(_batch_mask(m, output), output, prev)
                flat_s, flat_n = flatten(states), flatten(new_states)
                new_states = pack_as(states, [np.where(_batch_mask(m, s), n, s)
                                              for s, n in zip(flat_s, flat_n)])
            states = new_states
            if return_all_outputs:
                outputs.append(output)
            else:
                outputs = [output]
            last_states = states
        return outputs[-1], np.swapaxes(np.stack(outputs), 0, 1), last_states
    states = initial_states
    outputs = []
    for t in order:
        output_t, new_states = step_function(x[t], states)
        if mask is not None:
            keep = _batch_mask(mask[t], output_t)
            if zero_output_for_mask:
                output_t = np.where(keep, output_t, np.zeros_like(output_t))
            else:
                output_tm1 = states[0]
                if _is_nested(output_tm1):
                    output_tm1 = states[-1][0]
                output_t = np.where(keep, output_t, output_tm1)
            flat_s, flat_n = flatten(states), flatten(new_states)
            new_states = pack_as(new_states, [np.where(_batch_mask(mask[t], s), n, s)
                                              for s, n in zip(flat_s, flat_n)])
        states = new_states
        outputs.append(output_t)
    outputs = np.array(outputs)
    last = outputs[-1]
    if not return_all_outputs:
        outputs = outputs[-1:]
    return last, np.swapaxes(outputs, 0, 1), states


class RNN(Layer):
    """Base class for recurrent layers: runs `cell` over the time axis (Keras 3 semantics).

    >>> layer = fastmask.layers.RNN(fastmask.layers.LSTMCell(4), return_sequences=True)
    >>> layer(np.ones((2, 3, 5), "float32"), mask=np.array([[1, 1, 0], [1, 0, 0]], bool)).shape
    (2, 3, 4)

    Args:
        cell: an RNN cell (a layer with `call(inputs, states)` and `state_size`),
            or a list of cells (stacked).
        return_sequences: return the whole output sequence (processing order)
            instead of the last output.
        return_state: also return the final states (`[output, *states]`).
        go_backwards: process the sequence backwards.
        stateful: the last states of a batch are the initial states of the
            next call (`reset_states()` zeroes them); the batch size is fixed.
        unroll: accepted; numerically as Keras's numpy backend with
            `unroll=True` (masked outputs repeat the previous output, 0 first,
            and `zero_output_for_mask` is ignored).
        zero_output_for_mask: masked steps output 0 instead of the previous h.

    Call arguments:
        sequences: (batch, timesteps, features).
        initial_state: list of initial state arrays (default zeros).
        mask: (batch, timesteps) bool, True = keep. **Deviation from Keras:**
            the input's mask is used even when `initial_state` is given
            (Keras silently ignores it then).
        training: enables cell dropout.

    Masked steps freeze every state; with fastmask's own cells they cost no
    computation at all (see `fastmask.kernels.lstm`).
    """

    _mask_from_first_arg = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if "call" not in dir(cell):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")
        if "state_size" not in dir(cell):
            raise ValueError("The RNN cell should have a `state_size` attribute (single integer "
                             "or list of integers, one integer per RNN state). "
                             f"Received: cell={cell}")
        super().__init__(**kwargs)
        self.zero_output_for_mask = zero_output_for_mask
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.supports_masking = True
        self.input_spec = None
        self.states = None
        self._expected_batch_size = None
        state_size = getattr(self.cell, "state_size", None)
        if state_size is None:
            raise ValueError("state_size must be specified as property on the RNN cell.")
        if not isinstance(state_size, (list, tuple, int)):
            raise ValueError("state_size must be an integer, or a list/tuple of integers "
                             "(one for each state tensor).")
        if isinstance(state_size, int):
            self.state_size = [state_size]
            self.single_state = True
        else:
            self.state_size = list(state_size)
            self.single_state = False

    # ---------------------------------------------------------------- shapes / masks
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, length = sequences_shape[0], sequences_shape[1]
        states_shape = []
        for size in self.state_size:
            if isinstance(size, int):
                states_shape.append((batch_size, size))
            elif isinstance(size, (list, tuple)):
                states_shape.append([(batch_size, s) for s in size])
        output_size = getattr(self.cell, "output_size", None)
        if output_size is None:
            output_size = self.state_size[0]
        if not isinstance(output_size, int):
            raise ValueError("output_size must be an integer.")
        if self.return_sequences:
            output_shape = (batch_size, length, output_size)
        else:
            output_shape = (batch_size, output_size)
        if self.return_state:
            return output_shape, *states_shape
        return output_shape

    def compute_mask(self, _, mask):
        mask = flatten(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None for _ in self.state_size]
        return output_mask

    # ---------------------------------------------------------------- build / states
    def build(self, sequences_shape, initial_state_shape=None):
        step_input_shape = (sequences_shape[0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_input_shape)
            self.cell.built = True
            self.cell._build_shapes_dict = {"input_shape": step_input_shape}
        if self.stateful:
            if self.states is not None:
                self.reset_state()
            else:
                if sequences_shape[0] is None:
                    raise ValueError("When using `stateful=True` in a RNN, the batch size "
                                     "must be static. Found dynamic batch size: "
                                     f"sequence.shape={sequences_shape}")
                self._create_state_variables(sequences_shape[0])

    def _create_state_variables(self, batch_size):
        from ...core.tensor import Variable
        initial = self.get_initial_state(batch_size)
        self.states = map_structure(
            lambda v: Variable.create(np.asarray(v, dtype=self.variable_dtype),
                                      name="rnn_state", trainable=False,
                                      path=f"{self.name}/rnn_state"), initial)
        self._expected_batch_size = batch_size

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn:
            init_state = fn(batch_size=batch_size)
        else:
            return [np.zeros((batch_size, d), dtype=self.cell.compute_dtype)
                    for d in self.state_size]
        if not _is_nested(init_state):
            init_state = [init_state]
        return list(init_state)

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        """Zero the states of a stateful layer (no-op otherwise)."""
        if self.states is not None:
            for v in flatten(self.states):
                v.assign(np.zeros_like(v.value))

    # ---------------------------------------------------------------- call
    def _n_timesteps_check(self, sequences):
        if self.unroll and sequences.shape[1] is None:
            raise ValueError("Cannot unroll a RNN if the time dimension is undefined. \n"
                             "- If using a Sequential model, specify the time dimension by "
                             "passing an `Input()` as your first layer.\n- If using the "
                             "functional API, specify the time dimension by passing a "
                             "`shape` or `batch_shape` argument to your `Input()`.")

    def call(self, sequences, initial_state=None, mask=None, training=False):
        sequences = _plain(sequences)
        self._n_timesteps_check(sequences)
        if sequences.ndim < 3:
            raise ValueError(f"Layer '{self.name}' expects a 3D input (batch, timesteps, "
                             f"features). Received: sequences.shape={sequences.shape}")
        batch = sequences.shape[0]
        # The default state of fastmask's cells is zeros: the compiled kernel starts
        # from zeros when given None (no state arrays made and converted per call).
        zero_state = (initial_state is None and not self.stateful
                      and type(self).get_initial_state is RNN.get_initial_state
                      and getattr(self.cell, "_fm_default_state_is_zeros", _no)())
        if initial_state is None and not zero_state:
            if self.stateful:
                initial_state = map_structure(lambda v: v.value, self.states)
            else:
                initial_state = self.get_initial_state(batch_size=batch)
        if self.stateful and self._expected_batch_size is not None \
                and batch != self._expected_batch_size:
            raise ValueError(
                "If an RNN is stateful, the batch size of the input sequences must be the "
                "same as the batch size of the initial state. \n"
                f"- Expected batch size: {self._expected_batch_size}\n"
                f"- Received batch size: {batch}")
        if not zero_state:
            initial_state = self._states_in_compute_dtype(initial_state)
        if mask is not None:
            mask = flatten(mask)[0] if _is_nested(mask) else mask
        if mask is not None:
            mask = as_mask_array(_plain(mask), "mask", f"Layer '{self.name}': ")
            if mask.shape != sequences.shape[:2]:
                raise ValueError(f"Layer '{self.name}': `mask` must have shape (batch, "
                                 f"timesteps) = {sequences.shape[:2]}. "
                                 f"Received: mask.shape={mask.shape}")
            mask = mask.astype(bool, copy=False)

        output, states = self._run(sequences, initial_state, mask, training)
        cdt = np.dtype(self.compute_dtype)
        output = np.asarray(output).astype(cdt, copy=False)
        if not (self.stateful or self.return_state):
            return output
        states = map_structure(lambda s: np.asarray(s).astype(cdt, copy=False), states)
        if self.stateful:
            for var, value in zip(flatten(self.states), flatten(states)):
                var.assign(value)
        if self.return_state:
            return (output, *states)
        return output

    def _states_in_compute_dtype(self, initial_state):
        """initial_state (an array or a list of them) as a list of NumPy arrays of the
        cell's compute dtype."""
        if not _is_nested(initial_state):
            initial_state = [initial_state]
        dtype = self.cell.compute_dtype if isinstance(self.cell, Layer) else self.compute_dtype
        return map_structure(lambda s: np.asarray(_plain(s), dtype=dtype), list(initial_state))

    def _run(self, sequences, initial_state, mask, training):
        """(output (last or sequence), final states): the compiled kernel when the
        cell offers one for this call, else Keras's generic loop. initial_state None:
        the cell's default state (zeros)."""
        fast = getattr(self.cell, "_fm_forward", None)
        if fast is not None:
            res = fast(sequences, initial_state, mask, training, go_backwards=self.go_backwards,
                       return_sequences=self.return_sequences,
                       zero_output_for_mask=self.zero_output_for_mask, unroll=self.unroll)
            if res is not None:
                return res
        if initial_state is None:
            initial_state = self._states_in_compute_dtype(
                self.get_initial_state(batch_size=sequences.shape[0]))
        return self._generic_run(sequences, initial_state, mask, training)

    def _generic_run(self, sequences, initial_state, mask, training):
        cell = self.cell
        kwargs = {}
        if isinstance(cell, Layer) and cell._call_info.has_training:
            kwargs["training"] = training

        def step(inputs, states):
            output, new_states = cell(inputs, states, **kwargs)
            if not _is_nested(new_states):
                new_states = [new_states]
            return output, new_states

        try:
            last, outputs, states = rnn_loop(
                step, sequences, initial_state, go_backwards=self.go_backwards, mask=mask,
                unroll=self.unroll, zero_output_for_mask=self.zero_output_for_mask,
                return_all_outputs=self.return_sequences)
        finally:
            _reset_dropout_masks(cell)
        return (outputs if self.return_sequences else last), states

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = {"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful,
                  "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                  "cell": serialize(self.cell)}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = constructor_config(config)
        cell = deserialize(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


def _reset_dropout_masks(cell):
    if isinstance(cell, DropoutRNNCell):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    if isinstance(cell, StackedRNNCells):
        for c in cell.cells:
            _reset_dropout_masks(c)
