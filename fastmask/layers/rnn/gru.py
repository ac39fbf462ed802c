"""`GRUCell` and `GRU` (Keras 3.15.1 arguments, weights and numbers)."""
from ._base import CELL_ARGS, RNN_ARGS, KernelCell, KernelRNN, arguments
from .rnn import _plain

__all__ = ["GRUCell", "GRU"]


class GRUCell(KernelCell):
    """Cell of the GRU layer (one step): gates z, r, h.

    >>> fastmask.layers.RNN(fastmask.layers.GRUCell(4))(np.ones((2, 3, 5), "float32")).shape
    (2, 4)

    Args: as `LSTMCell` (without `unit_forget_bias`), plus
        reset_after: default True: the reset gate multiplies `h @ R_h + b_h`
            (bias shape (2, 3 * units): row 0 input bias, row 1 recurrent
            bias); False: it multiplies h before `R_h` (bias (3 * units,)).

    Weights: `kernel` (input_dim, 3 * units), `recurrent_kernel`
    (units, 3 * units), `bias`. `call(inputs, states, training=False)`
    returns `(h, [h])`.
    """

    _fm_kernel = "gru"
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**arguments(locals(), CELL_ARGS), **kwargs)
        self._set_implementation(implementation)
        self.reset_after = reset_after

    def build(self, input_shape):
        self._add_kernels(input_shape[-1])
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight(shape=shape, name="bias",
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def call(self, inputs, states, training=False):
        x = _plain(inputs)
        h_tm1 = _plain(states[0] if isinstance(states, (list, tuple)) else states)
        u = self.units
        kernel, rec = self.kernel.value, self.recurrent_kernel.value
        input_bias = recurrent_bias = None
        if self.bias is not None:
            bias = self.bias.value
            if self.reset_after:
                input_bias, recurrent_bias = bias[0], bias[1]
            else:
                input_bias = bias
        if self.implementation == 1:
            (x_z, x_r, x_h), (h_z, h_r, h_h) = self._gate_inputs(x, h_tm1, training)
            x_z = x_z @ kernel[:, :u]
            x_r = x_r @ kernel[:, u:2 * u]
            x_h = x_h @ kernel[:, 2 * u:]
            if input_bias is not None:
                x_z = x_z + input_bias[:u]
                x_r = x_r + input_bias[u:2 * u]
                x_h = x_h + input_bias[2 * u:]
            rec_z = h_z @ rec[:, :u]
            rec_r = h_r @ rec[:, u:2 * u]
            if self.reset_after and recurrent_bias is not None:
                rec_z = rec_z + recurrent_bias[:u]
                rec_r = rec_r + recurrent_bias[u:2 * u]
            z = self.recurrent_activation(x_z + rec_z)
            r = self.recurrent_activation(x_r + rec_r)
            if self.reset_after:
                rec_h = h_h @ rec[:, 2 * u:]
                if recurrent_bias is not None:
                    rec_h = rec_h + recurrent_bias[2 * u:]
                rec_h = r * rec_h
            else:
                rec_h = (r * h_h) @ rec[:, 2 * u:]
            hh = self.activation(x_h + rec_h)
        else:
            if training and 0.0 < self.dropout < 1.0:
                x = x * self.get_dropout_mask(x)
            matrix_x = x @ kernel
            if input_bias is not None:
                matrix_x = matrix_x + input_bias
            x_z, x_r, x_h = matrix_x[:, :u], matrix_x[:, u:2 * u], matrix_x[:, 2 * u:]
            if self.reset_after:
                matrix_inner = h_tm1 @ rec
                if recurrent_bias is not None:
                    matrix_inner = matrix_inner + recurrent_bias
            else:
                matrix_inner = h_tm1 @ rec[:, :2 * u]
            z = self.recurrent_activation(x_z + matrix_inner[:, :u])
            r = self.recurrent_activation(x_r + matrix_inner[:, u:2 * u])
            if self.reset_after:
                rec_h = r * matrix_inner[:, 2 * u:]
            else:
                rec_h = (r * h_tm1) @ rec[:, 2 * u:]
            hh = self.activation(x_h + rec_h)
        h = z * h_tm1 + (1 - z) * hh
        new_state = [h] if isinstance(states, (list, tuple)) else h
        return h, new_state

    def get_config(self):
        base = self._base_config()
        config = {k: v for k, v in base.items() if k != "seed"}
        config["reset_after"] = self.reset_after
        config["seed"] = self.seed
        return {**super().get_config(), **config}


GRUCell._fm_call_impl = staticmethod(GRUCell.call)


class GRU(KernelRNN):
    """Gated Recurrent Unit layer (Cho et al. 2014), masked steps skipped.

    >>> gru = fastmask.layers.GRU(4, return_sequences=True)
    >>> gru(np.random.random((32, 10, 8)).astype("float32")).shape
    (32, 10, 4)

    Args: those of `GRUCell` (`reset_after` default True) plus
    `return_sequences`, `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask` (kwargs, default False) and `use_cudnn` (accepted),
    as in Keras 3. Weights as Keras: `set_weights(keras_gru.get_weights())`.

    Call arguments: `sequences`, `initial_state` (`[h]`), `mask`, `training`.
    Runs the compiled masked GRU kernel (`fastmask.kernels.gru`); Keras's
    step-by-step loop only for dropout in training and float16.
    """

    _cell_keys = ("reset_after",)
    _config_order = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                     "zero_output_for_mask", "units", "activation", "recurrent_activation",
                     "use_bias", "kernel_initializer", "recurrent_initializer",
                     "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                     "bias_regularizer", "activity_regularizer", "kernel_constraint",
                     "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
                     "reset_after", "seed")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        cell = GRUCell(**self._cell_arguments(locals(), kwargs, "gru_cell"),
                       implementation=kwargs.pop("implementation", 2))
        super().__init__(cell, _use_cudnn=use_cudnn, **arguments(locals(), RNN_ARGS), **kwargs)
