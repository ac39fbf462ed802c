"""Initializers and activations: Keras names, defaults, configs, distributions, formulas."""
import numpy as np
import pytest

from fastmask import activations, initializers, layers
from oracle import keras

NAMES = ["zeros", "ones", "constant", "uniform", "random_uniform", "normal", "random_normal",
         "truncated_normal", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
         "lecun_normal", "lecun_uniform", "orthogonal", "variance_scaling", "GlorotUniform",
         "Zeros", "identity"]


@pytest.mark.parametrize("name", NAMES)
def test_every_keras_name_resolves_with_keras_config(name):
    f = initializers.get(name)
    if name == "constant":      # keras.initializers.get("constant") raises KeyError (bug)
        k = keras().initializers.Constant()
    else:
        k = keras().initializers.get(name)
    assert type(f).__name__ == type(k).__name__
    if name != "identity":      # Keras's Identity config drops its `gain`; ours keeps it
        assert f.get_config() == k.get_config()
    shape = (6, 6)
    for dtype in ("float32", "float64"):
        v = f(shape, dtype=dtype)
        assert v.shape == shape and v.dtype == dtype
    # Keras's serialized dict deserializes to the same initializer, and back.
    ser = keras().initializers.serialize(k)
    back = initializers.serialize(initializers.get(ser))
    assert back == ser or name == "identity"
    assert type(initializers.get(ser)) is type(f)


def test_distributions():
    n = 400
    g = initializers.GlorotUniform(seed=1)((n, n))
    limit = np.sqrt(6 / (2 * n))
    assert g.max() <= limit and g.min() >= -limit and g.std() > 0.5 * limit / np.sqrt(3)
    h = initializers.HeNormal(seed=2)((n, n))
    assert abs(h.std() - np.sqrt(2 / n)) < 0.1 * np.sqrt(2 / n)
    assert np.abs(h).max() <= 2 * np.sqrt(2 / n) / 0.87962566103423978 + 1e-6
    t = initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=3)((1000,))
    assert t.min() >= 0.0 - 1e-6 and t.max() <= 2.0 + 1e-6
    u = initializers.get("uniform")((1000,))
    assert u.min() >= -0.05 and u.max() < 0.05
    q = initializers.Orthogonal(seed=4)((5, 5))
    np.testing.assert_allclose(q @ q.T, np.eye(5), atol=1e-5)
    w = initializers.Orthogonal(gain=2.0, seed=4)((3, 6))
    np.testing.assert_allclose(w @ w.T, 4 * np.eye(3), atol=1e-5)
    np.testing.assert_array_equal(initializers.Constant(0.03)((2, 2)), np.full((2, 2), 0.03,
                                                                                np.float32))


def test_seeds_and_objects():
    a = initializers.RandomNormal(seed=5)((3, 3))
    np.testing.assert_array_equal(a, initializers.RandomNormal(seed=5)((3, 3)))
    init = initializers.RandomNormal(seed=5)
    np.testing.assert_array_equal(init((3, 3)), init((3, 3)))   # seeded: same every call
    assert not np.array_equal(initializers.RandomNormal()((3, 3)),
                              initializers.RandomNormal()((3, 3)))
    d = layers.Dense(3, kernel_initializer=initializers.Constant(2.0),
                     bias_initializer=lambda shape, dtype=None: np.full(shape, 7.0))
    d(np.ones((1, 2), np.float32))
    assert np.all(np.asarray(d.kernel) == 2) and np.all(np.asarray(d.bias) == 7)
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        initializers.get("no_such_init")
    with pytest.raises(ValueError, match="seed"):
        initializers.RandomUniform(seed=1.5)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="bad")


ACTS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
        "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu",
        "swish", "mish", "exponential"]


@pytest.mark.parametrize("name", ACTS)
def test_activations_match_keras(name):
    x = (np.random.default_rng(0).standard_normal((3, 7)) * 4).astype(np.float32)
    k = np.asarray(keras().activations.get(name)(x))
    f = activations.get(name)(x)
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, k, rtol=2e-6, atol=2e-6)
    assert activations.get(activations.serialize(activations.get(name))) is activations.get(name)


def test_activation_get_errors_and_defaults():
    assert activations.get(None) is activations.linear
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get("nope")
    f = activations.relu
    x = np.array([-2.0, 0.5, 3.0, 7.0], np.float32)
    np.testing.assert_array_equal(f(x, max_value=6.0), [0, 0.5, 3, 6])
    np.testing.assert_allclose(f(x, negative_slope=0.1, threshold=1.0), [-0.3, -0.05, 3, 7],
                               rtol=1e-6)


# --- resolvers never fall back to a default (issue 13, point 4) -------------------------
# Each bad identifier raises the exception type Keras 3.15.1 raises for it, with its
# wording, naming the bad value; nothing is imported while resolving.

_LAMBDA_CFG = {"class_name": "__lambda__",
               "config": {"code": "AAAA", "defaults": None, "closure": None}}
_IMPORTING_CFG = {"module": "this", "class_name": "function", "config": "s",
                  "registered_name": "function"}
BAD_ACTIVATIONS = [
    ("unknown-name", "no_such_activation", ValueError,
     "Could not interpret activation function identifier: no_such_activation"),
    ("lambda-config", _LAMBDA_CFG, ValueError, "deserialization of a Python lambda"),
    ("function-elsewhere", _IMPORTING_CFG, TypeError, "Could not locate function 's'"),
    ("unknown-function", {"module": "my_pkg.acts", "class_name": "function",
                          "config": "no_such_fn", "registered_name": "function"},
     TypeError, "Could not locate function 'no_such_fn'"),
    ("unknown-class", {"module": "my_pkg.acts", "class_name": "NoSuchLayer", "config": {}},
     TypeError, "Could not locate class 'NoSuchLayer'"),
    ("dict-without-config", {"class_name": "relu"}, ValueError,
     "Could not interpret activation function identifier"),
    ("empty-dict", {}, ValueError, "Could not interpret activation function identifier"),
    ("number", 3, ValueError, "Could not interpret activation function identifier: 3"),
]


@pytest.mark.parametrize("identifier,exc,message", [c[1:] for c in BAD_ACTIVATIONS],
                         ids=[c[0] for c in BAD_ACTIVATIONS])
def test_activation_get_refuses_what_keras_refuses(identifier, exc, message):
    import re
    import sys
    with pytest.raises(Exception) as k_err:
        keras().activations.get(identifier)
    before = set(sys.modules)
    with pytest.raises(exc, match=re.escape(message)):
        activations.get(identifier)
    assert type(k_err.value) is exc          # the exception type Keras raises
    assert "this" not in set(sys.modules) - before
    # Through a layer: an error naming the value, not a linear layer.
    with pytest.raises(exc, match=re.escape(message)):
        layers.Dense(2, activation=identifier)


def test_activation_config_dicts_that_resolve():
    relu_cfg = {"module": "keras.activations", "class_name": "function", "config": "relu",
                "registered_name": "function"}
    assert keras().activations.get(relu_cfg) is keras().activations.relu
    assert activations.get(relu_cfg) is activations.relu
    d = layers.Dense.from_config({**layers.Dense(2).get_config(), "activation": relu_cfg})
    assert d.activation is activations.relu

    from fastmask.saving import custom_object_scope, register_keras_serializable

    def scaled(x):
        return 2 * x
    cfg = {"module": "my.mod", "class_name": "function", "config": "scaled",
           "registered_name": "Test>scaled"}
    with pytest.raises(TypeError, match="Could not locate function 'scaled'"):
        activations.get(cfg)
    with custom_object_scope({"scaled": scaled}):
        assert activations.get(cfg) is scaled
    register_keras_serializable("Test")(scaled)
    assert activations.get(cfg) is scaled


def test_lambda_activation_needs_unsafe_mode():
    import base64
    import importlib
    import marshal
    for where in ("fastmask.core.registry", "fastmask.layers.serialization"):  # either layout
        try:
            safe_mode_scope = importlib.import_module(where).safe_mode_scope
            break
        except (ImportError, AttributeError):
            continue
    code = base64.b64encode(marshal.dumps((lambda x: x * 3).__code__)).decode("ascii")
    cfg = {"class_name": "__lambda__", "config": {"code": code, "defaults": None,
                                                   "closure": None}}
    with pytest.raises(ValueError, match="safe_mode=False"):
        activations.get(cfg)
    with safe_mode_scope(False):
        assert activations.get(cfg)(2) == 6


BAD_INITIALIZERS = [
    ("unknown-name", "no_such_init"),
    ("unknown-class", {"class_name": "NoSuchInit", "config": {}}),
    ("lambda-config", _LAMBDA_CFG),
    ("function-elsewhere", _IMPORTING_CFG),
    ("no-class-name", {"config": {}}),
    ("number", 3),
]


@pytest.mark.parametrize("identifier", [c[1] for c in BAD_INITIALIZERS],
                         ids=[c[0] for c in BAD_INITIALIZERS])
def test_initializer_get_refuses_what_keras_refuses(identifier):
    import re
    import sys
    with pytest.raises(ValueError):
        keras().initializers.get(identifier)
    before = set(sys.modules)
    message = f"Could not interpret initializer identifier: {identifier}"
    with pytest.raises(ValueError, match=re.escape(message)):
        initializers.get(identifier)
    assert "this" not in set(sys.modules) - before
    with pytest.raises(ValueError, match=re.escape(message)):
        layers.Dense(2, kernel_initializer=identifier)


def test_initializer_from_array_as_keras():
    value = np.arange(6, dtype=np.float64).reshape(2, 3)
    k = np.asarray(keras().initializers.get(value)((2, 3), dtype="float32"))
    f = initializers.get(value)((2, 3), dtype="float32")
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f, k)
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        initializers.get(value)((3, 2))


@pytest.mark.parametrize("config", [
    {"module": "keras", "class_name": "QuantizedDTypePolicy",
     "config": {"name": "int8_from_float32", "source_name": "float32"}},
    {"module": "keras", "class_name": "DTypePolicy", "config": {}},
    {"class_name": "NoSuchPolicy", "config": {"name": "float32"}},
], ids=["quantized", "no-name", "unknown-class"])
def test_dtype_policy_config_never_defaults(config):
    with pytest.raises(ValueError, match=r"Cannot interpret `dtype` argument.*Received: dtype="):
        layers.Dense(2, dtype=config)
    ok = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"},
          "registered_name": None}
    assert layers.Dense(2, dtype=ok).compute_dtype == "float64"
