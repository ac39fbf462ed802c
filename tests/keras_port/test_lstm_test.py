"""Port of Keras 3.15.1 keras/src/layers/rnn/lstm_test.py.

Keras's numbers come from Constant(0.01/0.02/0.03) initializers; each case
checks fastmask against them (Keras's tolerance, 1e-5) and against Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import constant_rnn, constant_rnn_case, keras, run_layer_test

SEQ_3_6_4 = np.arange(72).reshape((3, 6, 4)).astype("float32")
SEQ_2_4_3 = np.arange(24).reshape((2, 4, 3)).astype("float32")
TOL = {"stated_atol": 1e-5, "stated_rtol": 1e-5}


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_basics (dropout, training=True)
@pytest.mark.parametrize("extra", [{"dropout": 0.5}, {"dropout": 0.5, "recurrent_dropout": 0.5}],
                         ids=["dropout", "recurrent_dropout"])
def test_basics_dropout_training(extra):
    run_layer_test(fastmask.layers.LSTM, init_kwargs={"units": 3, **extra},
                   input_shape=(3, 2, 4), call_kwargs={"training": True},
                   expected_output_shape=(3, 3), expected_num_trainable_weights=3,
                   expected_num_non_trainable_weights=0, supports_masking=True,
                   compare_with_keras=False)


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_basics (regularizers, return_sequences)
def test_basics_regularizers():
    run_layer_test(fastmask.layers.LSTM,
                   init_kwargs={"units": 3, "return_sequences": True, "bias_regularizer": "l1",
                                "kernel_regularizer": "l2", "recurrent_regularizer": "l2"},
                   input_shape=(3, 2, 4), expected_output_shape=(3, 2, 3),
                   expected_num_trainable_weights=3, expected_num_non_trainable_weights=0,
                   supports_masking=True)


_CORRECTNESS = {
    "default": ({}, [0.6288687, 0.86899155, 0.9460773]),
    "go_backwards": ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    "unroll": ({"unroll": True}, [0.6288687, 0.86899155, 0.9460773]),
    "no_unit_forget_bias": ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
    "no_bias": ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
}


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_correctness
@pytest.mark.parametrize("implementation", [1, 2])
@pytest.mark.parametrize("case", list(_CORRECTNESS))
def test_correctness(case, implementation):
    kwargs, rows = _CORRECTNESS[case]
    stated = np.repeat(np.array(rows, "float32")[:, None], 3, axis=1)
    constant_rnn_case("LSTM", 3, SEQ_3_6_4, stated, implementation=implementation, **kwargs,
                      **TOL)


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_statefulness
def test_statefulness():
    seq = np.arange(24).reshape((2, 3, 4)).astype("float32")
    stated = np.repeat(np.array([0.3124785, 0.6863672], "float32")[:, None], 4, axis=1)
    layers = {K: constant_rnn(K, "LSTM", 4, stateful=True) for K in (fastmask, keras())}
    for _ in range(2):
        outs = {}
        for K, layer in layers.items():
            layer(seq)
            outs[K] = np.asarray(layer(seq))
            layer.reset_state()
        np.testing.assert_allclose(outs[fastmask], stated, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(outs[fastmask], outs[keras()], atol=1e-5, rtol=1e-5)


_INITIAL_STATE = [np.arange(4).reshape((2, 2)).astype("float32")] * 2


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_pass_initial_state
@pytest.mark.parametrize("kwargs,stated", [
    ({}, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    ({"go_backwards": True}, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
], ids=["forward", "go_backwards"])
def test_pass_initial_state(kwargs, stated):
    constant_rnn_case("LSTM", 2, SEQ_2_4_3, stated, call_kwargs={"initial_state": _INITIAL_STATE},
                      **kwargs, **TOL)


_MASK = np.array([[True, True, True, False], [True, True, False, False]])
_A, _B = [0.01588910, 0.05552048, 0.11755939], [0.14185596, 0.28556206]


def _pairs(rows):
    return np.repeat(np.array(rows, "float32")[..., None], 2, axis=-1)


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_masking
@pytest.mark.parametrize("kwargs,mask,stated", [
    ({"unroll": True}, _MASK, _pairs([0.11755939, 0.28556206])),
    ({"return_sequences": True}, _MASK,
     _pairs([_A + [_A[2]], _B + [_B[1]] * 2])),
    ({"return_sequences": True, "zero_output_for_mask": True}, _MASK,
     _pairs([_A + [0.0], _B + [0.0, 0.0]])),
    ({"go_backwards": True}, np.array([[False, True, True, True], [False, False, True, True]]),
     _pairs([0.15341201, 0.3844719])),
], ids=["unroll", "return_sequences", "zero_output_for_mask", "go_backwards"])
def test_masking(kwargs, mask, stated):
    constant_rnn_case("LSTM", 2, SEQ_2_4_3, stated, call_kwargs={"mask": mask}, **kwargs, **TOL)
