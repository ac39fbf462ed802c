"""Port of Keras 3.15.1 keras/src/layers/normalization/layer_normalization_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test, skipped_cases, xfail

LN = fastmask.layers.LayerNormalization


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_ln_basics (regularizers)
def test_ln_basics_regularizers():
    run_layer_test(LN, init_kwargs={"gamma_regularizer": fastmask.regularizers.L2(0.01),
                                    "beta_regularizer": fastmask.regularizers.L2(0.01)},
                   keras_init_kwargs={"gamma_regularizer": keras().regularizers.L2(0.01),
                                      "beta_regularizer": keras().regularizers.L2(0.01)},
                   input_shape=(3, 4, 2), expected_output_shape=(3, 4, 2),
                   expected_num_trainable_weights=2, expected_num_non_trainable_weights=0,
                   supports_masking=True)


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_ln_basics
@pytest.mark.parametrize("init_kwargs,shape,n_weights", [
    ({"gamma_initializer": "ones", "beta_initializer": "ones"}, (3, 4, 2), 2),
    ({"scale": False, "center": False}, (3, 3), 0),
    ({"rms_scaling": True}, (3, 3), 1),
    ({"axis": (-3, -2, -1)}, (2, 8, 8, 3), 2),
    ({}, (1, 0, 10), 2)], ids=["initializers", "no_scale_no_center", "rms_scaling",
                               "three_axes", "empty_time"])
def test_ln_basics(init_kwargs, shape, n_weights):
    run_layer_test(LN, init_kwargs=init_kwargs, input_shape=shape, expected_output_shape=shape,
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0, supports_masking=True)


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_invalid_axis
def test_invalid_axis():
    with pytest.raises(TypeError, match="Expected an int or a list/tuple of ints for the "
                                        "argument 'axis'"):
        LN(axis={"axis": -1})


def _normalized(K, x):
    layer = K.layers.LayerNormalization(dtype="float32")
    layer.build(input_shape=(2, 2, 2))
    return (np.asarray(layer(x)) - np.asarray(layer.beta)) / np.asarray(layer.gamma)


_X = np.random.default_rng(8).normal(loc=5.0, scale=10.0, size=(1000, 2, 2, 2)).astype("float32")


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_correctness
def test_correctness():
    out = _normalized(fastmask, _X)
    np.testing.assert_allclose(np.mean(out), 0.0, atol=1e-1)
    np.testing.assert_allclose(np.std(out), 1.0, atol=1e-1)


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_correctness
# (the same data through Keras: the numbers must agree within 1e-5)
@xfail("numbers: LayerNormalization uses a two-pass variance; Keras's numpy backend uses "
       "E[x^2]-E[x]^2 in float32, so on Keras's own test data (groups of 2, mean 5, sd 10) "
       "outputs differ from Keras by up to 4e-3")
def test_correctness_vs_keras():
    assert_numbers(_normalized(fastmask, _X), _normalized(keras(), _X))


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_output
def test_output():
    x = np.arange(5).astype("float32")[None, :]
    fm, k = on_both(lambda K: K.layers.LayerNormalization(
        dtype="float32", beta_initializer="ones", gamma_initializer="ones")(x))
    assert_numbers(fm, k, stated=np.array([[-0.41386, 0.29307, 1.0, 1.70693, 2.41386]]),
                   stated_atol=1e-5, stated_rtol=1e-5)


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_output_with_rms_scaling
def test_output_with_rms_scaling():
    x = np.arange(5).astype("float32")[None, :]
    fm, k = on_both(lambda K: K.layers.LayerNormalization(
        dtype="float32", rms_scaling=True, gamma_initializer="ones")(x))
    assert_numbers(fm, k, stated=np.array([[0.0, 0.70693, 1.41386, 2.12079, 2.82772]]),
                   stated_atol=1e-5, stated_rtol=1e-5)


# keras/src/layers/normalization/layer_normalization_test.py::LayerNormalizationTest::test_unsorted_axis
def test_unsorted_axis():
    x = np.random.default_rng(9).standard_normal((2, 3, 4)).astype("float32")
    out_sorted = LN(axis=[-2, -1])(x)
    out_unsorted = LN(axis=[-1, -2])(x)
    assert out_sorted.shape == (2, 3, 4) and out_unsorted.shape == (2, 3, 4)
    np.testing.assert_allclose(out_sorted, out_unsorted, atol=1e-6, rtol=1e-6)
    assert_numbers(out_unsorted, keras().layers.LayerNormalization(axis=[-1, -2])(x))


test_not_ported = skipped_cases([
    ("LayerNormalizationTest::test_large_value_within_autocast_scope", "backend",
     "backend.AutocastScope (a Keras backend scope)"),
])
