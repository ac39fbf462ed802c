"""Port of Keras 3.15.1 keras/src/layers/rnn/gru_test.py.

Keras's numbers come from Constant(0.01/0.02/0.03) initializers; each case
checks fastmask against them and against Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import (assert_numbers, constant_rnn, constant_rnn_case, keras, on_both,
                      run_layer_test, skipped_cases)

SEQ_3_6_4 = np.arange(72).reshape((3, 6, 4)).astype("float32")
SEQ_2_4_3 = np.arange(24).reshape((2, 4, 3)).astype("float32")


def _cols(rows, n):
    return np.repeat(np.array(rows, "float32")[..., None], n, axis=-1)


# keras/src/layers/rnn/gru_test.py::GRUTest::test_basics (dropout, training=True)
@pytest.mark.parametrize("extra", [{"dropout": 0.5}, {"dropout": 0.5, "recurrent_dropout": 0.5}],
                         ids=["dropout", "recurrent_dropout"])
def test_basics_dropout_training(extra):
    run_layer_test(fastmask.layers.GRU, init_kwargs={"units": 3, **extra},
                   input_shape=(3, 2, 4), call_kwargs={"training": True},
                   expected_output_shape=(3, 3), expected_num_trainable_weights=3,
                   expected_num_non_trainable_weights=0, supports_masking=True,
                   compare_with_keras=False)


# keras/src/layers/rnn/gru_test.py::GRUTest::test_basics (regularizers, return_sequences)
def test_basics_regularizers():
    run_layer_test(fastmask.layers.GRU,
                   init_kwargs={"units": 3, "return_sequences": True, "bias_regularizer": "l1",
                                "kernel_regularizer": "l2", "recurrent_regularizer": "l2"},
                   input_shape=(3, 2, 4), expected_output_shape=(3, 2, 3),
                   expected_num_trainable_weights=3, expected_num_non_trainable_weights=0,
                   supports_masking=True)


_DEFAULT = [0.5217289, 0.6371659, 0.39384964]
_CORRECTNESS = {
    "default": ({}, _DEFAULT),
    "go_backwards": ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
    "unroll": ({"unroll": True}, _DEFAULT),
    "reset_before": ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
    "no_bias": ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
}


# keras/src/layers/rnn/gru_test.py::GRUTest::test_correctness (Keras passes `implementation`
# to none of its layers, so both parametrizations are the same case)
@pytest.mark.parametrize("case", list(_CORRECTNESS))
def test_correctness(case):
    kwargs, rows = _CORRECTNESS[case]
    constant_rnn_case("GRU", 3, SEQ_3_6_4, _cols(rows, 3), **kwargs)


# keras/src/layers/rnn/gru_test.py::GRUTest::test_statefulness
def test_statefulness():
    seq = np.arange(24).reshape((2, 3, 4)).astype("float32")
    stated = _cols([0.29542392, 0.5885018], 4)
    layers = {K: constant_rnn(K, "GRU", 4, stateful=True) for K in (fastmask, keras())}
    for _ in range(2):
        outs = {}
        for K, layer in layers.items():
            layer(seq)
            outs[K] = np.asarray(layer(seq))
            layer.reset_state()
        np.testing.assert_allclose(outs[fastmask], stated, atol=1e-6, rtol=1e-6)
        np.testing.assert_allclose(outs[fastmask], outs[keras()], atol=1e-5, rtol=1e-5)


_INITIAL_STATE = np.arange(4).reshape((2, 2)).astype("float32")
_FWD = [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]
_BWD = [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_pass_initial_state
@pytest.mark.parametrize("kwargs,stated", [({}, _FWD), ({"go_backwards": True}, _BWD)],
                         ids=["forward", "go_backwards"])
def test_pass_initial_state(kwargs, stated):
    constant_rnn_case("GRU", 2, SEQ_2_4_3, stated, call_kwargs={"initial_state": _INITIAL_STATE},
                      **kwargs)


# keras/src/layers/rnn/gru_test.py::GRUTest::test_pass_return_state
@pytest.mark.parametrize("kwargs,stated", [({}, _FWD), ({"go_backwards": True}, _BWD)],
                         ids=["forward", "go_backwards"])
def test_pass_return_state(kwargs, stated):
    stated = np.array(stated, "float32")
    output, state = constant_rnn_case("GRU", 2, SEQ_2_4_3, [stated, stated],
                                      call_kwargs={"initial_state": _INITIAL_STATE},
                                      return_state=True, **kwargs)
    np.testing.assert_allclose(output, state, atol=1e-6)


_MASK = np.array([[True, True, False, True], [True, False, False, True]])
_A = [0.03606692, 0.09497581]
_B = 0.16051409


# keras/src/layers/rnn/gru_test.py::GRUTest::test_masking
@pytest.mark.parametrize("kwargs,stated", [
    ({"unroll": True}, _cols([0.19393763, 0.30818558], 2)),
    ({"return_sequences": True},
     _cols([_A + [_A[1], 0.19393763], [_B, _B, _B, 0.30818558]], 2)),
    ({"return_sequences": True, "zero_output_for_mask": True},
     _cols([_A + [0.0, 0.19393763], [_B, 0.0, 0.0, 0.30818558]], 2)),
    ({"go_backwards": True}, _cols([0.11669192, 0.28380975], 2)),
], ids=["unroll", "return_sequences", "zero_output_for_mask", "go_backwards"])
def test_masking(kwargs, stated):
    constant_rnn_case("GRU", 2, SEQ_2_4_3, stated, call_kwargs={"mask": _MASK}, **kwargs)


# keras/src/layers/rnn/gru_test.py::GRUTest::test_legacy_implementation_argument
def test_legacy_implementation_argument():
    def run(K):
        config = constant_rnn(K, "GRU", 3).get_config()
        config["implementation"] = 0
        return K.layers.GRU.from_config(config)(SEQ_3_6_4)
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=_cols(_DEFAULT, 3))


test_not_ported = skipped_cases([
    ("GRUTest::test_stateful_with_symbolic_batch_size", "backend", "tf.function"),
    ("GRUTest::test_torch_cudnn_dispatch_fires", "backend", "torch cuDNN on CUDA"),
])
