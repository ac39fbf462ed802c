"""MaxPooling1D / AveragePooling1D vs Keras 3.15.1 (NumPy backend) and a window-loop
NumPy reference; `fastmask.kernels.window_pooling` on layouts, NaN and dtypes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmask
from fastmask import layers
from fastmask.kernels import window_pooling as W
from layer_conformance import check_config, check_dtypes, check_keras_file, check_masks, pair
from np_window_reference import ref_pool
from oracle import SHAPES, keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@given(st.integers(1, 3), st.integers(1, 12), st.integers(1, 5), st.integers(1, 4),
       st.sampled_from(["valid", "same"]), st.sampled_from(["max", "avg"]), st.booleans(),
       st.integers(0, 2 ** 31 - 1))
def test_window_pooling_matches_loop_reference(b, t, pool, strides, padding, op, cf, seed):
    x = np.random.default_rng(seed).standard_normal((b, t, 3)).astype(np.float32)
    fn = W.max_pool1d if op == "max" else W.average_pool1d
    xin = np.ascontiguousarray(x.transpose(0, 2, 1)) if cf else x
    got = fn(xin, pool, strides, padding, "channels_first" if cf else "channels_last")
    if cf:
        got = got.transpose(0, 2, 1)
    np.testing.assert_allclose(got, ref_pool(x, pool, strides, padding, op), rtol=1e-6,
                               atol=1e-6)


CASES = [
    ("MaxPooling1D", (), {}),
    ("MaxPooling1D", (3,), {"strides": 1, "padding": "same"}),
    ("MaxPooling1D", (2,), {"strides": 1, "data_format": "channels_first"}),
    ("MaxPooling1D", (5,), {"padding": "same"}),
    ("AveragePooling1D", (2,), {}),
    ("AveragePooling1D", (3,), {"strides": 1, "padding": "same"}),
    ("AveragePooling1D", (4,), {"strides": 3, "padding": "same", "data_format": "channels_first"}),
    ("AveragePooling1D", (3,), {"strides": 2}),
]


def _ids(cases):
    return [f"{n}-{a}-{k}" for n, a, k in cases]


@pytest.mark.parametrize("b,t", SHAPES + ((2, 13),))
@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_pooling_matches_keras_and_drops_masks(name, args, kwargs, b, t):
    cf = kwargs.get("data_format") == "channels_first"
    x = np.random.default_rng(b * 7 + t).standard_normal((b, 4, t) if cf else (b, t, 4))
    x = x.astype(np.float32)
    check_masks(name, args, kwargs, x, supports_masking=False,
                kinds=("none",) if cf else ("none", "post", "holes", "all_masked_row"))


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_pooling_float64_config_and_shapes(name, args, kwargs):
    cf = kwargs.get("data_format") == "channels_first"
    x = np.random.default_rng(1).standard_normal((2, 4, 9) if cf else (2, 9, 4))
    check_dtypes(name, args, kwargs, x, keras_float64_is_float32=True)
    check_config(name, args, kwargs)
    for shape in ([(None, 4, None), (2, 4, 9)] if cf else [(None, None, 4), (2, 9, 4),
                                                             (None, 1, 3)]):
        k, f = pair(name, *args, **kwargs)
        if (shape[2] if cf else shape[1]) == 1 and kwargs.get("padding", "valid") == "valid" \
                and (args or (2,))[0] > 1:
            with pytest.raises(ValueError, match="Computed output size would be zero or "
                                                 "negative"):
                f(fastmask.KerasTensor(shape))
            continue
        assert f(fastmask.KerasTensor(shape)).shape == tuple(k(keras().KerasTensor(shape)).shape)


def test_built_at_init_and_aliases():
    for cls in (layers.MaxPooling1D, layers.AveragePooling1D):
        assert cls(2).built

        class Sub(cls):
            def build(self, input_shape):
                self.seen = input_shape
        sub = Sub(2)
        assert not sub.built
        sub(np.zeros((1, 4, 2), np.float32))
        assert sub.built and sub.seen == (1, 4, 2)
    assert layers.MaxPool1D is layers.MaxPooling1D and layers.AvgPool1D is layers.AveragePooling1D
    cfg = {"module": "keras.layers", "class_name": "AvgPool1D",
           "config": layers.AveragePooling1D(3).get_config(), "registered_name": None}
    assert type(fastmask.saving.deserialize_keras_object(cfg)) is layers.AveragePooling1D


def test_nan_inf_and_ints():
    x = np.array([[1.0, np.nan, 3.0, -np.inf, 2.0, 7.0]], np.float32)[..., None]
    k, f = pair("MaxPooling1D", 2)
    np.testing.assert_array_equal(f(x), k(x))
    k, f = pair("AveragePooling1D", 2)
    np.testing.assert_array_equal(f(x), k(x))
    ints = np.arange(12).reshape(1, 6, 2)
    out = layers.MaxPooling1D(3)(ints)
    np.testing.assert_array_equal(out, [[[4, 5], [10, 11]]])
    assert out.dtype.kind == "i"
    avg = layers.AveragePooling1D(3)(ints)
    np.testing.assert_allclose(avg, [[[2, 3], [8, 9]]])


def test_window_longer_than_input_is_empty_as_keras():
    x = np.ones((2, 3, 4), np.float32)
    k, f = pair("MaxPooling1D", 5)
    assert f(x).shape == np.asarray(k(x)).shape == (2, 0, 4)


def test_cnn_classifier_loads_from_keras(tmp_path):
    """keras-io pretrained_word_embeddings: Embedding -> Conv1D/MaxPooling1D x2 -> GMP1D."""
    def build(M):
        L = M.layers
        inp = M.Input((None,), dtype="int32")
        x = L.Embedding(40, 8)(inp)
        x = L.Conv1D(8, 5, activation="relu")(x)
        x = L.MaxPooling1D(5)(x)
        x = L.Conv1D(8, 3, activation="relu")(x)
        x = L.AveragePooling1D(2, padding="same")(x)
        x = L.GlobalMaxPooling1D()(x)
        return M.Model(inp, L.Dense(3, activation="softmax")(x))
    ids = np.random.default_rng(2).integers(1, 40, (3, 60)).astype(np.int32)
    check_keras_file(tmp_path, build, ids)


@pytest.mark.parametrize("make,error,match", [
    (lambda: layers.MaxPooling1D(0), ValueError, "The `pool_size` argument must be a tuple"),
    (lambda: layers.MaxPooling1D(2, padding="full"), ValueError, "padding=full"),
    (lambda: layers.AveragePooling1D(2, strides=0), ValueError, "strides"),
    (lambda: layers.AveragePooling1D(2, data_format="channels_middle"), ValueError,
     "data_format=channels_middle"),
    (lambda: layers.AveragePooling1D(), TypeError, "pool_size"),
    (lambda: layers.MaxPooling1D(2)(np.zeros((2, 3))), ValueError, "expected ndim=3"),
    (lambda: W.max_pool1d(np.zeros((2, 3, 1), complex), 2), TypeError, "real numeric"),
    (lambda: W.average_pool1d(np.zeros((2, 3, 1)), 2, padding="causal"), ValueError,
     "`padding` must be"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
