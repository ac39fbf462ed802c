"""Port of Keras 3.15.1 keras/src/layers/rnn/stacked_rnn_cells_test.py.

A list of cells given to `RNN` is stacked (`StackedRNNCells`). The numbers
Keras states (all-ones test cells) are checked on fastmask and on Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test
from _rnn_cells import define_cells

FM = define_cells(fastmask)
KC = define_cells(keras())
SEQ = np.arange(24).reshape((2, 3, 4)).astype("float32")


def _cells(K):
    return FM if K is fastmask else KC


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_basics (custom cells)
@pytest.mark.parametrize("cell,n_weights", [("OneStateRNNCell", 6), ("TwoStatesRNNCell", 9)])
@pytest.mark.parametrize("seq", [False, True], ids=["last", "sequences"])
def test_basics_custom_cells(cell, n_weights, seq):
    def kwargs(K):
        return {"cell": [getattr(_cells(K), cell)(n) for n in (3, 4, 5)],
                "return_sequences": seq}
    run_layer_test(fastmask.layers.RNN, init_kwargs=kwargs(fastmask),
                   keras_init_kwargs=kwargs(keras()), input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 5) if seq else (2, 5),
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0, supports_masking=True,
                   custom_objects={cell: getattr(FM, cell)},
                   keras_custom_objects={cell: getattr(KC, cell)})


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_basics (built-in cells
# with dropout; Keras's call is not in training mode, so outputs are deterministic)
@pytest.mark.parametrize("cell", ["SimpleRNNCell", "GRUCell", "LSTMCell"])
def test_basics_builtin_cells_dropout(cell):
    def kwargs(K):
        return {"cell": [getattr(K.layers, cell)(n, dropout=0.1, recurrent_dropout=0.1)
                         for n in (3, 4, 5)], "return_sequences": True}
    run_layer_test(fastmask.layers.RNN, init_kwargs=kwargs(fastmask),
                   keras_init_kwargs=kwargs(keras()), input_shape=(2, 3, 4),
                   expected_output_shape=(2, 3, 5), expected_num_trainable_weights=9,
                   expected_num_non_trainable_weights=0, supports_masking=True)


def _stack_case(cell, stated, stateful_calls=1, **rnn_kwargs):
    def run(K):
        cells = _cells(K)
        layer = K.layers.RNN([getattr(cells, cell)(3), getattr(cells, cell)(2)], **rnn_kwargs)
        out = None
        for _ in range(stateful_calls):
            out = layer(SEQ)
        return out
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=stated)
    return fm


_LAST1 = np.array([[786.0, 786.0], [4386.0, 4386.0]], "float32")
_SEQ1 = np.array([[[18.0, 18.0], [156.0, 156.0], [786.0, 786.0]],
                  [[162.0, 162.0], [1020.0, 1020.0], [4386.0, 4386.0]]], "float32")
_STATE1 = np.array([[158.0, 158.0, 158.0], [782.0, 782.0, 782.0]], "float32")


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_correctness_single_state_stack
@pytest.mark.parametrize("seq", [False, True], ids=["last", "sequences"])
@pytest.mark.parametrize("state", [False, True], ids=["no_state", "return_state"])
def test_correctness_single_state_stack(seq, state):
    out = _SEQ1 if seq else _LAST1
    _stack_case("OneStateRNNCell", [out, _STATE1, _LAST1] if state else out,
                return_sequences=seq, return_state=state)


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_correctness_two_states_stack
@pytest.mark.parametrize("case", ["last", "sequences", "return_state"])
def test_correctness_two_states_stack(case):
    last = np.array([[3144.0, 3144.0], [17544.0, 17544.0]], "float32")
    if case == "last":
        _stack_case("TwoStatesRNNCell", last)
    elif case == "sequences":
        _stack_case("TwoStatesRNNCell",
                    np.array([[[72.0, 72.0], [624.0, 624.0], [3144.0, 3144.0]],
                              [[648.0, 648.0], [4080.0, 4080.0], [17544.0, 17544.0]]], "float32"),
                    return_sequences=True)
    else:
        s2 = np.array([[1572.0, 1572.0], [8772.0, 8772.0]], "float32")
        _stack_case("TwoStatesRNNCell", [last, [_STATE1, _STATE1], [s2, s2]], return_state=True)


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_statefullness_single_state_stack
def test_statefullness_single_state_stack():
    _stack_case("OneStateRNNCell", np.array([[34092.0, 34092.0], [173196.0, 173196.0]], "float32"),
                stateful_calls=2, stateful=True)


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_statefullness_two_states_stack
def test_statefullness_two_states_stack():
    _stack_case("TwoStatesRNNCell",
                np.array([[136368.0, 136368.0], [692784.0, 692784.0]], "float32"),
                stateful_calls=2, stateful=True)


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_return_state_stacked_lstm_cell
def test_return_state_stacked_lstm_cell():
    layer = fastmask.layers.RNN([fastmask.layers.LSTMCell(10), fastmask.layers.LSTMCell(10)],
                                return_state=True)
    out = layer(np.zeros((2, 3, 5)))
    assert len(out) == 3
    assert out[0].shape == (2, 10)
    for i in (1, 2):
        assert out[i][0].shape == (2, 10) and out[i][1].shape == (2, 10)
    shape = layer.compute_output_shape((2, 3, 5))
    assert len(shape) == 3 and tuple(shape[0]) == (2, 10)
    for i in (1, 2):
        assert tuple(shape[i][0]) == (2, 10) and tuple(shape[i][1]) == (2, 10)


# keras/src/layers/rnn/stacked_rnn_cells_test.py::StackedRNNTest::test_stacked_lstm_cell_mask
def test_stacked_lstm_cell_mask():
    mask = np.array([[True, True, True], [True, True, False]])

    def run(K):
        cells = [K.layers.LSTMCell(units=1, kernel_initializer="ones",
                                   recurrent_initializer="ones") for _ in range(2)]
        return K.layers.RNN(cells)(np.ones((2, 3, 4)), mask=mask)
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=np.array([[0.7793], [0.5998]]), stated_atol=1e-4)
