"""BatchNormalization vs Keras 3.15.1 (NumPy backend): inference with moving statistics,
training moments (masked, renorm) and their updates, the mask rule, configs, files."""
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import layers
from layer_conformance import (check_config, check_dtypes, check_keras_file, check_masks, pair,
                               randomize)
from oracle import SHAPES, assert_outputs_close, k_set_mask, random_mask

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

OPTIONS = [{}, {"center": False}, {"scale": False}, {"center": False, "scale": False},
           {"epsilon": 1e-5, "momentum": 0.9}]


def _ids(opts):
    return ["-".join(f"{k}={v}" for k, v in o.items()) or "default" for o in opts]


@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("kwargs", OPTIONS, ids=_ids(OPTIONS))
def test_inference_matches_keras_and_passes_masks(kwargs, b, t):
    x = 3 + 2 * np.random.default_rng(b * 5 + t).standard_normal((b, t, 4)).astype(np.float32)
    check_masks("BatchNormalization", (), kwargs, x, supports_masking=True)


@pytest.mark.parametrize("axis,shape", [(-1, (3, 5)), (1, (3, 4, 2)), (-2, (2, 3, 4)),
                                        (1, (2, 3, 2, 5)), (3, (2, 3, 2, 5)), (0, (4, 3))])
def test_axes_and_ranks(axis, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    check_masks("BatchNormalization", (), {"axis": axis}, x, supports_masking=True,
                kinds=("none",))
    check_masks("BatchNormalization", (), {"axis": axis}, x, supports_masking=True,
                kinds=("none",), call_kwargs={"training": True})


def test_float64_and_mixed_precision():
    x = np.random.default_rng(2).standard_normal((3, 5, 4))
    check_dtypes("BatchNormalization", (), {}, x)
    f = layers.BatchNormalization(dtype="mixed_float16")
    out = f(x.astype(np.float16))
    assert out.dtype == np.float16 and all(w.dtype == np.float32 for w in f.weights)


def _train_steps(kwargs, x, mask, steps=3, seed=0):
    """Keras and fastmask layers, same start, `steps` training calls: (outputs, weights) pairs."""
    k, f = pair("BatchNormalization", **kwargs)
    k(x)
    randomize(k, np.random.default_rng(seed))
    f(x)
    f.set_weights(k.get_weights())
    outs = []
    for _ in range(steps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ko = k(k_set_mask(x, mask), training=True)
        fo = f(fastmask.with_mask(x, mask) if mask is not None else x, training=True)
        outs.append((ko, fo))
    return outs, k.get_weights(), f.get_weights()


@pytest.mark.parametrize("kind", ["none", "post", "pre", "holes", "all_masked_row"])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.5, "center": False},
                                    {"renorm": True, "momentum": 0.8},
                                    {"renorm": True, "renorm_clipping": {"rmax": 1.5,
                                                                         "rmin": 0.5,
                                                                         "dmax": 0.3}}],
                         ids=["default", "momentum-no-center", "renorm", "renorm-clipping"])
def test_training_moments_and_updates_match_keras(kwargs, kind):
    rng = np.random.default_rng(3)
    x = (2 + 3 * rng.standard_normal((4, 6, 3))).astype(np.float32)
    mask = random_mask(rng, 4, 6, kind)
    outs, k_w, f_w = _train_steps(kwargs, x, mask)
    for i, (ko, fo) in enumerate(outs):
        assert_outputs_close(ko, fo, atol=2e-5, what=f"training step {i}")
    assert_outputs_close(k_w, f_w, atol=1e-5, what="weights after training")


def test_trainable_false_uses_moving_statistics_in_training():
    x = np.random.default_rng(4).standard_normal((8, 3)).astype(np.float32) * 4 + 1
    f = layers.BatchNormalization()
    f.build(x.shape)
    f.trainable = False
    np.testing.assert_allclose(f(x, training=True), f(x, training=False))
    assert len(f.trainable_weights) == 0 and len(f.non_trainable_weights) == 4
    np.testing.assert_array_equal(f.moving_mean, 0)


def test_mask_rank_must_be_input_rank_minus_one():
    f = layers.BatchNormalization()
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"The mask provided should be one dimension less than "
                                         r"the inputs. Received: mask.shape=\(2, 3, 4\)"):
        f(x, mask=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match="one dimension less"):
        f(x, mask=np.ones((2,), bool))
    # keras batch_normalization_test.py::test_input_fully_masked / masked broadcast
    y = layers.BatchNormalization(scale=False, center=False)(
        np.zeros((4, 5)), mask=np.zeros((4,), np.float32), training=True)
    np.testing.assert_allclose(y, 0)
    g = layers.BatchNormalization(momentum=0.0)
    y = g(np.ones((1, 2, 3, 4)), training=True, mask=np.ones((1, 2, 1)))
    np.testing.assert_allclose(y, 0, atol=1e-6)
    np.testing.assert_allclose(g.moving_mean, 1, atol=1e-6)


@pytest.mark.parametrize("kwargs", OPTIONS + [
    {"renorm": True, "renorm_clipping": {"rmax": 3.0, "rmin": 0.3, "dmax": 5.0},
     "renorm_momentum": 0.95},
    {"axis": 1, "beta_regularizer": "l2", "gamma_constraint": "non_neg",
     "moving_variance_initializer": "zeros"}], ids=_ids(OPTIONS) + ["renorm", "extras"])
def test_config_matches_keras(kwargs):
    check_config("BatchNormalization", (), kwargs)


def test_weights_order_and_renorm_weights():
    f = layers.BatchNormalization(renorm=True,
                                  moving_variance_initializer=fastmask.initializers.Constant(4.))
    f.build((None, 5))
    assert [w.name for w in f.weights] == ["gamma", "beta", "moving_mean", "moving_variance",
                                           "moving_stddev", "renorm_mean", "renorm_stddev"]
    np.testing.assert_allclose(f.moving_stddev, 2.0)
    np.testing.assert_allclose(f.renorm_stddev, 2.0)
    assert [w.name for w in f.trainable_weights] == ["gamma", "beta"]


def test_fcn_timeseries_classifier_loads_from_keras(tmp_path):
    """keras-io timeseries_classification_from_scratch: [Conv1D -> BN -> ReLU] x 3 -> GAP."""
    def build(M):
        L = M.layers
        inp = M.Input((None, 1))
        x = inp
        for _ in range(3):
            x = L.Conv1D(16, 3, padding="same")(x)
            x = L.BatchNormalization()(x)
            x = L.ReLU()(x)
        x = L.GlobalAveragePooling1D()(x)
        return M.Model(inp, L.Dense(2, activation="softmax")(x))
    x = np.cumsum(np.random.default_rng(5).standard_normal((4, 120, 1)), axis=1)
    check_keras_file(tmp_path, build, ((x - x.mean()) / x.std()).astype(np.float32))


def test_masked_sequence_model_with_batch_norm_loads_from_keras(tmp_path):
    """BN inside a masked model: the mask passes through BN to the LSTM."""
    def build(M):
        L = M.layers
        inp = M.Input((None,), dtype="int32")
        x = L.Embedding(30, 6, mask_zero=True)(inp)
        x = L.BatchNormalization()(x)
        x = L.LSTM(5, return_sequences=True)(x)
        x = L.BatchNormalization(axis=-1, center=False)(x)
        return M.Model(inp, L.Dense(2)(x))
    rng = np.random.default_rng(6)
    ids = rng.integers(1, 30, (4, 9)).astype(np.int32)
    ids[0, 5:] = 0
    ids[1, :] = 0
    ids[2, :3] = 0
    check_keras_file(tmp_path, build, ids)


@pytest.mark.parametrize("make,match", [
    (lambda: layers.BatchNormalization(synchronized=True), "synchronized=True is only "
                                                           "supported"),
    (lambda: layers.BatchNormalization(renorm=True, renorm_clipping={"x": 1}),
     "Received invalid keys"),
    (lambda: layers.BatchNormalization(renorm=True, renorm_clipping={"rmax": 0.0, "rmin": 1.0}),
     "rmax should be"),
    (lambda: layers.BatchNormalization(axis=3)(np.zeros((2, 3))), "out of bounds"),
    (lambda: layers.BatchNormalization()(fastmask.Input((3, None))), "must be defined"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
