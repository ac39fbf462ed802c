"""The two test cells of Keras 3.15.1 keras/src/layers/rnn/rnn_test.py, for either library.

`OneStateRNNCell` / `TwoStatesRNNCell` with all-ones weights, written against
`K` (fastmask or keras) so that the same cell runs in both.
"""
from types import SimpleNamespace


def define_cells(K):
    class OneStateRNNCell(K.layers.Layer):
        def __init__(self, units, state_size=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = state_size if state_size else units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="ones", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="ones", name="recurrent_kernel")

        def call(self, inputs, states):
            output = K.ops.matmul(inputs, self.kernel) + K.ops.matmul(states[0],
                                                                      self.recurrent_kernel)
            return output, [output]

    class TwoStatesRNNCell(K.layers.Layer):
        def __init__(self, units, state_size=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = state_size if state_size else [units, units]
            self.output_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="ones", name="kernel")
            self.recurrent_kernel_1 = self.add_weight(
                shape=(self.units, self.units), initializer="ones", name="recurrent_kernel_1")
            self.recurrent_kernel_2 = self.add_weight(
                shape=(self.units, self.units), initializer="ones", name="recurrent_kernel_2")

        def call(self, inputs, states):
            h = K.ops.matmul(inputs, self.kernel)
            output_1 = h + K.ops.matmul(states[0], self.recurrent_kernel_1)
            output_2 = h + K.ops.matmul(states[0], self.recurrent_kernel_2)
            return output_1 + output_2, [output_1, output_2]

    return SimpleNamespace(OneStateRNNCell=OneStateRNNCell, TwoStatesRNNCell=TwoStatesRNNCell)
