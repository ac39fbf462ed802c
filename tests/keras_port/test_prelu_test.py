"""Port of Keras 3.15.1 keras/src/layers/activations/prelu_test.py."""
import numpy as np

import fastmask
from _harness import run_layer_test


# keras/src/layers/activations/prelu_test.py::PReLUTest::test_prelu
def test_prelu():
    run_layer_test(fastmask.layers.PReLU,
                   init_kwargs={"alpha_initializer": "zeros", "alpha_regularizer": "L1",
                                "alpha_constraint": "MaxNorm", "shared_axes": 1},
                   input_shape=(2, 3, 4), supports_masking=True)


# keras/src/layers/activations/prelu_test.py::PReLUTest::test_prelu_correctness
def test_prelu_correctness():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((2, 10, 5, 3))
    layer = fastmask.layers.PReLU(alpha_initializer="glorot_uniform", alpha_regularizer="l1",
                                  alpha_constraint="non_neg", shared_axes=(1, 2))
    layer.build(inputs.shape)
    weights = rng.random((1, 1, 3))
    layer.alpha.assign(weights)
    ref_out = (inputs > 0) * inputs + (inputs <= 0) * weights * inputs
    np.testing.assert_allclose(layer(inputs), ref_out, rtol=1e-6, atol=1e-6)
