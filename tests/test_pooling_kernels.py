"""masked_mean/sum/max/min: Keras GlobalAveragePooling1D conformance, NumPy-reference
properties, thread-count bit identity, input handling and errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from fastmask import _pooling
from fastmask.kernels import masked_max, masked_mean, masked_min, masked_sum
from isa_variants import isa_fixture
from oracle import keras, mask_cases

# Every test runs under each instruction-set variant (FASTMASK_ISA), module by
# module; one this CPU cannot execute is a skip that says why.
isa = isa_fixture(_pooling)

FUNCS = {"sum": masked_sum, "mean": masked_mean, "max": masked_max, "min": masked_min}


def reference(x, mask, axis, op, empty_value):
    """NumPy: reduce x over `axis` where mask (batch, time) keeps; empty -> empty_value."""
    x = np.asarray(x)
    if mask is None:
        mask = np.ones((x.shape[0], x.shape[axis]), bool)
    shape = [1] * x.ndim
    shape[0], shape[axis] = mask.shape
    m = np.broadcast_to(np.asarray(mask, bool).reshape(shape), x.shape)
    fill = {"sum": 0, "mean": 0, "max": -np.inf, "min": np.inf}[op]
    y = np.where(m, x, x.dtype.type(fill))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = {"sum": np.sum, "mean": np.sum, "max": np.max, "min": np.min}[op](y, axis=axis)
        count = m.sum(axis=axis)
        if op == "mean":
            r = r / count.astype(x.dtype)
    return np.where(count == 0, x.dtype.type(empty_value), r).astype(x.dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def keras_gap(x, mask, data_format="channels_last"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = keras().layers.GlobalAveragePooling1D(data_format=data_format)
        return np.asarray(layer(x, mask=mask))


def test_keras_case_14():
    x = np.array([[[1], [2], [100]], [[3], [5], [7]]], np.float32)
    m = np.array([[1, 1, 0], [0, 0, 0]], bool)
    got = masked_mean(x, m, empty_value=np.nan)
    np.testing.assert_array_equal(got, [[1.5], [np.nan]])
    np.testing.assert_array_equal(got, keras_gap(x, m))
    np.testing.assert_array_equal(masked_mean(x, m), [[1.5], [0.0]])      # defined default
    np.testing.assert_array_equal(masked_max(x, m, empty_value=-1), [[2], [-1]])


@pytest.mark.parametrize("b,t", [(3, 5), (1, 4), (3, 1), (1, 1)])
def test_gap_matches_keras_bitwise(rng, b, t):
    x = rng.standard_normal((b, t, 6)).astype(np.float32)
    for kind, m in mask_cases(rng, b, t):
        got = masked_mean(x, m, empty_value=np.nan)
        np.testing.assert_array_equal(got, keras_gap(x, m), err_msg=kind)
        xc = np.ascontiguousarray(x.transpose(0, 2, 1))
        np.testing.assert_allclose(masked_mean(xc, m, axis=2, empty_value=np.nan),
                                   keras_gap(xc, m, "channels_first"), rtol=1e-6, err_msg=kind)


@pytest.mark.parametrize("op", list(FUNCS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((4, 9, 3), 1), ((4, 9), 1), ((4, 2, 9, 300), 2),
                                        ((4, 3, 9), -1), ((2, 9, 3, 2), 1)])
def test_matches_reference(rng, op, dtype, shape, axis):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    ax = axis % len(shape)
    m = rng.random((shape[0], shape[ax])) < 0.6
    m[0] = False
    # sums of a few N(0, 9) terms: absolute tolerance for cancellation
    tol = dict(rtol=1e-6, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    for ev in (0.0, np.nan, -7.0):
        got = FUNCS[op](x, m, axis=axis, empty_value=ev)
        want = reference(x, m, ax, op, ev)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(FUNCS[op](x, None, axis=axis), reference(x, None, ax, op, 0), **tol)
    assert FUNCS[op](x, m, axis=axis, keepdims=True).shape == np.expand_dims(want, ax).shape


def test_nan_propagates_through_max_min_but_not_from_masked_steps():
    x = np.array([[[1.0], [np.nan], [3.0]], [[1.0], [np.nan], [3.0]]], np.float32)
    m = np.array([[1, 1, 1], [1, 0, 1]], bool)
    assert np.isnan(masked_max(x, m)[0, 0]) and masked_max(x, m)[1, 0] == 3
    assert np.isnan(masked_min(x, m)[0, 0]) and masked_min(x, m)[1, 0] == 1
    assert np.isnan(masked_mean(x, m)[0, 0]) and masked_mean(x, m)[1, 0] == 2


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=4, max_side=6),
                  elements=st.floats(-1e3, 1e3, width=32)),
       st.sampled_from(list(FUNCS)), st.data())
def test_properties(x, op, data):
    axis = data.draw(st.integers(1, x.ndim - 1))
    m = data.draw(hnp.arrays(np.bool_, (x.shape[0], x.shape[axis])))
    got = FUNCS[op](x, m, axis=axis, empty_value=np.nan)
    want = reference(x, m, axis, op, np.nan)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    empty = ~m.any(axis=1)
    assert np.all(np.isnan(got[empty]))


def test_bit_identical_across_threads(rng, monkeypatch):
    monkeypatch.setattr(_pooling, "MIN_BYTES_PER_THREAD", 1)   # threads on small inputs
    x = rng.standard_normal((13, 40, 700)).astype(np.float32)
    m = rng.random((13, 40)) < 0.7
    for f in FUNCS.values():
        ref = f(x, m, n_threads=1)
        for t in (2, 3, 16):
            np.testing.assert_array_equal(f(x, m, n_threads=t), ref)


def test_noncontiguous_readonly_and_int_masks(rng):
    base = rng.standard_normal((5, 12, 8)).astype(np.float64)
    x = base[:, ::2, 1::2]
    x.flags.writeable = False
    m = rng.integers(0, 3, (5, 6))
    np.testing.assert_allclose(masked_mean(x, m), reference(np.ascontiguousarray(x), m != 0, 1,
                                                            "mean", 0.0))
    xi = rng.integers(-5, 5, (2, 3, 4))
    assert masked_sum(xi, np.ones((2, 3), bool)).dtype == np.float32


def test_bad_input():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="mask"):
        masked_mean(x, np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="mask"):
        masked_mean(x, np.ones((2, 3, 1), bool))
    with pytest.raises(TypeError, match="mask"):
        masked_mean(x, np.array([["a"] * 3] * 2))
    with pytest.raises(ValueError, match="axis"):
        masked_mean(x, axis=0)
    with pytest.raises(ValueError, match="axis"):
        masked_mean(x, axis=3)
    with pytest.raises(TypeError, match="axis"):
        masked_mean(x, axis=None)
    with pytest.raises(ValueError, match="x"):
        masked_mean(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="empty_value"):
        masked_mean(x, empty_value="nan")
    with pytest.raises(TypeError, match="x"):
        masked_mean(np.array([["a"]]))
