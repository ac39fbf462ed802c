"""LeakyReLU, ELU, PReLU vs Keras 3.15.1 (NumPy backend): values, masks passed through,
float32/float64, configs (LeakyReLU's Keras 2 `alpha=`), weights, `.keras` files."""
import warnings

import numpy as np
import pytest

from fastmask import layers
from layer_conformance import check_config, check_dtypes, check_keras_file, check_masks
from oracle import SHAPES, keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

CASES = [("LeakyReLU", (), {}), ("LeakyReLU", (), {"negative_slope": 0.5}),
         ("LeakyReLU", (), {"negative_slope": 0.0}), ("ELU", (), {}),
         ("ELU", (), {"alpha": 0.7}), ("PReLU", (), {}), ("PReLU", (), {"shared_axes": [1]}),
         ("PReLU", (), {"shared_axes": 2, "alpha_initializer": "ones"})]


def _ids(cases):
    return [f"{n}-{k}" for n, a, k in cases]


@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_match_keras_and_pass_masks(name, args, kwargs, b, t):
    x = 2 * np.random.default_rng(b * 3 + t).standard_normal((b, t, 4)).astype(np.float32)
    x[0, 0, :2] = [0.0, -0.0]
    check_masks(name, args, kwargs, x, supports_masking=True)


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_float64_and_configs(name, args, kwargs):
    # Keras's NumPy backend returns float32 from these ops even for float64 layers.
    check_dtypes(name, args, kwargs, np.random.default_rng(1).standard_normal((2, 3, 4)),
                 keras_float64_is_float32=True)
    check_config(name, args, kwargs)


def test_leaky_relu_alpha_alias_warns_like_keras():
    with pytest.warns(UserWarning, match="Argument `alpha` is deprecated. Use `negative_slope` "
                                         "instead."):
        f = layers.LeakyReLU(alpha=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = keras().layers.LeakyReLU(alpha=0.5)
    assert f.negative_slope == k.negative_slope == 0.5
    assert f.get_config()["negative_slope"] == 0.5 and "alpha" not in f.get_config()
    with pytest.raises(ValueError, match="The negative_slope value of a Leaky ReLU layer cannot "
                                         "be None"):
        layers.LeakyReLU(negative_slope=None)
    with pytest.raises(ValueError, match="negative_slope=-1"):
        layers.LeakyReLU(negative_slope=-1)


def test_leaky_relu_slope_above_one_follows_the_documented_formula():
    x = np.array([-2.0, -0.5, 0.0, 3.0], np.float32)
    np.testing.assert_array_equal(layers.LeakyReLU(negative_slope=2.0)(x), [-4, -1, 0, 3])


def test_stateless_ones_are_built_at_init_prelu_is_not():
    assert layers.LeakyReLU().built and layers.ELU().built
    assert not layers.PReLU().built

    class Sub(layers.ELU):
        def build(self, input_shape):
            pass
    assert not Sub().built


def test_prelu_weights_and_keras_correctness_case():
    # keras prelu_test.py::test_prelu_correctness, re-expressed
    x = np.random.default_rng(2).standard_normal((2, 10, 5, 3))
    f = layers.PReLU(alpha_initializer="glorot_uniform", alpha_regularizer="l1",
                     alpha_constraint="non_neg", shared_axes=(1, 2))
    f.build(x.shape)
    assert [(w.name, w.shape) for w in f.weights] == [("alpha", (1, 1, 3))]
    alpha = np.random.default_rng(3).random((1, 1, 3))
    f.alpha.assign(alpha)
    want = (x > 0) * x + (x <= 0) * alpha * x
    np.testing.assert_allclose(f(x), want, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="expected axis 3 of input shape to have value 3"):
        f(np.zeros((2, 10, 5, 4)))
    with pytest.raises(ValueError, match="`shared_axes` must be axes"):
        layers.PReLU(shared_axes=[3])(np.zeros((2, 3, 4)))


def test_multivariate_lstm_with_leaky_relu_alpha_loads_from_keras(tmp_path):
    """keras-io multivariate_timeseries_forecasting_using_lstm: LeakyReLU(alpha=0.5)."""
    def build(M):
        L = M.layers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return M.Sequential([M.Input((12, 5)), L.LSTM(8, return_sequences=True),
                                 L.LeakyReLU(alpha=0.5), L.LSTM(8), L.ELU(alpha=0.3),
                                 L.Dense(6), L.PReLU(), L.Dense(1)])
    x = np.random.default_rng(4).standard_normal((3, 12, 5)).astype(np.float32)
    check_keras_file(tmp_path, build, x)
