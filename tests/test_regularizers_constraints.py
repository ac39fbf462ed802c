"""fastmask.regularizers, fastmask.constraints and fastmask.backend vs Keras 3.15.1: names,
configs (serialized as Keras serializes them), penalties/projections, the data format."""
import json

import numpy as np
import pytest

import fastmask
from fastmask import backend, constraints, regularizers
from oracle import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

REGULARIZERS = [("L1", {}), ("L1", {"l1": 0.1}), ("L2", {}), ("L2", {"l2": 0.3}),
                ("L1L2", {}), ("L1L2", {"l1": 0.1, "l2": 0.2}),
                ("OrthogonalRegularizer", {}), ("OrthogonalRegularizer", {"factor": 0.1,
                                                                          "mode": "columns"})]
CONSTRAINTS = [("MaxNorm", {}), ("MaxNorm", {"max_value": 3, "axis": [0, 1]}), ("NonNeg", {}),
               ("UnitNorm", {"axis": 1}), ("MinMaxNorm", {"min_value": 0.5, "rate": 0.5})]


def _both(module, name, kwargs):
    return getattr(getattr(keras(), module), name)(**kwargs), \
        getattr(getattr(fastmask, module), name)(**kwargs)


@pytest.mark.parametrize("name,kwargs", REGULARIZERS)
def test_regularizers_serialize_and_penalize_like_keras(name, kwargs):
    k, f = _both("regularizers", name, kwargs)
    k_ser = json.loads(json.dumps(keras().regularizers.serialize(k)))
    f_ser = regularizers.serialize(f)
    assert f_ser == k_ser
    again = regularizers.deserialize(k_ser)
    assert type(again) is type(f) and again.get_config() == f.get_config()
    assert regularizers.get(k_ser).get_config() == f.get_config()
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    if kwargs.get("mode") == "columns":
        # Keras's numpy-array `normalize` turns axis 0 into -1 (`axis or -1`) and fails here;
        # the formula instead: mean |cos| between distinct columns, times factor / 2.
        c = w / np.linalg.norm(w, axis=0)
        cos = np.abs(c.T @ c)[~np.eye(3, dtype=bool)]
        np.testing.assert_allclose(f(w), 0.1 * 0.5 * cos.sum() / 3, rtol=1e-5)
        return
    np.testing.assert_allclose(f(w), np.asarray(k(w)), rtol=1e-5)


@pytest.mark.parametrize("name,kwargs", CONSTRAINTS)
def test_constraints_serialize_and_project_like_keras(name, kwargs):
    k, f = _both("constraints", name, kwargs)
    k_ser = json.loads(json.dumps(keras().constraints.serialize(k)))
    assert constraints.serialize(f) == k_ser
    assert constraints.get(k_ser).get_config() == f.get_config()
    w = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(f(w), np.asarray(k(w)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("ident", ["l1", "l2", "L1L2", "l1l2", "orthogonal_regularizer",
                                   "OrthogonalRegularizer", "l1_l2", "L3", None])
def test_regularizer_names_as_keras(ident):
    try:
        want = keras().regularizers.get(ident)
    except ValueError:
        with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
            regularizers.get(ident)
        return
    got = regularizers.get(ident)
    if want is None:
        assert got is None
    else:
        assert type(got).__name__ == type(want).__name__ and got.get_config() == json.loads(
            json.dumps(want.get_config()))


@pytest.mark.parametrize("ident", ["max_norm", "MaxNorm", "non_neg", "unit_norm",
                                   "min_max_norm", "nonneg"])
def test_constraint_names_as_keras(ident):
    try:
        want = keras().constraints.get(ident)
    except ValueError:
        with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
            constraints.get(ident)
        return
    assert type(constraints.get(ident)).__name__ == type(want).__name__


def test_custom_registered_regularizer_round_trips():
    @fastmask.saving.register_keras_serializable(package="FmTest")
    class MyReg(regularizers.Regularizer):
        def __init__(self, k=1.0):
            self.k = k

        def get_config(self):
            return {"k": self.k}
    ser = regularizers.serialize(MyReg(2.0))
    assert ser["registered_name"] == "FmTest>MyReg"
    assert regularizers.deserialize(ser).k == 2.0


def test_bad_values():
    with pytest.raises(ValueError, match="Invalid value for argument l2: expected a non-negative "
                                         "float"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match="Invalid value for argument `mode`"):
        regularizers.OrthogonalRegularizer(mode="diag")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones(3))


def test_saved_dense_regularizer_loads(tmp_path):
    """keras-io eeg_signal_classification: Dense(kernel_regularizer=L2()) in a saved model."""
    K = keras()
    model = K.Sequential([K.Input((6,)), K.layers.Dense(4, kernel_regularizer=K.regularizers.L2(),
                                                        activity_regularizer="l1"),
                          K.layers.Dense(1)])
    model.save(tmp_path / "reg.keras")
    loaded = fastmask.models.load_model(tmp_path / "reg.keras")
    x = np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


# Every layer taking regularizers/constraints, with each argument set (issue 14):
# get_config must equal Keras's (serialized dicts, not strings or None), survive
# from_config, and keep the objects on the layer as Keras does.
_REG = {"kernel_regularizer": "l2", "bias_regularizer": ("L1", {"l1": 0.02}),
        "activity_regularizer": "l1", "kernel_constraint": "non_neg",
        "bias_constraint": ("MaxNorm", {"max_value": 2.0})}
_RNN_REG = {**_REG, "recurrent_regularizer": ("L1L2", {"l1": 0.1, "l2": 0.2}),
            "recurrent_constraint": "unit_norm"}
LAYERS_WITH_REGULARIZERS = [
    ("Dense", (3,), _REG),
    ("Conv1D", (2, 3), _REG),
    ("Conv1DTranspose", (2, 3), _REG),
    ("LSTM", (3,), _RNN_REG), ("GRU", (3,), _RNN_REG), ("SimpleRNN", (3,), _RNN_REG),
    ("LSTMCell", (3,), {k: v for k, v in _RNN_REG.items() if k != "activity_regularizer"}),
    ("Embedding", (5, 3), {"embeddings_regularizer": "l2", "activity_regularizer": "l1",
                           "embeddings_constraint": "non_neg"}),
    ("LayerNormalization", (), {"gamma_regularizer": ("L2", {"l2": 0.01}),
                                "beta_regularizer": "l1", "gamma_constraint": "non_neg",
                                "beta_constraint": ("MaxNorm", {"max_value": 3.0})}),
    ("BatchNormalization", (), {"gamma_regularizer": "l2", "beta_regularizer": "l1",
                                "gamma_constraint": "non_neg", "beta_constraint": "unit_norm"}),
    ("PReLU", (), {"alpha_regularizer": "l2", "alpha_constraint": "non_neg"}),
    ("MultiHeadAttention", (2, 4), _REG),
]


def _reg_kwargs(module, kwargs):
    """String identifiers as given; (class, kwargs) pairs as objects of `module`."""
    return {k: v if isinstance(v, str) else
            getattr(getattr(module, "regularizers" if "regularizer" in k else "constraints"),
                    v[0])(**v[1])
            for k, v in kwargs.items()}


@pytest.mark.parametrize("name,args,kwargs", LAYERS_WITH_REGULARIZERS,
                         ids=[c[0] for c in LAYERS_WITH_REGULARIZERS])
def test_layer_configs_serialize_regularizers_like_keras(name, args, kwargs):
    K = keras()
    k_layer = getattr(K.layers, name)(*args, **_reg_kwargs(K, kwargs))
    f_layer = getattr(fastmask.layers, name)(*args, **_reg_kwargs(fastmask, kwargs))
    k_config = json.loads(json.dumps(k_layer.get_config()))
    f_config = json.loads(json.dumps(f_layer.get_config()))
    for key in kwargs:
        if name == "SimpleRNN" and key == "activity_regularizer":
            # Keras 3.15.1's SimpleRNN accepts it but never passes it on (config: None);
            # fastmask keeps what Keras documents (README, differences from Keras).
            assert k_config[key] is None
            assert f_config[key] == json.loads(json.dumps(
                K.layers.Dense(1, activity_regularizer="l1").get_config()[key]))
            continue
        assert f_config[key] == k_config[key], key
        assert isinstance(f_config[key], dict), key
        # stored as objects on the layer (or its cell), as Keras does
        holder = getattr(f_layer, "cell", f_layer)
        attr = key if hasattr(holder, key) and key != "activity_regularizer" else None
        if attr is not None:
            assert type(getattr(holder, attr)).__name__ == \
                type(getattr(getattr(k_layer, "cell", k_layer), attr)).__name__, key
    again = type(f_layer).from_config(f_config).get_config()
    assert json.loads(json.dumps(again)) == f_config
    if "activity_regularizer" in kwargs and name != "MultiHeadAttention":
        assert isinstance(f_layer.activity_regularizer, regularizers.L1)


def test_backend_functions_as_keras():
    assert backend.image_data_format() == keras().backend.image_data_format() == "channels_last"
    assert backend.epsilon() == keras().backend.epsilon()
    assert backend.floatx() == "float32" and backend.backend() == "numpy"
    try:
        backend.set_image_data_format("CHANNELS_FIRST")
        assert backend.image_data_format() == "channels_first"
        assert backend.standardize_data_format(None) == "channels_first"
        assert fastmask.layers.Conv1D(2, 3).data_format == "channels_first"
    finally:
        backend.set_image_data_format("channels_last")
    assert backend.standardize_data_format("Channels_Last") == "channels_last"
    with pytest.raises(ValueError, match="data_format=nchw"):
        backend.standardize_data_format("NCHW")
