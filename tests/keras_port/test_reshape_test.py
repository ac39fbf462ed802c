"""Port of Keras 3.15.1 keras/src/layers/reshaping/reshape_test.py (inference cases)."""
import numpy as np
import pytest

import fastmask
from fastmask import KerasTensor
from _harness import run_layer_test, skipped_cases


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape (dense)
@pytest.mark.parametrize("target,in_shape,out_shape", [
    ((8, 1), (3, 2, 4), (3, 8, 1)), ((8,), (3, 2, 4), (3, 8)), ((2, 4), (3, 8), (3, 2, 4)),
    ((-1, 1), (3, 2, 4), (3, 8, 1)), ((1, -1), (3, 2, 4), (3, 1, 8)),
    ((-1,), (3, 2, 4), (3, 8)), ((2, -1), (3, 2, 4), (3, 2, 4))])
def test_reshape_dense(target, in_shape, out_shape):
    run_layer_test(fastmask.layers.Reshape, init_kwargs={"target_shape": target},
                   input_shape=in_shape, expected_output_shape=out_shape)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_with_dynamic_batch_size
def test_reshape_with_dynamic_batch_size():
    out = fastmask.layers.Reshape((8,))(fastmask.layers.Input(shape=(2, 4)))
    assert out.shape == (None, 8)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_rejects_invalid_target_shape
def test_reshape_rejects_invalid_target_shape():
    with pytest.raises(ValueError, match=r"non-negative integer.*-1.*target_shape=\(-2, 5\)"):
        fastmask.layers.Reshape(target_shape=(-2, 5))
    with pytest.raises(ValueError,
                       match=r"at most one unknown dimension.*target_shape=\(-1, -1, 5\)"):
        fastmask.layers.Reshape(target_shape=(-1, -1, 5))


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_with_dynamic_batch_size_and_minus_one
# (Keras calls backend.compute_output_spec(layer.__call__, x); the public form is a symbolic call)
def test_reshape_with_dynamic_batch_size_and_minus_one():
    assert fastmask.layers.Reshape((-1, 8))(KerasTensor((None, 6, 4))).shape == (None, 3, 8)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_layer_with_varying_input_size_and_minus_one
def test_reshape_layer_with_varying_input_size_and_minus_one():
    layer = fastmask.layers.Reshape((-1, 8))
    assert layer(np.ones((1, 6, 4), dtype="float32")).shape == (1, 3, 8)
    assert layer(np.ones((1, 10, 4), dtype="float32")).shape == (1, 5, 8)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_with_dynamic_dim_and_minus_one
def test_reshape_with_dynamic_dim_and_minus_one():
    assert fastmask.layers.Reshape((-1, 3))(KerasTensor((4, 6, None, 3))).shape == (4, None, 3)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_sets_static_shape
def test_reshape_sets_static_shape():
    out = fastmask.layers.Reshape((3, 5))(fastmask.layers.Input(batch_shape=(2, None)))
    assert out.shape == (2, 3, 5)


# keras/src/layers/reshaping/reshape_test.py::ReshapeTest::test_reshape_model_fit_with_varying_input_size_and_minus_one
# (the inference part after Keras's fit)
def test_reshape_model_varying_input_size_and_minus_one_inference():
    model = fastmask.Sequential([fastmask.layers.Reshape((-1, 8))])
    for seq_len, first in [(12, 3), (20, 5), (24, 6)]:
        out = model(np.random.default_rng(seq_len).normal(size=(1, seq_len, 2)))
        assert out.shape[1] == first and out.shape[2] == 8


test_not_ported = skipped_cases([
    ("ReshapeTest::test_reshape[sparse]", "sparse-ragged", "sparse inputs"),
])
