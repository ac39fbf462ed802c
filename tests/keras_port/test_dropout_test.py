"""Port of Keras 3.15.1 keras/src/layers/regularization/dropout_test.py.

fastmask's Dropout is the identity at inference and a seeded inverted
dropout with `training=True`, as Keras's; those training-mode calls are
ported (they need no fit/gradients).
"""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test

Dropout = fastmask.layers.Dropout


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_basics
def test_dropout_basics():
    run_layer_test(Dropout, init_kwargs={"rate": 0.2}, input_shape=(2, 3),
                   call_kwargs={"training": True}, expected_output_shape=(2, 3),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, assert_built_after_instantiation=True,
                   compare_with_keras=False)


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_rescaling
def test_dropout_rescaling():
    out = np.asarray(Dropout(0.5, seed=1337)(np.ones((20, 500)), training=True))
    np.testing.assert_allclose(np.mean(out), 1.0, atol=0.02)
    np.testing.assert_allclose(np.max(out), 2.0)


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_partial_noise_shape_dynamic
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_partial_noise_shape_static
@pytest.mark.parametrize("noise_shape", [(None, 1, None), (20, 1, 10)], ids=["dynamic", "static"])
def test_dropout_partial_noise_shape(noise_shape):
    out = np.asarray(Dropout(0.5, noise_shape=noise_shape)(np.ones((20, 5, 10)), training=True))
    np.testing.assert_allclose(out[:, 0, :], out[:, 1, :])


_RATE = "Invalid value received for argument `rate`. Expected a float value between 0 and 1."


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_negative_rate
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_dropout_rate_greater_than_one
@pytest.mark.parametrize("rate", [-0.5, 1.5], ids=["negative_rate", "rate_greater_than_one"])
def test_dropout_invalid_rate(rate):
    with pytest.raises(ValueError, match=_RATE):
        Dropout(rate=rate)


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_none
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_integer_tuple
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_none_values
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_cast_to_a_tuple
@pytest.mark.parametrize("given,stored", [
    (None, None), ((20, 1, 10), (20, 1, 10)), ((None, 1, None), (None, 1, None)),
    ([20, 1, 10], (20, 1, 10))], ids=["none", "integer_tuple", "none_values", "cast_to_a_tuple"])
def test_validate_noise_shape(given, stored):
    layer = Dropout(0.5, noise_shape=given)
    assert layer.noise_shape == stored
    if stored is not None:
        assert isinstance(layer.noise_shape, tuple)


# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_non_iterable
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_invalid_type
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_negative_value
# keras/src/layers/regularization/dropout_test.py::DropoutTest::test_validate_noise_shape_zero_value
@pytest.mark.parametrize("noise_shape,message", [
    ("Invalid", "Expected a tuple or list of integers."),
    ((20, 1.5, 10), "Expected all elements to be integers or None."),
    ((20, -1, 10), "Expected all dimensions to be positive integers or None."),
    ((20, 0, 10), "Expected all dimensions to be positive integers or None.")],
    ids=["non_iterable", "invalid_type", "negative_value", "zero_value"])
def test_validate_noise_shape_errors(noise_shape, message):
    with pytest.raises(ValueError, match="Invalid value received for argument `noise_shape`. "
                                         + message):
        Dropout(0.5, noise_shape=noise_shape)
