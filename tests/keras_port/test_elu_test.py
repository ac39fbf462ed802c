"""Port of Keras 3.15.1 keras/src/layers/activations/elu_test.py."""
import numpy as np

import fastmask
from _harness import assert_numbers, on_both, run_class_serialization_test, run_layer_test

ELU = fastmask.layers.ELU


# keras/src/layers/activations/elu_test.py::ELUTest::test_config
def test_config():
    run_class_serialization_test(ELU())


# keras/src/layers/activations/elu_test.py::ELUTest::test_elu
def test_elu():
    run_layer_test(ELU, init_kwargs={}, input_shape=(2, 3, 4), supports_masking=True,
                   assert_built_after_instantiation=True)


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


# keras/src/layers/activations/elu_test.py::ELUTest::test_correctness
def test_correctness():
    x = np.random.default_rng(0).random((2, 2, 5))
    fm, k = on_both(lambda K: K.layers.ELU()(x))
    assert_numbers(fm, k, stated=_np_elu(x))
    fm, k = on_both(lambda K: K.layers.ELU(alpha=0.7)(x))
    assert_numbers(fm, k, stated=_np_elu(x, alpha=0.7))
