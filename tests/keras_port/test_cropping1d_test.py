"""Port of Keras 3.15.1 keras/src/layers/reshaping/cropping1d_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test

Cropping1D = fastmask.layers.Cropping1D


# keras/src/layers/reshaping/cropping1d_test.py::Cropping1DTest::test_cropping_1d
@pytest.mark.parametrize("cropping,keep", [((1, 2), slice(1, 3)), ((1, 1), slice(1, 4)),
                                           (1, slice(1, 4)), ((0, 1), slice(0, 4)),
                                           ((1, 0), slice(1, 5))],
                         ids=["left_right", "same", "int", "right_only", "left_only"])
def test_cropping_1d(cropping, keep):
    inputs = np.random.default_rng(0).random((3, 5, 7))
    run_layer_test(Cropping1D, init_kwargs={"cropping": cropping}, input_data=inputs,
                   expected_output=inputs[:, keep, :])


# keras/src/layers/reshaping/cropping1d_test.py::Cropping1DTest::test_cropping_1d_with_dynamic_spatial_dim
def test_cropping_1d_with_dynamic_spatial_dim():
    cropped = Cropping1D((1, 2))(fastmask.layers.Input(batch_shape=(1, None, 7)))
    assert cropped.shape == (1, None, 7)


# keras/src/layers/reshaping/cropping1d_test.py::Cropping1DTest::test_cropping_1d_errors_if_cropping_argument_invalid
@pytest.mark.parametrize("cropping", [(1,), (1, 2, 3), "1"])
def test_cropping_1d_errors_if_cropping_argument_invalid(cropping):
    with pytest.raises(ValueError):
        Cropping1D(cropping=cropping)


# keras/src/layers/reshaping/cropping1d_test.py::Cropping1DTest::test_cropping_1d_errors_if_cropping_more_than_available
def test_cropping_1d_errors_if_cropping_more_than_available():
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D` layer must be "
                                         "smaller than"):
        Cropping1D(cropping=(2, 3))(fastmask.layers.Input(batch_shape=(3, 5, 7)))


# keras/src/layers/reshaping/cropping1d_test.py::Cropping1DTest::test_cropping_1d_error_on_excessive_cropping
def test_cropping_1d_error_on_excessive_cropping():
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D` layer must be "
                                         "smaller than"):
        Cropping1D(cropping=(3, 3))(np.random.default_rng(1).random((3, 5, 7)))
