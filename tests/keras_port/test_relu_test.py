"""Port of Keras 3.15.1 keras/src/layers/activations/relu_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test

ReLU = fastmask.layers.ReLU


def _relu_case(x, stated, **kwargs):
    fm, k = on_both(lambda K: K.layers.ReLU(**kwargs)(np.array(x)))
    assert_numbers(fm, k, stated=np.array(stated))


# keras/src/layers/activations/relu_test.py::ReLUTest::test_relu
def test_relu():
    run_layer_test(ReLU, init_kwargs={"max_value": 10, "negative_slope": 1, "threshold": 0.5},
                   input_shape=(2, 3, 4), supports_masking=True,
                   assert_built_after_instantiation=True)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_normal_relu_correctness
def test_normal_relu_correctness():
    _relu_case([-10, -5, 0.0, 5, 10], [0.0, 0.0, 0.0, 5.0, 10.0], max_value=10,
               negative_slope=0.0, threshold=0)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_leaky_relu_correctness
def test_leaky_relu_correctness():
    _relu_case([-10, -5, 0.0, 5, 10], [-5.0, -2.5, 0.0, 5.0, 10.0], max_value=10,
               negative_slope=0.5, threshold=0)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_threshold_relu_correctness
def test_threshold_relu_correctness():
    _relu_case([6.0, 7.0, 0.0, 5, 10], [6.0, 7.0, 0.0, 0.0, 8.0], max_value=8,
               negative_slope=0.0, threshold=5)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_invalid_usage
@pytest.mark.parametrize("kwargs,message", [
    ({"max_value": -10, "negative_slope": 1, "threshold": 0.5},
     "max_value of a ReLU layer cannot be a negative value"),
    ({"max_value": 10, "negative_slope": -10, "threshold": 0.5},
     "negative_slope of a ReLU layer cannot be None or a negative value"),
    ({"max_value": 10, "negative_slope": 1, "threshold": -10},
     "threshold of a ReLU layer cannot be None or a negative value")],
    ids=["max_value", "negative_slope", "threshold"])
def test_invalid_usage(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReLU(**kwargs)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_get_config
def test_get_config():
    config = ReLU(max_value=5.0, negative_slope=0.2, threshold=1.0).get_config()
    assert (config["max_value"], config["negative_slope"], config["threshold"]) == (5.0, 0.2, 1.0)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_get_config_default_params
def test_get_config_default_params():
    config = ReLU().get_config()
    assert config["max_value"] is None
    assert config["negative_slope"] == 0.0 and config["threshold"] == 0.0


# keras/src/layers/activations/relu_test.py::ReLUTest::test_from_config
def test_from_config():
    layer = ReLU(max_value=5.0, negative_slope=0.2, threshold=1.0)
    restored = ReLU.from_config(layer.get_config())
    assert restored.max_value == layer.max_value
    assert restored.negative_slope == layer.negative_slope
    assert restored.threshold == layer.threshold


# keras/src/layers/activations/relu_test.py::ReLUTest::test_compute_output_shape
def test_compute_output_shape():
    layer = ReLU()
    for shape in ((2, 3), (4, 5, 6), (1,)):
        assert tuple(layer.compute_output_shape(shape)) == shape


# keras/src/layers/activations/relu_test.py::ReLUTest::test_default_relu_no_args
def test_default_relu_no_args():
    _relu_case([-3.0, -1.0, 0.0, 1.0, 3.0], [0.0, 0.0, 0.0, 1.0, 3.0])


# keras/src/layers/activations/relu_test.py::ReLUTest::test_relu_none_max_value_is_unlimited
def test_relu_none_max_value_is_unlimited():
    x = [0.0, 100.0, 1000.0, 99999.0]
    _relu_case(x, x, max_value=None)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_relu_all_zeros_input
def test_relu_all_zeros_input():
    _relu_case(np.zeros((3, 4)), np.zeros((3, 4)))


# keras/src/layers/activations/relu_test.py::ReLUTest::test_relu_multidimensional_input
def test_relu_multidimensional_input():
    _relu_case([[-1.0, 2.0], [3.0, -4.0]], [[0.0, 2.0], [3.0, 0.0]])
    _relu_case(-np.ones((2, 3, 4)), np.zeros((2, 3, 4)))


# keras/src/layers/activations/relu_test.py::ReLUTest::test_negative_slope_none_raises
def test_negative_slope_none_raises():
    with pytest.raises(ValueError, match="negative_slope of a ReLU layer cannot be None or a "
                                         "negative value"):
        ReLU(negative_slope=None)


# keras/src/layers/activations/relu_test.py::ReLUTest::test_threshold_none_raises
def test_threshold_none_raises():
    with pytest.raises(ValueError, match="threshold of a ReLU layer cannot be None or a negative "
                                         "value"):
        ReLU(threshold=None)
