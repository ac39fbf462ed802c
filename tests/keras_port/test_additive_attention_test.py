"""Port of Keras 3.15.1 keras/src/layers/attention/additive_attention_test.py.

The numeric cases run against fastmask and Keras and against the numbers Keras's test states.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test

AdditiveAttention = fastmask.layers.AdditiveAttention


# keras/src/layers/attention/additive_attention_test.py::AdditiveAttentionTest::test_attention_basics
@pytest.mark.parametrize("use_scale,trainable", [(True, 1), (False, 0)],
                         ids=["scale", "no_scale"])
def test_attention_basics(use_scale, trainable):
    run_layer_test(AdditiveAttention, init_kwargs={"use_scale": use_scale, "dropout": 0.5},
                   input_shape=[(2, 3, 4), (2, 4, 4)], expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=trainable,
                   expected_num_non_trainable_weights=0, supports_masking=True)


# keras/src/layers/attention/additive_attention_test.py::AdditiveAttentionTest::test_attention_correctness
def test_attention_correctness():
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    key = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    value = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    fm, k = on_both(lambda K: K.layers.AdditiveAttention(use_scale=False)(
        [query, value, key], return_attention_scores=True))
    assert_numbers(fm, k, stated=[np.array([[[1.727, 2.727], [2.272, 3.272]]]),
                                  np.array([[[0.636, 0.363], [0.363, 0.636]]])],
                   stated_atol=1e-3)


# keras/src/layers/attention/additive_attention_test.py::AdditiveAttentionTest::test_attention_with_mask
def test_attention_with_mask():
    query = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    value = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    mask = [np.array([[True, False]]), np.array([[True, False]])]
    fm, k = on_both(lambda K: K.layers.AdditiveAttention(use_scale=False)(
        [query, value], mask=mask, return_attention_scores=True))
    assert_numbers(fm, k, stated=[np.array([[[1.0, 1.0], [0.0, 0.0]]]),
                                  np.array([[[1.0, 0.0], [1.0, 0.0]]])])


# keras/src/layers/attention/additive_attention_test.py::AdditiveAttentionTest::test_attention_errors
def test_attention_errors():
    layer = AdditiveAttention()
    tensor = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(ValueError, match="must be called on a list"):
        layer(tensor)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor, tensor, tensor])
    with pytest.raises(ValueError, match="layer mask must be a list"):
        layer([tensor, tensor], mask=tensor)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([tensor, tensor], mask=[tensor])
