"""Conv1D / Conv1DTranspose vs Keras 3.15.1 (NumPy backend) and vs a loop-per-output NumPy
reference; `fastmask.kernels.conv` on awkward layouts, block boundaries and threads."""
import itertools
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmask
from fastmask import layers
from fastmask.kernels import conv as K
from layer_conformance import (check_config, check_dtypes, check_keras_file, check_masks, pair,
                               randomize)
from np_window_reference import ref_conv1d, ref_conv1d_transpose
from oracle import SHAPES, keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# ------------------------------------------------------------------ kernel

conv_configs = st.tuples(
    st.integers(1, 3), st.integers(1, 12), st.integers(1, 5), st.integers(1, 4),
    st.integers(1, 3), st.integers(1, 3), st.sampled_from(["valid", "same", "causal"]),
    st.sampled_from([1, 2]), st.booleans(), st.sampled_from(["float32", "float64"]))


@given(conv_configs, st.integers(0, 2 ** 31 - 1))
def test_conv1d_kernel_matches_loop_reference(cfg, seed):
    b, t, ks, c, s, d, padding, groups, cf, dtype = cfg
    if s > 1 and d > 1:
        d = 1
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, t, c * groups)).astype(dtype)
    w = rng.standard_normal((ks, c, 2 * groups)).astype(dtype)
    bias = rng.standard_normal(2 * groups).astype(dtype)
    span = (ks - 1) * d + 1
    if padding == "valid" and t < span:
        with pytest.raises(ValueError, match="empty output"):
            K.conv1d(x, w, bias, strides=s, padding=padding, dilation_rate=d, groups=groups)
        return
    want = ref_conv1d(x, w, bias, s, padding, d, groups)
    xin = np.ascontiguousarray(x.transpose(0, 2, 1)) if cf else x
    got = K.conv1d(xin, w, bias, strides=s, padding=padding, dilation_rate=d, groups=groups,
                   data_format="channels_first" if cf else "channels_last")
    if cf:
        got = got.transpose(0, 2, 1)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-5 if dtype == "float32" else 1e-12)


@given(st.integers(1, 3), st.integers(1, 8), st.integers(1, 5), st.integers(1, 3),
       st.integers(1, 4), st.sampled_from(["valid", "same"]), st.sampled_from([None, 0, 1, 2]),
       st.integers(1, 2), st.booleans(), st.integers(0, 2 ** 31 - 1))
def test_conv1d_transpose_kernel_matches_scatter_reference(b, t, ks, c, s, padding, op, d, cf,
                                                           seed):
    if s > 1:
        d = 1
    if op is not None and op >= s:
        op = None
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, t, c)).astype(np.float32)
    w = rng.standard_normal((ks, 3, c)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    want = ref_conv1d_transpose(x, w, bias, s, padding, op, d)
    xin = np.ascontiguousarray(x.transpose(0, 2, 1)) if cf else x
    got = K.conv1d_transpose(xin, w, bias, strides=s, padding=padding, output_padding=op,
                             dilation_rate=d,
                             data_format="channels_first" if cf else "channels_last")
    if cf:
        got = got.transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("block_bytes,reduction", [(64, 1), (1000, 3), (1 << 21, 7),
                                                   (1 << 18, 128)])
@pytest.mark.parametrize("groups", [1, 2])
def test_blocks_and_reduction_chunks_give_the_same_numbers(monkeypatch, padding, block_bytes,
                                                           reduction, groups):
    """Blocks over batch and time, reductions cut by taps and by channel ranges."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 37, 10)).astype(np.float32)
    w = rng.standard_normal((4, 10 // groups, 6)).astype(np.float32)
    want = ref_conv1d(x, w, None, 2, padding, 1, groups)
    monkeypatch.setattr(K, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(K, "REDUCTION", reduction)
    np.testing.assert_allclose(K.conv1d(x, w, strides=2, padding=padding, groups=groups), want,
                               rtol=1e-5, atol=1e-5)
    if groups == 2:
        return
    w = w[:, :5]
    x = x[..., :5]
    got_t = K.conv1d_transpose(x, w.transpose(0, 2, 1), strides=3, padding="same")
    np.testing.assert_allclose(got_t, ref_conv1d_transpose(x, w.transpose(0, 2, 1), None, 3,
                                                           "same", None, 1),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels_first", [False, True])
def test_blocks_shared_out_to_threads_give_the_same_numbers(monkeypatch, channels_first):
    """The multi-threaded path (blocks on Python threads, single-threaded BLAS)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 41, 6)).astype(np.float32)
    w = rng.standard_normal((3, 6, 4)).astype(np.float32)
    wt = rng.standard_normal((3, 4, 6)).astype(np.float32)
    fmt = "channels_first" if channels_first else "channels_last"
    xin = np.ascontiguousarray(x.transpose(0, 2, 1)) if channels_first else x
    monkeypatch.setattr(K, "BLOCK_BYTES", 256)
    monkeypatch.setattr(K, "PARALLEL_FLOPS", 0)
    calls = []
    real = K._run_blocks

    def spy(run, blocks, threads):
        calls.append(len(blocks))
        return real(run, blocks, threads)
    monkeypatch.setattr(K, "_run_blocks", spy)
    with fastmask.num_threads(1):
        one = K.conv1d(xin, w, padding="same", data_format=fmt)
        one_t = K.conv1d_transpose(xin, wt, strides=2, data_format=fmt)
    with fastmask.num_threads(2):
        two = K.conv1d(xin, w, padding="same", data_format=fmt)
        two_t = K.conv1d_transpose(xin, wt, strides=2, data_format=fmt)
    assert min(calls) > 1                      # several blocks to share out
    np.testing.assert_allclose(two, one, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(two_t, one_t, rtol=1e-6, atol=1e-6)
    want = ref_conv1d(x, w, None, 1, "same", 1, 1)
    np.testing.assert_allclose(two.transpose(0, 2, 1) if channels_first else two, want,
                               rtol=1e-5, atol=1e-5)


def _layouts(x):
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    big[..., ::2] = x
    unaligned = np.frombuffer(b"\0" + x.tobytes(), dtype=x.dtype, offset=1).reshape(x.shape)
    return {"fortran": np.asfortranarray(x), "negstride": x[::-1][::-1].copy()[:, ::-1][:, ::-1],
            "laststride": big[..., ::2], "byteswapped": x.astype(x.dtype.newbyteorder()),
            "readonly": np.require(x, requirements="C").copy().view(), "unaligned": unaligned,
            "reversed-time": np.ascontiguousarray(x[:, ::-1])[:, ::-1]}


@pytest.mark.parametrize("layout", ["fortran", "negstride", "laststride", "byteswapped",
                                    "readonly", "unaligned", "reversed-time"])
@pytest.mark.parametrize("ks", [1, 3])
def test_input_layouts_give_identical_results(layout, ks):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 4)).astype(np.float32)
    w = rng.standard_normal((ks, 4, 3)).astype(np.float32)
    ref = K.conv1d(x, w, padding="same")
    view = _layouts(x)[layout]
    if layout == "readonly":
        view.flags.writeable = False
    np.testing.assert_array_equal(K.conv1d(view, w, padding="same"), ref)


def test_threads_share_a_layer():
    layer = layers.Conv1D(8, 5, padding="causal")
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((4, 50, 6)).astype(np.float32) for _ in range(8)]
    layer(xs[0])
    want = [layer(x) for x in xs]
    got = [None] * len(xs)

    def run(i):
        for _ in range(5):
            got[i] = layer(xs[i])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(xs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------------ Conv1D vs Keras

CONV_CASES = [
    dict(filters=5, kernel_size=2),
    dict(filters=6, kernel_size=3, padding="same", dilation_rate=2, groups=2),
    dict(filters=6, kernel_size=3, padding="causal", dilation_rate=2, groups=2),
    dict(filters=4, kernel_size=2, strides=2, padding="valid"),
    dict(filters=4, kernel_size=4, strides=3, padding="same"),
    dict(filters=4, kernel_size=3, padding="same", data_format="channels_first"),
    dict(filters=4, kernel_size=1, activation="relu"),
    dict(filters=3, kernel_size=3, padding="causal", use_bias=False, activation="gelu"),
]


def _ids(cases):
    return ["-".join(f"{k}={v}" for k, v in c.items()) for c in cases]


@pytest.mark.parametrize("b,t", SHAPES + ((2, 17),))
@pytest.mark.parametrize("kwargs", CONV_CASES, ids=_ids(CONV_CASES))
def test_conv1d_matches_keras_and_drops_masks(kwargs, b, t):
    rng = np.random.default_rng(b * 31 + t)
    cf = kwargs.get("data_format") == "channels_first"
    x = rng.standard_normal((b, 4, t) if cf else (b, t, 4)).astype(np.float32)
    span = (kwargs["kernel_size"] - 1) * kwargs.get("dilation_rate", 1) + 1
    if kwargs.get("padding", "valid") == "valid" and t < span:
        k, f = pair("Conv1D", **kwargs)
        with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
            k(x)
        with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
            f(x)
        return
    check_masks("Conv1D", (), kwargs, x, supports_masking=False,
                mask_axis_len=t if not cf else None,
                kinds=("none", "post", "holes") if not cf else ("none",))


@pytest.mark.parametrize("kwargs", CONV_CASES[:4], ids=_ids(CONV_CASES[:4]))
def test_conv1d_float64(kwargs):
    x = np.random.default_rng(4).standard_normal((2, 9, 4))
    check_dtypes("Conv1D", (), kwargs, x, keras_float64_is_float32=True)


@pytest.mark.parametrize("kwargs", CONV_CASES + [
    dict(filters=2, kernel_size=(3,), strides=(1,), kernel_regularizer="l2",
         bias_regularizer=fastmask.regularizers.L1L2(l1=0.1), kernel_constraint="max_norm",
         activity_regularizer="l1", kernel_initializer="he_normal")],
    ids=_ids(CONV_CASES) + ["regularizers"])
def test_conv1d_config_matches_keras(kwargs):
    if "bias_regularizer" in kwargs:
        k = keras().layers.Conv1D(**{**kwargs, "bias_regularizer": keras().regularizers.L1L2(
            l1=0.1)})
        f = layers.Conv1D(**kwargs)
        ks = keras().saving.serialize_keras_object(k)["config"]
        fs = fastmask.saving.serialize_keras_object(f)["config"]
        ks.pop("name"), fs.pop("name")
        assert fs == ks
        return
    check_config("Conv1D", (), kwargs)


def test_conv1d_symbolic_shapes_and_errors():
    for shape in [(None, None, 4), (2, 9, 4), (None, 4, None), (3, 4, 8)]:
        for kw in CONV_CASES:
            cf = kw.get("data_format") == "channels_first"
            if (shape[1] if cf else shape[2]) != 4:
                continue
            k, f = pair("Conv1D", **kw)
            ks = k(keras().KerasTensor(shape))
            fs = f(fastmask.KerasTensor(shape))
            assert fs.shape == tuple(ks.shape), (kw, shape)
    # keras conv_test.py::test_conv_symbolic_invalid_configuration
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        layers.Conv1D(1, 2, dilation_rate=10)(fastmask.Input((10, 3)))


def test_channels_first_from_the_global_setting_as_ssvepformer():
    """keras-io eeg_bci_ssvepformer sets channels_first globally before building Conv1Ds."""
    fastmask.backend.set_image_data_format("channels_first")
    keras().backend.set_image_data_format("channels_first")
    try:
        k, f = pair("Conv1D", 8, 31, padding="same")
        assert f.data_format == "channels_first"
        x = np.random.default_rng(5).standard_normal((2, 16, 128)).astype(np.float32)
        k(x)
        randomize(k, np.random.default_rng(0))
        f(x)
        f.set_weights(k.get_weights())
        np.testing.assert_allclose(f(x), k(x), atol=1e-5, rtol=1e-5)
        assert f(x).shape == (2, 8, 128)
    finally:
        fastmask.backend.set_image_data_format("channels_last")
        keras().backend.set_image_data_format("channels_last")


def test_kernel_property_and_weights_order():
    f = layers.Conv1D(3, 2)
    with pytest.raises(AttributeError, match="You must build the layer"):
        f.kernel
    f.build((None, 5, 4))
    assert [w.name for w in f.weights] == ["kernel", "bias"]
    assert f.kernel.shape == (2, 4, 3) and f.bias.shape == (3,)
    g = layers.Conv1D(4, 3, groups=2, use_bias=False)
    g.build((None, 5, 6))
    assert [w.shape for w in g.weights] == [(3, 3, 4)]
    t = layers.Conv1DTranspose(3, 2)
    t.build((None, 5, 4))
    assert [(w.name, w.shape) for w in t.weights] == [("kernel", (2, 3, 4)), ("bias", (3,))]


def test_aliases():
    assert layers.Convolution1D is layers.Conv1D
    assert layers.Convolution1DTranspose is layers.Conv1DTranspose
    cfg = {"module": "keras.layers", "class_name": "Convolution1D",
           "config": layers.Conv1D(2, 3).get_config(), "registered_name": None}
    assert type(fastmask.saving.deserialize_keras_object(cfg)) is layers.Conv1D


# ------------------------------------------------------------------ Conv1DTranspose vs Keras

TRANSPOSE_CASES = [
    dict(filters=5, kernel_size=2, strides=2),
    dict(filters=6, kernel_size=2, strides=3, padding="same", output_padding=2),
    dict(filters=3, kernel_size=7, strides=2, padding="same", activation="relu"),
    dict(filters=3, kernel_size=3, dilation_rate=2),
    dict(filters=3, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=2, kernel_size=4, strides=3, padding="valid", output_padding=1),
    dict(filters=2, kernel_size=3, strides=2, data_format="channels_first"),
]


@pytest.mark.parametrize("b,t", SHAPES + ((2, 13),))
@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
def test_conv1d_transpose_matches_keras_and_drops_masks(kwargs, b, t):
    rng = np.random.default_rng(b * 17 + t)
    cf = kwargs.get("data_format") == "channels_first"
    x = rng.standard_normal((b, 4, t) if cf else (b, t, 4)).astype(np.float32)
    check_masks("Conv1DTranspose", (), kwargs, x, supports_masking=False,
                kinds=("none", "post", "holes") if not cf else ("none",))


@pytest.mark.parametrize("kwargs", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
def test_conv1d_transpose_config_shapes_and_float64(kwargs):
    check_config("Conv1DTranspose", (), kwargs)
    x = np.random.default_rng(6).standard_normal((2, 4, 5) if kwargs.get("data_format")
                                                 else (2, 5, 4))
    check_dtypes("Conv1DTranspose", (), kwargs, x, keras_float64_is_float32=True)
    for shape in [(None, None, 4), (2, 9, 4)] if not kwargs.get("data_format") else [
            (None, 4, None), (2, 4, 9)]:
        k, f = pair("Conv1DTranspose", **kwargs)
        assert f(fastmask.KerasTensor(shape)).shape == tuple(
            k(keras().KerasTensor(shape)).shape)
        assert tuple(f.compute_output_shape(shape)) == tuple(k.compute_output_shape(shape))


# ------------------------------------------------------------------ whole models from Keras

def test_anomaly_detection_autoencoder_loads_from_keras(tmp_path):
    """keras-io timeseries_anomaly_detection: strided Conv1D / Conv1DTranspose, same padding."""
    def build(M):
        L = M.layers
        return M.Sequential([
            M.Input((288, 1)),
            L.Conv1D(32, 7, padding="same", strides=2, activation="relu"), L.Dropout(0.2),
            L.Conv1D(16, 7, padding="same", strides=2, activation="relu"),
            L.Conv1DTranspose(16, 7, padding="same", strides=2, activation="relu"),
            L.Dropout(0.2),
            L.Conv1DTranspose(32, 7, padding="same", strides=2, activation="relu"),
            L.Conv1DTranspose(1, 7, padding="same")])
    x = np.sin(np.linspace(0, 20, 4 * 288)).reshape(4, 288, 1).astype(np.float32)
    check_keras_file(tmp_path, build, x)


def test_text_cnn_with_regularized_kernel_loads_from_keras(tmp_path):
    """keras-io text_classification_from_scratch (strided valid Conv1D on embeddings), with
    eeg_signal_classification's `kernel_regularizer=L2()` saved in the file."""
    def build(M):
        L = M.layers
        inp = M.Input((None,), dtype="int64")
        x = L.Embedding(50, 16)(inp)
        x = L.Conv1D(16, 7, padding="valid", activation="relu", strides=3,
                     kernel_regularizer=M.regularizers.L2())(x)
        x = L.Conv1D(16, 7, padding="valid", activation="relu", strides=3)(x)
        x = L.GlobalMaxPooling1D()(x)
        return M.Model(inp, L.Dense(1, activation="sigmoid")(x))
    ids = np.random.default_rng(7).integers(1, 50, (3, 60))
    model = check_keras_file(tmp_path, build, ids)
    conv = [lr for lr in model.layers if isinstance(lr, layers.Conv1D)][0]
    assert isinstance(conv.kernel_regularizer, fastmask.regularizers.L2)
    assert conv.get_config()["kernel_regularizer"]["config"] == {"l2": 0.01}


def test_causal_dilated_stack_loads_from_keras(tmp_path):
    def build(M):
        L = M.layers
        return M.Sequential([M.Input((None, 3))] + [
            L.Conv1D(8, 2, padding="causal", dilation_rate=d, activation="tanh")
            for d in (1, 2, 4, 8)] + [L.Dense(1)])
    x = np.random.default_rng(8).standard_normal((2, 40, 3)).astype(np.float32)
    model = check_keras_file(tmp_path, build, x)
    # causal: the output at step t does not depend on later steps
    y = model(x)
    x2 = x.copy()
    x2[:, 25:] = 0
    np.testing.assert_array_equal(model(x2)[:, :25], y[:, :25])


@pytest.mark.parametrize("make,match", [
    (lambda: layers.Conv1D(0, 1), "Invalid value for argument `filters`. Expected a strictly "
                                  "positive value. Received filters=0."),
    (lambda: layers.Conv1D(2, 0), r"Received kernel_size=0, including values \{0\} that do "
                                  r"not satisfy `value > 0`"),
    (lambda: layers.Conv1D(2, 2, strides=2, dilation_rate=2), r"`strides > 1` not supported "
                                                              r"in conjunction"),
    (lambda: layers.Conv1D(5, 2, groups=2), "The number of filters must be evenly divisible"),
    (lambda: layers.Conv1D(4, 2, groups=0), "The number of groups must be a positive integer"),
    (lambda: layers.Conv1D(4, 2, padding="full"), "The `padding` argument must be"),
    (lambda: layers.Conv1D(4, 2, lora_rank=2), "LoRA"),
    (lambda: layers.Conv1DTranspose(2, 3, strides=2, output_padding=2),
     "`output_padding` must be strictly less than `strides`"),
    (lambda: layers.Conv1DTranspose(2, 3, padding="causal"), "The `padding` argument must be"),
    (lambda: layers.Conv1D(4, 2, data_format="NCW"), "data_format"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    f = layers.Conv1D(4, 2, groups=2)
    with pytest.raises(ValueError, match="input channels must be evenly divisible"):
        f(np.zeros((2, 5, 3), np.float32))
    f = layers.Conv1D(4, 2)
    f(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        f(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="expected min_ndim=3"):
        layers.Conv1D(4, 2)(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        layers.Conv1D(4, 6)(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="empty output"):
        K.conv1d(np.zeros((2, 5, 3)), np.zeros((6, 3, 2)))
    with pytest.raises(ValueError, match="channel dimension of the inputs must be defined"):
        layers.Conv1D(4, 2)(fastmask.Input((5, None)))
    with pytest.raises(TypeError, match="real numeric"):
        K.conv1d(np.zeros((1, 3, 2), complex), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="rank 3"):
        K.conv1d(np.zeros((3, 2)), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="`bias` must be"):
        K.conv1d(np.zeros((1, 3, 2)), np.zeros((1, 2, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="`strides` must be a positive integer"):
        K.conv1d(np.zeros((1, 3, 2)), np.zeros((1, 2, 2)), strides=0)
    # empty batch: an empty result of the right shape
    assert layers.Conv1D(4, 2)(np.zeros((0, 5, 3), np.float32)).shape == (0, 4, 4)


def test_configs_against_keras_sweep():
    """24 (kernel, stride, dilation, padding, groups, layout, length) drawn from a grid (each
    new configuration costs Keras an XLA compilation; the loop reference above covers all)."""
    rng = np.random.default_rng(9)
    grid = [c for c in itertools.product([1, 2, 5], [1, 3], [1, 2], ["valid", "same", "causal"],
                                         [1, 2], [False, True], [1, 6, 11])
            if not (c[1] > 1 and c[2] > 1 or (c[3] == "valid" and c[6] < (c[0] - 1) * c[2] + 1))]
    for index in rng.choice(len(grid), 24, replace=False):
        ks, s, d, padding, groups, cf, t = grid[index]
        kw = dict(filters=4, kernel_size=ks, strides=s, dilation_rate=d, padding=padding,
                  groups=groups, data_format="channels_first" if cf else "channels_last")
        k, f = pair("Conv1D", **kw)
        x = rng.standard_normal((2, 4, t) if cf else (2, t, 4)).astype(np.float32)
        k(x)
        randomize(k, rng)
        f(x)
        f.set_weights(k.get_weights())
        np.testing.assert_allclose(f(x), k(x), atol=1e-5, rtol=1e-5, err_msg=str(kw))
