"""Port of Keras 3.15.1 keras/src/layers/core/embedding_test.py (inference cases)."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test, skipped_cases



# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_embedding_basics
def test_embedding_basics_int32():
    run_layer_test(fastmask.layers.Embedding, {"input_dim": 4, "output_dim": 3},
                   input_shape=(2,), input_dtype="int32", expected_output_shape=(2, 3),
                   expected_num_trainable_weights=1, expected_num_non_trainable_weights=0,
                   supports_masking=False)


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_embedding_basics
def test_embedding_basics_mask_zero():
    run_layer_test(fastmask.layers.Embedding, {"input_dim": 5, "output_dim": 4, "mask_zero": True},
                   input_shape=(2, 3), input_dtype="int64", expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=1, expected_num_non_trainable_weights=0,
                   supports_masking=True)


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_correctness
def test_correctness():
    def run(K):
        layer = K.layers.Embedding(input_dim=3, output_dim=2)
        layer.build()
        layer.embeddings.assign(np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]]))
        return layer(np.array([2, 1, 0]))
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=[[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]])


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_masking
def test_masking():
    def run(K):
        layer = K.layers.Embedding(input_dim=3, output_dim=2, mask_zero=True)
        layer.build()
        return layer.compute_mask(np.array([2, 1, 0]))
    fm, k = on_both(run)
    np.testing.assert_array_equal(fm, [True, True, False])
    np.testing.assert_array_equal(fm, k)


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_compute_mask_no_masking
def test_compute_mask_no_masking():
    layer = fastmask.layers.Embedding(input_dim=3, output_dim=2, mask_zero=False)
    assert layer.compute_mask(np.array([2, 1, 0])) is None


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_invalid_input_dim
def test_invalid_input_dim():
    for bad in (3.7, 4.0, "3", None, True, False, -1, 0):
        with pytest.raises(ValueError, match="`input_dim` must be a positive integer"):
            fastmask.layers.Embedding(input_dim=bad, output_dim=8)
    with pytest.raises(TypeError, match="`input_dim` must be a positive integer"):
        fastmask.layers.Embedding.from_config({"input_dim": 3.7, "output_dim": 8})


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_invalid_output_dim
def test_invalid_output_dim():
    for bad in (3.7, 4.0, "3", None, True, False, -1, 0):
        with pytest.raises(ValueError, match="`output_dim` must be a positive integer"):
            fastmask.layers.Embedding(input_dim=10, output_dim=bad)
    with pytest.raises(TypeError, match="`output_dim` must be a positive integer"):
        fastmask.layers.Embedding.from_config({"input_dim": 10, "output_dim": 3.7})


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_weights_constructor_arg
def test_weights_constructor_arg():
    for weights in (np.ones((3, 4)), [np.ones((3, 4))]):
        layer = fastmask.layers.Embedding(3, 4, weights=weights)
        np.testing.assert_allclose(np.asarray(layer.embeddings), np.ones((3, 4)))


# keras/src/layers/core/embedding_test.py::EmbeddingTest::test_legacy_load_own_variables
# (the float32 store; the quantized stores are in test_not_ported)
def test_legacy_load_own_variables_float32():
    store = {"0": np.random.default_rng(0).random((10, 16)).astype("float32")}
    layer = fastmask.layers.Embedding(10, 16)
    layer.build()
    layer.load_own_variables(store)
    np.testing.assert_allclose(np.asarray(layer.embeddings), store["0"])


_Q = "quantization"
test_not_ported = skipped_cases([
    ("EmbeddingTest::test_embedding_quantize_config", _Q, "int8/int4 QuantizationConfig"),
    ("EmbeddingTest::test_sparse", "sparse-ragged", "sparse inputs"),
    ("EmbeddingTest::test_ragged", "sparse-ragged", "ragged inputs"),
    ("EmbeddingTest::test_correctness_sparse", "sparse-ragged", "sparse inputs"),
    ("EmbeddingTest::test_embedding_constraints", "training",
     "embeddings_constraint acts only in optimizer updates"),
    ("EmbeddingTest::test_enable_lora", _Q, "LoRA (and fit)"),
    ("EmbeddingTest::test_enable_lora_with_alpha", _Q, "LoRA"),
    ("EmbeddingTest::test_lora_rank_argument", _Q, "LoRA"),
    ("EmbeddingTest::test_enable_lora_with_embeddings_constraint", _Q, "LoRA"),
    ("EmbeddingTest::test_enable_lora_when_already_enabled", _Q, "LoRA"),
    ("EmbeddingTest::test_quantize_int", _Q, "int8/int4"),
    ("EmbeddingTest::test_quantize_on_unbuilt_layer", _Q, "quantize"),
    ("EmbeddingTest::test_quantize_on_subclass", _Q, "quantize"),
    ("EmbeddingTest::test_quantize_when_already_quantized", _Q, "quantize"),
    ("EmbeddingTest::test_quantize_by_setting_dtype_policy", _Q, "quantized dtype policies"),
    ("EmbeddingTest::test_quantize_invalid_mode", _Q, "quantize"),
    ("EmbeddingTest::test_quantize_dtype_argument", _Q, "quantized dtype policies"),
    ("EmbeddingTest::test_quantize_lora_integration", _Q, "quantize + LoRA + fit"),
    ("EmbeddingTest::test_legacy_load_own_variables[quantized]", _Q, "int8/int4 stores"),
    ("EmbeddingTest::test_embedding_int8_custom_quantizer", _Q, "int8"),
    ("EmbeddingTest::test_int4_quantization_block_size", _Q, "int4"),
    ("EmbeddingTest::test_int4_block_size_serialization", _Q, "int4"),
    ("EmbeddingTest::test_int4_block_size_with_lora", _Q, "int4 + LoRA"),
    ("EmbeddingTest::test_int4_grouped_vs_perchannel_scale_shapes", _Q, "int4"),
    ("EmbeddingTest::test_int4_subchannel_g_idx_created", _Q, "int4"),
    ("EmbeddingTest::test_int4_perchannel_no_g_idx", _Q, "int4"),
    ("EmbeddingTest::test_int4_subchannel_g_idx_serialization", _Q, "int4"),
])
