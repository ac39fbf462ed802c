"""Port of Keras 3.15.1 keras/src/layers/activations/leaky_relu_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test

LeakyReLU = fastmask.layers.LeakyReLU


# keras/src/layers/activations/leaky_relu_test.py::LeakyReLUTest::test_leaky_relu
def test_leaky_relu():
    run_layer_test(LeakyReLU, init_kwargs={"negative_slope": 1}, input_shape=(2, 3, 4),
                   supports_masking=True, assert_built_after_instantiation=True)


# keras/src/layers/activations/leaky_relu_test.py::LeakyReLUTest::test_leaky_relu_correctness
def test_leaky_relu_correctness():
    x = np.array([-10, -5, 0.0, 5, 10])
    fm, k = on_both(lambda K: K.layers.LeakyReLU(negative_slope=0.5)(x))
    assert_numbers(fm, k, stated=np.array([-5.0, -2.5, 0.0, 5.0, 10.0]))


# keras/src/layers/activations/leaky_relu_test.py::LeakyReLUTest::test_invalid_usage
def test_invalid_usage():
    with pytest.raises(ValueError, match="The negative_slope value of a Leaky ReLU layer cannot "
                                         "be None"):
        LeakyReLU(negative_slope=None)
