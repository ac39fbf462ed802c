"""Port of Keras 3.15.1 keras/src/layers/core/masking_test.py."""
import os

import numpy as np

import fastmask
from _harness import assert_numbers, copy_weights, keras, run_layer_test

X = np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]],
              [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]]])
EXPECTED_MASK = [[False, True, False], [True, False, True]]


# keras/src/layers/core/masking_test.py::MaskingTest::test_masking_basics
def test_masking_basics():
    run_layer_test(fastmask.layers.Masking, init_kwargs={"mask_value": 0.0},
                   input_shape=(2, 3, 2), expected_output_shape=(2, 3, 2),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, assert_built_after_instantiation=True)


# keras/src/layers/core/masking_test.py::MaskingTest::test_masking_correctness
def test_masking_correctness():
    for K in (fastmask, keras()):
        np.testing.assert_array_equal(K.layers.Masking(mask_value=0.0).compute_mask(X),
                                      EXPECTED_MASK)
    seen = []

    class TestLayer(fastmask.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def compute_output_shape(self, input_shape):
            return input_shape

        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    fastmask.Sequential([fastmask.layers.Masking(mask_value=0.0), TestLayer()])(X)
    assert seen and all(m is not None for m in seen)
    np.testing.assert_array_equal(np.asarray(seen[-1]), EXPECTED_MASK)


# keras/src/layers/core/masking_test.py::MaskingTest::test_masking_with_tensor
def test_masking_with_tensor(tmp_path):
    def model_fn(K):
        return K.Sequential([K.layers.Masking(mask_value=0.0), K.layers.LSTM(1)])
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]],
                  [[2.0, 2.0], [2.0, 1.0], [0.0, 0.0]]])
    model, k_model = model_fn(fastmask), model_fn(keras())
    model(x)
    k_out = k_model(x)
    copy_weights(k_model, model)
    assert_numbers(model(x), k_out)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    assert_numbers(fastmask.saving.load_model(path)(x), k_out)
