"""Port of Keras 3.15.1 keras/src/layers/core/lambda_layer_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test, xfail


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_lambda_basics (ops.square)
@xfail("config: Lambda(fastmask.ops.f) saves its function with module 'fastmask.ops' (Keras "
       "writes 'builtins' and cannot read fastmask's)")
def test_lambda_basics_square():
    run_layer_test(fastmask.layers.Lambda, init_kwargs={"function": fastmask.ops.square},
                   keras_init_kwargs={"function": keras().ops.square},
                   input_shape=(2, 3), expected_output_shape=(2, 3),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False, custom_objects={"square": fastmask.ops.square},
                   keras_custom_objects={"square": keras().ops.square})


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_lambda_basics (with a mask)
@xfail("config: Lambda(fastmask.ops.f) saves its function with module 'fastmask.ops' (Keras "
       "writes 'builtins' and cannot read fastmask's); config: Lambda's array `mask` is put in "
       "the config as a raw array, not Keras's __tensor__ config")
def test_lambda_basics_square_with_mask():
    run_layer_test(fastmask.layers.Lambda,
                   init_kwargs={"function": fastmask.ops.square, "mask": fastmask.ops.ones((2, 3))},
                   keras_init_kwargs={"function": keras().ops.square,
                                      "mask": keras().ops.ones((2, 3))},
                   input_shape=(2, 3, 4), expected_output_shape=(2, 3, 4),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True, custom_objects={"square": fastmask.ops.square},
                   keras_custom_objects={"square": keras().ops.square})


def _stacker_fm(x):
    return fastmask.ops.concatenate([x, x], axis=1)


def _stacker_k(x):
    return keras().ops.concatenate([x, x], axis=1)


def _stacker_shape(s):
    return (s[0], s[1] * 2)


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_lambda_basics (output_shape tuple)
def test_lambda_basics_stacker_output_shape():
    run_layer_test(fastmask.layers.Lambda,
                   init_kwargs={"function": _stacker_fm, "output_shape": (6,)},
                   keras_init_kwargs={"function": _stacker_k, "output_shape": (6,)},
                   input_shape=(2, 3), expected_output_shape=(2, 6),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False, custom_objects={"stacker": _stacker_fm},
                   keras_custom_objects={"stacker": _stacker_k}, compare_config_with_keras=False)


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_lambda_basics (output_shape fn)
def test_lambda_basics_stacker_output_shape_fn():
    run_layer_test(fastmask.layers.Lambda,
                   init_kwargs={"function": _stacker_fm, "output_shape": _stacker_shape},
                   keras_init_kwargs={"function": _stacker_k, "output_shape": _stacker_shape},
                   input_shape=(2, 3), expected_output_shape=(2, 6),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=False,
                   custom_objects={"stacker": _stacker_fm, "stacker_shape": _stacker_shape},
                   keras_custom_objects={"stacker": _stacker_k, "stacker_shape": _stacker_shape},
                   compare_config_with_keras=False)


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_correctness
def test_correctness():
    def run(K):
        layer = K.layers.Lambda(lambda x: x ** 2)
        out1 = layer(2 * np.ones((2, 3)))
        layer = K.layers.Lambda.from_config(layer.get_config(), safe_mode=False)
        return out1, layer(2 * np.ones((2, 3)))
    fm, k = on_both(run)
    assert_numbers(list(fm), list(k), stated=[4 * np.ones((2, 3))] * 2)


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_from_config_fails_closed_without_safe_mode_scope
def test_from_config_fails_closed_without_safe_mode_scope():
    config = fastmask.layers.Lambda(lambda x: x ** 2).get_config()
    with pytest.raises(ValueError, match="Lambda"):
        fastmask.layers.Lambda.from_config(config)


# keras/src/layers/core/lambda_layer_test.py::LambdaTest::test_correctness_lambda_shape
def test_correctness_lambda_shape():
    def run(K):
        layer = K.layers.Lambda(lambda x: x ** 2, output_shape=lambda x: x)
        out1 = layer(2 * np.ones((2, 3)))
        layer = K.layers.Lambda.from_config(layer.get_config(), safe_mode=False)
        return out1, layer(2 * np.ones((2, 3)))
    fm, k = on_both(run)
    assert_numbers(list(fm), list(k), stated=[4 * np.ones((2, 3))] * 2)
