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
