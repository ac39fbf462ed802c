"""RepeatVector, Permute, ZeroPadding1D, Cropping1D, UpSampling1D vs Keras 3.15.1 (NumPy).

None of them supports masking (Keras: a mask reaching them is dropped with a
warning); each is checked on every mask kind, float32/float64, T = 1, configs,
symbolic shapes and dtypes, and a `.keras` file saved by Keras.
"""
import numpy as np
import pytest

import fastmask
from fastmask import layers
from layer_conformance import check_config, check_dtypes, check_keras_file, check_masks, pair
from oracle import SHAPES, keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

CASES_3D = [
    ("Permute", ((2, 1),), {}),
    ("ZeroPadding1D", (), {}),
    ("ZeroPadding1D", ((2, 0),), {}),
    ("ZeroPadding1D", ((1, 3),), {"data_format": "channels_first"}),
    ("Cropping1D", ((0, 0),), {}),
    ("UpSampling1D", (), {}),
    ("UpSampling1D", (3,), {}),
]


def _x(b, t, f=3, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((b, t, f)).astype(dtype)


@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("name,args,kwargs", CASES_3D)
def test_3d_layers_match_keras_and_drop_masks(name, args, kwargs, b, t):
    check_masks(name, args, kwargs, _x(b, t, seed=b * 10 + t), supports_masking=False)


@pytest.mark.parametrize("cropping", [1, (1, 2), (0, 3), (3, 0)])
def test_cropping1d_matches_keras(cropping):
    check_masks("Cropping1D", (cropping,), {}, _x(3, 6), supports_masking=False)
    out = layers.Cropping1D(cropping)(_x(3, 6))
    left, right = (cropping, cropping) if isinstance(cropping, int) else cropping
    np.testing.assert_array_equal(out, _x(3, 6)[:, left:6 - right])


@pytest.mark.parametrize("b", [1, 3])
@pytest.mark.parametrize("n", [1, 4])
def test_repeat_vector_matches_keras(b, n):
    x = np.random.default_rng(n).standard_normal((b, 5)).astype(np.float32)
    # A (batch,) mask on a 2D input: dropped with the warning, as in Keras.
    check_masks("RepeatVector", (n,), {}, x, supports_masking=False,
                kinds=("none", "post"), mask_axis_len=1)
    out = layers.RepeatVector(n)(x)
    np.testing.assert_array_equal(out, np.repeat(x[:, None], n, axis=1))


def test_permute_rank4_and_int_inputs_keep_their_dtype():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    k, f = pair("Permute", (3, 1, 2))
    np.testing.assert_array_equal(f(x), np.transpose(x, (0, 3, 1, 2)))
    assert f(x).dtype == np.asarray(k(x)).dtype == x.dtype
    sym = f(fastmask.KerasTensor((None, 3, 4, 5), dtype="int32"))
    ksym = k(keras().KerasTensor((None, 3, 4, 5), dtype="int32"))
    assert (sym.shape, sym.dtype) == (ksym.shape, ksym.dtype) == ((None, 5, 3, 4), "int32")


@pytest.mark.parametrize("name,args,kwargs", CASES_3D + [("Cropping1D", ((1, 2),), {}),
                                                         ("RepeatVector", (3,), {})])
def test_float64_and_float32(name, args, kwargs):
    x = _x(2, 5) if name != "RepeatVector" else _x(2, 5)[:, 0]
    check_dtypes(name, args, kwargs, x)


@pytest.mark.parametrize("name,args,kwargs", CASES_3D + [
    ("Cropping1D", ((1, 2),), {}), ("Cropping1D", (), {}), ("RepeatVector", (3,), {}),
    ("ZeroPadding1D", (4,), {"data_format": "channels_last", "dtype": "float64"})])
def test_configs_match_keras(name, args, kwargs):
    check_config(name, args, kwargs)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("RepeatVector", (3,), {}, (None, 5)), ("RepeatVector", (3,), {}, (2, None)),
    ("Permute", ((2, 1),), {}, (None, None, 4)), ("Permute", ((3, 1, 2),), {}, (2, 3, None, 5)),
    ("ZeroPadding1D", ((1, 2),), {}, (None, None, 3)), ("ZeroPadding1D", ((1, 2),), {},
                                                         (None, 4, 3)),
    ("ZeroPadding1D", (1,), {"data_format": "channels_first"}, (None, 3, 4)),
    ("Cropping1D", ((1, 2),), {}, (None, None, 7)), ("Cropping1D", ((1, 2),), {}, (1, 5, 7)),
    ("UpSampling1D", (2,), {}, (None, None, 3)), ("UpSampling1D", (4,), {}, (2, 3, None)),
])
def test_symbolic_shapes_and_dtypes_match_keras(name, args, kwargs, shape):
    k, f = pair(name, *args, **kwargs)
    for dtype in ("float32", "int32"):
        ks = k(keras().KerasTensor(shape, dtype=dtype))
        fs = f(fastmask.KerasTensor(shape, dtype=dtype))
        assert (fs.shape, fs.dtype) == (tuple(ks.shape), ks.dtype)
    assert tuple(f.compute_output_shape(shape)) == tuple(k.compute_output_shape(shape))
    assert type(f.compute_output_shape(shape)) is type(k.compute_output_shape(shape))


def test_cropping_too_much_raises_like_keras():
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D` layer must be "
                                         "smaller than the input length"):
        layers.Cropping1D((2, 3))(fastmask.Input(batch_shape=(3, 5, 7)))
    with pytest.raises(ValueError, match="must be smaller than the input length"):
        layers.Cropping1D((3, 3))(_x(3, 5))


def test_default_data_format_follows_the_global_setting():
    assert fastmask.backend.image_data_format() == "channels_last"
    try:
        fastmask.backend.set_image_data_format("channels_first")
        keras().backend.set_image_data_format("channels_first")
        k, f = pair("ZeroPadding1D", (1, 2))
        assert f.data_format == k.data_format == "channels_first"
        x = _x(2, 3)
        np.testing.assert_array_equal(f(x), k(x))
        assert f(x).shape == (2, 3, 6)
    finally:
        fastmask.backend.set_image_data_format("channels_last")
        keras().backend.set_image_data_format("channels_last")
    assert layers.ZeroPadding1D().data_format == "channels_last"
    with pytest.raises(ValueError, match=r"The `data_format` argument must be one of "
                                         r"\{'channels_first', 'channels_last'\}. "
                                         r"Received: data_format=channels_middle"):
        fastmask.backend.set_image_data_format("channels_middle")


def test_keras_file_with_every_reshaping_layer(tmp_path):
    def build(M):
        inp = M.Input((6, 3))
        x = M.layers.ZeroPadding1D((1, 2))(inp)
        x = M.layers.Cropping1D((0, 1))(x)
        x = M.layers.UpSampling1D(2)(x)
        x = M.layers.Dense(4)(x)
        x = M.layers.Permute((2, 1))(x)
        x = M.layers.LSTM(5)(x)
        x = M.layers.RepeatVector(3)(x)
        return M.Model(inp, M.layers.Dense(2)(x))
    check_keras_file(tmp_path, build, _x(2, 6))


def test_addition_rnn_shape_loads_from_keras(tmp_path):
    """keras-io addition_rnn: LSTM -> RepeatVector -> LSTM(return_sequences) -> Dense."""
    def build(M):
        return M.Sequential([M.Input((7, 12)), M.layers.LSTM(16), M.layers.RepeatVector(4),
                             M.layers.LSTM(16, return_sequences=True),
                             M.layers.Dense(12, activation="softmax")])
    x = (np.random.default_rng(3).random((4, 7, 12)) < 0.2)
    check_keras_file(tmp_path, build, x.astype(np.float32))


@pytest.mark.parametrize("make,error,match", [
    (lambda: layers.RepeatVector("3"), TypeError, "Expected an integer value for `n`"),
    (lambda: layers.RepeatVector(0), ValueError, "`n` should be a positive integer"),
    (lambda: layers.Permute((0, 1)), ValueError, "Invalid permutation argument `dims`"),
    (lambda: layers.ZeroPadding1D((1, 2, 3)), ValueError,
     "The `padding` argument must be a tuple of 2 integers"),
    (lambda: layers.ZeroPadding1D(-1), ValueError, "that do not satisfy `value >= 0`"),
    (lambda: layers.ZeroPadding1D(data_format="nhwc"), ValueError, "data_format=nhwc"),
    (lambda: layers.Cropping1D("1"), ValueError, "The `cropping` argument must be a tuple"),
    (lambda: layers.UpSampling1D(2.5), TypeError, "Expected an integer value for `size`"),
    (lambda: layers.UpSampling1D(-2), ValueError, "should be a positive integer"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("name,args,x", [
    ("RepeatVector", (2,), np.zeros((2, 3, 4))), ("Permute", ((2, 1),), np.zeros((2, 3))),
    ("ZeroPadding1D", (), np.zeros((2, 3))), ("Cropping1D", (), np.zeros((2, 3, 4, 5))),
    ("UpSampling1D", (), np.zeros((3,)))])
def test_wrong_rank_is_a_value_error(name, args, x):
    with pytest.raises(ValueError, match=r"expected ndim=\d, found ndim="):
        getattr(layers, name)(*args)(x)
