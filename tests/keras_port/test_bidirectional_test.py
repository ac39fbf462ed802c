"""Port of Keras 3.15.1 keras/src/layers/rnn/bidirectional_test.py.

Numbers come from Constant initializers; each case checks fastmask against
the numbers Keras states and against Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import (assert_numbers, constant_rnn, copy_weights, keras, on_both,
                      run_layer_test, skipped_cases)

SEQ_2_3_4 = np.arange(24).reshape((2, 3, 4)).astype("float32")
SEQ_2_4_3 = np.arange(24).reshape((2, 4, 3)).astype("float32")


def _f32(x):
    return np.array(x, "float32")


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_basics (concat)
def test_basics_concat():
    run_layer_test(fastmask.layers.Bidirectional,
                   init_kwargs={"layer": fastmask.layers.SimpleRNN(4)},
                   keras_init_kwargs={"layer": keras().layers.SimpleRNN(4)},
                   input_shape=(3, 2, 4), expected_output_shape=(3, 8),
                   expected_num_trainable_weights=6, expected_num_non_trainable_weights=0,
                   supports_masking=True)


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_basics (backward_layer, sum)
def test_basics_backward_layer_sum():
    def kwargs(K):
        return {"layer": K.layers.SimpleRNN(4),
                "backward_layer": K.layers.SimpleRNN(4, go_backwards=True), "merge_mode": "sum"}
    run_layer_test(fastmask.layers.Bidirectional, init_kwargs=kwargs(fastmask),
                   keras_init_kwargs=kwargs(keras()), input_shape=(3, 2, 4),
                   expected_output_shape=(3, 4), expected_num_trainable_weights=6,
                   expected_num_non_trainable_weights=0, supports_masking=True)


_FWD = [[0.39687276, 0.39687276], [0.7237238, 0.7237238]]
_BWD = [[0.10004295, 0.10004295], [0.53391594, 0.53391594]]


def _bidi_case(make, x, stated, call_kwargs=None, stateful_calls=1):
    def run(K):
        layer = make(K)
        out = None
        for _ in range(stateful_calls):
            out = layer(x, **(call_kwargs or {}))
        return out
    fm, k = on_both(run)
    stated = [_f32(s) for s in stated] if isinstance(fm, (list, tuple)) else _f32(stated)
    assert_numbers(fm, k, stated=stated)
    return fm


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness
@pytest.mark.parametrize("merge_mode,stated", [
    ("concat", np.concatenate([_FWD, _BWD], axis=1)),
    ("ave", [[0.24845785, 0.24845785], [0.6288199, 0.6288199]]),
    (None, [_FWD, _BWD])], ids=["concat", "ave", "none"])
def test_correctness_simple_rnn(merge_mode, stated):
    _bidi_case(lambda K: K.layers.Bidirectional(constant_rnn(K, "SimpleRNN", 2),
                                                merge_mode=merge_mode), SEQ_2_3_4, stated)


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness (backward, mul)
def test_correctness_backward_layer_mul():
    def make(K):
        backward = K.layers.SimpleRNN(2, kernel_initializer=K.initializers.Constant(0.03),
                                      recurrent_initializer=K.initializers.Constant(0.02),
                                      bias_initializer=K.initializers.Constant(0.01),
                                      go_backwards=True)
        return K.layers.Bidirectional(constant_rnn(K, "SimpleRNN", 2), backward_layer=backward,
                                      merge_mode="mul")
    _bidi_case(make, SEQ_2_3_4, [[0.08374989, 0.08374989], [0.6740834, 0.6740834]])


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness (GRU, sum)
def test_correctness_gru_sum():
    stated = np.repeat(np.array([[0.20937867, 0.34462988, 0.40290534],
                                 [0.59829646, 0.6734641, 0.6479671]])[..., None], 2, axis=-1)
    _bidi_case(lambda K: K.layers.Bidirectional(constant_rnn(K, "GRU", 2, return_sequences=True),
                                                merge_mode="sum"), SEQ_2_3_4, stated)


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_statefulness
def test_statefulness():
    stated = [[0.26234663, 0.26234663, 0.16959146, 0.16959146],
              [0.6137073, 0.6137073, 0.5381646, 0.5381646]]
    layers = {K: K.layers.Bidirectional(constant_rnn(K, "LSTM", 2, stateful=True))
              for K in (fastmask, keras())}
    for _ in range(2):
        outs = {}
        for K, layer in layers.items():
            layer(SEQ_2_4_3)
            outs[K] = layer(SEQ_2_4_3)
            layer.reset_state()
        assert_numbers(outs[fastmask], outs[keras()], stated=_f32(stated))


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_pass_initial_state
def test_pass_initial_state():
    base = np.arange(4).reshape((2, 2)).astype("float32")
    initial_state = [base * 1, base * 2, base * 3, base * 4]
    _bidi_case(lambda K: K.layers.Bidirectional(constant_rnn(K, "LSTM", 2)), SEQ_2_4_3,
               [[0.20794602, 0.4577124, 0.14046375, 0.48191673],
                [0.6682636, 0.6711909, 0.60943645, 0.60950446]],
               call_kwargs={"initial_state": initial_state})


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_masking
def test_masking():
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    _bidi_case(lambda K: K.layers.Bidirectional(constant_rnn(K, "GRU", 2)), SEQ_2_4_3,
               [[0.19393763, 0.19393763, 0.11669192, 0.11669192],
                [0.30818558, 0.30818558, 0.28380975, 0.28380975]],
               call_kwargs={"mask": mask})


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_return_state
def test_return_state():
    _bidi_case(lambda K: K.layers.Bidirectional(constant_rnn(K, "LSTM", 2, return_state=True)),
               SEQ_2_4_3,
               [[[0.1990008, 0.1990008, 0.12659755, 0.12659755],
                 [0.52335435, 0.52335435, 0.44717982, 0.44717982]],
                [[0.1990008, 0.1990008], [0.52335435, 0.52335435]],
                [[0.35567185, 0.35567185], [1.0492687, 1.0492687]],
                [[0.12659755, 0.12659755], [0.44717982, 0.44717982]],
                [[0.2501858, 0.2501858], [0.941473, 0.941473]]])


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_output_shape
def test_output_shape():
    x = np.array([[[101, 202], [303, 404]]])
    for merge_mode in ["ave", "concat", "mul", "sum", None]:
        layer = fastmask.layers.Bidirectional(fastmask.layers.LSTM(2, return_state=True),
                                              merge_mode=merge_mode)
        output = layer(x)
        for out, shape in zip(output, layer.compute_output_shape(x.shape)):
            assert tuple(out.shape) == tuple(shape)
    for merge_mode in ["concat", "ave", "mul", "sum"]:
        layer = fastmask.layers.Bidirectional(fastmask.layers.LSTM(2), merge_mode=merge_mode)
        assert tuple(layer(x).shape) == tuple(layer.compute_output_shape(x.shape))
    layer = fastmask.layers.Bidirectional(fastmask.layers.LSTM(2), merge_mode=None)
    output = layer(x)
    for out, shape in zip(output, layer.compute_output_shape(x.shape)):
        assert tuple(out.shape) == tuple(shape)


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_keeps_use_cudnn
def test_keeps_use_cudnn():
    for rnn_class in (fastmask.layers.GRU, fastmask.layers.LSTM):
        for use_cudnn in (True, False, "auto"):
            bidi = fastmask.layers.Bidirectional(rnn_class(1, use_cudnn=use_cudnn))
            assert bidi.forward_layer.use_cudnn == use_cudnn
            assert bidi.backward_layer.use_cudnn == use_cudnn
    bidi = fastmask.layers.Bidirectional(fastmask.layers.SimpleRNN(1))
    assert not hasattr(bidi.forward_layer, "use_cudnn")
    assert not hasattr(bidi.backward_layer, "use_cudnn")


def _fused_vs_unfused(rnn):
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype("float32")

    def build(K, use_cudnn):
        layer = K.layers.Bidirectional(getattr(K.layers, rnn)(
            5, use_cudnn=use_cudnn, return_sequences=True,
            kernel_initializer=K.initializers.GlorotUniform(seed=1),
            recurrent_initializer=K.initializers.Orthogonal(seed=2)))
        layer.build(x.shape)
        return layer
    k_ref = build(keras(), False)
    ref, fused = build(fastmask, False), build(fastmask, "auto")
    copy_weights(k_ref, ref)
    copy_weights(k_ref, fused)
    assert_numbers(fused(x), stated=ref(x), stated_atol=1e-5)
    assert_numbers(ref(x), k_ref(x))


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_fused_lstm_matches_unfused
def test_fused_lstm_matches_unfused():
    _fused_vs_unfused("LSTM")


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_fused_gru_matches_unfused
def test_fused_gru_matches_unfused():
    _fused_vs_unfused("GRU")


test_not_ported = skipped_cases([
    ("SimpleRNNTest::test_fused_lstm_eligibility", "backend",
     "private _can_attempt_fused_lstm (cuDNN dispatch)"),
    ("SimpleRNNTest::test_fused_gru_eligibility", "backend",
     "private _can_attempt_fused_gru (cuDNN dispatch)"),
    ("SimpleRNNTest::test_torch_cudnn_bidirectional_gru_dispatch_fires", "backend",
     "torch cuDNN on CUDA"),
])
