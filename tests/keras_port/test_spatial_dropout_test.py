"""Port of Keras 3.15.1 keras/src/layers/regularization/spatial_dropout_test.py (1D cases).

Training-mode calls draw from fastmask's own generator: outputs are not compared
with Keras's numbers (compare_with_keras=False), only their structure.
"""
import numpy as np

import fastmask
from _harness import run_layer_test, skipped_cases

SpatialDropout1D = fastmask.layers.SpatialDropout1D


# keras/src/layers/regularization/spatial_dropout_test.py::SpatialDropoutTest::test_spatial_dropout_1d
def test_spatial_dropout_1d():
    # compare_config_with_keras=False: Keras's SpatialDropout config has no `trainable` key, and
    # the harness drops layer names only from configs that have one, so the auto-generated
    # names would be compared; tests/test_regularization_layers.py compares the configs
    # with Keras's (names aside).
    run_layer_test(SpatialDropout1D, init_kwargs={"rate": 0.5}, call_kwargs={"training": True},
                   input_shape=(2, 3, 4), assert_built_after_instantiation=True,
                   compare_with_keras=False, compare_config_with_keras=False)
    run_layer_test(SpatialDropout1D, init_kwargs={"rate": 0.5}, call_kwargs={"training": False},
                   input_shape=(2, 3, 4), assert_built_after_instantiation=True,
                   compare_config_with_keras=False)


# keras/src/layers/regularization/spatial_dropout_test.py::SpatialDropoutTest::test_spatial_dropout_1D_dynamic
def test_spatial_dropout_1D_dynamic():
    out = SpatialDropout1D(0.5)(fastmask.layers.Input((3, 2)), training=True)
    assert out.shape == (None, 3, 2)


# keras/src/layers/regularization/spatial_dropout_test.py::SpatialDropoutTest::test_spatial_dropout_1D_correctness
def test_spatial_dropout_1D_correctness():
    outputs = SpatialDropout1D(0.5)(np.ones((10, 3, 10)), training=True)
    np.testing.assert_allclose(outputs[:, 0, :], outputs[:, 1, :])


_NO_2D = "fastmask has SpatialDropout1D only (2D/3D are not in its scope)"
test_not_ported = skipped_cases([
    ("SpatialDropoutTest::test_spatial_dropout_2d", "not-applicable", _NO_2D),
    ("SpatialDropoutTest::test_spatial_dropout_3d", "not-applicable", _NO_2D),
    ("SpatialDropoutTest::test_spatial_dropout_2D_dynamic", "not-applicable", _NO_2D),
    ("SpatialDropoutTest::test_spatial_dropout_2D_correctness", "not-applicable", _NO_2D),
    ("SpatialDropoutTest::test_spatial_dropout_3D_dynamic", "not-applicable", _NO_2D),
    ("SpatialDropoutTest::test_spatial_dropout_3D_correctness", "not-applicable", _NO_2D),
])
