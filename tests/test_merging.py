"""Merge layers vs Keras 3.15.1: values with masked/unmasked inputs and §6 mask rules."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmask
from fastmask import get_mask, layers, with_mask
from oracle import (assert_masks_equal, assert_outputs_close, compare_layer, keras,
                    keras_symbolic_masks, random_mask)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def _pair(name, *args, **kwargs):
    return getattr(keras().layers, name)(*args, **kwargs), getattr(layers, name)(*args, **kwargs)


def test_case13_values_and_masks():
    """§15 case 13, exactly."""
    a = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], np.float32)
    b = np.array([[[0, 0], [0, 0], [1, 2], [3, 4]]], np.float32)
    x1 = layers.Masking()(a)
    out = layers.Add()([x1, b])
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 2], [1, 2], [6, 8]])
    assert get_mask(out) is None
    np.testing.assert_array_equal(get_mask(layers.Concatenate(axis=1)([x1, b]))[0],
                                  [0, 1, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(get_mask(layers.Concatenate(axis=2)([x1, b]))[0],
                                  [1, 1, 1, 1])
    x2 = layers.Masking()(b)
    out = layers.Multiply()([x1, x2])
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 2], [1, 2], [9, 16]])
    np.testing.assert_array_equal(get_mask(out)[0], [0, 1, 1, 1])
    out = layers.Add()([x1, x2])
    np.testing.assert_array_equal(out[0], [[0, 0], [1, 2], [1, 2], [6, 8]])
    np.testing.assert_array_equal(get_mask(out)[0], [0, 1, 1, 1])


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("masked", [(True, True), (True, False), (False, True),
                                    (False, False)])
@pytest.mark.parametrize("kind", ["post", "holes", "all_masked_row"])
def test_elementwise_merges_match_keras(name, masked, kind):
    rng = np.random.default_rng(ELEMENTWISE.index(name) * 7 + sum(masked))
    xs = [rng.standard_normal((3, 5, 4)).astype(np.float32) for _ in range(2)]
    masks = [random_mask(rng, 3, 5, kind) if on else None for on in masked]
    k, f = _pair(name)
    compare_layer(k, f, xs, input_mask=masks, copy_weights=False)


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_three_inputs_and_broadcast_ranks(name):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, 4, 3)).astype(np.float32) for _ in range(3)]
    masks = [random_mask(rng, 2, 4, "holes") for _ in range(3)]
    k, f = _pair(name)
    compare_layer(k, f, xs, input_mask=masks, copy_weights=False)
    k, f = _pair(name)   # different ranks: expanded at axis 1, as Keras
    compare_layer(k, f, [xs[0], rng.standard_normal((2, 3)).astype(np.float32)],
                  copy_weights=False)


@pytest.mark.parametrize("axis", [1, -1, 2])
@pytest.mark.parametrize("masked", [(True, True), (True, False), (False, True),
                                    (False, False)])
def test_concatenate_matches_keras(axis, masked):
    rng = np.random.default_rng(axis + 5)
    xs = [rng.standard_normal((3, 4, 2)).astype(np.float32),
          rng.standard_normal((3, 4, 2)).astype(np.float32)]
    masks = [random_mask(rng, 3, 4, "pre") if on else None for on in masked]
    k, f = _pair("Concatenate", axis=axis)
    out, _ = compare_layer(k, f, xs, input_mask=masks, copy_weights=False)
    if any(masked):
        expected = [m if m is not None else np.ones((3, 4), bool) for m in masks]
        expected = (np.concatenate(expected, 1) if axis == 1
                    else np.logical_or(*expected))
        np.testing.assert_array_equal(get_mask(out), expected)


def test_concatenate_2d_quirk_and_time_axis_lengths():
    """2-D inputs with axis=1 give a (B,) mask (Keras quirk); time concat of T1+T2."""
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    masks = [rng.random((3, 4)) < 0.5, None]
    k, f = _pair("Concatenate", axis=1)
    out, _ = compare_layer(k, f, xs, input_mask=masks, copy_weights=False)
    assert get_mask(out).shape == (3,)
    xs = [rng.standard_normal((2, 3, 2)).astype(np.float32),
          rng.standard_normal((2, 5, 2)).astype(np.float32)]
    masks = [random_mask(rng, 2, 3, "post"), random_mask(rng, 2, 5, "holes")]
    k, f = _pair("Concatenate", axis=1)
    out, _ = compare_layer(k, f, xs, input_mask=masks, copy_weights=False)
    assert get_mask(out).shape == (2, 8)


@pytest.mark.parametrize("axes,shapes", [(-1, ((2, 3), (2, 3))), (2, ((2, 4, 3), (2, 5, 3))),
                                         ((1, 1), ((2, 4, 3), (2, 4, 5))),
                                         (1, ((2, 3), (2, 3)))])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras_and_has_no_mask(axes, shapes, normalize):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    masks = [random_mask(rng, s[0], s[1], "holes") for s in shapes]
    k, f = _pair("Dot", axes=axes, normalize=normalize)
    out, _ = compare_layer(k, f, xs, input_mask=masks, copy_weights=False)
    assert get_mask(out) is None


def test_merges_in_functional_graphs_match_keras():
    """Symbolic masks through merges, then real outputs and masks, against Keras."""
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 6, (3, 5))
    ids[:, 0] = 1
    dense = rng.standard_normal((3, 5, 4)).astype(np.float32)
    results = []
    for M in (keras(), fastmask):
        i1 = M.Input((None,), dtype="int32")
        i2 = M.Input((None, 4))
        e = M.layers.Embedding(6, 4, mask_zero=True, embeddings_initializer="ones")(i1)
        m2 = M.layers.Masking()(i2)
        outs = [M.layers.Add()([e, i2]), M.layers.Maximum()([e, m2]),
                M.layers.Multiply()([e, m2]), M.layers.Concatenate(axis=1)([e, i2]),
                M.layers.Concatenate()([e, m2]), M.layers.Dot(axes=-1)([e, m2])]
        if M is fastmask:
            model = fastmask.Model([i1, i2], outs)
            vals = model([ids, dense])
            results.append((vals, [get_mask(v) for v in vals],
                            [hasattr(o, "_keras_mask") for o in outs]))
        else:
            vals, masks = keras_symbolic_masks([i1, i2], outs, [ids, dense])
            results.append((vals, masks, [hasattr(o, "_keras_mask") for o in outs]))
    (kv, km, ks), (fv, fm, fs) = results
    assert ks == fs
    assert_outputs_close(kv, fv)
    assert_masks_equal(km, fm)


def test_merge_errors_and_configs():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="list"):
        layers.Add()(x)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([x, x, x])
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Add()([x, np.ones((3, 3), np.float32)])
    with pytest.raises(ValueError, match="matching shapes"):
        layers.Concatenate(axis=1)([np.ones((2, 3, 4)), np.ones((2, 3, 5))])
    with pytest.raises(ValueError, match="`mask` should be a list"):
        layers.Add().compute_mask([x, x], np.ones((2, 3), bool))
    with pytest.raises(TypeError, match="axes"):
        layers.Dot(axes="a")
    for name, kwargs in (("Concatenate", {"axis": 1}), ("Dot", {"axes": (1, 2),
                                                                "normalize": True}),
                         ("Add", {})):
        k, f = _pair(name, **kwargs)
        clone = type(f).from_config(k.get_config())
        assert {kk: v for kk, v in clone.get_config().items() if kk != "name"} == \
            {kk: v for kk, v in k.get_config().items() if kk != "name"}
    assert layers.concatenate([x, x]).shape == (2, 6)
    assert layers.add([x, x])[0, 0] == 2


def test_merge_inputs_keep_their_own_objects():
    """Masks ride on the input objects: merging never mutates them."""
    m = np.array([[True, False, True]])
    a = with_mask(np.ones((1, 3, 2), np.float32), m)
    b = np.full((1, 3, 2), 2, np.float32)
    out = layers.Maximum()([a, b])
    assert get_mask(a) is m and get_mask(out) is None
    np.testing.assert_array_equal(out[0, 1], [2, 2])


@given(st.integers(2, 4), st.lists(st.booleans(), min_size=4, max_size=4),
       st.integers(1, 3), st.integers(1, 5), st.integers(0, 2 ** 31 - 1))
def test_merge_mask_rules_property(n, present, batch, steps, seed):
    """§6 against a plain NumPy statement of the rules, for any mix of masked inputs."""
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((batch, steps, 2)).astype(np.float32) for _ in range(n)]
    masks = [rng.random((batch, steps)) < 0.5 if present[i] else None for i in range(n)]
    inputs = [with_mask(x, m) if m is not None else x for x, m in zip(xs, masks)]
    ors = np.logical_or.reduce([m for m in masks if m is not None]) if any(present[:n]) \
        else None
    expected = ors if all(present[:n]) else None
    for layer in (layers.Add(), layers.Average(), layers.Maximum(), layers.Minimum(),
                  layers.Multiply()):
        out = layer(inputs)
        got = get_mask(out)
        assert (got is None) == (expected is None)
        if expected is not None:
            np.testing.assert_array_equal(got, expected)
    time_mask = get_mask(layers.Concatenate(axis=1)(inputs))
    feat_mask = get_mask(layers.Concatenate()(inputs))
    if not any(present[:n]):
        assert time_mask is None and feat_mask is None
    else:
        full = [m if m is not None else np.ones((batch, steps), bool) for m in masks]
        np.testing.assert_array_equal(time_mask, np.concatenate(full, axis=1))
        np.testing.assert_array_equal(feat_mask, np.logical_or.reduce(full))
    # Maximum never lets a masked entry win where another input is unmasked there.
    out = np.asarray(layers.Maximum()(inputs))
    keep = np.stack([np.ones((batch, steps), bool) if m is None else m for m in masks])
    vals = np.stack(xs)
    ref = np.where(keep[..., None], vals, -np.inf).max(axis=0)
    some = keep.any(axis=0)
    np.testing.assert_array_equal(out[some], ref[some])
