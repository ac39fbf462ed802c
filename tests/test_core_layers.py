"""Core layers vs Keras 3.15.1 (NumPy backend): values, output masks, configs, errors."""
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, layers, with_mask
from oracle import (SHAPES, assert_masks_equal, assert_outputs_close, compare_layer,
                    k_get_mask, keras, keras_symbolic_masks, mask_cases, random_mask)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _pair(name, *args, **kwargs):
    return getattr(keras().layers, name)(*args, **kwargs), getattr(layers, name)(*args, **kwargs)


def _seq(rng, b, t, f=3, kind="post", value=0.0):
    """(x, mask): features set to `value` at masked steps."""
    x = rng.standard_normal((b, t, f)).astype(np.float32)
    m = random_mask(rng, b, t, kind)
    if m is not None:
        x[~m] = value
    return x, m


# ----------------------------------------------------------------------------- Masking

@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("kind", ["post", "pre", "holes", "all_masked_row", "none"])
def test_masking_matches_keras(b, t, kind):
    rng = np.random.default_rng(b * 10 + t)
    x, _ = _seq(rng, b, t, kind=kind)
    k, f = _pair("Masking")
    out, _ = compare_layer(k, f, x)
    np.testing.assert_array_equal(get_mask(out), np.any(x != 0, axis=-1))


def test_masking_case4_and_mask_value():
    """§15 case 4, a non-zero mask_value, and an incoming mask being replaced."""
    x = np.array([[[0, 0], [1, 2], [0, 0]], [[2, 2], [0, 0], [2, 1]]], np.float32)
    f = layers.Masking(0.0)
    np.testing.assert_array_equal(f.compute_mask(x), [[False, True, False], [True, False, True]])
    k, f = _pair("Masking", mask_value=2.0)
    compare_layer(k, f, x, input_mask=np.ones((2, 3), bool))
    out = f(x)
    assert out[1, 0].tolist() == [0.0, 0.0]  # masked steps are zeroed


def test_masking_symbolic_mask_and_config():
    inp = fastmask.Input((None, 2))
    out = layers.Masking(mask_value=-1.0)(inp)
    assert out._keras_mask.shape == (None, None) and out._keras_mask.dtype == "bool"
    cfg = layers.Masking(mask_value=-1.0).get_config()
    assert cfg["mask_value"] == -1.0
    assert layers.Masking.from_config(cfg).mask_value == -1.0


# ----------------------------------------------------------------------------- Embedding

@pytest.mark.parametrize("mask_zero", [True, False])
@pytest.mark.parametrize("b,t", SHAPES)
def test_embedding_matches_keras(mask_zero, b, t):
    rng = np.random.default_rng(t)
    ids = rng.integers(0, 6, (b, t))
    k, f = _pair("Embedding", 6, 3, mask_zero=mask_zero)
    compare_layer(k, f, ids)


def test_embedding_case5_raw_input_mask_and_bad_ids():
    f = layers.Embedding(3, 2, mask_zero=True)
    np.testing.assert_array_equal(f.compute_mask(np.array([2, 1, 0])), [True, True, False])
    k, f = _pair("Embedding", 5, 2, mask_zero=True)
    ids = np.array([[0.2, 1.7, 0.0, 4.0]])         # float ids: mask on raw values
    compare_layer(k, f, ids)
    compare_layer(k, f, np.array([[-1, 2, 0]]))    # negative ids wrap, as np.take
    with pytest.raises(IndexError):
        f(np.array([[5, 1]]))
    with pytest.raises(ValueError, match=r"`input_dim` must be a positive integer\. "
                                         r"Received: input_dim=0 \(of type int\)\."):
        layers.Embedding(0, 2)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(3, 2.5)


def test_embedding_weights_argument_and_config_cross_load():
    table = np.arange(8, dtype=np.float32).reshape(4, 2)
    f = layers.Embedding(4, 2, weights=[table])
    np.testing.assert_array_equal(f(np.array([[3, 0]]))[0], table[[3, 0]])
    k = keras().layers.Embedding(7, 3, mask_zero=True, name="emb")
    f = layers.Embedding.from_config(k.get_config())     # Keras config -> fastmask
    assert (f.input_dim, f.output_dim, f.mask_zero, f.name) == (7, 3, True, "emb")
    k2 = keras().layers.Embedding.from_config(f.get_config())   # and back
    assert k2.get_config() == k.get_config()


# ----------------------------------------------------------------------------- Dense

@pytest.mark.parametrize("shape", [(4, 5), (3, 6, 5), (1, 1, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("kwargs", [{}, {"activation": "relu"}, {"use_bias": False},
                                    {"activation": "tanh"}, {"activation": "sigmoid"},
                                    {"activation": "softmax"}, {"activation": "hard_sigmoid"},
                                    {"activation": "gelu"}])
def test_dense_matches_keras(shape, kwargs):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    k, f = _pair("Dense", 4, **kwargs)
    mask = random_mask(rng, shape[0], shape[1], "holes") if len(shape) > 2 else None
    compare_layer(k, f, x, input_mask=mask)


def test_dense_is_one_gemm(monkeypatch):
    """All steps go to the fused kernel in one call (no loop over time), and the
    float16 path (NumPy) is one matmul too."""
    import importlib
    import fastmask.layers.core.dense as dense_mod
    kernels_dense = importlib.import_module("fastmask.kernels.dense")
    real = kernels_dense._dense
    calls = []

    class CountingKernel:      # every fused GEMM passes through _dense.dense_flat
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def dense_flat(x, w, bias, has_bias, out, M, K, N, *args):
            calls.append(((M, K), (K, N)))
            return real.dense_flat(x, w, bias, has_bias, out, M, K, N, *args)

    class CountingNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b):
            calls.append((a.shape, b.shape))
            return np.matmul(a, b)

    d = layers.Dense(7)
    x = np.ones((5, 9, 3), np.float32)
    d(x)
    monkeypatch.setattr(kernels_dense, "_dense", CountingKernel())
    out = d(x)
    monkeypatch.setattr(kernels_dense, "_dense", real)
    assert calls == [((45, 3), (3, 7))] and out.shape == (5, 9, 7) and out.dtype == np.float32
    calls.clear()
    h = layers.Dense(7, dtype="float16")
    h(x)
    monkeypatch.setattr(dense_mod, "np", CountingNumpy())
    out = h(x)
    assert calls == [((45, 3), (3, 7))] and out.shape == (5, 9, 7) and out.dtype == np.float16


def test_dense_config_round_trip_and_cross_load():
    f = layers.Dense(3, activation="relu", use_bias=False, name="dd",
                     kernel_initializer="he_normal")
    cfg = f.get_config()
    k = keras().layers.Dense.from_config(cfg)
    assert k.get_config() == cfg
    g = layers.Dense.from_config(keras().layers.Dense(5, activation="sigmoid").get_config())
    assert g.units == 5 and g.activation is fastmask.activations.sigmoid
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)


# ----------------------------------------------------------------------------- activations

@pytest.mark.parametrize("name,args,kwargs", [
    ("Activation", ("relu",), {}), ("Activation", ("sigmoid",), {}),
    ("Activation", ("softmax",), {}), ("Activation", ("gelu",), {}),
    ("Activation", ("elu",), {}), ("Activation", ("softplus",), {}),
    ("ReLU", (), {}), ("ReLU", (), {"max_value": 1.0}),
    ("ReLU", (), {"negative_slope": 0.1, "threshold": 0.5}), ("Identity", (), {})])
def test_activation_layers_match_keras(name, args, kwargs):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 4, 5)) * 3).astype(np.float32)
    k, f = _pair(name, *args, **kwargs)
    for kind, m in mask_cases(rng, 3, 4):
        compare_layer(k, f, x, input_mask=m)
    assert type(f).from_config(f.get_config()).get_config() == f.get_config()


def test_relu_validation():
    for kwargs in ({"max_value": -1.0}, {"negative_slope": -1.0}, {"threshold": -0.5}):
        with pytest.raises(ValueError, match="ReLU layer cannot be"):
            layers.ReLU(**kwargs)


# ----------------------------------------------------------------------------- Dropout

def test_dropout_inference_is_identity_and_keeps_mask():
    x = np.ones((2, 3, 4), np.float32)
    m = np.array([[True, False, True], [True, True, False]])
    d = layers.Dropout(0.5)
    out = d(with_mask(x, m))
    np.testing.assert_array_equal(out, x)
    assert get_mask(out) is m
    k = keras().layers.Dropout(0.5)
    compare_layer(k, layers.Dropout(0.5), x, input_mask=m)


def test_dropout_training_is_seeded_and_scaled():
    x = np.ones((200, 50), np.float32)
    a = layers.Dropout(0.3, seed=7)(x, training=True)
    b = layers.Dropout(0.3, seed=7)(x, training=True)
    np.testing.assert_array_equal(a, b)              # same seed, same noise
    layer = layers.Dropout(0.3, seed=7)
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(first, second)         # the generator advances
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)
    ns = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(x, training=True)
    assert all(len(set(row)) == 1 for row in ns.tolist())  # one draw per row
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True), x)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)


def test_dropout_training_through_a_model():
    model = fastmask.Sequential([fastmask.Input((10,)), layers.Dropout(0.5, seed=3)])
    x = np.ones((4, 10), np.float32)
    np.testing.assert_array_equal(model(x), x)
    assert (np.asarray(model(x, training=True)) == 0).any()
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


# ----------------------------------------------------------------------------- Lambda

def test_lambda_without_mask_drops_it_with_warning():
    rng = np.random.default_rng(5)
    x, m = _seq(rng, 3, 4)
    k, f = keras().layers.Lambda(lambda v: v * 2.0), layers.Lambda(lambda v: v * 2.0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out, _ = compare_layer(k, f, x, input_mask=m, copy_weights=False)
    assert get_mask(out) is None
    assert sum("destroy the mask" in str(w.message) for w in rec) == 2   # Keras + fastmask


@pytest.mark.parametrize("mask_spec", ["callable", "constant"])
def test_lambda_with_mask_matches_keras(mask_spec):
    rng = np.random.default_rng(6)
    x, m = _seq(rng, 3, 4, kind="holes")
    const = np.array([[True, False, True, True]] * 3)
    if mask_spec == "callable":
        def mk(K):
            return K.layers.Lambda(lambda v: v[:, ::-1], mask=lambda v, mm: mm[:, ::-1])
    else:
        def mk(K):
            return K.layers.Lambda(lambda v: v + 1.0, mask=const)
    compare_layer(mk(keras()), mk(fastmask), x, input_mask=m, copy_weights=False)


def test_lambda_receives_mask_and_arguments_and_config():
    seen = {}

    def fn(v, mask=None, scale=1.0):
        seen["mask"] = mask
        return v * scale

    m = np.array([[True, False]])
    f = layers.Lambda(fn, arguments={"scale": 3.0}, mask=lambda v, mm: mm)
    out = f(with_mask(np.ones((1, 2, 1), np.float32), m))
    assert seen["mask"] is m and get_mask(out) is m and out[0, 0, 0] == 3.0
    cfg = layers.Lambda(lambda v: v + 1, output_shape=(4,)).get_config()
    with pytest.raises(ValueError, match="Python lambda"):
        layers.Lambda.from_config(cfg)
    g = layers.Lambda.from_config(cfg, safe_mode=False)
    assert g(np.zeros((1, 4), np.float32))[0, 0] == 1
    # Functions are saved by name and found without importing the module a config
    # names (issue 13): "tanh" is the activation (as in Keras), np.negative needs
    # custom_objects.
    tanh_config = layers.Lambda(np.tanh).get_config()
    assert tanh_config["function"]["module"] == "builtins"
    assert layers.Lambda.from_config(tanh_config).function is fastmask.activations.tanh
    neg_config = layers.Lambda(np.negative).get_config()
    with pytest.raises(TypeError, match="Could not locate function 'negative'"):
        layers.Lambda.from_config(neg_config)
    assert layers.Lambda.from_config(
        neg_config, custom_objects={"negative": np.negative}).function is np.negative


# ----------------------------------------------------------------------------- reshaping

@pytest.mark.parametrize("name,args", [("Flatten", ()), ("Reshape", ((-1,),)),
                                       ("Reshape", ((2, -1),))])
def test_reshaping_drops_mask_with_warning(name, args):
    rng = np.random.default_rng(7)
    x, m = _seq(rng, 2, 4, f=3)
    k, f = _pair(name, *args)
    with pytest.warns(UserWarning, match="destroy the mask"):
        out, _ = compare_layer(k, f, x, input_mask=m, copy_weights=False)
    assert get_mask(out) is None
    assert type(f).from_config(f.get_config()).get_config() == f.get_config()


def test_reshape_errors_and_symbolic_shapes():
    with pytest.raises(ValueError, match="total size"):
        layers.Reshape((5,))(np.ones((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="at most one unknown"):
        layers.Reshape((-1, -1))(np.ones((2, 4), np.float32))
    assert layers.Reshape((-1, 2))(fastmask.Input((None, 4))).shape == (None, None, 2)
    assert layers.Flatten()(fastmask.Input((3, 4), dtype="int32")).dtype == "int32"
    assert layers.Flatten()(fastmask.Input((3, 4))).shape == (None, 12)


# ----------------------------------------------------------------------------- LayerNormalization

@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"center": False},
                                    {"scale": False, "epsilon": 1e-5}, {"axis": 1},
                                    {"center": False, "scale": False}, {"rms_scaling": True}])
@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_layer_normalization_matches_keras(kwargs):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((3, 4, 5)) * 4 + 1).astype(np.float32)
    k, f = _pair("LayerNormalization", **kwargs)
    k(x)
    k.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in k.get_weights()])
    for kind, m in mask_cases(rng, 3, 4):
        compare_layer(k, f, x, input_mask=m, atol=2e-5)
    cfg = dict(f.get_config(), name=k.name)
    assert k.__class__.from_config(cfg).get_config() == k.get_config()


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_layer_normalization_input_dtypes_match_keras(dtype):
    """The one-pass kernel path (last axis) keeps Keras's dtype handling: computed
    in at least float32, cast back to the input's float dtype, then to the
    layer's compute dtype."""
    rng = np.random.default_rng(18)
    x = (rng.standard_normal((4, 6, 40)) * 3).astype(dtype)
    k, f = _pair("LayerNormalization")
    k(x)
    k.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in k.get_weights()])
    compare_layer(k, f, x, atol=2e-3 if dtype == "float16" else 2e-5)


# ----------------------------------------------------------------------------- TimeDistributed

@pytest.mark.parametrize("b,t", SHAPES)
def test_time_distributed_dense_matches_keras(b, t):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((b, t, 3)).astype(np.float32)
    for kind, m in mask_cases(rng, b, t):
        k = keras().layers.TimeDistributed(keras().layers.Dense(2))
        f = layers.TimeDistributed(layers.Dense(2))
        compare_layer(k, f, x, input_mask=m)


def test_time_distributed_loops_generic_layers_with_step_masks():
    K = keras()

    def make(M):
        class StepMask(M.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, inputs, mask=None):
                return inputs * M.ops.expand_dims(M.ops.cast(mask, "float32"), -1) \
                    if mask is not None else inputs

            def compute_output_shape(self, s):
                return s
        return M.layers.TimeDistributed(StepMask())

    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 4, 2)).astype(np.float32)
    m = rng.random((2, 3, 4)) < 0.5
    compare_layer(make(K), make(fastmask), x, input_mask=m, copy_weights=False)


def test_time_distributed_errors_and_config():
    td = layers.TimeDistributed(layers.Dense(2))
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"The `mask` passed to the `TimeDistributed` layer has "
                                         r"a shape \(2, 5\)"):  # Keras's message
        td(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="at least 2D"):
        td(x, mask=np.ones((2,), bool))
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Layer` instance"):
        layers.TimeDistributed("dense")
    td(x)
    cfg = td.get_config()
    k = keras().layers.TimeDistributed.from_config(cfg)
    clone = layers.TimeDistributed.from_config(k.get_config())
    assert clone.layer.units == 2
    inp = fastmask.Input((None, 4))
    out = layers.TimeDistributed(layers.Dense(5))(layers.Masking()(inp))
    assert out.shape == (None, None, 5) and out._keras_mask.shape == (None, None)


# ----------------------------------------------------------------------------- symbolic masks

def test_layers_keep_symbolic_masks_like_keras():
    """Pass-through layers keep the mask object in a graph; droppers remove it (§5)."""
    K = keras()
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    outs_k, outs_f = [], []
    for M, outs in ((K, outs_k), (fastmask, outs_f)):
        inp = M.Input((None,), dtype="int32")
        e = M.layers.Embedding(5, 4, mask_zero=True)(inp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for layer in (M.layers.Dense(3), M.layers.Activation("relu"), M.layers.ReLU(),
                          M.layers.Dropout(0.5), M.layers.Identity(),
                          M.layers.LayerNormalization(), M.layers.Lambda(lambda v: v),
                          M.layers.TimeDistributed(M.layers.Dense(2))):
                y = layer(e)
                outs.append((type(layer).__name__, hasattr(y, "_keras_mask")))
    assert outs_k == outs_f
