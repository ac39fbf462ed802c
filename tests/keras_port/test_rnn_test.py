"""Port of Keras 3.15.1 keras/src/layers/rnn/rnn_test.py.

Keras's two test cells (all-ones weights) are written once for each library
(`define_cells`); the numbers Keras states are checked on fastmask and on Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import (assert_numbers, keras, on_both, run_class_serialization_test,
                      run_layer_test)
from _rnn_cells import define_cells


FM = define_cells(fastmask)
KC = define_cells(keras())


def _cells(K):
    return FM if K is fastmask else KC


_BASICS = [
    ("one_state_int", "OneStateRNNCell", {"state_size": 5}, {}, (3, 5), 2),
    ("one_state_list", "OneStateRNNCell", {"state_size": [5]}, {}, (3, 5), 2),
    ("one_state_tuple", "OneStateRNNCell", {"state_size": (5,)}, {}, (3, 5), 2),
    ("one_state_sequences", "OneStateRNNCell", {}, {"return_sequences": True}, (3, 2, 5), 2),
    ("one_state_backwards_unroll", "OneStateRNNCell", {},
     {"go_backwards": True, "unroll": True}, (3, 5), 2),
    ("two_states_list", "TwoStatesRNNCell", {"state_size": [5, 5]}, {}, (3, 5), 3),
    ("two_states_tuple", "TwoStatesRNNCell", {"state_size": (5, 5)}, {}, (3, 5), 3),
    ("two_states_sequences", "TwoStatesRNNCell", {}, {"return_sequences": True}, (3, 2, 5), 3),
]


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_basics
@pytest.mark.parametrize("cell,cell_kwargs,rnn_kwargs,out_shape,n_weights",
                         [c[1:] for c in _BASICS], ids=[c[0] for c in _BASICS])
def test_basics(cell, cell_kwargs, rnn_kwargs, out_shape, n_weights):
    run_layer_test(
        fastmask.layers.RNN,
        init_kwargs={"cell": getattr(FM, cell)(5, **cell_kwargs), **rnn_kwargs},
        keras_init_kwargs={"cell": getattr(KC, cell)(5, **cell_kwargs), **rnn_kwargs},
        input_shape=(3, 2, 4), expected_output_shape=out_shape,
        expected_num_trainable_weights=n_weights, expected_num_non_trainable_weights=0,
        supports_masking=True, custom_objects={cell: getattr(FM, cell)},
        keras_custom_objects={cell: getattr(KC, cell)})


def _shapes(cell, input_shape, n_states):
    """(return_sequences, return_state) -> expected compute_output_shape."""
    b, t = input_shape[0], input_shape[1]
    results = []
    for seq in (False, True):
        for state in (False, True):
            layer = fastmask.layers.RNN(getattr(FM, cell)(8), return_sequences=seq,
                                        return_state=state)
            out = layer.compute_output_shape(input_shape)
            first = (b, t, 8) if seq else (b, 8)
            results.append((out, first if not state else [first] + [(b, 8)] * n_states))
    return results


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_compute_output_shape_single_state
def test_compute_output_shape_single_state():
    for got, want in _shapes("OneStateRNNCell", (3, 4, 5), 1):
        assert (tuple(got) if isinstance(want, tuple) else [tuple(s) for s in got]) == want


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_compute_output_shape_two_states
def test_compute_output_shape_two_states():
    for got, want in _shapes("TwoStatesRNNCell", (3, 4, 5), 2):
        assert (tuple(got) if isinstance(want, tuple) else [tuple(s) for s in got]) == want


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_dynamic_shapes
def test_dynamic_shapes():
    for cell, n in (("OneStateRNNCell", 1), ("TwoStatesRNNCell", 2)):
        for got, want in _shapes(cell, (None, None, 3), n):
            assert (tuple(got) if isinstance(want, tuple) else [tuple(s) for s in got]) == want


def _rnn_outputs(cell, x, call_kwargs=None, stateful_calls=1, **rnn_kwargs):
    def run(K):
        layer = K.layers.RNN(getattr(_cells(K), cell)(2), **rnn_kwargs)
        out = None
        for _ in range(stateful_calls):
            out = layer(x, **(call_kwargs or {}))
        return out
    return on_both(run)


def _check(cell, x, stated, **kwargs):
    fm, k = _rnn_outputs(cell, x, **kwargs)
    stated = [np.array(s, "float32") for s in stated] if isinstance(fm, (list, tuple)) \
        else np.array(stated, "float32")
    assert_numbers(fm, k, stated=stated)


ONES = np.ones((1, 2, 3))


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_forward_pass_single_state
@pytest.mark.parametrize("seq,state", [(False, False), (True, False), (False, True), (True, True)])
def test_forward_pass_single_state(seq, state):
    out = [[[3.0, 3.0], [9.0, 9.0]]] if seq else [[9.0, 9.0]]
    stated = [out, [[9.0, 9.0]]] if state else out
    _check("OneStateRNNCell", ONES, stated, return_sequences=seq, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_forward_pass_two_states
@pytest.mark.parametrize("seq,state", [(False, False), (True, False), (False, True), (True, True)])
def test_forward_pass_two_states(seq, state):
    out = [[[6.0, 6.0], [18.0, 18.0]]] if seq else [[18.0, 18.0]]
    stated = [out, [[9.0, 9.0]], [[9.0, 9.0]]] if state else out
    _check("TwoStatesRNNCell", ONES, stated, return_sequences=seq, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_passing_initial_state_single_state
@pytest.mark.parametrize("state", [False, True])
def test_passing_initial_state_single_state(state):
    out = [[22.0, 22.0], [22.0, 22.0]]
    _check("OneStateRNNCell", np.ones((2, 3, 2)), [out, out] if state else out,
           call_kwargs={"initial_state": np.ones((2, 2))}, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_passing_initial_state_two_states
@pytest.mark.parametrize("state", [False, True])
def test_passing_initial_state_two_states(state):
    out, st = [[44.0, 44.0], [44.0, 44.0]], [[22.0, 22.0], [22.0, 22.0]]
    _check("TwoStatesRNNCell", np.ones((2, 3, 2)), [out, st, st] if state else out,
           call_kwargs={"initial_state": [np.ones((2, 2)), np.ones((2, 2))]}, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_statefulness_single_state
@pytest.mark.parametrize("state", [False, True])
def test_statefulness_single_state(state):
    out = [[45.0, 45.0]]
    _check("OneStateRNNCell", ONES, [out, out] if state else out, stateful_calls=2,
           stateful=True, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_statefulness_two_states
@pytest.mark.parametrize("state", [False, True])
def test_statefulness_two_states(state):
    out, st = [[90.0, 90.0]], [[45.0, 45.0]]
    _check("TwoStatesRNNCell", ONES, [out, st, st] if state else out, stateful_calls=2,
           stateful=True, return_state=state)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_go_backwards
def test_go_backwards():
    seq = np.arange(24).reshape((2, 3, 4)).astype("float32")
    _check("OneStateRNNCell", seq, [[202.0, 202.0], [538.0, 538.0]], stateful_calls=2,
           go_backwards=True)
    out = [[954.0, 954.0], [3978.0, 3978.0]]
    _check("OneStateRNNCell", seq, [out, out], stateful_calls=2, stateful=True, return_state=True)


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_serialization
def test_serialization():
    for cell in ("TwoStatesRNNCell", "OneStateRNNCell"):
        layer = fastmask.layers.RNN(getattr(FM, cell)(2), return_sequences=False)
        run_class_serialization_test(layer, custom_objects={cell: getattr(FM, cell)})


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_stateful_batch_size_mismatch_raises
def test_stateful_batch_size_mismatch_raises():
    layer = fastmask.layers.RNN(FM.TwoStatesRNNCell(2), stateful=True)
    inputs = fastmask.layers.Input(shape=(5, 3), batch_size=4)
    model = fastmask.models.Functional(inputs, layer(inputs))
    rng = np.random.default_rng(0)
    model(rng.random((4, 5, 3)))
    with pytest.raises(ValueError, match="batch size"):
        model(rng.random((1, 5, 3)))


_MASKED_SEQ = [[[3.0, 3.0], [18.0, 18.0], [57.0, 57.0], [57.0, 57.0]],
               [[39.0, 39.0], [126.0, 126.0], [126.0, 126.0], [126.0, 126.0]]]


# keras/src/layers/rnn/rnn_test.py::RNNTest::test_masking
@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("seq", [False, True])
def test_masking(seq, unroll):
    x = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    stated = _MASKED_SEQ if seq else [[57.0, 57.0], [126.0, 126.0]]
    _check("OneStateRNNCell", x, stated, call_kwargs={"mask": mask}, return_sequences=seq,
           unroll=unroll)
