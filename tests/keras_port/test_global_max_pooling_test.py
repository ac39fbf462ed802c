"""Port of Keras 3.15.1 keras/src/layers/pooling/global_max_pooling_test.py (1D cases).

The 2D/3D cases are about layers fastmask does not have (see
/work/scratch/keras_tests.md).
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test


# keras/src/layers/pooling/global_max_pooling_test.py::GlobalMaxPoolingBasicTest::test_global_max_pooling1d
@pytest.mark.parametrize("data_format,keepdims,input_shape,output_shape", [
    ("channels_last", False, (3, 5, 4), (3, 4)),
    ("channels_last", True, (3, 5, 4), (3, 1, 4)),
    ("channels_first", False, (3, 5, 4), (3, 5))])
def test_global_max_pooling1d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(fastmask.layers.GlobalMaxPooling1D,
                   init_kwargs={"data_format": data_format, "keepdims": keepdims},
                   input_shape=input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   assert_built_after_instantiation=True)


# keras/src/layers/pooling/global_max_pooling_test.py::GlobalMaxPoolingCorrectnessTest::test_global_max_pooling1d
@pytest.mark.parametrize("data_format,keepdims", [
    ("channels_last", False), ("channels_last", True), ("channels_first", False),
    ("channels_first", True)])
def test_global_max_pooling1d_correctness(data_format, keepdims):
    x = np.arange(24, dtype="float32").reshape((2, 3, 4))
    axis = 1 if data_format == "channels_last" else 2
    expected = x.max(axis=axis, keepdims=keepdims)
    fm, k = on_both(lambda K: K.layers.GlobalMaxPooling1D(data_format=data_format,
                                                          keepdims=keepdims)(x))
    assert_numbers(fm, k, stated=expected)
