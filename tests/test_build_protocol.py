"""Keras's build/load protocol and Model semantics, each case against Keras 3.15.1 (numpy).

Models are built and saved in Keras, loaded in fastmask (and the other way round);
weights are compared all and in order, outputs within 1e-5, configs as saved JSON.
Covers (issue 14 points 2-4): dynamic shapes of Sequential/Functional models, the
`Model.__new__` rule and subclassed functional models, the build wrapping and
`_build_at_init`, `build_from_config` on load (lazily built sublayers, subclassed
models), nested build configs, Keras's weight walk and its error texts, `compile`,
`to_json`/`model_from_json`, `fastmask.Variable(array)`.
"""
import copy
import json
import re
import warnings

import numpy as np
import pytest

import fastmask
from fastmask.saving.keras_h5 import weight_paths
from oracle import assert_outputs_close, keras

h5py = pytest.importorskip("h5py")

RNG = np.random.default_rng(14)


def _x(*shape):
    return RNG.standard_normal(shape).astype("float32")


def _ids(batch, time, vocab=20):
    ids = RNG.integers(1, vocab, (batch, time))
    ids[0, time // 2:] = 0
    return ids.astype("int32")


def _same_weights(k_model, f_model):
    """All weights equal, in the same order, with the same shapes."""
    k_w, f_w = k_model.get_weights(), f_model.get_weights()
    assert [np.shape(w) for w in k_w] == [np.shape(w) for w in f_w]
    for a, b in zip(k_w, f_w):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _json(K, obj):
    return json.loads(json.dumps(K.saving.serialize_keras_object(obj), default=repr))


def _without_names(value):
    """A saved config without auto-generated layer names (and fastmask's extra
    `build_config.supports_masking`, README: custom layers keep it)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "name" or k == "supports_masking":
                continue
            v = _without_names(v)
            if k == "build_config" and v == {}:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_without_names(v) for v in value]
    return value


# ----------------------------------------------------------------------------- custom classes

def _define(K):
    """The same custom classes for Keras and fastmask, registered under the same names."""
    register = K.saving.register_keras_serializable(package="BuildProtocol")

    @register
    class LazyBlock(K.layers.Layer):
        """No `build`: its Dense sublayers are built lazily in `call`."""

        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.first = K.layers.Dense(units, activation="tanh")
            self.second = K.layers.Dense(units)

        def call(self, x):
            return self.second(self.first(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register
    class NERModel(K.Model):
        """A subclassed model taking two positional arguments (keras-io's NER example)."""

        def __init__(self, num_tags, vocab_size, embed_dim=8, **kwargs):
            super().__init__(**kwargs)
            self.num_tags, self.vocab_size, self.embed_dim = num_tags, vocab_size, embed_dim
            self.embedding = K.layers.Embedding(vocab_size, embed_dim, mask_zero=True)
            self.rnn = K.layers.LSTM(6, return_sequences=True)
            self.classifier = K.layers.Dense(num_tags)

        def call(self, inputs):
            return self.classifier(self.rnn(self.embedding(inputs)))

        def get_config(self):
            return {**super().get_config(), "num_tags": self.num_tags,
                    "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}

    @register
    class FunctionalSubclass(K.Model):
        """A subclass passing (inputs, outputs) to `super().__init__`; `*args, **kwargs`,
        so its config is the graph (Keras's rule)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

        def describe(self):
            return f"{len(self.layers)} layers"

    @register
    class OwnInitFunctional(K.Model):
        """A functional subclass with its own constructor: its config is not the graph."""

        def __init__(self, units=3, **kwargs):
            inputs = K.Input((5,))
            super().__init__(inputs, K.layers.Dense(units)(inputs), **kwargs)

    @register
    class Walk(K.Model):
        """Attributes assigned in the order zeta, alpha, _hidden, blocks (Keras's walk
        visits them sorted, `_` names last, list items as `dense`, `dense_1`)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.zeta = K.layers.Dense(3)
            self.alpha = K.layers.Dense(3)
            self._hidden = K.layers.Dense(3)
            self.blocks = [K.layers.Dense(3), K.layers.Dense(2)]

        def call(self, x):
            x = self._hidden(self.alpha(self.zeta(x)))
            for block in self.blocks:
                x = block(x)
            return x

    return {c.__name__: c for c in (LazyBlock, NERModel, FunctionalSubclass,
                                    OwnInitFunctional, Walk)}


@pytest.fixture(scope="module")
def classes():
    return _define(keras()), _define(fastmask)


# ----------------------------------------------------------------------------- point 2

def test_sequential_without_input_accepts_other_shapes_like_keras(tmp_path):
    """Built on its first call: an InputLayer with that call's full shape (batch included),
    in build_config and the saved config; other batch sizes and lengths run, with no
    warning, before and after a reload (in both libraries)."""
    def make(K):
        return K.Sequential([K.layers.LSTM(4, return_sequences=True), K.layers.Dense(2)])

    k_model, f_model = make(keras()), make(fastmask)
    x = _x(2, 5, 3)
    k_model(x)
    f_model(x)
    f_model.set_weights(k_model.get_weights())
    assert f_model.get_build_config() == k_model.get_build_config() == {"input_shape": (2, 5, 3)}
    k_config = _json(keras(), k_model)
    assert _without_names(_json(fastmask, f_model)) == _without_names(k_config)
    assert k_config["config"]["layers"][0]["config"]["batch_shape"] == [2, 5, 3]
    other = _x(3, 7, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_outputs_close(k_model(other), f_model(other))
    f_model.save(tmp_path / "f.keras")
    k_model.save(tmp_path / "k.keras")
    for path in ("f.keras", "k.keras"):
        loaded = fastmask.models.load_model(tmp_path / path)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_outputs_close(k_model(other), loaded(other))
            longer = _x(1, 9, 3)
            assert_outputs_close(k_model(longer), loaded(longer))
    # Only the rank rules of `_adjust_input_rank` apply.
    with pytest.raises(ValueError, match=r"Expected shape \(2, 5, 3\), but input has "
                                         r"incompatible shape \(3, 3\)"):
        f_model(_x(3, 3))
    with pytest.raises(ValueError, match=r"incompatible shape \(3, 3\)"):
        k_model(_x(3, 3))


def test_functional_enforces_non_batch_dims_with_keras_message():
    def make(K):
        inputs = K.Input((5, 8), name="tokens")
        return K.Model(inputs, K.layers.Dense(2)(inputs), name="tagger")

    k_model, f_model = make(keras()), make(fastmask)
    messages = []
    for model in (k_model, f_model):
        with pytest.raises(ValueError) as err:
            model(_x(2, 7, 8))
        messages.append(str(err.value).split("\n")[0])
        with pytest.raises(ValueError) as err:
            model.predict(_x(2, 7, 8), verbose=0)
        assert "expected shape=(None, 5, 8), found shape=(2, 7, 8)" in str(err.value)
    assert messages[0] == messages[1] == (
        "Input 0 with name 'tokens' of layer 'tagger' is incompatible with the layer: "
        "expected shape=(None, 5, 8), found shape=(2, 7, 8)")
    f_model.set_weights(k_model.get_weights())
    for batch in (1, 4):   # the batch is never checked
        x = _x(batch, 5, 8)
        assert_outputs_close(k_model(x), f_model(x))


def test_standardize_inputs_dicts_structure_warning_optional():
    def make(K):
        a = K.Input((3,), name="a")
        b = K.Input((3,), name="b", optional=True)

        class AddIfPresent(K.layers.Layer):
            def call(self, x, y=None):
                return x if y is None else x + y

            def compute_output_shape(self, x_shape, y_shape=None):
                return x_shape

        return K.Model({"a": a, "b": b}, AddIfPresent()(a, b))

    k_model, f_model = make(keras()), make(fastmask)
    x, y = _x(2, 3), _x(2, 3)
    for inputs in ({"a": x, "b": y}, {"a": x, "b": None}):
        assert_outputs_close(k_model(inputs), f_model(inputs))
    recorded = {}
    for name, model in (("keras", k_model), ("fastmask", f_model)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            model([x, y])
        recorded[name] = [str(w.message) for w in record if "structure" in str(w.message)]
    assert recorded["fastmask"] == recorded["keras"] and len(recorded["keras"]) == 1
    for model in (k_model, f_model):
        with pytest.raises(ValueError, match='Missing data for input "a"'):
            model({"c": x, "b": y})


# ----------------------------------------------------------------------------- point 3

def test_model_new_rule(classes):
    k_cls, f_cls = classes
    ner = f_cls["NERModel"](5, 20)
    assert type(ner) is f_cls["NERModel"]
    assert not isinstance(ner, fastmask.models.Functional)
    inputs = fastmask.Input((4,))
    plain = fastmask.Model(inputs, fastmask.layers.Dense(2)(inputs))
    assert type(plain) is fastmask.models.Functional
    sub = f_cls["FunctionalSubclass"](inputs, fastmask.layers.Dense(2)(inputs))
    assert type(sub) is f_cls["FunctionalSubclass"]
    assert isinstance(sub, fastmask.models.Functional) and sub.describe() == "2 layers"
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        fastmask.Model(inputs=inputs)
    # A functional subclass with its own __init__ saves no graph (Keras's rule).
    k_own, f_own = k_cls["OwnInitFunctional"](units=4), f_cls["OwnInitFunctional"](units=4)
    assert isinstance(f_own, fastmask.models.Functional)
    assert set(f_own.get_config()) == set(k_own.get_config()) == {"name", "trainable", "dtype"}


def test_subclassed_ner_model_saved_by_keras(classes, tmp_path):
    k_cls, f_cls = classes
    k_model = k_cls["NERModel"](5, 20)
    ids = _ids(3, 6)
    k_out = k_model(ids)
    k_model.save(tmp_path / "ner.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # build_from_config traces `call`: no warning
        f_model = fastmask.models.load_model(tmp_path / "ner.keras")
    assert type(f_model) is f_cls["NERModel"] and f_model.built
    assert f_model.get_build_config() == {"input_shape": (3, 6)}
    _same_weights(k_model, f_model)
    assert_outputs_close(k_out, f_model(ids))
    longer = _ids(2, 9)
    assert_outputs_close(k_model(longer), f_model(longer))
    # ... and back: fastmask's file loads in Keras with the same weights.
    f_model.save(tmp_path / "ner_fm.keras")
    back = keras().saving.load_model(tmp_path / "ner_fm.keras")
    _same_weights(back, f_model)


def test_subclassed_functional_model_saves_and_loads(classes, tmp_path):
    k_cls, f_cls = classes

    def make(K, cls):
        inputs = K.Input((None, 4), name="x")
        h = K.layers.GRU(3, return_sequences=True, name="gru")(K.layers.Dense(4, name="d")(inputs))
        return cls(inputs, K.layers.Dense(2, name="out")(h), name="sub")

    k_model = make(keras(), k_cls["FunctionalSubclass"])
    f_model = make(fastmask, f_cls["FunctionalSubclass"])
    assert _without_names(_json(fastmask, f_model)) == _without_names(_json(keras(), k_model))
    x = _x(2, 5, 4)
    k_model.save(tmp_path / "k.keras")
    loaded = fastmask.models.load_model(tmp_path / "k.keras")
    assert type(loaded) is f_cls["FunctionalSubclass"] and loaded.describe() == "4 layers"
    _same_weights(k_model, loaded)
    assert_outputs_close(k_model(x), loaded(x))
    loaded.save(tmp_path / "f.keras")
    again = keras().saving.load_model(tmp_path / "f.keras")
    assert type(again) is k_cls["FunctionalSubclass"]
    _same_weights(again, loaded)


# ----------------------------------------------------------------------------- point 4

def test_lazy_sublayers_restore_keras_weights(classes, tmp_path):
    """A custom layer without `build`, whose Dense sublayers are built lazily in `call`:
    Keras warns at load (default build with unbuilt state), the graph rebuild traces
    `call`, and every weight lands where Keras put it."""
    k_cls, f_cls = classes

    def make(K, cls):
        inputs = K.Input((7,))
        return K.Model(inputs, K.layers.Dense(2)(cls(5)(inputs)))

    k_model = make(keras(), k_cls["LazyBlock"])
    x = _x(3, 7)
    k_model.save(tmp_path / "lazy.keras")
    records = {}
    for name, load in (("keras", keras().saving.load_model),
                       ("fastmask", fastmask.models.load_model)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            loaded = load(tmp_path / "lazy.keras")
        records[name] = [str(w.message) for w in record if "`build()` was called" in
                         str(w.message)]
    assert records["fastmask"] == records["keras"] and len(records["keras"]) == 1
    _same_weights(k_model, loaded)
    assert_outputs_close(k_model(x), loaded(x))
    def paths(layer):   # weight paths without the layers' name counters
        return [re.sub(r"_\d+", "", w.path) for w in layer.weights]

    assert paths(loaded.layers[1]) == paths(k_model.layers[1]) == [
        "lazy_block/dense/kernel", "lazy_block/dense/bias"] * 2


def test_build_overriding_subclasses_stay_unbuilt_until_called():
    """Masking/Softmax/pooling are built at `__init__` (`_build_at_init`) unless a subclass
    overrides `build`; then the first call builds them and records the shape."""
    for name in ("Masking", "Softmax", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
                 "Dropout", "ReLU", "Identity"):
        results = []
        for K in (keras(), fastmask):
            base = getattr(K.layers, name)
            kwargs = {"rate": 0.5} if name == "Dropout" else {}

            class WithBuild(base):
                def build(self, input_shape):
                    self.seen = input_shape

            plain, sub = base(**kwargs), WithBuild(**kwargs)
            state = [plain.built, plain.get_build_config(), sub.built]
            sub(np.ones((2, 3, 4), "float32"))
            state += [sub.built, sub.get_build_config(), sub.seen]
            results.append(state)
        assert results[1] == results[0], name
        assert results[0][:3] == [True, None, False]
        assert results[0][4] == {"input_shape": (2, 3, 4)}


# issue 14 point 6's layers: Keras builds the weightless ones at `__init__`; a subclass
# overriding `build` waits for its first call, which records the shape.
_NEW_LAYERS = [("MaxPooling1D", {}), ("AveragePooling1D", {"pool_size": 2}), ("LeakyReLU", {}), ("ELU", {}),
               ("Permute", {"dims": (2, 1)}), ("ZeroPadding1D", {}), ("Cropping1D", {}),
               ("UpSampling1D", {}), ("SpatialDropout1D", {"rate": 0.5}),
               ("GaussianNoise", {"stddev": 0.1}), ("GaussianDropout", {"rate": 0.1}),
               ("PReLU", {}), ("Conv1D", {"filters": 2, "kernel_size": 2}),
               ("Conv1DTranspose", {"filters": 2, "kernel_size": 2}),
               ("BatchNormalization", {})]


@pytest.mark.parametrize("name,kwargs", _NEW_LAYERS, ids=[n for n, _ in _NEW_LAYERS])
def test_new_layers_follow_the_build_protocol(name, kwargs):
    results = []
    for K in (keras(), fastmask):
        base = getattr(K.layers, name)

        class WithBuild(base):
            def build(self, input_shape):
                super().build(input_shape)
                self.seen = input_shape

        plain, sub = base(**kwargs), WithBuild(**kwargs)
        state = [plain.built, plain.get_build_config(), sub.built]
        sub(np.ones((2, 3, 4), "float32"))
        state += [sub.built, sub.get_build_config(), sub.seen,
                  [tuple(w.shape) for w in sub.weights]]
        plain(np.ones((2, 3, 4), "float32"))
        revived = K.layers.deserialize(K.layers.serialize(plain))
        state += [revived.built, [tuple(w.shape) for w in revived.weights]]
        results.append(state)
    assert results[1] == results[0], name


def test_sequential_of_new_layers_without_input_takes_other_lengths_after_reload(tmp_path):
    """Point 2 with the new layers: built on its first call, reloaded, called at another
    batch size and length, same numbers as Keras."""
    def make(K):
        L = K.layers
        return K.Sequential([L.Conv1D(4, 3, padding="causal"), L.BatchNormalization(),
                             L.LeakyReLU(), L.MaxPooling1D(2, padding="same"),
                             L.Conv1DTranspose(3, 2, strides=2), L.PReLU(shared_axes=[1]),
                             L.ZeroPadding1D(1), L.Cropping1D((0, 1)), L.UpSampling1D(2)])

    k_model = make(keras())
    k_model(_x(2, 7, 5))
    k_model.save(tmp_path / "seq.keras")
    loaded = fastmask.saving.load_model(tmp_path / "seq.keras")
    _same_weights(k_model, loaded)
    for shape in [(2, 7, 5), (3, 11, 5)]:
        x = _x(*shape)
        assert_outputs_close(k_model(x), loaded(x))


def test_nested_build_configs_survive_a_round_trip():
    """RNN(cell), stacked cells, Bidirectional(backward_layer=...) and TimeDistributed:
    the saved config (nested build_configs included) equals Keras's, before and after a
    deserialize/serialize round trip, and the nested layers come back built."""
    def make(K):
        L = K.layers
        return [L.RNN(L.LSTMCell(3), return_sequences=True),
                L.RNN([L.GRUCell(3), L.LSTMCell(2)]),
                L.Bidirectional(L.LSTM(3, return_sequences=True),
                                backward_layer=L.GRU(3, return_sequences=True,
                                                     go_backwards=True)),
                L.TimeDistributed(L.Dense(3))]

    x = _x(2, 4, 5)
    for k_layer, f_layer in zip(make(keras()), make(fastmask)):
        k_layer(x)
        f_layer(x)
        k_config, f_config = _json(keras(), k_layer), _json(fastmask, f_layer)
        assert _without_names(f_config) == _without_names(k_config), type(f_layer).__name__
        revived = fastmask.saving.deserialize_keras_object(copy.deepcopy(f_config))
        k_revived = keras().saving.deserialize_keras_object(copy.deepcopy(k_config))
        assert _without_names(_json(fastmask, revived)) == \
            _without_names(_json(keras(), k_revived))
        for sub in revived._flatten_layers():
            assert sub.built, (type(f_layer).__name__, type(sub).__name__)


def test_weight_walk_follows_keras(classes, tmp_path):
    """Keras's `_walk_saveable` order: own vars, attributes sorted with `_` names last,
    list items named by class (`dense`, `dense_1`), a layer reached twice saved once."""
    k_cls, f_cls = classes
    k_model, f_model = k_cls["Walk"](), f_cls["Walk"]()
    x = _x(2, 4)
    k_model(x)
    f_model(x)
    k_model.save_weights(tmp_path / "k.weights.h5")
    f_model.save_weights(tmp_path / "f.weights.h5")

    def groups(path):
        found = []
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.append(name[:-len("/vars")])
                         if name.endswith("vars") and len(obj) else None)
        return sorted(found)

    assert groups(tmp_path / "f.weights.h5") == groups(tmp_path / "k.weights.h5") == [
        "alpha", "blocks/dense", "blocks/dense_1", "layers/dense", "layers/dense_2"]
    assert [p for p, _, own in weight_paths(f_model) if own] == [
        "alpha", "blocks/dense", "blocks/dense_1", "layers/dense", "layers/dense_2"]
    f_model.load_weights(tmp_path / "k.weights.h5")
    _same_weights(k_model, f_model)
    assert_outputs_close(k_model(x), f_model(x))


def test_keras_error_texts_on_mismatched_weights(tmp_path):
    """Key count and shape mismatches give Keras's messages, aggregated as Keras does;
    fastmask then restores every weight (all or nothing)."""
    def make(K, units):
        inputs = K.Input((4,))
        return K.Model(inputs, K.layers.Dense(units, name="d")(inputs))

    source = make(keras(), 2)
    source.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        f.create_dataset("layers/dense/vars/2", data=np.zeros(2))
    messages = []
    for K in (keras(), fastmask):
        target = make(K, 2)
        before = [np.array(w) for w in target.get_weights()]
        with pytest.raises(ValueError) as err:
            target.load_weights(tmp_path / "w.weights.h5")
        messages.append(str(err.value))
    assert messages[1].startswith(messages[0].split("\n\nList of objects")[0])
    assert "A total of 1 objects could not be loaded" in messages[1]
    assert ("Layer 'd' expected 2 variables, but received 3 variables during loading. "
            "Expected: ['kernel', 'bias']") in messages[1]
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)
    # A shape mismatch: Keras's `assign` error.
    make(keras(), 3).save_weights(tmp_path / "w3.weights.h5")
    with pytest.raises(ValueError, match=r"`variable.assign\(value\)` must match\. "
                                         r"variable.shape=\(4, 2\), Received: "
                                         r"value.shape=\(4, 3\)"):
        make(fastmask, 2).load_weights(tmp_path / "w3.weights.h5")


# ----------------------------------------------------------------------------- point 5

def test_compile_and_compiled_files(tmp_path):
    def make(K):
        inputs = K.Input((3,))
        return K.Model(inputs, K.layers.Dense(2)(inputs))

    k_model = make(keras())
    k_model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = _x(4, 3)
    k_model.save(tmp_path / "compiled.keras")   # (Keras's numpy backend cannot `fit`)
    f_model = fastmask.models.load_model(tmp_path / "compiled.keras")
    assert f_model.compiled
    assert f_model.get_compile_config() == json.loads(json.dumps(
        k_model.get_compile_config(), default=repr))
    assert_outputs_close(k_model(x), f_model(x))
    assert not fastmask.models.load_model(tmp_path / "compiled.keras", compile=False).compiled
    # A script that compiles before predict runs; fastmask's file keeps the compile config.
    f_new = make(fastmask)
    f_new.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert f_new.predict(x, verbose=0).shape == (4, 2)
    f_new.save(tmp_path / "f.keras")
    k_loaded = keras().saving.load_model(tmp_path / "f.keras")
    assert k_loaded.compiled and k_loaded.loss == "mse"
    with pytest.raises(NotImplementedError, match="inference only"):
        f_new.fit(x, _x(4, 2))
    with pytest.raises(NotImplementedError, match="inference only"):
        f_new.evaluate(x, _x(4, 2))


def test_to_json_and_model_from_json_both_ways():
    def make(K):
        # (no mask_zero: Keras records the mask it passes on as `NotEqual` op nodes)
        inputs = K.Input((None,), dtype="int32", name="ids")
        h = K.layers.Embedding(20, 4, name="emb")(inputs)
        return K.Model(inputs, K.layers.GRU(3, name="gru")(h), name="m")

    k_model, f_model = make(keras()), make(fastmask)
    from_keras = fastmask.models.model_from_json(k_model.to_json())
    assert _without_names(json.loads(from_keras.to_json())) == \
        _without_names(json.loads(k_model.to_json()))
    to_keras = keras().models.model_from_json(f_model.to_json())
    assert _without_names(json.loads(to_keras.to_json())) == \
        _without_names(json.loads(f_model.to_json()))
    with pytest.raises(ValueError, match="not valid JSON"):
        fastmask.models.model_from_json("{nope")


def test_variable_constructor_like_keras():
    for args, kwargs in (((np.arange(6.0).reshape(2, 3),), {}),
                         (([1.0, 2.0],), {"trainable": False, "name": "w"}),
                         (("ones",), {"shape": (2, 2), "dtype": "float32"}),
                         ((np.zeros(3, "int32"),), {"dtype": "float32"})):
        k_var, f_var = keras().Variable(*args, **kwargs), fastmask.Variable(*args, **kwargs)
        np.testing.assert_array_equal(np.asarray(k_var), f_var)
        assert str(np.asarray(k_var).dtype) == f_var.dtype.name
        assert k_var.trainable == f_var.trainable and k_var.shape == f_var.shape
    with pytest.raises(ValueError, match="`shape` argument should be specified"):
        fastmask.Variable("ones")

    class Holder(fastmask.layers.Layer):
        def __init__(self):
            self.w = fastmask.Variable(np.ones(2, "float32"))   # before super().__init__
            super().__init__()
            self.frozen = fastmask.Variable(np.zeros(1, "float32"), trainable=False)

    holder = Holder()
    assert [w.shape for w in holder.trainable_weights] == [(2,)]
    assert [w.shape for w in holder.non_trainable_weights] == [(1,)]


def test_weights_keras_would_drop_silently_are_refused(tmp_path):
    """Keras 3.15.1 erases a load failure when the same layer is reached again through
    another path that holds no weights: a never-built layer then keeps fresh weights,
    silently. fastmask refuses such a file (a deliberate difference, README)."""
    def define(K):
        class Aliased(K.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.d = K.layers.Dense(3)

            @property
            def z_alias(self):          # visited after `d`, under another path
                return self.d

            def call(self, x):
                return self.d(x)

        return Aliased

    k_cls, f_cls = define(keras()), define(fastmask)
    built = k_cls()
    built(_x(2, 4))
    built.save_weights(tmp_path / "w.weights.h5")
    # A model marked built whose layer is not (what a load gives when `call` cannot be
    # traced): Keras loads without a word and keeps the fresh weights.
    k_model, f_model = k_cls(), f_cls()
    k_model.built = f_model.built = True
    k_model.load_weights(tmp_path / "w.weights.h5")
    assert not k_model.d.built
    with pytest.raises(ValueError, match=r"at 'd/vars'.*never built.*silently keep fresh "
                                         r"weights"):
        f_model.load_weights(tmp_path / "w.weights.h5")
    built_f = f_cls()
    built_f(_x(2, 4))
    built_f.load_weights(tmp_path / "w.weights.h5")       # a built model loads normally
    _same_weights(built, built_f)
