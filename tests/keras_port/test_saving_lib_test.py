"""Port of Keras 3.15.1 keras/src/saving/saving_lib_test.py (inference cases).

Keras's cases save and reload a model and compare it with itself. Here the
oracle is Keras: every file fastmask writes is also read by
`keras.saving.load_model` (with Keras twins of the custom classes, registered
under the same names), and must give fastmask's numbers. Keras's private
`saving_lib` helpers (`save_weights_only`, `H5IOStore`, `_MEMORY_UPPER_BOUND`,
...) are replaced by the public calls they back (`model.save_weights`, ...).
"""
import json
import multiprocessing
import os
import warnings
import zipfile
from io import BytesIO
from types import SimpleNamespace

import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, skipped_cases, xfail

rng = np.random.default_rng(3)


def define_custom_objects(K):
    """The custom classes of Keras's test file, written against library `K`."""
    register = K.saving.register_keras_serializable

    @register(package="my_custom_package")
    class MyDense(K.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.nested_layer = K.layers.Dense(self.units, name="dense")

        def build(self, input_shape):
            self.additional_weights = [
                self.add_weight(shape=(), name="my_additional_weight", initializer="ones",
                                trainable=True),
                self.add_weight(shape=(), name="my_additional_weight_2", initializer="ones",
                                trainable=True)]
            self.weights_in_dict = {"my_weight": self.add_weight(
                shape=(), name="my_dict_weight", initializer="ones", trainable=True)}
            self.nested_layer.build(input_shape)

        def call(self, inputs):
            return self.nested_layer(inputs)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

        def two(self):
            return 2

    @register(package="my_custom_package")
    class LayerWithCustomSaving(MyDense):
        def build(self, input_shape):
            self.assets = ASSETS_DATA
            self.stored_variables = VARIABLES_DATA
            return super().build(input_shape)

        def save_assets(self, inner_path):
            with open(os.path.join(inner_path, "assets.txt"), "w") as f:
                f.write(self.assets)

        def save_own_variables(self, store):
            store["variables"] = self.stored_variables

        def load_assets(self, inner_path):
            with open(os.path.join(inner_path, "assets.txt")) as f:
                self.assets = f.read()

        def load_own_variables(self, store):
            self.stored_variables = np.array(store["variables"])

    @register(package="my_custom_package")
    class CustomModelX(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.dense1 = MyDense(1, name="my_dense_1")
            self.dense2 = MyDense(1, name="my_dense_2")

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

        def one(self):
            return 1

    @register(package="my_custom_package")
    class ModelWithCustomSaving(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.custom_dense = LayerWithCustomSaving(1)

        def call(self, inputs):
            return self.custom_dense(inputs)

    @register(package="my_custom_package")
    class CompileOverridingModel(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.dense1 = MyDense(1)

        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

        def call(self, inputs):
            return self.dense1(inputs)

    @register(package="my_custom_package")
    class CompileOverridingSequential(K.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)

    @register(package="my_custom_package")
    class SubclassFunctional(K.Model):
        def __init__(self, **kwargs):
            inputs = K.Input(shape=(4,), batch_size=2)
            dense = K.layers.Dense(1, name="first_dense")
            outputs = K.layers.Dense(1, name="second_dense")(dense(inputs))
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)
            self.layer_attr = dense

        @property
        def layer_property(self):
            return self.layer_attr

        def get_config(self):
            return {}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    return SimpleNamespace(**{c.__name__: c for c in (
        MyDense, LayerWithCustomSaving, CustomModelX, ModelWithCustomSaving,
        CompileOverridingModel, CompileOverridingSequential, SubclassFunctional)})


ASSETS_DATA = "These are my assets"
VARIABLES_DATA = np.random.default_rng(30).random((10,))
FM = define_custom_objects(fastmask)
KC = define_custom_objects(keras())


def _ns(K):
    return FM if K is fastmask else KC


def _subclassed(K):
    return _ns(K).CustomModelX(name="custom_model_x")


def _basic_sequential(K):
    return K.Sequential([K.layers.Dense(1, name="dense_1"), K.layers.Dense(1, name="dense_2")],
                        name="sequential")


def _custom_sequential(K):
    return K.Sequential([_ns(K).MyDense(1), _ns(K).MyDense(1)], name="sequential")


def _basic_functional(K):
    inputs = K.Input(shape=(4,), batch_size=2)
    x = K.layers.Dense(1, name="first_dense")(inputs)
    return K.Model(inputs, K.layers.Dense(1, name="second_dense")(x))


def _custom_functional(K):
    inputs = K.Input(shape=(4,), batch_size=2)
    x = _ns(K).MyDense(1, name="first_dense")(inputs)
    return K.Model(inputs, _ns(K).MyDense(1, name="second_dense")(x))


def _subclassed_functional(K):
    return _ns(K).SubclassFunctional()


def _inference_after_instantiation(model, tmp_path, x_ref=None):
    """Keras's `_test_inference_after_instantiation`, plus Keras reading the file."""
    x_ref = rng.random((2, 4)) if x_ref is None else x_ref
    y_ref = model(x_ref)
    path = os.path.join(tmp_path, "my_model.keras")
    model.save(path)
    loaded = fastmask.saving.load_model(path)
    assert len(loaded.weights) == len(model.weights)
    for w_ref, w in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(np.asarray(w), np.asarray(w_ref), rtol=1e-6)
    assert_numbers(loaded(x_ref), stated=y_ref)
    k_loaded = keras().saving.load_model(path)
    assert_numbers(y_ref, k_loaded(x_ref))
    assert model.compiled is False
    return loaded


_MODEL_FNS = {"subclassed": _subclassed, "basic_sequential": _basic_sequential,
              "basic_functional": _basic_functional, "custom_sequential": _custom_sequential,
              "custom_functional": _custom_functional,
              "subclassed_functional": _subclassed_functional}


# keras/src/saving/saving_lib_test.py::SavingTest::test_inference_after_instantiation
# (Keras's second pass with a patched _MEMORY_UPPER_BOUND tests a Keras-private code path)
@pytest.mark.parametrize("name", ["subclassed", "basic_sequential", "basic_functional",
                                  "custom_sequential", "custom_functional",
                                  "subclassed_functional"])
def test_inference_after_instantiation(name, tmp_path):
    _inference_after_instantiation(_MODEL_FNS[name](fastmask), tmp_path)


# keras/src/saving/saving_lib_test.py::SavingTest::test_saving_preserve_unbuilt_state
def test_saving_preserve_unbuilt_state(tmp_path):
    path = os.path.join(tmp_path, "my_model.keras")
    model = FM.CustomModelX()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.save(path)
    loaded = fastmask.saving.load_model(path)
    assert not model.built and not loaded.built
    assert model.compiled == loaded.compiled


# keras/src/saving/saving_lib_test.py::SavingTest::test_saving_custom_assets_and_variables
# (without Keras's compile + fit)
def test_saving_custom_assets_and_variables(tmp_path):
    path = os.path.join(tmp_path, "my_model.keras")
    model = FM.ModelWithCustomSaving()
    model(rng.random((100, 32)))
    assert not os.path.exists(path)
    model.save(path)
    loaded = fastmask.saving.load_model(path)
    assert loaded.custom_dense.assets == ASSETS_DATA
    assert loaded.custom_dense.stored_variables.tolist() == VARIABLES_DATA.tolist()
    k_loaded = keras().saving.load_model(path)
    assert k_loaded.custom_dense.assets == ASSETS_DATA
    assert k_loaded.custom_dense.stored_variables.tolist() == VARIABLES_DATA.tolist()


def _compile_overridden_warnings(model, tmp_path):
    path = os.path.join(tmp_path, "my_model.keras")
    model.compile("sgd", "mse")
    model.save(path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fastmask.saving.load_model(path)
    messages = [str(w.message) for w in record]
    assert any("`compile()` was not called as part of model loading because the model's "
               "`compile()` method is custom. " in m for m in messages), messages


# keras/src/saving/saving_lib_test.py::SavingTest::test_compile_overridden_warnings_sequential
def test_compile_overridden_warnings_sequential(tmp_path):
    model = FM.CompileOverridingSequential(
        [fastmask.layers.Embedding(4, 1), FM.MyDense(1), FM.MyDense(1)])
    _compile_overridden_warnings(model, tmp_path)


# keras/src/saving/saving_lib_test.py::SavingTest::test_compile_overridden_warnings_subclassed
def test_compile_overridden_warnings_subclassed(tmp_path):
    _compile_overridden_warnings(FM.CompileOverridingModel(), tmp_path)


# keras/src/saving/saving_lib_test.py::SavingTest::test_metadata
def test_metadata(tmp_path):
    path = os.path.join(tmp_path, "my_model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        FM.CompileOverridingModel().save(path)
    with zipfile.ZipFile(path) as z:
        metadata = json.loads(z.read("metadata.json"))
    assert "keras_version" in metadata and "date_saved" in metadata


def _k_twin_with_weights(fm_model, k_model, x):
    """Build the Keras twin on `x` and give it fastmask's weights."""
    k_model(x)
    k_model.set_weights([np.asarray(w) for w in fm_model.get_weights()])
    return k_model


def _saved_basic_functional(path, save):
    """A `_basic_functional` fastmask model saved to `path` by `save(model, path)`;
    (reference input, its output)."""
    model = _basic_functional(fastmask)
    ref_input = rng.random((2, 4))
    ref_output = model.predict(ref_input)
    save(model, path)
    return ref_input, ref_output


def _check_weights_load(path, build, ref_input, ref_output):
    """`load_weights(path)` into a new `build(fastmask)` and `build(keras)` model gives
    `ref_output` on `ref_input` in both."""
    model = build(fastmask)
    model.load_weights(path)
    assert_numbers(model.predict(ref_input), stated=ref_output)
    k_model = build(keras())
    k_model.load_weights(path)
    assert_numbers(ref_output, k_model.predict(ref_input, verbose=0))


# keras/src/saving/saving_lib_test.py::SavingTest::test_save_load_weights_only
def test_save_load_weights_only(tmp_path):
    path = os.path.join(tmp_path, "mymodel.weights.h5")
    ref = _saved_basic_functional(path, lambda m, p: m.save_weights(p))
    _check_weights_load(path, _basic_functional, *ref)


# keras/src/saving/saving_lib_test.py::SavingTest::test_save_weights_only_with_unbuilt_model
def test_save_weights_only_with_unbuilt_model(tmp_path):
    with pytest.raises(ValueError, match="You are saving a model that has not yet been built."):
        _subclassed(fastmask).save_weights(os.path.join(tmp_path, "mymodel.weights.h5"))


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_weights_only_with_unbuilt_model
def test_load_weights_only_with_unbuilt_model(tmp_path):
    path = os.path.join(tmp_path, "mymodel.weights.h5")
    model = _subclassed(fastmask)
    model.predict(rng.random((100, 32)))
    model.save_weights(path)
    model.load_weights(path)
    with pytest.raises(ValueError, match="You are loading weights into a model that has not "
                                         "yet been built."):
        _subclassed(fastmask).load_weights(path)


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_weights_only_with_keras_file
def test_load_weights_only_with_keras_file(tmp_path):
    path = os.path.join(tmp_path, "mymodel.keras")
    ref = _saved_basic_functional(path, lambda m, p: m.save(p))
    _check_weights_load(path, _basic_functional, *ref)


# keras/src/saving/saving_lib_test.py::SavingTest::test_save_weights_subclassed_functional
def test_save_weights_subclassed_functional(tmp_path):
    path = os.path.join(tmp_path, "mymodel.weights.h5")
    ref_input, ref_output = _saved_basic_functional(path, lambda m, p: m.save_weights(p))
    model = _subclassed_functional(fastmask)
    model.load_weights(path)
    assert_numbers(model.predict(ref_input), stated=ref_output)
    model.save_weights(path)
    model = _basic_functional(fastmask)
    model.load_weights(path)
    assert_numbers(model.predict(ref_input), stated=ref_output)
    k_model = _subclassed_functional(keras())
    k_model.load_weights(path)
    assert_numbers(ref_output, k_model.predict(ref_input, verbose=0))


def _seq(K, units):
    return K.Sequential([K.Input(shape=(3,), batch_size=2)] + [K.layers.Dense(u) for u in units])


# keras/src/saving/saving_lib_test.py::SavingTest::test_partial_load
def test_partial_load(tmp_path):
    path = os.path.join(tmp_path, "mymodel.keras")
    original = _seq(fastmask, (4, 5))
    original.save(path)

    new_model = _seq(fastmask, (4, 6))
    kernel_before = np.array(new_model.layers[1].kernel)
    with pytest.raises(ValueError, match="must match"):
        new_model.load_weights(path)
    new_model.load_weights(path, skip_mismatch=True)
    for ref_w, w in zip(original.layers[0].get_weights(), new_model.layers[0].get_weights()):
        np.testing.assert_allclose(w, ref_w)
    np.testing.assert_allclose(np.array(new_model.layers[1].kernel), kernel_before)

    new_model = _seq(fastmask, (4, 5, 5))
    kernel_before = np.array(new_model.layers[2].kernel)
    with pytest.raises(ValueError, match="received 0 variables"):
        new_model.load_weights(path)
    new_model.load_weights(path, skip_mismatch=True)
    for i in (0, 1):
        ref, new = original.layers[i].get_weights(), new_model.layers[i].get_weights()
        assert len(ref) == len(new)
        for ref_w, w in zip(ref, new):
            np.testing.assert_allclose(w, ref_w)
    np.testing.assert_allclose(np.array(new_model.layers[2].kernel), kernel_before)


# keras/src/saving/saving_lib_test.py::SavingTest::test_save_to_fileobj
# (without Keras's compile + fit between the two round trips)
def test_save_to_fileobj():
    def model_fn(K):
        return K.Sequential([K.Input((1,)), K.layers.Dense(1), K.layers.Dense(1)])
    model = model_fn(fastmask)
    x = np.array([[1.0], [2.0]])
    out = BytesIO()
    fastmask.saving.save_model(model, out)
    out.seek(0)
    model = fastmask.saving.load_model(out)
    pred1 = model.predict(x)
    out = BytesIO()
    fastmask.saving.save_model(model, out)
    out.seek(0)
    assert_numbers(fastmask.saving.load_model(out).predict(x), stated=pred1, stated_atol=1e-5)
    out.seek(0)
    # Keras's public `load_model` takes paths only; its test reads the file object with
    # `saving_lib.load_model`, as here.
    from keras.src.saving import saving_lib
    assert_numbers(pred1, saving_lib.load_model(out).predict(x, verbose=0))


class _RaiseOnSave(fastmask.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = fastmask.layers.Dense(units)

    def call(self, inputs):
        return self.dense(inputs)

    def save_own_variables(self, store):
        raise ValueError


class _RaiseOnLoad(_RaiseOnSave):
    def save_own_variables(self, store):
        fastmask.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        raise ValueError


# keras/src/saving/saving_lib_test.py::SavingTest::test_save_model_exception_raised
# (Keras runs it twice, with its private _MEMORY_UPPER_BOUND high and low)
@xfail("deliberate: fastmask writes an archive whole, then moves it into place, so a failed "
       "save leaves no file (Keras leaves a partial archive without weights)")
def test_save_model_exception_raised(tmp_path):
    model = fastmask.Sequential([fastmask.Input([1]), _RaiseOnSave(1)])
    path = os.path.join(tmp_path, "model.keras")
    with pytest.raises(ValueError):
        fastmask.saving.save_model(model, path)
    assert os.path.exists(path)
    with zipfile.ZipFile(path) as zf:
        assert "model.weights.h5" not in zf.namelist()
    assert os.listdir(tmp_path) == ["model.keras"]


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_model_exception_raised
def test_load_model_exception_raised(tmp_path):
    model = fastmask.Sequential([fastmask.Input([1]), _RaiseOnLoad(1)])
    path = os.path.join(tmp_path, "model.keras")
    fastmask.saving.save_model(model, path)
    with pytest.raises(ValueError):
        fastmask.saving.load_model(path, custom_objects={"_RaiseOnLoad": _RaiseOnLoad})
    assert os.listdir(tmp_path) == ["model.keras"]


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_model_read_only_system
def test_load_model_read_only_system(tmp_path):
    model = fastmask.Sequential([fastmask.Input([1]), fastmask.layers.Dense(32)])
    path = os.path.join(tmp_path, "model.keras")
    fastmask.saving.save_model(model, path)
    mode = os.stat(tmp_path).st_mode
    os.chmod(tmp_path, 0o555)
    try:
        fastmask.saving.load_model(path)
    finally:
        os.chmod(tmp_path, mode)
    assert os.listdir(tmp_path) == ["model.keras"]


def _load_model_fn(path):
    fastmask.saving.load_model(path)
    return True


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_model_concurrently
def test_load_model_concurrently(tmp_path):
    model = fastmask.Sequential([fastmask.Input([1]), fastmask.layers.Dense(2)])
    path = os.path.join(tmp_path, "model.keras")
    fastmask.saving.save_model(model, path)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = [pool.apply_async(_load_model_fn, (path,)) for _ in range(4)]
        pool.close()
        pool.join()
    assert [r.get() for r in results] == [True] * 4


# keras/src/saving/saving_lib_test.py::SavingTest::test_load_model_containing_reused_layer
def test_load_model_containing_reused_layer(tmp_path):
    K = fastmask
    inputs = K.Input((4,))
    reused = K.layers.Dense(4)
    x = K.layers.Dense(4)(reused(inputs))
    model = K.Model(inputs, reused(x))
    assert len(model.layers) == 3
    _inference_after_instantiation(model, tmp_path)


# keras/src/saving/saving_lib_test.py::SavingAPITest::test_saving_api_errors
def test_saving_api_errors(tmp_path):
    model = _basic_functional(fastmask)
    with pytest.raises(ValueError, match="argument is deprecated"):
        fastmask.saving.save_model(model, os.path.join(tmp_path, "mymodel"),
                                   save_format="keras")
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        fastmask.saving.save_model(model, os.path.join(tmp_path, "mymodel.notkeras"))
    with pytest.raises(ValueError, match="are not supported"):
        fastmask.saving.save_model(model, os.path.join(tmp_path, "mymodel.keras"),
                                   invalid_arg="hello")
    with pytest.raises(ValueError, match="Please ensure the file is an accessible"):
        fastmask.saving.load_model(os.path.join(tmp_path, "non_existent.keras"))
    with pytest.raises(ValueError, match="File format not supported"):
        fastmask.saving.load_model(os.path.join(tmp_path, "my_saved_model"))


# keras/src/saving/saving_lib_test.py::SavingAPITest::test_model_api_endpoint
def test_model_api_endpoint(tmp_path):
    path = os.path.join(tmp_path, "mymodel.keras")
    ref_input, ref_output = _saved_basic_functional(path, lambda m, p: m.save(p))
    assert_numbers(fastmask.saving.load_model(path).predict(ref_input), stated=ref_output)
    assert_numbers(ref_output, keras().saving.load_model(path).predict(ref_input, verbose=0))


# keras/src/saving/saving_lib_test.py::SavingAPITest::test_model_api_errors
def test_model_api_errors(tmp_path):
    model = _basic_functional(fastmask)
    with pytest.raises(ValueError, match="argument is deprecated"):
        model.save(os.path.join(tmp_path, "mymodel"), save_format="keras")
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(os.path.join(tmp_path, "mymodel.notkeras"))
    with pytest.raises(ValueError, match="are not supported"):
        model.save(os.path.join(tmp_path, "mymodel.keras"), invalid_arg="hello")


# keras/src/saving/saving_lib_test.py::SavingAPITest::test_safe_mode
def test_safe_mode(tmp_path):
    path = os.path.join(tmp_path, "unsafe_model.keras")
    model = fastmask.Sequential([fastmask.Input(shape=(3,)),
                                 fastmask.layers.Lambda(lambda x: x * 2)])
    model.save(path)
    with pytest.raises(ValueError, match="arbitrary code execution"):
        fastmask.saving.load_model(path)
    loaded = fastmask.saving.load_model(path, safe_mode=False)
    x = rng.random((2, 3)).astype("float32")
    assert_numbers(loaded(x), stated=x * 2)


class _GrowthFactor:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {"factor": self.factor}


GrowthFactor = fastmask.saving.register_keras_serializable()(_GrowthFactor)


@fastmask.saving.register_keras_serializable(package="Complex")
class FactorLayer(fastmask.layers.Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}


@fastmask.saving.register_keras_serializable(package="Complex")
class ComplexModel(fastmask.layers.Layer):
    def __init__(self, first_layer, second_layer=None, **kwargs):
        super().__init__(**kwargs)
        self.first_layer = first_layer
        self.second_layer = second_layer if second_layer is not None \
            else fastmask.layers.Dense(8)

    def get_config(self):
        return {**super().get_config(), "first_layer": self.first_layer,
                "second_layer": self.second_layer}

    def call(self, inputs):
        return self.first_layer(self.second_layer(inputs))


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_custom_object_without_from_config
@xfail("config: a registered callable object (get_config, no from_config) as activation cannot "
       "be saved (Keras saves it and fails at load)", raises=ValueError)
def test_custom_object_without_from_config(tmp_path):
    path = os.path.join(tmp_path, "custom_fn_model.keras")
    inputs = fastmask.Input(shape=(4, 4))
    model = fastmask.Model(inputs, fastmask.layers.Dense(1, activation=GrowthFactor(0.5))(inputs))
    model.save(path)
    with pytest.raises(TypeError, match="Unable to reconstruct an instance"):
        fastmask.saving.load_model(path)


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_complex_model_without_explicit_deserialization
def test_complex_model_without_explicit_deserialization(tmp_path):
    path = os.path.join(tmp_path, "complex_model.keras")
    inputs = fastmask.Input((32,))
    model = fastmask.Model(inputs, ComplexModel(first_layer=FactorLayer(0.5))(inputs))
    model.save(path)
    with pytest.raises(TypeError, match="are explicitly deserialized"):
        fastmask.saving.load_model(path)


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_redefinition_of_trackable
def test_redefinition_of_trackable(tmp_path):
    K = fastmask

    class NormalModel(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    class WeirdModel(K.Model):
        def __init__(self):
            super().__init__()
            self.a_dense = K.layers.Dense(3)

        @property
        def dense(self):
            return self.a_dense

        def call(self, x):
            return self.dense(x)

    path = os.path.join(tmp_path, "normal_model.weights.h5")
    model_a = NormalModel()
    model_a(rng.random((2, 2)))
    model_a.save_weights(path)
    model_b = WeirdModel()
    model_b(rng.random((2, 2)))
    model_b.load_weights(path)
    np.testing.assert_allclose(np.asarray(model_a.dense.kernel), np.asarray(model_b.dense.kernel))


def _func(K, in_size=4, out_size=2, name=None):
    inputs = K.layers.Input(shape=(in_size,))
    return K.Model(inputs, outputs=K.layers.Dense(out_size)(inputs), name=name)


def _roundtrip_vs_keras(model, x, tmp_path, name):
    path = os.path.join(tmp_path, name)
    model.save(path)
    ref_out = model(x)
    assert_numbers(fastmask.saving.load_model(path)(x), stated=ref_out)
    assert_numbers(ref_out, keras().saving.load_model(path)(x))


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_nested_functional_model_saving
def test_nested_functional_model_saving(tmp_path):
    K = fastmask
    input_a, input_b = K.Input((4,)), K.Input((4,))
    out_a = _func(K, out_size=2, name="func_a")(input_a)
    out_b = _func(K, out_size=3, name="func_b")(input_b)
    model = K.Model([input_a, input_b], outputs=[out_a, out_b])
    x = [rng.random((2, 4)), rng.random((2, 4))]
    _roundtrip_vs_keras(model, x, tmp_path, "nested_func.keras")


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_nested_shared_functional_model_saving
def test_nested_shared_functional_model_saving(tmp_path):
    K = fastmask
    inputs = [K.Input((4,)), K.Input((4,))]
    shared = _func(K, out_size=4, name="func_shared")
    out_a = K.layers.Dense(2)(shared(inputs[0]))
    out_b = K.layers.Dense(2)(shared(inputs[1]))
    model = K.Model(inputs, outputs=[out_a, out_b])
    x = [rng.random((2, 4)), rng.random((2, 4))]
    _roundtrip_vs_keras(model, x, tmp_path, "nested_shared_func.keras")


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_bidirectional_lstm_saving
def test_bidirectional_lstm_saving(tmp_path):
    K = fastmask
    inputs = K.Input((3, 2))
    model = K.Model(inputs, K.layers.Bidirectional(K.layers.LSTM(64))(inputs))
    _roundtrip_vs_keras(model, rng.random((1, 3, 2)), tmp_path, "bidir_lstm.keras")


def _container_model_classes(K, container_type, get_values, package):
    @K.saving.register_keras_serializable(package=package)
    class NestedContainerModel(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            inner1 = [K.layers.Dense(8), K.layers.Dense(8)]
            inner2 = [K.layers.Dense(8), K.layers.Dense(8)]
            if container_type is dict:
                self.blocks = {"block_a": inner1, "block_b": inner2}
            elif container_type is list:
                self.blocks = [inner1, inner2]
            else:
                self.blocks = (tuple(inner1), tuple(inner2))
            self.out_layer = K.layers.Dense(2)

        def call(self, x):
            for block in get_values(self.blocks):
                for layer in block:
                    x = layer(x)
            return self.out_layer(x)

        def get_config(self):
            return super().get_config()

    return NestedContainerModel


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_nested_container_layer_saving
@pytest.mark.parametrize("container_type,get_values", [
    (list, lambda b: b), (tuple, lambda b: b), (dict, lambda b: b.values())],
    ids=["list", "tuple", "dict"])
def test_nested_container_layer_saving(container_type, get_values, tmp_path):
    package = f"test_nested_{container_type.__name__}"
    model = _container_model_classes(fastmask, container_type, get_values, package)()
    _container_model_classes(keras(), container_type, get_values, package)
    x = rng.random((2, 4))
    model(x)
    for i, block in enumerate(get_values(model.blocks)):
        for j, layer in enumerate(block):
            layer.kernel.assign(np.full_like(np.asarray(layer.kernel), float(i * 2 + j + 1)))
            layer.bias.assign(np.zeros_like(np.asarray(layer.bias)))
    ref_out = model(x)
    path = os.path.join(tmp_path, f"nested_{container_type.__name__}.keras")
    model.save(path)
    new_model = fastmask.saving.load_model(path)
    for orig_block, new_block in zip(get_values(model.blocks), get_values(new_model.blocks)):
        for orig, new in zip(orig_block, new_block):
            np.testing.assert_allclose(np.asarray(new.kernel), np.asarray(orig.kernel))
    assert_numbers(new_model(x), stated=ref_out)
    assert_numbers(ref_out, keras().saving.load_model(path)(x))


def _simple_container_model(K, package, blocks_fn):
    @K.saving.register_keras_serializable(package=package)
    class ContainerModel(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = blocks_fn(K)
            self.out_layer = K.layers.Dense(2)

        def call(self, x):
            def run(item, x):
                if isinstance(item, (list, tuple)):
                    for sub in item:
                        x = run(sub, x)
                    return x
                return item(x)
            return self.out_layer(run(self.blocks, x))

        def get_config(self):
            return super().get_config()

    return ContainerModel


def _container_case(package, blocks_fn, tmp_path):
    model = _simple_container_model(fastmask, package, blocks_fn)()
    _simple_container_model(keras(), package, blocks_fn)
    x = rng.random((2, 4))
    model(x)
    _roundtrip_vs_keras(model, x, tmp_path, f"{package}.keras")


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_deeply_nested_container_layer_saving
def test_deeply_nested_container_layer_saving(tmp_path):
    _container_case("test_deeply_nested",
                    lambda K: [[[K.layers.Dense(4), K.layers.Dense(4)]]], tmp_path)


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_mixed_nested_container_layer_saving
def test_mixed_nested_container_layer_saving(tmp_path):
    _container_case("test_mixed_nested",
                    lambda K: [(K.layers.Dense(4), K.layers.Dense(4))], tmp_path)


# keras/src/saving/saving_lib_test.py::SavingBattleTest::test_cyclic_container_saving
def test_cyclic_container_saving(tmp_path):
    def model_cls(K):
        @K.saving.register_keras_serializable(package="test_cyclic_container")
        class CyclicContainerModel(K.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.blocks = []
                self.blocks.append(self.blocks)
                self.out = K.layers.Dense(2)

            def call(self, x):
                return self.out(x)

            def get_config(self):
                return super().get_config()
        return CyclicContainerModel

    model = model_cls(fastmask)()
    model_cls(keras())
    x = rng.random((2, 4))
    model(x)
    _roundtrip_vs_keras(model, x, tmp_path, "cyclic_container.keras")


# keras/src/saving/saving_lib_test.py::SafeGetH5DatasetTest::test_load_weights_rejects_shape_bomb
def test_load_weights_rejects_shape_bomb(tmp_path):
    import h5py
    model = fastmask.Sequential([fastmask.Input((4,)), fastmask.layers.Dense(3, name="d")])
    path = os.path.join(tmp_path, "good.weights.h5")
    model.save_weights(path)
    datasets = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: datasets.append(name)
                     if isinstance(obj, h5py.Dataset) and "/vars/" in "/" + name else None)
    with h5py.File(path, "r+") as f:
        del f[datasets[0]]
        f.create_dataset(datasets[0], shape=(2 ** 50,), dtype="float64", chunks=(1024,),
                         compression="gzip", fillvalue=0.0)
    reloaded = fastmask.Sequential([fastmask.Input((4,)), fastmask.layers.Dense(3, name="d")])
    with pytest.raises(ValueError):
        reloaded.load_weights(path)


_T, _I = "training", "keras-internal"
test_not_ported = skipped_cases([
    ("SavingTest::test_compile_preserved", _T, "fit, optimizer variables, evaluate"),
    ("SavingTest::test_saved_module_paths_and_class_names", _T,
     "fit, then the optimizer/loss compile config"),
    ("SavingTest::test_compile_arg", _T, "fit, then load_model(compile=...)"),
    ("SavingAPITest::test_model_api_endpoint_h5", "export", "legacy .h5 model format"),
    ("SavingBattleTest::test_legacy_h5_format", "export", "legacy .h5 model format"),
    ("SavingBattleTest::test_legacy_load_skips_missing_nested_containers", "not-applicable",
     "needs a fixture archive from Keras's repository (not shipped with keras)"),
    ("SavingBattleTest::test_remove_weights_only_saving_and_loading", _I,
     "patches keras.src.utils.file_utils.is_remote_path"),
    ("SavingH5IOStoreTest::test_h5_io_store_basics", _I, "saving_lib.H5IOStore"),
    ("SavingH5IOStoreTest::test_h5_io_store_lora", "quantization", "H5IOStore + LoRA"),
    ("SavingH5IOStoreTest::test_h5_io_store_exception_raised", _I, "saving_lib.H5IOStore"),
    ("SavingH5IOStoreTest::test_sharded_h5_io_store_basics", _I, "saving_lib.ShardedH5IOStore"),
    ("SavingH5IOStoreTest::test_sharded_h5_io_store_cross_shard_read", _I,
     "saving_lib.ShardedH5IOStore"),
    ("SavingH5IOStoreTest::test_sharded_h5_io_store_exception_raised", _I,
     "saving_lib.ShardedH5IOStore"),
    ("SafeZipReadTest::test_rejects_decompression_bomb", _I, "saving_lib._safe_zip_read"),
    ("SafeZipReadTest::test_allows_incompressible_member", _I, "saving_lib._safe_zip_read"),
    ("SafeZipReadTest::test_load_model_rejects_bomb_config", _I,
     "patches Keras's private bomb thresholds (real ones need a >4 GiB member)"),
    ("SafeZipReadTest::test_load_model_rejects_bomb_weights", _I,
     "patches Keras's private bomb thresholds (real ones need a >4 GiB member)"),
    ("SafeZipReadTest::test_load_model_rejects_extraction_bomb", _I,
     "patches Keras's private bomb thresholds (real ones need a >256 MiB member)"),
    ("SafeGetH5DatasetTest::test_rejects_shape_bomb", _I, "saving_lib.safe_get_h5_dataset"),
    ("SavingDiskIOStoreTest::test_disk_io_store_rejects_path_traversal", _I,
     "saving_lib.DiskIOStore"),
    ("SavingDiskIOStoreTest::test_disk_io_store_rejects_backslash_traversal", _I,
     "saving_lib.DiskIOStore"),
    ("SavingDiskIOStoreTest::test_disk_io_store_remote_working_dir_is_preserved", _I,
     "saving_lib.DiskIOStore"),
    ("SavingNpzIOStoreTest::test_npz_io_store_rejects_shape_bomb", _I, "saving_lib.NpzIOStore"),
    ("SavingNpzIOStoreTest::test_npz_io_store_loads_normal_array", _I, "saving_lib.NpzIOStore"),
])
