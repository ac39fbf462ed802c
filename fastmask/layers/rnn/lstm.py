"""`LSTMCell` and `LSTM` (Keras 3.15.1 arguments, weights and numbers)."""
import numpy as np

from ._base import CELL_ARGS, RNN_ARGS, KernelCell, KernelRNN, arguments
from .rnn import _plain

__all__ = ["LSTMCell", "LSTM"]


class LSTMCell(KernelCell):
    """Cell of the LSTM layer (one step): gates i, f, c, o.

    >>> cell = fastmask.layers.LSTMCell(4)
    >>> fastmask.layers.RNN(cell)(np.ones((2, 3, 5), "float32")).shape
    (2, 4)

    Args:
        units: positive int, dimensionality of the output space.
        activation: default "tanh" (None: linear).
        recurrent_activation: default "sigmoid".
        use_bias: default True.
        kernel_initializer, recurrent_initializer, bias_initializer: default
            "glorot_uniform", "orthogonal", "zeros".
        unit_forget_bias: default True: the forget-gate block of the bias is
            initialized to ones.
        kernel_regularizer, ..., bias_constraint: accepted and stored.
        dropout, recurrent_dropout: fractions dropped in training.
        seed: seed of the dropout masks.

    Weights: `kernel` (input_dim, 4 * units), `recurrent_kernel`
    (units, 4 * units), `bias` (4 * units,), gate blocks i, f, c, o.
    `call(inputs, states, training=False)` returns `(h, [h, c])`.
    """

    _fm_kernel = "lstm"
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**arguments(locals(), CELL_ARGS), **kwargs)
        self._set_implementation(implementation)
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        self._add_kernels(input_shape[-1])
        if self.use_bias:
            if self.unit_forget_bias:
                base = self.bias_initializer
                u = self.units

                def bias_initializer(shape, dtype=None):
                    return np.concatenate([np.asarray(base((u,), dtype=dtype)),
                                           np.ones((u,), dtype=dtype),
                                           np.asarray(base((2 * u,), dtype=dtype))])
            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(shape=(4 * self.units,), name="bias",
                                        initializer=bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def call(self, inputs, states, training=False):
        x = _plain(inputs)
        h_tm1, c_tm1 = _plain(states[0]), _plain(states[1])
        u = self.units
        kernel, rec = self.kernel.value, self.recurrent_kernel.value
        bias = None if self.bias is None else self.bias.value
        if self.implementation == 1:
            xs, hs = self._gate_inputs(x, h_tm1, training)
            xz = [xs[j] @ kernel[:, j * u:(j + 1) * u] for j in range(4)]
            if bias is not None:
                xz = [xz[j] + bias[j * u:(j + 1) * u] for j in range(4)]
            i = self.recurrent_activation(xz[0] + hs[0] @ rec[:, :u])
            f = self.recurrent_activation(xz[1] + hs[1] @ rec[:, u:2 * u])
            c = f * c_tm1 + i * self.activation(xz[2] + hs[2] @ rec[:, 2 * u:3 * u])
            o = self.recurrent_activation(xz[3] + hs[3] @ rec[:, 3 * u:])
        else:
            if training and 0.0 < self.dropout < 1.0:
                x = x * self.get_dropout_mask(x)
            z = x @ kernel
            z = z + h_tm1 @ rec
            if bias is not None:
                z = z + bias
            i = self.recurrent_activation(z[:, :u])
            f = self.recurrent_activation(z[:, u:2 * u])
            c = f * c_tm1 + i * self.activation(z[:, 2 * u:3 * u])
            o = self.recurrent_activation(z[:, 3 * u:])
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        base = self._base_config()
        head = ("units", "activation", "recurrent_activation", "use_bias")
        config = {k: base[k] for k in head}
        config["unit_forget_bias"] = self.unit_forget_bias
        config.update((k, v) for k, v in base.items() if k not in head)
        return {**super().get_config(), **config}


LSTMCell._fm_call_impl = staticmethod(LSTMCell.call)


class LSTM(KernelRNN):
    """Long Short-Term Memory layer (Hochreiter 1997), masked steps skipped.

    >>> lstm = fastmask.layers.LSTM(4, return_sequences=True, return_state=True)
    >>> seq, h, c = lstm(np.random.random((32, 10, 8)).astype("float32"))
    >>> seq.shape, h.shape, c.shape
    ((32, 10, 4), (32, 4), (32, 4))

    Args: those of `LSTMCell` plus `return_sequences`, `return_state`,
    `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask` (via kwargs,
    default False) and `use_cudnn` (accepted; there is no GPU path), as in
    Keras 3. `set_weights(keras_lstm.get_weights())` reproduces Keras's outputs.

    Call arguments: `sequences` (batch, timesteps, features); `initial_state`
    `[h, c]`; `mask` (batch, timesteps) bool; `training`.
    Output: (batch, units), or (batch, timesteps, units) with
    `return_sequences`; plus `h, c` with `return_state`. With
    `return_sequences` the output carries the input mask.

    Runs the compiled masked LSTM kernel (`fastmask.kernels.lstm`): no work at
    masked steps, OpenMP threads, float32/float64. Keras's step-by-step loop
    (same numbers) is used only for dropout in training and float16.
    """

    _cell_keys = ("unit_forget_bias",)
    _config_order = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                     "zero_output_for_mask", "units", "activation", "recurrent_activation",
                     "use_bias", "kernel_initializer", "recurrent_initializer",
                     "bias_initializer", "unit_forget_bias", "kernel_regularizer",
                     "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                     "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                     "recurrent_dropout", "seed")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        cell = LSTMCell(**self._cell_arguments(locals(), kwargs, "lstm_cell"),
                        implementation=kwargs.pop("implementation", 2))
        super().__init__(cell, _use_cudnn=use_cudnn, **arguments(locals(), RNN_ARGS), **kwargs)

