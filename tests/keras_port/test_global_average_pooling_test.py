"""Port of Keras 3.15.1 keras/src/layers/pooling/global_average_pooling_test.py (1D cases).

The 2D/3D cases are about layers fastmask does not have (see
/work/scratch/keras_tests.md). The NumPy reference of Keras's case is
re-expressed here; Keras runs the same case as a second oracle.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test


# keras/src/layers/pooling/global_average_pooling_test.py::GlobalAveragePoolingBasicTest::test_global_average_pooling1d
@pytest.mark.parametrize("data_format,keepdims,input_shape,output_shape", [
    ("channels_last", False, (3, 5, 4), (3, 4)),
    ("channels_last", True, (3, 5, 4), (3, 1, 4)),
    ("channels_first", False, (3, 5, 4), (3, 5))])
def test_global_average_pooling1d_basics(data_format, keepdims, input_shape, output_shape):
    run_layer_test(fastmask.layers.GlobalAveragePooling1D,
                   init_kwargs={"data_format": data_format, "keepdims": keepdims},
                   input_shape=input_shape, expected_output_shape=output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, assert_built_after_instantiation=True)


def _np_average(x, data_format, keepdims, mask=None):
    axis = 1 if data_format == "channels_last" else 2
    x = np.array(x, dtype="float32")
    if mask is None:
        out = x.mean(axis=axis)
    else:
        m = np.expand_dims(mask, 2 if data_format == "channels_last" else 1).astype("float32")
        out = (x * m).sum(axis=axis) / m.sum(axis=axis)
    return np.expand_dims(out, axis) if keepdims else out


# keras/src/layers/pooling/global_average_pooling_test.py::GlobalAveragePoolingCorrectnessTest::test_global_average_pooling1d
@pytest.mark.parametrize("data_format,keepdims", [
    ("channels_last", False), ("channels_last", True), ("channels_first", False),
    ("channels_first", True)])
def test_global_average_pooling1d_correctness(data_format, keepdims):
    x = np.arange(24, dtype="float32").reshape((2, 3, 4))
    fm, k = on_both(lambda K: K.layers.GlobalAveragePooling1D(data_format=data_format,
                                                              keepdims=keepdims)(x))
    assert_numbers(fm, k, stated=_np_average(x, data_format, keepdims))
    if data_format == "channels_last":
        mask = np.array([[1, 1, 0], [0, 1, 0]], dtype="int32")
    else:
        mask = np.array([[1, 1, 0, 0], [0, 1, 0, 1]], dtype="int32")
    fm, k = on_both(lambda K: K.layers.GlobalAveragePooling1D(data_format=data_format,
                                                              keepdims=keepdims)(x, mask))
    assert_numbers(fm, k, stated=_np_average(x, data_format, keepdims, mask))
