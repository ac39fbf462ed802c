"""Port of Keras 3.15.1 keras/src/layers/merging/merging_test.py.

Each numeric case checks fastmask against Keras's NumPy reference (re-
expressed here) and against Keras; masks are compared with Keras's.
"""
import numpy as np
import pytest

import fastmask
from _harness import assert_numbers, on_both, run_layer_test, skipped_cases
from oracle import k_get_mask

rng = np.random.default_rng(6)


def np_dot(a, b, axes):
    """Batched tensordot over `axes` (ints count the batch axis), as Keras's reference."""
    if isinstance(axes, int):
        axes = (axes, axes)
    axes = [axis if axis < 0 else axis - 1 for axis in axes]
    res = np.stack([np.tensordot(a[i], b[i], axes) for i in range(a.shape[0])])
    return np.expand_dims(res, axis=1) if res.ndim == 1 else res


# name: (class name, numpy op, init kwargs, input shape, output shape, skip mask test)
CASES = {
    "add": ("Add", np.add, {}, (2, 4, 5), (2, 4, 5), False),
    "subtract": ("Subtract", np.subtract, {}, (2, 4, 5), (2, 4, 5), False),
    "minimum": ("Minimum", np.minimum, {}, (2, 4, 5), (2, 4, 5), False),
    "maximum": ("Maximum", np.maximum, {}, (2, 4, 5), (2, 4, 5), False),
    "multiply": ("Multiply", np.multiply, {}, (2, 4, 5), (2, 4, 5), False),
    "average": ("Average", lambda a, b: (a + b) * 0.5, {}, (2, 4, 5), (2, 4, 5), False),
    "concat": ("Concatenate", lambda a, b, axis: np.concatenate((a, b), axis=axis),
               {"axis": -1}, (2, 4, 5), (2, 4, 10), False),
    "dot_2d": ("Dot", np_dot, {"axes": -1}, (2, 4), (2, 1), True),
    "dot_3d": ("Dot", np_dot, {"axes": -1}, (2, 4, 5), (2, 4, 4), True),
}
NAMES = list(CASES)


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_basic
@pytest.mark.parametrize("name", NAMES)
def test_basic(name):
    cls, _, init_kwargs, shape, out_shape, _ = CASES[name]
    run_layer_test(getattr(fastmask.layers, cls), init_kwargs=init_kwargs,
                   input_shape=(shape, shape), expected_output_shape=out_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   supports_masking=True)


def _correctness(name, batch_size):
    cls, np_op, init_kwargs, shape, out_shape, skip_mask = CASES[name]
    x1, x2 = rng.random(shape), rng.random(shape)

    def run(K):
        in1 = K.layers.Input(shape=shape[1:], batch_size=batch_size)
        in2 = K.layers.Input(shape=shape[1:], batch_size=batch_size)
        layer = getattr(K.layers, cls)(**init_kwargs)
        model = K.Model([in1, in2], layer([in1, in2]))
        return layer, (in1, in2), model([x1, x2])
    (layer, inputs, fm), (_, _, k) = on_both(run)
    assert fm.shape == out_shape
    assert_numbers(fm, k, stated=np_op(x1, x2, **init_kwargs), stated_atol=1e-4)
    assert layer.compute_mask(list(inputs), [None, None]) is None
    return layer, inputs, (x1, x2), skip_mask, shape


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_correctness_static
@pytest.mark.parametrize("name", NAMES)
def test_correctness_static(name):
    layer, _, (x1, x2), skip_mask, shape = _correctness(name, batch_size=shape_batch(name))
    assert layer.compute_mask([x1, x2], [None, None]) is None
    if not skip_mask:
        masks = [np.ones(shape[:-1], dtype=bool)] * 2
        assert np.all(np.asarray(layer.compute_mask([x1, x2], masks)))


def shape_batch(name):
    return CASES[name][3][0]


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_correctness_dynamic
@pytest.mark.parametrize("name", NAMES)
def test_correctness_dynamic(name):
    layer, inputs, (x1, x2), skip_mask, _ = _correctness(name, batch_size=None)
    if not skip_mask:
        masks = [fastmask.Variable(x1), fastmask.Variable(x2)]
        assert np.all(np.asarray(layer.compute_mask(list(inputs), masks)))


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_errors
@pytest.mark.parametrize("name", [n for n in NAMES if not CASES[n][5]])
def test_errors(name):
    cls, _, init_kwargs, shape, _, _ = CASES[name]
    x1 = rng.random(shape)
    in1 = fastmask.layers.Input(shape=shape[1:], batch_size=shape[0])
    in2 = fastmask.layers.Input(shape=shape[1:], batch_size=shape[0])
    layer = getattr(fastmask.layers, cls)(**init_kwargs)
    with pytest.raises(ValueError, match="`mask` should be a list."):
        layer.compute_mask([in1, in2], x1)
    with pytest.raises(ValueError, match="`inputs` should be a list."):
        layer.compute_mask(in1, [None, None])
    with pytest.raises(ValueError, match=" should have the same length."):
        layer.compute_mask([in1, in2], [None])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_subtract_layer_inputs_length_errors
def test_subtract_layer_inputs_length_errors():
    inputs = [fastmask.layers.Input(shape=(4, 5)) for _ in range(3)]
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        fastmask.layers.Subtract()(inputs)
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        fastmask.layers.Subtract()(inputs[:1])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_dot_higher_dim
def test_dot_higher_dim():
    a = fastmask.layers.Input(batch_shape=(1, 3, 2))
    b = fastmask.layers.Input(batch_shape=(1, 1, 2, 3))
    assert fastmask.layers.Dot(axes=(-2, -1))([a, b]).shape == (1, 2, 1, 2)
    a, b = rng.random((1, 3, 2)), rng.random((1, 1, 2, 3))
    fm, k = on_both(lambda K: K.layers.Dot(axes=(-2, -1))([a, b]))
    assert tuple(fm.shape) == (1, 2, 1, 2)
    assert_numbers(fm, k)


X1 = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], dtype="float32")
X2 = np.array([[[0, 0], [0, 0], [1, 2], [3, 4]]], dtype="float32")


def _masked_merge(cls, x1, x2, stated_unmasked, stated_masked, **init_kwargs):
    """Keras's `test_<op>_with_mask`: only x1 masked, then both masked."""
    def get_mask(K, out):
        return fastmask.get_mask(out) if K is fastmask else k_get_mask(out)

    def run(K, mask_both):
        masking = K.layers.Masking()
        a = masking(x1)
        b = masking(x2) if mask_both else x2
        out = getattr(K.layers, cls)(**init_kwargs)([a, b])
        return out, get_mask(K, out)

    for mask_both, stated in ((False, stated_unmasked), (True, stated_masked)):
        (fm, fm_mask), (k, k_mask) = on_both(lambda K: run(K, mask_both))
        assert_numbers(fm, k, stated=np.array(stated, "float32"))
        if k_mask is None:
            assert fm_mask is None, f"fastmask gives a mask {fm_mask}, Keras none"
        else:
            np.testing.assert_array_equal(np.asarray(fm_mask), np.asarray(k_mask))
        if not mask_both and cls != "Concatenate":
            assert fm_mask is None
        elif cls != "Concatenate":
            np.testing.assert_array_equal(np.asarray(fm_mask), [[0, 1, 1, 1]])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_add_with_mask
def test_add_with_mask():
    out = [[[0, 0], [1, 2], [1, 2], [6, 8]]]
    _masked_merge("Add", X1, X2, out, out)


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_subtract_with_mask
def test_subtract_with_mask():
    out = [[[0, 0], [1, 2], [-1, -2], [0, 0]]]
    _masked_merge("Subtract", X1, X2, out, out)


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_average_with_mask
def test_average_with_mask():
    out = [[[0, 0], [0.5, 1], [0.5, 1], [3, 4]]]
    _masked_merge("Average", X1, X2, out, out)


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_multiply_with_mask
def test_multiply_with_mask():
    _masked_merge("Multiply", X1, X2, [[[0, 0], [0, 0], [1, 2], [9, 16]]],
                  [[[0, 0], [1, 2], [1, 2], [9, 16]]])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_maximum_with_mask
def test_maximum_with_mask():
    _masked_merge("Maximum", -X1, -X2, [[[0, 0], [0, 0], [-1, -2], [-3, -4]]],
                  [[[0, 0], [-1, -2], [-1, -2], [-3, -4]]])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_minimum_with_mask
def test_minimum_with_mask():
    _masked_merge("Minimum", X1, X2, [[[0, 0], [0, 0], [1, 2], [3, 4]]],
                  [[[0, 0], [1, 2], [1, 2], [3, 4]]])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_concatenate_with_mask
@pytest.mark.parametrize("axis,stated,stated_mask", [
    (1, [[[0, 0], [1, 2], [0, 0], [3, 4], [0, 0], [0, 0], [1, 2], [3, 4]]],
     [[0, 1, 0, 1, 1, 1, 1, 1]]),
    (2, [[[0, 0, 0, 0], [1, 2, 0, 0], [0, 0, 1, 2], [3, 4, 3, 4]]], [[1, 1, 1, 1]])])
def test_concatenate_with_mask(axis, stated, stated_mask):
    def run(K):
        out = K.layers.Concatenate(axis=axis)([K.layers.Masking()(X1), X2])
        return out, (fastmask.get_mask(out) if K is fastmask else k_get_mask(out))
    (fm, fm_mask), (k, k_mask) = on_both(run)
    assert_numbers(fm, k, stated=np.array(stated, "float32"))
    np.testing.assert_array_equal(np.asarray(fm_mask), np.asarray(stated_mask, bool))
    np.testing.assert_array_equal(np.asarray(fm_mask), np.asarray(k_mask))


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_concatenate_with_mask_symbolic
def test_concatenate_with_mask_symbolic():
    in1, in2 = fastmask.layers.Input((4, 2)), fastmask.layers.Input((4, 2))
    output = fastmask.layers.Concatenate(axis=1)([fastmask.layers.Masking()(in1), in2])
    model = fastmask.Model(inputs=[in1, in2], outputs=output._keras_mask)
    np.testing.assert_array_equal(np.asarray(model([X1, X2])), [[0, 1, 0, 1, 1, 1, 1, 1]])


# keras/src/layers/merging/merging_test.py::MergingLayersTest::test_concatenate_errors
def test_concatenate_errors():
    out = fastmask.layers.Concatenate(axis=-1)([np.ones((1, 1, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    assert tuple(np.shape(out)) == (1, 1, 1, 1, 9)
    msg = "requires inputs with matching shapes except for the concatenation axis"
    with pytest.raises(ValueError, match=msg):
        fastmask.layers.Concatenate(axis=-1)([np.ones((1, 2, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    with pytest.raises(ValueError, match=msg):
        fastmask.layers.Concatenate(axis=1)([np.ones((1, 2, 1, 2, 1)), np.ones((1, 1, 1, 3, 1))])


test_not_ported = skipped_cases([
    (f"MergingLayersTest::test_sparse[{n}]", "sparse-ragged", "sparse inputs") for n in NAMES])
