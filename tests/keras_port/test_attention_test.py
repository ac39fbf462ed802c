"""Port of Keras 3.15.1 keras/src/layers/attention/attention_test.py.

`compute_mask` and numeric cases run on fastmask and on Keras; cases that
call Keras's private helpers (`_calculate_scores`, `_calculate_score_mask`)
are not portable.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test, skipped_cases

rng = np.random.default_rng(4)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_basics
@pytest.mark.parametrize("init_kwargs,n_weights", [
    ({"score_mode": "dot", "dropout": 0.5}, 0),
    ({"use_scale": True, "score_mode": "concat", "dropout": 0.5}, 2)],
    ids=["dot", "scale_concat"])
def test_attention_basics(init_kwargs, n_weights):
    run_layer_test(fastmask.layers.Attention, init_kwargs=init_kwargs,
                   input_shape=[(2, 3, 4), (2, 4, 4)], expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0, supports_masking=True)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_seed_preserved_in_config
def test_attention_seed_preserved_in_config():
    config = fastmask.layers.Attention(dropout=0.5, seed=1337).get_config()
    assert config["seed"] == 1337
    assert fastmask.layers.Attention.from_config(config).seed == 1337


Q = np.array([[[1.0, 0.0], [0.0, 1.0]]])
K_ = np.array([[[0.0, 1.0], [1.0, 0.0]]])
V = np.array([[[1.0, 2.0], [3.0, 4.0]]])


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_correctness
@pytest.mark.parametrize("score_mode,out,scores", [
    ("dot", [[[2.462, 3.462], [1.538, 2.538]]], [[[0.269, 0.731], [0.731, 0.269]]]),
    ("concat", [[[1.727, 2.727], [2.272, 3.272]]], [[[0.636, 0.363], [0.363, 0.636]]])])
def test_attention_correctness(score_mode, out, scores):
    fm, k = on_both(lambda K: K.layers.Attention(score_mode=score_mode)(
        [Q, V, K_], return_attention_scores=True))
    assert_numbers(list(fm), list(k), stated=[np.array(out), np.array(scores)], stated_atol=1e-3)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_with_mask
def test_attention_with_mask():
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    value = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    mask = [np.array([[True, False]]), np.array([[True, False]])]
    fm, k = on_both(lambda K: K.layers.Attention()([query, value], mask=mask,
                                                    return_attention_scores=True))
    assert_numbers(list(fm), list(k), stated=[np.array([[[1.0, 1.0], [0.0, 0.0]]]),
                                              np.array([[[1.0, 0.0], [1.0, 0.0]]])])


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_2D_mask_shape_mismatch
def test_attention_2D_mask_shape_mismatch():
    query = rng.random((2, 3, 5)).astype(np.float32)
    value = rng.random((2, 4, 5)).astype(np.float32)
    mask = [np.array([[True, False, True]] * 2), np.array([[True, False, True, True]] * 2)]
    fm, k = on_both(lambda K: K.layers.Attention()([query, value], mask=mask,
                                                    return_attention_scores=True))
    assert fm[0].shape == (2, 3, 5) and fm[1].shape == (2, 3, 4)
    assert_numbers(list(fm), list(k))


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_errors
def test_attention_errors():
    layer = fastmask.layers.Attention()
    tensor = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(ValueError, match="must be called on a list"):
        layer(tensor)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor, tensor, tensor])
    with pytest.raises(ValueError, match="layer mask must be a list"):
        layer([tensor, tensor], mask=tensor)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor], mask=[tensor])


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_with_dropout
def test_attention_with_dropout():
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    value = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    # Keras's case has no seed; one is given so that the outcome is deterministic.
    out1, scores1 = fastmask.layers.Attention(dropout=0.2, seed=1337)(
        [query, value], return_attention_scores=True, training=True)
    out2, scores2 = fastmask.layers.Attention()(
        [query, value], return_attention_scores=True, training=True)
    assert not np.allclose(out1, out2, atol=1e-6, rtol=1e-6)
    assert not np.allclose(scores1, scores2, atol=1e-6, rtol=1e-6)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_invalid_score_mode
def test_attention_invalid_score_mode():
    with pytest.raises(ValueError, match="Invalid value for argument score_mode. Expected one "
                                         "of {'dot', 'concat'}"):
        fastmask.layers.Attention(score_mode="invalid_mode")


DUMMY = [np.ones((2, 3, 4)), np.ones((2, 4, 4))]


def _compute_mask_both(mask, inputs=DUMMY):
    fm, k = on_both(lambda K: K.layers.Attention().compute_mask(inputs=inputs, mask=mask))
    if k is None:
        assert fm is None, f"fastmask gives {fm!r}, Keras None"
    else:
        np.testing.assert_array_equal(np.asarray(fm), np.asarray(k))
    return fm


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_no_mask
def test_attention_compute_mask_with_no_mask():
    assert _compute_mask_both(None, [rng.random((2, 3, 4)), rng.random((2, 4, 4))]) is None


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_first_element_none
def test_attention_compute_mask_with_first_element_none():
    assert _compute_mask_both([None, np.array([True, False, True])]) is None


_VALID = np.array([True, False, True])


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_does_not_return_none_with_valid_mask
def test_attention_compute_mask_does_not_return_none_with_valid_mask():
    assert _compute_mask_both([_VALID, np.array([False, True, False])]) is not None


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_returns_correct_tensor_with_valid_mask
def test_attention_compute_mask_returns_correct_tensor_with_valid_mask():
    np.testing.assert_array_equal(_compute_mask_both([_VALID, ~_VALID]), _VALID)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_returns_correct_tensor_with_all_true_mask
def test_attention_compute_mask_returns_correct_tensor_with_all_true_mask():
    m = np.array([True, True, True])
    np.testing.assert_array_equal(_compute_mask_both([m, m]), m)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_returns_correct_tensor_with_all_false_mask
def test_attention_compute_mask_returns_correct_tensor_with_all_false_mask():
    m = np.array([False, False, False])
    np.testing.assert_array_equal(_compute_mask_both([m, m]), m)


_FLOAT_MASK = np.array([1.0, 0.0, 1.0])


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_tolerance_1e_3
# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_tolerance_1e_5
# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_tolerance_1e_7
@pytest.mark.parametrize("atol", [1e-3, 1e-5, 1e-7], ids=["1e_3", "1e_5", "1e_7"])
def test_attention_compute_mask_with_tolerance(atol):
    out = _compute_mask_both([_FLOAT_MASK, 1.0 - _FLOAT_MASK])
    assert np.allclose(np.asarray(out, dtype=float), _FLOAT_MASK, atol=atol)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_single_element_masks
def test_attention_compute_mask_with_single_element_masks():
    assert np.asarray(_compute_mask_both([np.array([True]), np.array([False])])).shape == (1,)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_non_boolean_masks
def test_attention_compute_mask_with_non_boolean_masks():
    m = np.array([1, 0, 1])
    np.testing.assert_array_equal(_compute_mask_both([m, 1 - m]), m)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_edge_case_masks
def test_attention_compute_mask_with_edge_case_masks():
    for m in (np.array([True, True, True]), np.array([False, False, False]), _VALID):
        np.testing.assert_array_equal(_compute_mask_both([m, m]), m)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_mask_with_different_input_shapes
def test_attention_compute_mask_with_different_input_shapes():
    for shape in [(2, 3, 4), (3, 2, 5), (4, 1, 6)]:
        out = _compute_mask_both([_VALID, ~_VALID], [np.ones(shape), np.ones(shape)])
        np.testing.assert_array_equal(out, _VALID)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_compute_output_shape
def test_attention_compute_output_shape():
    query, value, key = rng.random((2, 3, 4)), rng.random((2, 3, 5)), rng.random((2, 3, 4))
    layer = fastmask.layers.Attention()
    output = layer([query, value, key])
    assert output.shape == value.shape
    assert tuple(layer.compute_output_shape(
        input_shape=[query.shape, value.shape, key.shape])) == output.shape
    k_out = keras().layers.Attention()([query, value, key])
    assert_numbers(output, k_out)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_attention_nd_inputs
def test_attention_nd_inputs():
    query = rng.random((2, 8, 6, 4)).astype(np.float32)
    value = rng.random((2, 8, 6, 4)).astype(np.float32)
    fm, k = on_both(lambda K: K.layers.Attention()([query, value], return_attention_scores=True))
    assert fm[0].shape == (2, 8, 6, 4) and fm[1].shape == (2, 8, 6, 6)
    assert_numbers(list(fm), list(k))


def _qv():
    return rng.random((2, 8, 16)).astype(np.float32), rng.random((2, 4, 16)).astype(np.float32)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_return_attention_scores_true
def test_return_attention_scores_true():
    query, value = _qv()
    output, scores = fastmask.layers.Attention()([query, value], return_attention_scores=True)
    assert output.shape == (2, 8, 16) and scores.shape == (2, 8, 4)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_return_attention_scores_true_and_tuple
def test_return_attention_scores_true_and_tuple():
    query, value = _qv()
    outputs = fastmask.layers.Attention()([query, value], return_attention_scores=True)
    assert isinstance(outputs, tuple)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_return_attention_scores_true_tuple_then_unpack
def test_return_attention_scores_true_tuple_then_unpack():
    query, value = _qv()
    output, scores = fastmask.layers.Attention()([query, value], return_attention_scores=True)
    assert output.shape == (2, 8, 16) and scores.shape == (2, 8, 4)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_return_attention_scores_with_symbolic_tensors
def test_return_attention_scores_with_symbolic_tensors():
    x, y = fastmask.layers.Input(shape=(3, 5)), fastmask.layers.Input(shape=(4, 5))
    output, scores = fastmask.layers.Attention()([x, y], return_attention_scores=True)
    assert output.shape == (None, 3, 5) and scores.shape == (None, 3, 4)


# keras/src/layers/attention/attention_test.py::AttentionTest::test_symbolic_call_does_not_leak_return_attention_scores
def test_symbolic_call_does_not_leak_return_attention_scores():
    attention = fastmask.layers.Attention()
    attention([rng.random((2, 3, 5)).astype("float32"), rng.random((2, 4, 5)).astype("float32")],
              return_attention_scores=True)
    x, y = fastmask.layers.Input(shape=(3, 5)), fastmask.layers.Input(shape=(4, 5))
    output = attention([x, y])
    assert not isinstance(output, (tuple, list))
    assert output.shape == (None, 3, 5)
    assert tuple(attention.compute_output_shape([x.shape, y.shape])) == (None, 3, 5)


_I = "keras-internal"
test_not_ported = skipped_cases([
    ("AttentionTest::test_attention_calculate_scores_with_scale", _I,
     "private Attention._calculate_scores"),
    ("AttentionTest::test_attention_calculate_score_mask_no_causal_no_vmask", _I,
     "private Attention._calculate_score_mask"),
    ("AttentionTest::test_attention_calculate_score_mask_with_causal_no_vmask", _I,
     "private Attention._calculate_score_mask"),
    ("AttentionTest::test_attention_calculate_score_mask_with_causal_and_vmask", _I,
     "private Attention._calculate_score_mask"),
])
