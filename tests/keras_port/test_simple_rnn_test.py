"""Port of Keras 3.15.1 keras/src/layers/rnn/simple_rnn_test.py.

Keras's numbers come from Constant(0.01/0.02/0.03) initializers; each case
checks fastmask against them and against Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import constant_rnn, constant_rnn_case, keras, run_layer_test, xfail

SEQ_2_3_4 = np.arange(24).reshape((2, 3, 4)).astype("float32")
SEQ_2_4_3 = np.arange(24).reshape((2, 4, 3)).astype("float32")


def _cols(rows, n):
    return np.repeat(np.array(rows, "float32")[..., None], n, axis=-1)


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_basics (dropout, training=True)
@xfail("api: no seed-generator state variable: Keras counts one non_trainable_variable for the "
       "dropout RNG (not saved in weight files)")
def test_basics_dropout_training():
    run_layer_test(fastmask.layers.SimpleRNN,
                   init_kwargs={"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5},
                   input_shape=(3, 2, 4), call_kwargs={"training": True},
                   expected_output_shape=(3, 3), expected_num_trainable_weights=3,
                   expected_num_non_trainable_weights=0, expected_num_non_trainable_variables=1,
                   supports_masking=True, compare_with_keras=False)


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_basics (regularizers)
def test_basics_regularizers():
    run_layer_test(fastmask.layers.SimpleRNN,
                   init_kwargs={"units": 3, "return_sequences": True, "bias_regularizer": "l1",
                                "kernel_regularizer": "l2", "recurrent_regularizer": "l2"},
                   input_shape=(3, 2, 4), expected_output_shape=(3, 2, 3),
                   expected_num_trainable_weights=3, expected_num_non_trainable_weights=0,
                   supports_masking=True)


_FWD, _BWD = [0.405432, 0.73605347], [0.11144729, 0.5528889]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_correctness
@pytest.mark.parametrize("kwargs,rows", [
    ({}, _FWD), ({"unroll": True}, _FWD), ({"go_backwards": True}, _BWD),
    ({"go_backwards": True, "unroll": True}, _BWD)],
    ids=["default", "unroll", "go_backwards", "go_backwards_unroll"])
def test_correctness(kwargs, rows):
    constant_rnn_case("SimpleRNN", 4, SEQ_2_3_4, _cols(rows, 4), **kwargs)


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_statefulness
def test_statefulness():
    stated = _cols([0.40559256, 0.7361247], 4)
    layers = {K: constant_rnn(K, "SimpleRNN", 4, stateful=True) for K in (fastmask, keras())}
    for _ in range(2):
        outs = {}
        for K, layer in layers.items():
            layer(SEQ_2_3_4)
            outs[K] = np.asarray(layer(SEQ_2_3_4))
            layer.reset_state()
        np.testing.assert_allclose(outs[fastmask], stated, atol=1e-6, rtol=1e-6)
        np.testing.assert_allclose(outs[fastmask], outs[keras()], atol=1e-5, rtol=1e-5)


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_pass_initial_state
@pytest.mark.parametrize("kwargs,rows", [
    ({}, [0.33621645, 0.6262637]), ({"go_backwards": True}, [0.07344437, 0.43043602])],
    ids=["forward", "go_backwards"])
def test_pass_initial_state(kwargs, rows):
    initial_state = np.arange(8).reshape((2, 4)).astype("float32")
    constant_rnn_case("SimpleRNN", 4, SEQ_2_4_3, _cols(rows, 4),
                      call_kwargs={"initial_state": initial_state}, **kwargs)


_MASK = np.array([[True, True, False, True], [True, False, False, True]])
_A, _B = [0.0599281, 0.15122814], 0.3969304


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_masking
@pytest.mark.parametrize("units,kwargs,stated", [
    (4, {"unroll": True}, _cols([0.32951632, 0.61799484], 4)),
    (2, {"return_sequences": True},
     _cols([_A + [_A[1], 0.32394567], [_B, _B, _B, 0.608085]], 2)),
    (2, {"return_sequences": True, "zero_output_for_mask": True},
     _cols([_A + [0.0, 0.32394567], [_B, 0.0, 0.0, 0.608085]], 2)),
    (4, {"go_backwards": True}, _cols([0.07376196, 0.43645123], 4)),
], ids=["unroll", "return_sequences", "zero_output_for_mask", "go_backwards"])
def test_masking(units, kwargs, stated):
    constant_rnn_case("SimpleRNN", units, SEQ_2_4_3, stated, call_kwargs={"mask": _MASK},
                      **kwargs)
