"""`SimpleRNNCell` and `SimpleRNN` (Keras 3.15.1 arguments, weights and numbers)."""
from ._base import CELL_ARGS, RNN_ARGS, KernelCell, KernelRNN, arguments
from .rnn import _plain

__all__ = ["SimpleRNNCell", "SimpleRNN"]


class SimpleRNNCell(KernelCell):
    """Cell of the SimpleRNN layer: `h' = activation((x @ K + b) + h @ R)`.

    >>> fastmask.layers.RNN(fastmask.layers.SimpleRNNCell(4))(np.ones((2, 3, 5), "f")).shape
    (2, 4)

    Args: as `LSTMCell` without `recurrent_activation` and `unit_forget_bias`.
    Weights: `kernel` (input_dim, units), `recurrent_kernel` (units, units),
    `bias` (units,). `call(sequence, states, training=False)` returns `(h, [h])`.
    """

    _fm_kernel = "simple_rnn"

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(recurrent_activation=None, **arguments(locals(), CELL_ARGS), **kwargs)

    def build(self, input_shape):
        self._add_kernels(input_shape[-1])
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias",
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def call(self, sequence, states, training=False):
        prev_output = _plain(states[0] if isinstance(states, (list, tuple)) else states)
        x = _plain(sequence)
        dp_mask = self.get_dropout_mask(x)
        rec_dp_mask = self.get_recurrent_dropout_mask(prev_output)
        if training and dp_mask is not None:
            x = x * dp_mask
        h = x @ self.kernel.value
        if self.bias is not None:
            h = h + self.bias.value
        if training and rec_dp_mask is not None:
            prev_output = prev_output * rec_dp_mask
        output = h + prev_output @ self.recurrent_kernel.value
        if self.activation is not None:
            output = self.activation(output)
        new_state = [output] if isinstance(states, (list, tuple)) else output
        return output, new_state

    def get_config(self):
        base = self._base_config()
        base.pop("recurrent_activation")
        return {**super().get_config(), **base}


SimpleRNNCell._fm_call_impl = staticmethod(SimpleRNNCell.call)


class SimpleRNN(KernelRNN):
    """Fully-connected RNN whose output is fed back as input, masked steps skipped.

    >>> rnn = fastmask.layers.SimpleRNN(4, return_sequences=True, return_state=True)
    >>> seq, h = rnn(np.random.random((32, 10, 8)).astype("float32"))
    >>> seq.shape, h.shape
    ((32, 10, 4), (32, 4))

    Args: those of `SimpleRNNCell` plus `return_sequences`, `return_state`,
    `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask` (kwargs),
    as in Keras 3. Runs the compiled masked kernel (`fastmask.kernels.simple_rnn`).
    """

    _config_order = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                     "zero_output_for_mask", "units", "activation", "use_bias",
                     "kernel_initializer", "recurrent_initializer", "bias_initializer",
                     "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                     "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                     "bias_constraint", "dropout", "recurrent_dropout")  # no seed: as Keras

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        cell = SimpleRNNCell(**self._cell_arguments(locals(), kwargs, "simple_rnn_cell"))
        super().__init__(cell, **arguments(locals(), RNN_ARGS), **kwargs)
