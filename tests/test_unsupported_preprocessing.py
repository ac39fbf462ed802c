"""String preprocessing layers are out of scope: a file holding one fails with an error that
names the layer and says it is not supported (not a generic "could not locate")."""
import json
import zipfile

import numpy as np
import pytest

import fastmask
from oracle import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

NAMES = ["TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing"]


def _with_layer(tmp_path, class_name, config):
    """A Keras-saved .keras file whose second layer is replaced by `class_name`."""
    K = keras()
    model = K.Sequential([K.Input((None,), dtype="int32"), K.layers.Embedding(10, 4),
                          K.layers.Dense(2)])
    src = tmp_path / "src.keras"
    model.save(src)
    dst = tmp_path / f"{class_name}.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                cfg = json.loads(data)
                cfg["config"]["layers"][1] = {"module": "keras.layers", "class_name": class_name,
                                              "config": config, "registered_name": None}
                data = json.dumps(cfg).encode()
            zout.writestr(item, data)
    return dst


@pytest.mark.parametrize("name", NAMES)
def test_loading_a_file_with_one_names_the_layer(tmp_path, name):
    path = _with_layer(tmp_path, name, {"name": "prep", "trainable": True, "dtype": "string",
                                        "max_tokens": 100})
    with pytest.raises(TypeError, match=rf"Layer '{name}' \(named 'prep'\) is not supported by "
                                        r"fastmask: it is a Keras string preprocessing layer"):
        fastmask.models.load_model(path)


@pytest.mark.parametrize("name", NAMES)
def test_constructing_or_deserializing_one_names_the_layer(name):
    with pytest.raises(TypeError, match=f"Layer '{name}' is not supported by fastmask"):
        getattr(fastmask.layers, name)(max_tokens=3)
    with pytest.raises(TypeError, match=f"'{name}'.*string preprocessing"):
        fastmask.saving.deserialize_keras_object(
            {"module": "keras.layers", "class_name": name, "config": {"name": "x"}})
    assert name not in fastmask.core.serialization.supported_layer_names()


def test_other_unknown_layers_keep_the_generic_message():
    with pytest.raises(TypeError, match="Could not locate class 'Conv3D'"):
        fastmask.saving.deserialize_keras_object(
            {"module": "keras.layers", "class_name": "Conv3D", "config": {}})


def test_the_int_model_after_the_vectorizer_still_loads(tmp_path):
    """keras-io text_classification_from_scratch: vectorize outside, load the ids model."""
    K = keras()
    model = K.Sequential([K.Input((None,), dtype="int64"), K.layers.Embedding(10, 4),
                          K.layers.Conv1D(3, 2), K.layers.GlobalMaxPooling1D()])
    model.save(tmp_path / "int.keras")
    loaded = fastmask.models.load_model(tmp_path / "int.keras")
    ids = np.array([[1, 2, 3, 0]])
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)
