"""Port of Keras 3.15.1 keras/src/layers/activations/softmax_test.py."""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test

X = np.array([[1.0, 2.0, 1.0], [1.0, 2.0, 1.0]])
ROW = [0.21194157, 0.5761169, 0.21194157]


def _softmax_case(x, stated=None, mask=None, **kwargs):
    call = {} if mask is None else {"mask": mask}
    fm, k = on_both(lambda K: K.layers.Softmax(**kwargs)(x, **call))
    assert_numbers(fm, k, stated=None if stated is None else np.array(stated))
    return fm


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax
def test_softmax():
    run_layer_test(fastmask.layers.Softmax, init_kwargs={}, input_shape=(2, 3, 4),
                   supports_masking=True, assert_built_after_instantiation=True)


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_correctness
def test_softmax_correctness():
    _softmax_case(X, [ROW, ROW])


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_correctness_with_mask
def test_softmax_correctness_with_mask():
    mask = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    _softmax_case(X, [[0.21194154, 0.0, 0.21194154], [0.0, 0.57611686, 0.0]], mask=mask,
                  axis=(1, 0))


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_correctness_with_axis
def test_softmax_correctness_with_axis():
    _softmax_case(X, [ROW, ROW], axis=1)


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_masked_values_are_zero_including_fully_masked
def test_softmax_masked_values_are_zero_including_fully_masked():
    x = np.array([[1.0, 2.0, 5.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 2.0, 4.0]], np.float32)
    mask = np.array([[True, True, False, False], [False] * 4, [True] * 4])
    _softmax_case(x, [[0.268941, 0.731059, 0.0, 0.0], [0.0] * 4,
                      [0.236883, 0.032059, 0.087144, 0.643914]], mask=mask)


_BX = np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 5.0]])


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_mask_broadcastable
def test_softmax_mask_broadcastable():
    out = _softmax_case(_BX, mask=np.array([[1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(np.asarray(out)[:, 1], [0.0, 0.0])


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_mask_broadcastable_fewer_dims
def test_softmax_mask_broadcastable_fewer_dims():
    out = _softmax_case(_BX, mask=np.array([1.0, 0.0, 1.0]), axis=-1)
    np.testing.assert_allclose(np.asarray(out)[:, 1], [0.0, 0.0])


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_mask_shape_mismatch
def test_softmax_mask_shape_mismatch():
    with pytest.raises(ValueError, match="broadcastable"):
        fastmask.layers.Softmax()(np.array([[1.0, 2.0, 1.0]]),
                                  mask=np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))


# keras/src/layers/activations/softmax_test.py::SoftmaxTest::test_softmax_mask_too_many_dims
def test_softmax_mask_too_many_dims():
    with pytest.raises(ValueError, match="must not have more dimensions"):
        fastmask.layers.Softmax()(np.array([[1.0, 2.0, 1.0]]), mask=np.array([[[1.0, 0.0, 1.0]]]))
