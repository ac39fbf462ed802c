"""Port of Keras 3.15.1 keras/src/layers/core/dense_test.py (inference cases).

Each case re-expresses the Keras test it cites against fastmask, and where
the Keras test states numbers, checks them on fastmask and on Keras.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test, skipped_cases

KT = "keras/src/layers/core/dense_test.py::DenseTest"


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_basics
def test_dense_basics_2d_no_bias():
    run_layer_test(
        fastmask.layers.Dense,
        init_kwargs={"units": 4, "activation": "relu", "kernel_initializer": "random_uniform",
                     "bias_initializer": "ones", "use_bias": False},
        input_shape=(2, 3), expected_output_shape=(2, 4),
        expected_num_trainable_weights=1, expected_num_non_trainable_weights=0,
        supports_masking=True)


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_basics
def test_dense_basics_3d_regularizers():
    run_layer_test(
        fastmask.layers.Dense,
        init_kwargs={"units": 5, "activation": "sigmoid", "kernel_regularizer": "l2",
                     "bias_regularizer": "l2"},
        input_shape=(2, 3, 4), expected_output_shape=(2, 3, 5),
        expected_num_trainable_weights=2, expected_num_non_trainable_weights=0,
        supports_masking=True)


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_invalid_units_raises
@pytest.mark.parametrize("units", [0, -3, 2.5, None, "64"],
                         ids=["zero", "negative", "float", "none", "string"])
def test_dense_invalid_units_raises(units):
    with pytest.raises(ValueError, match="positive integer"):
        fastmask.layers.Dense(units)
    with pytest.raises(ValueError, match="positive integer"):
        keras().layers.Dense(units)


def _set_and_call(K, weights, x, **kwargs):
    layer = K.layers.Dense(**kwargs)
    layer.build((1, 2))
    layer.set_weights([np.array(w) for w in weights])
    return layer, layer(np.array(x))


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_correctness
def test_dense_correctness():
    kernel, bias = [[1.0, -2.0], [3.0, -4.0]], [5.0, -6.0]
    (fl, fo), (kl, ko) = on_both(lambda K: _set_and_call(K, [kernel, bias], [[-1.0, 2.0]],
                                                          units=2, activation="relu"))
    assert_numbers(fo, ko, stated=[[10.0, 0.0]])
    (fl, fo), (kl, ko) = on_both(lambda K: _set_and_call(K, [kernel], [[-1.0, 2.0]],
                                                          units=2, use_bias=False))
    assert fl.bias is None and kl.bias is None
    assert_numbers(fo, ko, stated=[[5.0, -6.0]])


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_errors
def test_dense_errors():
    layer = fastmask.layers.Dense(units=2, activation="relu")
    layer(fastmask.KerasTensor((1, 2)))
    with pytest.raises(ValueError, match="incompatible with the layer"):
        layer(fastmask.KerasTensor((1, 3)))


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_no_activation
def test_dense_no_activation():
    (fl, fo), (kl, ko) = on_both(lambda K: _set_and_call(
        K, [[[1.0, -2.0], [3.0, -4.0]]], [[-1.0, 2.0]], units=2, use_bias=False,
        activation=None))
    assert fl.bias is None
    assert_numbers(fo, ko, stated=[[5.0, -6.0]])


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_without_activation_set
def test_dense_without_activation_set():
    def run(K):
        layer = K.layers.Dense(units=2, use_bias=False)
        layer.build((1, 2))
        layer.set_weights([np.array([[1.0, -2.0], [3.0, -4.0]])])
        layer.activation = None
        return layer, layer(np.array([[-1.0, 2.0]]))
    (fl, fo), (kl, ko) = on_both(run)
    assert fl.bias is None
    assert_numbers(fo, ko, stated=[[5.0, -6.0]])


# keras/src/layers/core/dense_test.py::DenseTest::test_dense_with_activation
def test_dense_with_activation():
    (fl, fo), (kl, ko) = on_both(lambda K: _set_and_call(
        K, [[[1.0, -2.0], [3.0, -4.0]]], [[-1.0, 2.0]], units=2, use_bias=False,
        activation="relu"))
    assert_numbers(fo, ko, stated=[[5.0, 0.0]])


# keras/src/layers/core/dense_test.py::DenseTest::test_legacy_load_own_variables
# (the float32 layer; the quantized layers are in test_not_ported)
def test_legacy_load_own_variables_float32():
    rng = np.random.default_rng(0)
    store = {"0": rng.random((8, 16)).astype("float32"),
             "1": rng.random((16,)).astype("float32")}
    layer = fastmask.layers.Dense(units=16)
    layer.build((None, 8))
    layer.load_own_variables(store)
    np.testing.assert_allclose(np.asarray(layer.kernel), store["0"])
    np.testing.assert_allclose(np.asarray(layer.bias), store["1"])


_Q = "quantization"
test_not_ported = skipped_cases([
    ("DenseTest::test_dense_quantize_config", _Q, "int8/int4 QuantizationConfig"),
    ("DenseTest::test_dense_sparse", "sparse-ragged", "sparse inputs (tf/jax only)"),
    ("DenseTest::test_dense_constraints", "training",
     "kernel/bias constraints act only in optimizer updates"),
    ("DenseTest::test_enable_lora", _Q, "LoRA (and fit)"),
    ("DenseTest::test_enable_lora_with_alpha", _Q, "LoRA"),
    ("DenseTest::test_lora_weight_name", _Q, "LoRA"),
    ("DenseTest::test_lora_rank_argument", _Q, "LoRA"),
    ("DenseTest::test_enable_lora_with_kernel_constraint", _Q, "LoRA"),
    ("DenseTest::test_enable_lora_on_unbuilt_layer", _Q, "LoRA"),
    ("DenseTest::test_enable_lora_when_already_enabled", _Q, "LoRA"),
    ("DenseTest::test_quantize_int", _Q, "int8/int4 quantize"),
    ("DenseTest::test_quantize_on_unbuilt_layer", _Q, "quantize"),
    ("DenseTest::test_quantize_on_subclass", _Q, "quantize"),
    ("DenseTest::test_quantize_when_already_quantized", _Q, "quantize"),
    ("DenseTest::test_quantize_by_setting_dtype_policy", _Q, "quantized dtype policies"),
    ("DenseTest::test_quantize_invalid_mode", _Q, "quantize"),
    ("DenseTest::test_quantize_dtype_argument", _Q, "quantized dtype policies"),
    ("DenseTest::test_quantize_lora_integration", _Q, "quantize + LoRA + fit"),
    ("DenseTest::test_quantize_float8", _Q, "float8 (and fit)"),
    ("DenseTest::test_quantize_float8_fitting", _Q, "float8 fit"),
    ("DenseTest::test_quantize_float8_inference", _Q, "float8"),
    ("DenseTest::test_gptq_serialization", _Q, "GPTQ"),
    ("DenseTest::test_awq_serialization", _Q, "AWQ"),
    ("DenseTest::test_int4_kernel_returns_unpacked_form", _Q, "int4"),
    ("DenseTest::test_legacy_load_own_variables[quantized]", _Q,
     "int8/int4/float8/GPTQ/AWQ stores (the float32 store is ported)"),
    ("DenseTest::test_int4_gptq_kernel_returns_unpacked_form", _Q, "GPTQ"),
    ("DenseTest::test_gptq_kernel_packing", _Q, "GPTQ"),
    ("DenseTest::test_int4_awq_kernel_returns_unpacked_form", _Q, "AWQ"),
    ("DenseTest::test_awq_kernel_packing", _Q, "AWQ"),
    ("DenseTest::test_dense_int8_custom_quantizer", _Q, "int8"),
    ("DenseTest::test_dense_int8_weight_only_quantizer", _Q, "int8"),
    ("DenseTest::test_dense_int4_custom_quantizer", _Q, "int4"),
    ("DenseTest::test_int4_quantization_block_size", _Q, "int4"),
    ("DenseTest::test_int4_block_size_serialization", _Q, "int4"),
    ("DenseTest::test_int4_block_size_with_lora", _Q, "int4 + LoRA"),
    ("DenseTest::test_int4_grouped_vs_perchannel_scale_shapes", _Q, "int4"),
    ("DenseTest::test_int4_subchannel_g_idx_created", _Q, "int4"),
    ("DenseTest::test_int4_perchannel_no_g_idx", _Q, "int4"),
    ("DenseTest::test_int4_subchannel_g_idx_serialization", _Q, "int4"),
])
