"""Port of Keras 3.15.1 keras/src/layers/normalization/batch_normalization_test.py.

fastmask computes BatchNormalization's training mode (batch moments, moving
statistics updates, renorm) as Keras does; those calls are ported. `fit` is not.
"""
import numpy as np
import pytest

import fastmask
from _harness import run_layer_test, skipped_cases

BatchNormalization = fastmask.layers.BatchNormalization


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_bn_basics
@pytest.mark.parametrize("init_kwargs,input_shape", [
    ({"center": True, "scale": True}, (2, 3)),
    ({"center": False, "scale": False}, (2, 3)),
    ({"center": True, "scale": True, "beta_regularizer": "l2", "gamma_regularizer": "l2"},
     (2, 4, 4, 3))], ids=["vector", "vector_no_center_scale", "image_regularizers"])
def test_bn_basics(init_kwargs, input_shape):
    trainable = 2 if init_kwargs["scale"] else 0
    run_layer_test(BatchNormalization, init_kwargs=init_kwargs, call_kwargs={"training": True},
                   input_shape=input_shape, expected_output_shape=input_shape,
                   expected_num_trainable_weights=trainable,
                   expected_num_non_trainable_weights=2, supports_masking=True)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_correctness
@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("input_shape", [(5, 2, 3), (5, 3, 3, 2)])
@pytest.mark.parametrize("moving_mean_initializer", ["zeros", "ones"])
@pytest.mark.parametrize("moving_variance_initializer", ["zeros", "ones"])
def test_correctness(axis, input_shape, moving_mean_initializer, moving_variance_initializer):
    layer = BatchNormalization(axis=axis, momentum=0,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer)
    x = np.random.default_rng(0).normal(loc=5.0, scale=10.0, size=input_shape)
    out = x
    for _ in range(3):
        out = layer(out, training=True)
    broadcast_shape = [1] * len(input_shape)
    broadcast_shape[axis] = input_shape[axis]
    out = np.asarray(out) - np.reshape(np.asarray(layer.beta), broadcast_shape)
    out = out / np.reshape(np.asarray(layer.gamma), broadcast_shape)
    reduction_axes = list(range(len(input_shape)))
    del reduction_axes[axis]
    reduction_axes = tuple(reduction_axes)
    np.testing.assert_allclose(np.mean(out, axis=reduction_axes), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.std(out, axis=reduction_axes), 1.0, atol=1e-3)
    np.testing.assert_allclose(layer.moving_mean, 0.0, atol=1e-3)
    np.testing.assert_allclose(layer.moving_variance, 1.0, atol=1e-3)
    # Inference done before training shouldn't match.
    inference_out = layer(x, training=False)
    training_out = layer(x, training=True)
    assert not np.allclose(inference_out, training_out)
    # Since momentum is zero, inference after training should match.
    training_out = layer(x, training=True)
    inference_out = layer(x, training=False)
    np.testing.assert_allclose(inference_out, training_out, rtol=1e-5, atol=1e-5)
    # Masked result with no training should not differ
    x[:, 1, :] = 0.0
    unmasked_out = layer(x, training=False)
    masked = fastmask.layers.Masking()(x)
    masked_out = layer(masked, training=False)
    np.testing.assert_allclose(unmasked_out, masked_out)
    # Masked result should differ from unmasked result
    unmasked_out = layer(x, training=False)
    x[:, 1, :] = 0.0
    masked = fastmask.layers.Masking()(x)
    masked_out = layer(masked, training=True)
    assert not np.allclose(unmasked_out, masked_out)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_input_fully_masked
def test_input_fully_masked():
    norm = BatchNormalization(scale=False, center=False, synchronized=False)
    y = norm(np.zeros((4, 5)), mask=np.zeros((4,), dtype=np.float32), training=True)
    np.testing.assert_allclose(y, np.zeros((4, 5), dtype=np.float32))


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_trainable_behavior
def test_trainable_behavior():
    layer = BatchNormalization(axis=-1, momentum=0.8, epsilon=1e-7)
    layer.build((1, 4, 4, 3))
    layer.trainable = False
    assert len(layer.weights) == 4
    assert len(layer.trainable_weights) == 0
    assert len(layer.non_trainable_weights) == 4
    x = np.random.default_rng(1).normal(loc=5.0, scale=10.0, size=(200, 4, 4, 3))
    out = layer(x, training=True)
    np.testing.assert_allclose(out, x, rtol=1e-5, atol=1e-5)
    layer.trainable = True
    assert len(layer.weights) == 4
    assert len(layer.trainable_weights) == 2
    assert len(layer.non_trainable_weights) == 2
    for _ in range(10):
        out = layer(x, training=True)
    out = np.asarray(out) - np.reshape(np.asarray(layer.beta), (1, 1, 1, 3))
    out = out / np.reshape(np.asarray(layer.gamma), (1, 1, 1, 3))
    np.testing.assert_allclose(np.mean(out, axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.std(out, axis=(0, 1, 2)), 1.0, atol=1e-3)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_masked_broadcast_normalization
def test_masked_broadcast_normalization():
    layer = BatchNormalization(axis=-1, momentum=0.0, epsilon=1e-3)
    y = layer(np.ones((1, 2, 3, 4), np.float32), training=True, mask=np.ones((1, 2, 1)))
    np.testing.assert_allclose(np.mean(y, axis=(0, 1, 2)), np.zeros((4,)), atol=1e-6)
    np.testing.assert_allclose(y, np.zeros_like(y), atol=1e-6)
    np.testing.assert_allclose(layer.moving_mean, np.ones((4,)), atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance, np.zeros((4,)), atol=1e-6)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_renorm_basics
@pytest.mark.parametrize("init_kwargs,input_shape", [
    ({"center": True, "scale": True, "renorm": True}, (2, 3)),
    ({"center": True, "scale": True, "renorm": True,
      "renorm_clipping": {"rmax": 3.0, "rmin": 0.3, "dmax": 5.0}}, (2, 4, 4, 3))],
    ids=["renorm", "renorm_clipping"])
def test_renorm_basics(init_kwargs, input_shape):
    # compare_with_keras=False: the harness copies Keras's weights after Keras's first
    # training call, which has already moved renorm_mean/renorm_stddev (renorm's output
    # depends on them); tests/test_batch_normalization.py compares renorm training with
    # Keras from the same starting weights, step by step.
    run_layer_test(BatchNormalization, init_kwargs=init_kwargs, call_kwargs={"training": True},
                   input_shape=input_shape, expected_output_shape=input_shape,
                   expected_num_trainable_weights=2, expected_num_non_trainable_weights=5,
                   supports_masking=True, compare_with_keras=False)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_renorm_invalid_clipping_keys
@pytest.mark.parametrize("clipping,message", [
    ({"random_key": 1.0}, "Received invalid keys"), ({"rmax": 0.0, "rmin": 1.0}, "rmax should be"),
    ({"rmax": 1.0, "dmax": -1.0}, "dmax should be non-negative")])
def test_renorm_invalid_clipping_keys(clipping, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(renorm=True, renorm_clipping=clipping)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_renorm_stddev_initializer
def test_renorm_stddev_initializer():
    layer = BatchNormalization(renorm=True,
                               moving_variance_initializer=fastmask.initializers.Constant(4.0))
    layer.build((None, 5))
    np.testing.assert_allclose(layer.moving_stddev, np.full((5,), 2.0), atol=1e-6)
    np.testing.assert_allclose(layer.renorm_stddev, np.full((5,), 2.0), atol=1e-6)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_renorm_inference
def test_renorm_inference():
    bn = BatchNormalization(renorm=False)
    bn_renorm = BatchNormalization(renorm=True)
    bn.build((None, 10))
    bn_renorm.build((None, 10))
    rng = np.random.default_rng(2)
    for attr in ["gamma", "beta", "moving_mean", "moving_variance"]:
        getattr(bn, attr).assign(rng.normal(size=(10,)))
        getattr(bn_renorm, attr).assign(getattr(bn, attr))
    x = rng.normal(size=(4, 10))
    np.testing.assert_allclose(bn(x, training=False), bn_renorm(x, training=False), atol=1e-5,
                               rtol=1e-5)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_renorm_correctness
def test_renorm_correctness():
    epsilon, momentum, renorm_momentum = 1e-3, 0.9, 0.8
    layer = BatchNormalization(axis=-1, epsilon=epsilon, momentum=momentum, renorm=True,
                               renorm_momentum=renorm_momentum)
    layer.build((None, 3))
    rng = np.random.default_rng(1337)
    size = (3,)
    init_moving_mean = rng.normal(0.0, 1.0, size=size)
    init_moving_var = np.abs(rng.normal(1.0, 0.5, size=size))
    init_moving_stddev = np.sqrt(init_moving_var)
    init_renorm_mean = rng.normal(0.0, 1.0, size=size)
    init_renorm_stddev = np.abs(rng.normal(1.0, 0.5, size=size))
    init_gamma = rng.normal(1.0, 0.1, size=size)
    init_beta = rng.normal(0.0, 0.1, size=size)
    layer.moving_mean.assign(init_moving_mean)
    layer.moving_variance.assign(init_moving_var)
    layer.moving_stddev.assign(init_moving_stddev)
    layer.renorm_mean.assign(init_renorm_mean)
    layer.renorm_stddev.assign(init_renorm_stddev)
    layer.gamma.assign(init_gamma)
    layer.beta.assign(init_beta)
    x = np.array([[4.0, 6.0, 2.0], [8.0, -2.0, 5.0], [6.0, 4.0, 3.0]], dtype="float32")
    batch_mean = np.mean(x, axis=0)
    batch_var = np.var(x, axis=0)
    batch_stddev = np.sqrt(batch_var + epsilon)
    r = batch_stddev / init_renorm_stddev
    d = (batch_mean - init_renorm_mean) / init_renorm_stddev
    expected_output = (((x - batch_mean) / batch_stddev) * r + d) * init_gamma + init_beta
    np.testing.assert_allclose(layer(x, training=True), expected_output, atol=1e-5)
    np.testing.assert_allclose(layer.renorm_mean, init_renorm_mean * renorm_momentum
                               + batch_mean * (1 - renorm_momentum), atol=1e-5)
    np.testing.assert_allclose(layer.renorm_stddev, init_renorm_stddev * renorm_momentum
                               + batch_stddev * (1 - renorm_momentum), atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean, init_moving_mean * momentum
                               + batch_mean * (1 - momentum), atol=1e-5)
    expected_moving_stddev = init_moving_stddev * momentum + batch_stddev * (1 - momentum)
    np.testing.assert_allclose(layer.moving_stddev, expected_moving_stddev, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance, expected_moving_stddev ** 2 - epsilon,
                               atol=1e-5)


# keras/src/layers/normalization/batch_normalization_test.py::BatchNormalizationTest::test_serialization
def test_serialization():
    layer = BatchNormalization(renorm=True,
                               renorm_clipping={"rmax": 3.0, "rmin": 0.3, "dmax": 5.0},
                               renorm_momentum=0.95)
    config = layer.get_config()
    assert BatchNormalization.from_config(config).get_config() == config


test_not_ported = skipped_cases([
    ("BatchNormalizationTest::test_bachnorm_ignore_masked_values", "training",
     "model.fit (compile/fit/loss)"),
    ("BatchNormalizationTest::test_large_value_within_autocast_scope", "keras-internal",
     "backend.AutocastScope"),
])
