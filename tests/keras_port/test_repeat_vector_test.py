"""Port of Keras 3.15.1 keras/src/layers/reshaping/repeat_vector_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test

RepeatVector = fastmask.layers.RepeatVector


# keras/src/layers/reshaping/repeat_vector_test.py::FlattenTest::test_repeat_vector
def test_repeat_vector():
    inputs = np.random.default_rng(0).random((2, 5)).astype("float32")
    run_layer_test(RepeatVector, init_kwargs={"n": 3}, input_data=inputs,
                   expected_output=np.repeat(np.reshape(inputs, (2, 1, 5)), 3, axis=1))


# keras/src/layers/reshaping/repeat_vector_test.py::FlattenTest::test_repeat_vector_with_dynamic_batch_size
def test_repeat_vector_with_dynamic_batch_size():
    repeated = RepeatVector(n=3)(fastmask.layers.Input(batch_shape=(None, 5)))
    assert repeated.shape == (None, 3, 5)


# keras/src/layers/reshaping/repeat_vector_test.py::FlattenTest::test_repeat_vector_with_dynamic_dimension
def test_repeat_vector_with_dynamic_dimension():
    repeated = RepeatVector(n=3)(fastmask.layers.Input(batch_shape=(2, None)))
    assert repeated.shape == (2, 3, None)


# keras/src/layers/reshaping/repeat_vector_test.py::FlattenTest::test_repeat_vector_with_invalid_n
@pytest.mark.parametrize("n", ["3", 3.5, [3]])
def test_repeat_vector_with_invalid_n(n):
    with pytest.raises(TypeError, match="Expected an integer value for `n`"):
        RepeatVector(n=n)


# keras/src/layers/reshaping/repeat_vector_test.py::FlattenTest::test_repeat_vector_with_non_positive_n
@pytest.mark.parametrize("n", [0, -3])
def test_repeat_vector_with_non_positive_n(n):
    with pytest.raises(ValueError, match="should be a positive integer"):
        RepeatVector(n=n)
