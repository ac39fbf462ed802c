"""Port of Keras 3.15.1 keras/src/layers/core/wrapper_test.py."""
import pytest

import fastmask
from _harness import keras, run_layer_test


class ExampleWrapper(fastmask.layers.Wrapper):
    """A Wrapper subclass that calls its layer and casts to the compute dtype."""

    def call(self, inputs, **kwargs):
        return fastmask.ops.cast(self.layer(inputs, **kwargs), self.compute_dtype)


def _keras_example_wrapper():
    k = keras()

    class ExampleWrapper(k.layers.Wrapper):
        def call(self, inputs, **kwargs):
            return k.ops.cast(self.layer(inputs, **kwargs), self.compute_dtype)
    return ExampleWrapper


def _wrapper_case(fm_kwargs, k_kwargs):
    run_layer_test(ExampleWrapper, init_kwargs=fm_kwargs, input_shape=(2, 3),
                   expected_output_shape=(2, 2), expected_num_trainable_weights=2,
                   expected_num_non_trainable_weights=0, supports_masking=False,
                   keras_cls=_keras_example_wrapper(), keras_init_kwargs=k_kwargs,
                   custom_objects={"ExampleWrapper": ExampleWrapper},
                   keras_custom_objects={"ExampleWrapper": _keras_example_wrapper()})


# keras/src/layers/core/wrapper_test.py::WrapperTest::test_wrapper_basics (Dense)
def test_wrapper_basics_dense():
    _wrapper_case({"layer": fastmask.layers.Dense(2)}, {"layer": keras().layers.Dense(2)})


# keras/src/layers/core/wrapper_test.py::WrapperTest::test_wrapper_basics (Dense with an
# activity_regularizer; the loss count is training-only and not checked)
def test_wrapper_basics_inner_activity_regularizer():
    _wrapper_case({"layer": fastmask.layers.Dense(2, activity_regularizer="l2")},
                  {"layer": keras().layers.Dense(2, activity_regularizer="l2")})


# keras/src/layers/core/wrapper_test.py::WrapperTest::test_wrapper_basics (Wrapper's own
# activity_regularizer)
def test_wrapper_basics_outer_activity_regularizer():
    _wrapper_case({"layer": fastmask.layers.Dense(2), "activity_regularizer": "l2"},
                  {"layer": keras().layers.Dense(2), "activity_regularizer": "l2"})


# keras/src/layers/core/wrapper_test.py::WrapperTest::test_wrapper_invalid_layer
def test_wrapper_invalid_layer():
    with pytest.raises(ValueError, match="Layer .* supplied to Wrapper isn't a supported layer "
                                         "type. Please ensure wrapped layer is a valid Keras "
                                         "layer."):
        fastmask.layers.Wrapper("This is not a valid Keras layer.")
