"""Port of Keras 3.15.1 keras/src/layers/pooling/average_pooling_test.py (AveragePooling1D).

Numbers are checked against tests/np_window_reference.py and against Keras. Keras's
own reference for "same" pads by repeating the edge step, which equals averaging the
real steps of a window only for these inputs; the reference here averages the real
steps (XLA's and Keras's layer's definition).
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test, skipped_cases
from np_window_reference import ref_pool


# keras/src/layers/pooling/average_pooling_test.py::AveragePoolingBasicTest::test_average_pooling1d
@pytest.mark.parametrize("pool_size,strides,padding,data_format,input_shape,output_shape", [
    (2, 1, "valid", "channels_last", (3, 5, 4), (3, 4, 4)),
    (2, 1, "same", "channels_first", (3, 5, 4), (3, 5, 4)),
    ((2,), (2,), "valid", "channels_last", (3, 5, 4), (3, 2, 4))])
def test_average_pooling1d(pool_size, strides, padding, data_format, input_shape, output_shape):
    run_layer_test(fastmask.layers.AveragePooling1D,
                   init_kwargs={"pool_size": pool_size, "strides": strides, "padding": padding,
                                "data_format": data_format},
                   input_shape=input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False, run_mixed_precision_check=False,
                   assert_built_after_instantiation=True)


def _case(pool_size, strides, padding, data_format):
    inputs = np.arange(24, dtype="float32").reshape((2, 3, 4))
    fm, k = on_both(lambda K: K.layers.AveragePooling1D(pool_size=pool_size, strides=strides,
                                                        padding=padding,
                                                        data_format=data_format)(inputs))
    pool = pool_size[0] if isinstance(pool_size, tuple) else pool_size
    stride = strides[0] if isinstance(strides, tuple) else strides
    xs = inputs.swapaxes(1, 2) if data_format == "channels_first" else inputs
    want = ref_pool(xs, pool, stride, padding, "avg")
    assert_numbers(fm, k, stated=want.swapaxes(1, 2) if data_format == "channels_first"
                   else want)


# keras/src/layers/pooling/average_pooling_test.py::AveragePoolingCorrectnessTest::test_average_pooling1d
@pytest.mark.parametrize("pool_size,strides,padding,data_format", [
    (2, 1, "valid", "channels_last"), (2, 1, "valid", "channels_first"),
    ((2,), (2,), "valid", "channels_last"), ((2,), (2,), "valid", "channels_first")])
def test_average_pooling1d_correctness(pool_size, strides, padding, data_format):
    _case(pool_size, strides, padding, data_format)


# keras/src/layers/pooling/average_pooling_test.py::AveragePoolingCorrectnessTest::test_average_pooling1d_same_padding
@pytest.mark.parametrize("pool_size,strides,padding,data_format", [
    (2, 1, "same", "channels_last"), (2, 1, "same", "channels_first"),
    ((2,), (2,), "same", "channels_last"), ((2,), (2,), "same", "channels_first")])
def test_average_pooling1d_same_padding(pool_size, strides, padding, data_format):
    _case(pool_size, strides, padding, data_format)


_NO_2D = "fastmask has 1D poolings only (AveragePooling2D/3D are not in its scope)"
test_not_ported = skipped_cases([
    ("AveragePoolingBasicTest::test_average_pooling2d", "not-applicable", _NO_2D),
    ("AveragePoolingBasicTest::test_average_pooling3d", "not-applicable", _NO_2D),
    ("AveragePoolingCorrectnessTest::test_average_pooling2d", "not-applicable", _NO_2D),
    ("AveragePoolingCorrectnessTest::test_average_pooling2d_same_padding", "not-applicable",
     _NO_2D),
    ("AveragePoolingCorrectnessTest::test_average_pooling3d", "not-applicable", _NO_2D),
    ("AveragePoolingCorrectnessTest::test_average_pooling3d_same_padding", "not-applicable",
     _NO_2D),
])
