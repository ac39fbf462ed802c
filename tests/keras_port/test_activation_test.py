"""Port of Keras 3.15.1 keras/src/layers/activations/activation_test.py."""
import fastmask
from _harness import keras, run_layer_test


# keras/src/layers/activations/activation_test.py::ActivationTest::test_activation_basics ("relu")
def test_activation_basics_relu():
    run_layer_test(fastmask.layers.Activation, init_kwargs={"activation": "relu"},
                   input_shape=(2, 3), expected_output_shape=(2, 3),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, assert_built_after_instantiation=True)


# keras/src/layers/activations/activation_test.py::ActivationTest::test_activation_basics (gelu fn)
def test_activation_basics_gelu_function():
    run_layer_test(fastmask.layers.Activation,
                   init_kwargs={"activation": fastmask.activations.gelu},
                   keras_init_kwargs={"activation": keras().activations.gelu},
                   input_shape=(2, 2), expected_output_shape=(2, 2),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, assert_built_after_instantiation=True)
