"""Port of Keras 3.15.1 keras/src/layers/regularization/gaussian_dropout_test.py.

The noise comes from fastmask's own generator, so training outputs are compared by
their statistics (as Keras's test does), not with Keras's numbers.
"""
import numpy as np

import fastmask
from _harness import run_layer_test


# keras/src/layers/regularization/gaussian_dropout_test.py::GaussianDropoutTest::test_gaussian_dropout_basics
def test_gaussian_dropout_basics():
    run_layer_test(fastmask.layers.GaussianDropout, init_kwargs={"rate": 0.2},
                   input_shape=(2, 3), call_kwargs={"training": True},
                   expected_output_shape=(2, 3), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0, supports_masking=True,
                   assert_built_after_instantiation=True, compare_with_keras=False)


# keras/src/layers/regularization/gaussian_dropout_test.py::GaussianDropoutTest::test_gaussian_dropout_correctness
def test_gaussian_dropout_correctness():
    outputs = fastmask.layers.GaussianDropout(0.3, seed=1337)(np.ones((20, 500)), training=True)
    np.testing.assert_allclose(np.std(np.asarray(outputs)), np.sqrt(0.3 / (1 - 0.3)), atol=0.02)
