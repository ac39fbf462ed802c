"""SpatialDropout1D, GaussianNoise, GaussianDropout: identity at inference (vs Keras, masks
passed through), Dropout-style training behaviour (seeded; statistics as Keras's tests state)."""
import numpy as np
import pytest

import fastmask
from fastmask import layers
from layer_conformance import check_config, check_keras_file, check_masks
from oracle import SHAPES

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

CASES = [("SpatialDropout1D", (0.5,), {}), ("GaussianNoise", (0.3,), {}),
         ("GaussianDropout", (0.3,), {}), ("SpatialDropout1D", (0.2,), {"seed": 3}),
         ("GaussianNoise", (0.1,), {"seed": 1})]


@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_inference_is_identity_and_passes_masks(name, args, kwargs, b, t):
    x = np.random.default_rng(b + t).standard_normal((b, t, 4)).astype(np.float32)
    f = check_masks(name, args, kwargs, x, supports_masking=True)
    np.testing.assert_array_equal(f(x), x)
    np.testing.assert_array_equal(f(x, training=False), x)


@pytest.mark.parametrize("name,args,kwargs", CASES + [("GaussianDropout", (0.0,), {})],
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES] + ["GaussianDropout-0"])
def test_configs_match_keras(name, args, kwargs):
    check_config(name, args, kwargs)
    assert getattr(fastmask.layers, name)(*args, **kwargs).built


def test_spatial_dropout_drops_whole_channels():
    # keras spatial_dropout_test.py::test_spatial_dropout_1D_correctness, plus the scale
    x = np.ones((10, 3, 10), np.float32)
    out = layers.SpatialDropout1D(0.5, seed=0)(x, training=True)
    np.testing.assert_array_equal(out[:, 0, :], out[:, 1, :])
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.3 < (out == 0).mean() < 0.7
    again = layers.SpatialDropout1D(0.5, seed=0)(x, training=True)
    np.testing.assert_array_equal(out, again)          # seeded
    assert np.all(layers.SpatialDropout1D(1.0)(x, training=True) == 0)
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.SpatialDropout1D(0.5)(np.ones((2, 3)))
    with pytest.raises(TypeError):
        layers.SpatialDropout1D(0.5, trainable=False)     # Keras: no other keyword argument


def test_gaussian_noise_and_dropout_statistics():
    # keras gaussian_noise_test.py / gaussian_dropout_test.py ::test_*_correctness
    x = np.ones((20, 500), np.float32)
    noisy = layers.GaussianNoise(0.3, seed=1337)(x, training=True)
    assert noisy.dtype == np.float32 and abs(np.std(noisy) - 0.3) < 0.02
    dropped = layers.GaussianDropout(0.3, seed=1337)(x, training=True)
    assert abs(np.std(dropped) - np.sqrt(0.3 / 0.7)) < 0.02 and abs(dropped.mean() - 1) < 0.02
    with pytest.raises(ValueError, match="rate=1"):
        layers.GaussianDropout(1.0)(x, training=True)
    np.testing.assert_array_equal(layers.GaussianDropout(1.0)(x), x)


def test_training_flag_reaches_them_through_a_model():
    inp = fastmask.Input((4, 3))
    out = layers.GaussianNoise(0.5, seed=0)(layers.SpatialDropout1D(0.5, seed=0)(inp))
    model = fastmask.Model(inp, out)
    x = np.ones((8, 4, 3), np.float32)
    np.testing.assert_array_equal(model(x), x)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert not np.array_equal(model(x, training=True), x)


@pytest.mark.parametrize("make,match", [
    (lambda: layers.SpatialDropout1D(1.5), "Expected a float value between 0 and 1"),
    (lambda: layers.GaussianNoise(-0.1), "`stddev`. Expected a float value between 0 and 1"),
    (lambda: layers.GaussianNoise("x"), "stddev=x"),
    (lambda: layers.GaussianDropout(2), "`rate`. Expected a float value between 0 and 1"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_keras_file_with_regularization_layers(tmp_path):
    def build(M):
        L = M.layers
        return M.Sequential([M.Input((None, 4)), L.Masking(), L.SpatialDropout1D(0.3),
                             L.GaussianNoise(0.2), L.LSTM(5, return_sequences=True),
                             L.GaussianDropout(0.4), L.Dense(2)])
    x = np.random.default_rng(5).standard_normal((3, 6, 4)).astype(np.float32)
    x[0, 4:] = 0
    check_keras_file(tmp_path, build, x)
