"""Port of Keras 3.15.1 keras/src/layers/rnn/time_distributed_test.py (inference cases)."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, keras, on_both, run_layer_test, skipped_cases

SEQ = np.arange(24).reshape((3, 2, 4)).astype("float32")


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_basics
def test_basics():
    run_layer_test(fastmask.layers.TimeDistributed,
                   init_kwargs={"layer": fastmask.layers.Dense(1, use_bias=False)},
                   keras_init_kwargs={"layer": keras().layers.Dense(1, use_bias=False)},
                   input_shape=(3, 2, 4), expected_output_shape=(3, 2, 1),
                   expected_num_trainable_weights=1, expected_num_non_trainable_weights=0,
                   supports_masking=True)


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_correctness
def test_correctness():
    def run(K):
        dense = K.layers.Dense(1, kernel_initializer=K.initializers.Constant(0.01), use_bias=False)
        return K.layers.TimeDistributed(layer=dense)(SEQ)
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=np.array([[[0.06], [0.22]], [[0.38], [0.53999996]],
                                           [[0.7], [0.86]]]))


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_masking
def test_masking():
    def run(K):
        class MaskedDense(K.layers.Wrapper):
            def __init__(self, units, **kwargs):
                layer = K.layers.Dense(units, kernel_initializer=K.initializers.Constant(0.01),
                                       use_bias=False)
                super().__init__(layer, **kwargs)
                self.supports_masking = True

            def call(self, inputs, training=False, mask=None):
                unmasked = self.layer.call(inputs)
                if mask is None:
                    return unmasked
                return K.ops.transpose(K.ops.transpose(unmasked) * K.ops.cast(mask, inputs.dtype))

        mask = np.array([[False, True], [True, False], [True, True]])
        return K.layers.TimeDistributed(layer=MaskedDense(1))(SEQ, mask=mask)
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=np.array([[[0], [0.22]], [[0.38], [0]], [[0.7], [0.86]]]))


def _td():
    return fastmask.layers.TimeDistributed(fastmask.layers.Dense(units=5, activation="softmax"))


_BAD_MASK = r"The `mask` passed to the `TimeDistributed` layer has a shape.*"
X = np.zeros((4, 5, 3))


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_mismatched_timesteps
def test_mask_validation_with_mismatched_timesteps():
    td = _td()
    assert td(X, mask=np.ones((4, 5), dtype=bool)).shape == (4, 5, 5)
    with pytest.raises(ValueError, match=_BAD_MASK):
        td(X, mask=np.ones((4, 6), dtype=bool))


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_mismatched_batch_size
def test_mask_validation_with_mismatched_batch_size():
    with pytest.raises(ValueError, match=_BAD_MASK):
        _td()(X, mask=np.ones((5, 5), dtype=bool))


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_correct_shape
def test_mask_validation_with_correct_shape():
    assert _td()(X, mask=np.ones((4, 5, 1), dtype=bool)).shape == (4, 5, 5)


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_3d_mask
def test_mask_validation_with_3d_mask():
    td = _td()
    assert td(X, mask=np.ones((4, 5, 2), dtype=bool)).shape == (4, 5, 5)
    with pytest.raises(ValueError, match=_BAD_MASK):
        td(X, mask=np.ones((4, 6, 2), dtype=bool))


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_none_mask
def test_mask_validation_with_none_mask():
    assert _td()(X, mask=None).shape == (4, 5, 5)


# keras/src/layers/rnn/time_distributed_test.py::TimeDistributedTest::test_mask_validation_with_both_batch_and_timesteps_mismatched
def test_mask_validation_with_both_batch_and_timesteps_mismatched():
    with pytest.raises(ValueError, match=_BAD_MASK):
        _td()(X, mask=np.ones((5, 6), dtype=bool))


test_not_ported = skipped_cases([
    ("TimeDistributedTest::test_with_mask_zero", "training", "compile + fit"),
])
