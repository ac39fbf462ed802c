"""Port of Keras 3.15.1 keras/src/models/sequential_test.py (inference cases).

Keras marks this whole class `requires_trainable_backend`, so Keras's own
numpy-backend run skips it; none of the ported cases trains, so they run here.
"""
import os
import pickle
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import Input, KerasTensor, layers
from fastmask.models import Model, Sequential
from _harness import assert_numbers, run_class_serialization_test

rng = np.random.default_rng(1)


def _random(*shape):
    return rng.random(shape)


def _weights_and_calls(model, batch_first, features, units):
    assert model.built
    y = model(_random(batch_first, features))
    assert y.shape == (batch_first, units)
    y = model(KerasTensor((batch_first, features)))
    assert y.shape == (batch_first, units)


# keras/src/models/sequential_test.py::SequentialTest::test_basic_flow_with_input
def test_basic_flow_with_input(capsys):
    model = Sequential(name="seq")
    model.add(Input(shape=(2,), batch_size=3))
    model.add(layers.Dense(4))
    model.add(layers.Dense(5))
    model.summary()
    assert len(model.layers) == 2 and model.built and len(model.weights) == 4
    _weights_and_calls(model, 3, 2, 5)

    model = Sequential(layers=[Input(shape=(2,), batch_size=3), layers.Dense(4),
                               layers.Dense(5)])
    assert len(model.layers) == 2 and model.built and len(model.weights) == 4
    assert model(_random(3, 2)).shape == (3, 5)
    model.pop()
    assert len(model.layers) == 1 and model.built and len(model.weights) == 2
    assert model(_random(3, 2)).shape == (3, 4)


# keras/src/models/sequential_test.py::SequentialTest::test_legacy_flow_with_input_shape
def test_legacy_flow_with_input_shape():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for first, second in ((layers.Dense(4, input_shape=(2,)), layers.Dense(5)),
                              (layers.Dense(4, input_dim=2), layers.Dense(5)),
                              (layers.Dense(4, input_shape=(2,)),
                               layers.Dense(5, input_shape=(3, 4)))):
            model = Sequential(name="seq")
            model.add(first)
            model.add(second)
            assert len(model.layers) == 2 and model.built and len(model.weights) == 4
            assert model(_random(3, 2)).shape == (3, 5)


# keras/src/models/sequential_test.py::SequentialTest::test_basic_flow_deferred
def test_basic_flow_deferred(capsys):
    model = Sequential(name="seq")
    model.add(layers.Dense(4))
    model.add(layers.Dense(5))
    model.summary()
    assert len(model.layers) == 2
    y = model(_random(3, 2))
    assert model.built and y.shape == (3, 5)
    model.summary()
    assert model(KerasTensor((3, 2))).shape == (3, 5)

    model = Sequential(layers=[layers.Dense(4), layers.Dense(5)])
    assert model(_random(3, 2)).shape == (3, 5)
    model.pop()
    assert len(model.layers) == 1 and model.built and len(model.weights) == 2
    assert model(_random(3, 2)).shape == (3, 4)


# keras/src/models/sequential_test.py::SequentialTest::test_basic_flow_as_a_submodel
def test_basic_flow_as_a_submodel():
    submodel = Sequential()
    submodel.add(layers.Flatten())
    assert not submodel.built
    inputs = Input((None, 4))
    model = Model(inputs=inputs, outputs=layers.TimeDistributed(submodel)(inputs))
    x = _random(2, 3, 4)
    y = model(x)
    assert y.shape == (2, 3, 4)
    np.testing.assert_allclose(y, x, rtol=1e-6)  # Flatten of each (4,) step is the step


# keras/src/models/sequential_test.py::SequentialTest::test_dict_inputs
def test_dict_inputs(capsys):
    seen = []

    class DictLayer(layers.Layer):
        def call(self, inputs):
            seen.append(type(inputs))
            return inputs

    model = Sequential([DictLayer()])
    y = model({"a": _random(3, 2), "b": _random(3, 2)})
    assert type(y) is dict and seen and all(t is dict for t in seen)
    model.summary()


# keras/src/models/sequential_test.py::SequentialTest::test_list_inputs
def test_list_inputs(capsys):
    seen = []

    class ListLayer(layers.Layer):
        def call(self, inputs):
            seen.append(type(inputs))
            return inputs

    model = Sequential([ListLayer()])
    y = model([_random(3, 2), _random(3, 2)])
    assert type(y) is list and seen and all(t is list for t in seen)
    model.summary()


# keras/src/models/sequential_test.py::SequentialTest::test_nested_sequential
def test_nested_sequential():
    model = Sequential()
    model.add(Input(shape=(16,)))
    Sequential([model])


# keras/src/models/sequential_test.py::SequentialTest::test_errors
def test_errors():
    model = Sequential()
    model.add(Input(shape=(2,), batch_size=3))
    with pytest.raises(ValueError, match="already been configured"):
        model.add(Input(shape=(2,), batch_size=3))
    with pytest.raises(ValueError, match="already been configured"):
        model.add(layers.InputLayer(shape=(2,), batch_size=3))

    model = Sequential()
    model.add(layers.Dense(2, name="dense"))
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(layers.Dense(2, name="dense"))

    with pytest.raises(ValueError, match="no layers"):
        Sequential()(_random(3, 2))

    model = Sequential()
    model.add(Input(shape=(2,), batch_size=3))
    model.add(layers.Dense(2))
    with pytest.raises(ValueError, match="already been configured"):
        model.build((3, 4))
    model.build((3, 2))


# keras/src/models/sequential_test.py::SequentialTest::test_shape_inference_failure
def test_shape_inference_failure(capsys):
    class DynamicLayer(layers.Layer):
        def call(self, inputs):
            return inputs + 1.0

        def compute_output_spec(self, *args, **kwargs):
            raise NotImplementedError

    model = Sequential([DynamicLayer()])
    x = _random(3, 2)
    np.testing.assert_allclose(model(x), x + 1, rtol=1e-6)
    model.summary()


# keras/src/models/sequential_test.py::SequentialTest::test_serialization
def test_serialization():
    model = Sequential(name="seq")
    model.add(layers.Dense(4))
    model.add(layers.Dense(5))
    assert len(run_class_serialization_test(model).layers) == 2
    model.build((2, 3))
    assert len(run_class_serialization_test(model).layers) == 2

    model = Sequential(name="seq")
    model.add(Input(shape=(2,), batch_size=3))
    for units in (4, 5, 6):
        model.add(layers.Dense(units))
    assert len(run_class_serialization_test(model).layers) == 3

    class DictLayer(layers.Layer):
        def call(self, inputs):
            assert isinstance(inputs, dict)
            return inputs

    model = Sequential([DictLayer()])
    revived = run_class_serialization_test(model, custom_objects={"DictLayer": DictLayer})
    assert len(revived.layers) == 1


# keras/src/models/sequential_test.py::SequentialTest::test_serialization_with_lambda_layer
def test_serialization_with_lambda_layer(tmp_path):
    inputs = rng.random((1, 10, 4)).astype("float32")
    width = 3
    model = Sequential([layers.Lambda(lambda x: x[:, -width:, :])])
    outputs = model(inputs)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    revived = fastmask.saving.load_model(path, safe_mode=False)
    assert len(revived.layers) == 1
    assert_numbers(revived(inputs), stated=inputs[:, -width:, :])
    assert_numbers(outputs, stated=inputs[:, -width:, :])


# keras/src/models/sequential_test.py::SequentialTest::test_functional_properties
def test_functional_properties():
    model = Sequential(name="seq")
    inputs = Input(shape=(2,))
    model.add(inputs)
    model.add(layers.Dense(4))
    assert model.inputs == [inputs]
    assert model.outputs == [model.layers[-1].output]
    assert model.input_shape == (None, 2)
    assert model.output_shape == (None, 4)


# keras/src/models/sequential_test.py::SequentialTest::test_pickleable
def test_pickleable():
    model = Sequential(name="seq")
    model.add(layers.Dense(4))
    assert len(pickle.loads(pickle.dumps(model)).layers) == 1


# keras/src/models/sequential_test.py::SequentialTest::test_bad_layer
def test_bad_layer():
    with pytest.raises(ValueError, match="Only instances of"):
        Sequential(name="seq").add({})

    class BadLayer(layers.Layer):
        def call(self, inputs, training):
            return inputs

    model = Sequential(name="seq")
    model.add(BadLayer())
    with pytest.raises(ValueError, match="can only have a single.*positional"):
        model.build((None, 2))


# keras/src/models/sequential_test.py::SequentialTest::test_compute_output_shape
def test_compute_output_shape():
    model = Sequential([layers.Dense(4), layers.Dense(8)])
    assert model.compute_output_shape((1, 2)) == (1, 8)


# keras/src/models/sequential_test.py::SequentialTest::test_hasattr
def test_hasattr():
    model = Sequential()
    for name in ("input_shape", "output_shape", "inputs", "outputs"):
        assert not hasattr(model, name), name
    model = Sequential([layers.Input((4,)), layers.Dense(8)])
    for name in ("input_shape", "output_shape", "inputs", "outputs"):
        assert hasattr(model, name), name


# keras/src/models/sequential_test.py::SequentialTest::test_layers_setter
def test_layers_setter():
    with pytest.raises(AttributeError, match=r"Use `add\(\)` and `pop\(\)`"):
        Sequential().layers = [layers.Dense(4)]

