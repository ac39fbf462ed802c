"""Port of Keras 3.15.1 keras/src/layers/reshaping/up_sampling1d_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test

UpSampling1D = fastmask.layers.UpSampling1D


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d
def test_upsampling_1d():
    run_layer_test(UpSampling1D, init_kwargs={"size": 2}, input_shape=(3, 5, 4),
                   expected_output_shape=(3, 10, 4), expected_output_dtype="float32",
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False)


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d_correctness
def test_upsampling_1d_correctness():
    x = np.arange(12).reshape((2, 2, 3))
    fm, k = on_both(lambda K: K.layers.UpSampling1D(size=2)(x))
    assert_numbers(fm, k, stated=np.array(
        [[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [3.0, 4.0, 5.0]],
         [[6.0, 7.0, 8.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0], [9.0, 10.0, 11.0]]]))


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d_correctness_with_ones
def test_upsampling_1d_correctness_with_ones():
    fm, k = on_both(lambda K: K.layers.UpSampling1D(size=3)(np.ones((2, 1, 5))))
    assert_numbers(fm, k, stated=np.ones((2, 3, 5)))


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d_with_dynamic_batch_size
def test_upsampling_1d_with_dynamic_batch_size():
    x = fastmask.KerasTensor([None, 2, 3])
    assert UpSampling1D(size=2)(x).shape == (None, 4, 3)
    assert UpSampling1D(size=4)(x).shape == (None, 8, 3)


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d_with_dynamic_shape
def test_upsampling_1d_with_dynamic_shape():
    y = fastmask.KerasTensor([2, None, 3])
    assert UpSampling1D(size=2)(y).shape == (2, None, 3)
    assert UpSampling1D(size=4)(y).shape == (2, None, 3)
    z = fastmask.KerasTensor([2, 3, None])
    assert UpSampling1D(size=2)(z).shape == (2, 6, None)
    assert UpSampling1D(size=4)(z).shape == (2, 12, None)


# keras/src/layers/reshaping/up_sampling1d_test.py::UpSamplingTest::test_upsampling_1d_with_invalid_size
def test_upsampling_1d_with_invalid_size():
    for size in (0, -2):
        with pytest.raises(ValueError, match="should be a positive integer"):
            UpSampling1D(size=size)
    for size in (2.5, "2", True):
        with pytest.raises(TypeError, match="Expected an integer value for `size`"):
            UpSampling1D(size=size)
