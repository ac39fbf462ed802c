"""Port of Keras 3.15.1 keras/src/layers/core/input_layer_test.py."""
import numpy as np
import pytest

import fastmask
from fastmask import KerasTensor
from fastmask.layers import InputLayer


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_basic (dense)
def test_input_basic_dense():
    layer = InputLayer(shape=(2, 3), batch_size=4, dtype="float32", sparse=False, ragged=False)
    assert layer.dtype == "float32"
    assert layer.batch_shape[0] == 4 and layer.batch_shape[1:] == (2, 3)
    assert layer.sparse is False and layer.ragged is False and layer.trainable is True
    assert isinstance(layer.output, KerasTensor)
    assert layer.output.ndim == 3 and layer.output.dtype == "float32"
    assert layer.output.sparse is False and layer.output.ragged is False


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_basic (sparse, ragged:
# the numpy backend rejects them, and so must fastmask)
@pytest.mark.parametrize("flag", ["sparse", "ragged"])
def test_input_basic_sparse_ragged_rejected(flag):
    with pytest.raises(ValueError, match=f"`{flag}=True` is not supported"):
        InputLayer(shape=(2, 3), batch_size=4, dtype="float32", **{flag: True})


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_error1
def test_input_error1():
    with pytest.raises(ValueError, match="cannot pass both `shape` and `batch_shape`"):
        InputLayer(shape=(2, 3), batch_shape=(2, 3))


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_error2
def test_input_error2():
    with pytest.raises(ValueError, match="cannot pass both `batch_size` and `batch_shape`"):
        InputLayer(batch_size=4, batch_shape=(2, 3))


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_error3
def test_input_error3():
    with pytest.raises(ValueError, match="pass a `shape` argument."):
        InputLayer(shape=None, batch_shape=None)


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_tensor_error
def test_input_tensor_error():
    with pytest.raises(ValueError, match="Argument `input_tensor` must be a KerasTensor"):
        InputLayer(shape=(2, 3), batch_size=4, input_tensor=np.zeros((2, 3)))


# keras/src/layers/core/input_layer_test.py::InputLayerTest::testing_input_tensor
def test_input_tensor():
    input_tensor = KerasTensor(shape=(2, 3), dtype="float32")
    layer = InputLayer(input_tensor=input_tensor)
    assert layer.dtype == "float32" and layer.batch_shape == (2, 3)
    assert layer.trainable is True
    assert isinstance(layer.output, KerasTensor)
    assert layer.output is input_tensor or layer.output == input_tensor
    assert layer.output.ndim == 2 and layer.output.dtype == "float32"


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_input_shape_deprecated
def test_input_shape_deprecated():
    with pytest.warns(UserWarning, match="Argument `input_shape` is deprecated. Use `shape` "
                                         "instead."):
        layer = InputLayer(input_shape=(2, 3), batch_size=4, dtype="float32")
    assert layer.batch_shape[0] == 4 and layer.batch_shape[1:] == (2, 3)
    assert layer.dtype == "float32" and isinstance(layer.output, KerasTensor)


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_call_method
def test_call_method():
    assert InputLayer(shape=(32,)).call() is None


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_numpy_shape
def test_numpy_shape():
    InputLayer(shape=(np.int64(32),))


# keras/src/layers/core/input_layer_test.py::InputLayerTest::test_invalid_arg_combinations
def test_invalid_arg_combinations():
    input_tensor = KerasTensor(shape=(2, 3), dtype="float32")
    for kwargs, name in (({"shape": (2, 4)}, "shape"), ({"batch_shape": (2, 4)}, "batch_shape"),
                         ({"batch_size": 5}, "batch_size"), ({"dtype": "float16"}, "dtype"),
                         ({"sparse": True}, "sparse")):
        with pytest.raises(ValueError, match=f"cannot provide an incompatible `{name}`"):
            InputLayer(input_tensor=input_tensor, **kwargs)
    InputLayer(shape=(3,), batch_size=2, sparse=False, dtype="float32", input_tensor=input_tensor)
