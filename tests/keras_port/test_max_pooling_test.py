"""Port of Keras 3.15.1 keras/src/layers/pooling/max_pooling_test.py (the MaxPooling1D cases).

Numbers are checked against tests/np_window_reference.py (written from the
definition; it replaces Keras's `np_maxpool1d`) and against Keras itself.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test, skipped_cases
from np_window_reference import ref_pool


# keras/src/layers/pooling/max_pooling_test.py::MaxPoolingBasicTest::test_max_pooling1d
@pytest.mark.parametrize("pool_size,strides,padding,data_format,input_shape,output_shape", [
    (2, 1, "valid", "channels_last", (3, 5, 4), (3, 4, 4)),
    (2, 1, "same", "channels_first", (3, 5, 4), (3, 5, 4)),
    ((2,), (2,), "valid", "channels_last", (3, 5, 4), (3, 2, 4))])
def test_max_pooling1d(pool_size, strides, padding, data_format, input_shape, output_shape):
    run_layer_test(fastmask.layers.MaxPooling1D,
                   init_kwargs={"pool_size": pool_size, "strides": strides, "padding": padding,
                                "data_format": data_format},
                   input_shape=input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False, assert_built_after_instantiation=True)


def _expected(x, pool_size, strides, padding, data_format, op):
    pool = pool_size[0] if isinstance(pool_size, tuple) else pool_size
    stride = strides[0] if isinstance(strides, tuple) else strides
    xs = x.swapaxes(1, 2) if data_format == "channels_first" else x
    out = ref_pool(xs, pool, stride, padding, op)
    return out.swapaxes(1, 2) if data_format == "channels_first" else out


# keras/src/layers/pooling/max_pooling_test.py::MaxPoolingCorrectnessTest::test_max_pooling1d
@pytest.mark.parametrize("pool_size,strides,padding,data_format", [
    (2, 1, "valid", "channels_last"), (2, 1, "valid", "channels_first"),
    (2, 1, "same", "channels_last"), (2, 1, "same", "channels_first"),
    ((2,), (2,), "valid", "channels_last"), ((2,), (2,), "valid", "channels_first")])
def test_max_pooling1d_correctness(pool_size, strides, padding, data_format):
    inputs = np.arange(24, dtype="float32").reshape((2, 3, 4))
    fm, k = on_both(lambda K: K.layers.MaxPooling1D(pool_size=pool_size, strides=strides,
                                                    padding=padding,
                                                    data_format=data_format)(inputs))
    assert_numbers(fm, k, stated=_expected(inputs, pool_size, strides, padding, data_format,
                                           "max"))


_NO_2D = "fastmask has 1D poolings only (MaxPooling2D/3D are not in its scope)"
test_not_ported = skipped_cases([
    ("MaxPoolingBasicTest::test_max_pooling2d", "not-applicable", _NO_2D),
    ("MaxPoolingBasicTest::test_max_pooling3d", "not-applicable", _NO_2D),
    ("MaxPoolingCorrectnessTest::test_max_pooling2d", "not-applicable", _NO_2D),
    ("MaxPoolingCorrectnessTest::test_max_pooling3d", "not-applicable", _NO_2D),
])
