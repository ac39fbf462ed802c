"""Port of Keras 3.15.1 keras/src/layers/reshaping/zero_padding1d_test.py.

Each case also runs in Keras (`on_both`) and the two results are compared.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both

ZeroPadding1D = fastmask.layers.ZeroPadding1D


# keras/src/layers/reshaping/zero_padding1d_test.py::ZeroPadding1DTest::test_zero_padding_1d
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_zero_padding_1d(data_format):
    inputs = np.random.default_rng(0).random((1, 2, 3))
    outputs, k_out = on_both(lambda K: K.layers.ZeroPadding1D(padding=(1, 2),
                                                              data_format=data_format)(inputs))
    assert_numbers(outputs, k_out)
    if data_format == "channels_last":
        for index in [0, -1, -2]:
            np.testing.assert_allclose(outputs[:, index, :], 0.0)
        np.testing.assert_allclose(outputs[:, 1:-2, :], inputs, rtol=1e-6)
    else:
        for index in [0, -1, -2]:
            np.testing.assert_allclose(outputs[:, :, index], 0.0)
        np.testing.assert_allclose(outputs[:, :, 1:-2], inputs, rtol=1e-6)


# keras/src/layers/reshaping/zero_padding1d_test.py::ZeroPadding1DTest::test_zero_padding_1d_with_same_padding
@pytest.mark.parametrize("padding", [(2, 2), 2], ids=["one_tuple", "one_int"])
def test_zero_padding_1d_with_same_padding(padding):
    inputs = np.random.default_rng(1).random((1, 2, 3))
    outputs, k_out = on_both(lambda K: K.layers.ZeroPadding1D(
        padding=padding, data_format="channels_last")(inputs))
    assert_numbers(outputs, k_out)
    for index in [0, 1, -1, -2]:
        np.testing.assert_allclose(outputs[:, index, :], 0.0)
    np.testing.assert_allclose(outputs[:, 2:-2, :], inputs, rtol=1e-6)


# keras/src/layers/reshaping/zero_padding1d_test.py::ZeroPadding1DTest::test_zero_padding_1d_with_dynamic_spatial_dim
def test_zero_padding_1d_with_dynamic_spatial_dim():
    padded = ZeroPadding1D((1, 2), data_format="channels_last")(
        fastmask.layers.Input(batch_shape=(1, None, 3)))
    assert padded.shape == (1, None, 3)
    padded = ZeroPadding1D((1, 2), data_format="channels_last")(
        fastmask.layers.Input(batch_shape=(1, 2, 3)))
    assert padded.shape == (1, 5, 3)


# keras/src/layers/reshaping/zero_padding1d_test.py::ZeroPadding1DTest::test_zero_padding_1d_errors_if_padding_argument_invalid
@pytest.mark.parametrize("padding", [(1,), (1, 2, 3), "1"])
def test_zero_padding_1d_errors_if_padding_argument_invalid(padding):
    with pytest.raises(ValueError):
        ZeroPadding1D(padding)


# keras/src/layers/reshaping/zero_padding1d_test.py::ZeroPadding1DTest::test_zero_padding_1d_get_config
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_zero_padding_1d_get_config(data_format):
    layer = ZeroPadding1D(padding=(1, 2), data_format=data_format)
    expected_config = {"dtype": layer.dtype_policy.serialize(), "data_format": data_format,
                       "name": layer.name, "padding": (1, 2), "trainable": layer.trainable}
    assert layer.get_config() == expected_config
