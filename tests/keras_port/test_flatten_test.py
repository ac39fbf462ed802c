"""Port of Keras 3.15.1 keras/src/layers/reshaping/flatten_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test, skipped_cases

rng = np.random.default_rng(7)


# keras/src/layers/reshaping/flatten_test.py::FlattenTest::test_flatten (dense)
@pytest.mark.parametrize("data_format", [None, "channels_last", "channels_first"],
                         ids=["default", "channels_last", "channels_first"])
def test_flatten_dense(data_format):
    x = rng.random((10, 3, 5, 5)).astype("float32")
    x = x * (x >= 0.8)
    if data_format == "channels_first":
        expected = np.reshape(np.transpose(x, (0, 2, 3, 1)), (-1, 75))
    else:
        expected = np.reshape(x, (-1, 75))
    run_layer_test(fastmask.layers.Flatten,
                   init_kwargs={} if data_format is None else {"data_format": data_format},
                   input_data=x, expected_output=expected)


# keras/src/layers/reshaping/flatten_test.py::FlattenTest::test_flatten_with_scalar_channels
@pytest.mark.parametrize("data_format", [None, "channels_last", "channels_first"],
                         ids=["default", "channels_last", "channels_first"])
def test_flatten_with_scalar_channels(data_format):
    x = rng.random((10,)).astype("float32")
    run_layer_test(fastmask.layers.Flatten,
                   init_kwargs={} if data_format is None else {"data_format": data_format},
                   input_data=x, expected_output=np.expand_dims(x, -1))


# keras/src/layers/reshaping/flatten_test.py::FlattenTest::test_flatten_symbolic_with_dynamic_batch_size
def test_flatten_symbolic_with_dynamic_batch_size():
    out = fastmask.layers.Flatten()(fastmask.layers.Input(batch_shape=(None, 2, 3)))
    assert out.shape == (None, 6)


# keras/src/layers/reshaping/flatten_test.py::FlattenTest::test_flatten_symbolic_with_dynamic_dimension
def test_flatten_symbolic_with_dynamic_dimension():
    out = fastmask.layers.Flatten()(fastmask.layers.Input(batch_shape=(5, 2, None)))
    assert out.shape == (5, None)


# keras/src/layers/reshaping/flatten_test.py::FlattenTest::test_flatten_with_dynamic_batch_size_and_dynamic_dimenstions
def test_flatten_with_dynamic_batch_size_and_dynamic_dimensions():
    def generator():
        yield (np.ones((3, 5, 7), dtype="float32"),)
        yield (np.ones((2, 7, 5), dtype="float32"),)
    fastmask.Sequential([fastmask.layers.Flatten()]).predict(generator())


test_not_ported = skipped_cases([
    ("FlattenTest::test_flatten[sparse]", "sparse-ragged", "sparse inputs"),
])
