"""Port of Keras 3.15.1 keras/src/layers/reshaping/permute_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test, skipped_cases

Permute = fastmask.layers.Permute


# keras/src/layers/reshaping/permute_test.py::PermuteTest::test_permute (dense)
def test_permute():
    inputs = np.random.default_rng(0).random((10, 3, 5, 5)).astype("float32")
    inputs = np.multiply(inputs, inputs >= 0.8)
    run_layer_test(Permute, init_kwargs={"dims": (3, 1, 2)}, input_data=inputs,
                   expected_output=np.transpose(inputs, axes=(0, 3, 1, 2)))


# keras/src/layers/reshaping/permute_test.py::PermuteTest::test_permute_with_dynamic_batch_size
def test_permute_with_dynamic_batch_size():
    permuted = Permute((2, 1))(fastmask.layers.Input(batch_shape=(None, 3, 5)))
    assert permuted.shape == (None, 5, 3)


# keras/src/layers/reshaping/permute_test.py::PermuteTest::test_permute_errors_on_invalid_starting_dims_index
# keras/src/layers/reshaping/permute_test.py::PermuteTest::test_permute_errors_on_invalid_set_of_dims_indices
@pytest.mark.parametrize("dims", [(0, 1, 2), (1, 4, 2)], ids=["starting_dims_index",
                                                              "set_of_dims_indices"])
def test_permute_errors_on_invalid_dims(dims):
    # Keras raises from run_layer_test's first construction; the harness collects stage
    # errors, so the constructor is called directly.
    with pytest.raises(ValueError, match=r"Invalid permutation .*dims.*"):
        Permute(dims=dims)


test_not_ported = skipped_cases([
    ("PermuteTest::test_permute[sparse]", "sparse-ragged",
     "sparse inputs (skipped by Keras itself on the numpy backend)"),
])
