"""masked_mean/sum/max/min: Keras GlobalAveragePooling1D conformance, NumPy-reference
properties, thread-count bit identity, input handling and errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fastmask.kernels import _isa, _pooling
from fastmask.kernels import masked_max, masked_mean, masked_min, masked_sum
from isa_variants import isa_fixture, skip_reason, using
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
def test_gap_matches_keras(rng, b, t):
    # Within float32 rounding, not bitwise: the kernel sums kept steps in pairs and
    # in float64 (more accurate than Keras's float32 sum, so the last bit may differ).
    x = rng.standard_normal((b, t, 6)).astype(np.float32)
    for kind, m in mask_cases(rng, b, t):
        got = masked_mean(x, m, empty_value=np.nan)
        np.testing.assert_allclose(got, keras_gap(x, m), rtol=2.5e-7, atol=1e-7, err_msg=kind)
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


@st.composite
def pooling_problems(draw):
    """Sizes past the kernel's blocks: kept steps past 2 groups of 16 (the float32
    partial sums), trailing sizes past one 256-column block (FM_POOL_BLOCK) and
    past 8 and 16 lanes; data at the fixed tests' scale (N(0, 9))."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    B, T = draw(st.integers(1, 5)), draw(st.integers(1, 70))
    pre = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    post = tuple(draw(st.lists(st.sampled_from([1, 3, 7, 8, 9, 15, 16, 17, 33, 255, 256, 257,
                                                300]), max_size=1)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((B,) + pre + (T,) + post) * 3).astype(dtype)
    m = rng.random((B, T)) < draw(st.sampled_from([0.1, 0.6, 1.0]))
    if draw(st.booleans()):
        m[draw(st.integers(0, B - 1))] = False                   # a fully masked row
    return x, m, 1 + len(pre), draw(st.sampled_from(list(FUNCS))), draw(st.sampled_from([1, 2]))


@given(pooling_problems())
def test_properties(monkeypatch_threads, problem):
    x, m, axis, op, n_threads = problem
    got = FUNCS[op](x, m, axis=axis, empty_value=np.nan, n_threads=n_threads)
    want = reference(x.astype(np.float64), m, axis, op, np.nan).astype(x.dtype)
    tol = (dict(rtol=1e-6, atol=1e-5) if x.dtype == np.float32      # as test_matches_reference
           else dict(rtol=1e-13, atol=1e-13))
    np.testing.assert_allclose(got, want, **tol)
    empty = ~m.any(axis=1)
    assert np.all(np.isnan(got[empty]))


@pytest.fixture(scope="module")
def monkeypatch_threads():
    """Threads on the small property inputs too (n_threads=2 must split them)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_pooling, "MIN_BYTES_PER_THREAD", 1)
        yield


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


# --- accuracy at scale (issue 13, point 6): float64 accumulation, every ISA variant -------
# These take the module's `isa` fixture (above) by name: each runs once per variant,
# selected through fastmask.kernels._isa, with _pooling.isa_in_use() checked to match.


def _f32_ulp(v):
    return float(np.spacing(np.float32(abs(v))))


def test_mean_of_2_25_ones_is_exactly_one(isa):
    # A float32 accumulator stops at 2**24 (2**24 + 1 rounds back): the old kernel gave 0.5.
    from fastmask import layers, ops
    x = np.ones((1, 2 ** 25, 1), np.float32)
    assert masked_mean(x)[0, 0] == 1.0
    assert masked_sum(x)[0, 0] == 2.0 ** 25
    assert ops.masked_mean(x, np.ones((1, 2 ** 25), bool))[0, 0] == 1.0
    assert np.asarray(layers.GlobalAveragePooling1D()(x))[0, 0] == 1.0
    keep = np.zeros((1, 2 ** 25 + 3), bool)
    keep[0, 3:] = True                     # a mask, and an odd number of steps
    xm = np.ones((1, 2 ** 25 + 3, 1), np.float32)
    xm[0, :3] = 1e30                       # masked steps are not read
    assert masked_mean(xm, keep)[0, 0] == 1.0


@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_long_sums_keep_float32_accuracy(isa, dist):
    """T = 1e7 random float32 values against float64 NumPy: the old float32 accumulator
    was off by 1.3e-5 relative; now the error is within float32 rounding."""
    r = np.random.default_rng(13)
    T = 10 ** 7
    v = r.random(T) if dist == "uniform" else r.standard_normal(T)
    x = v.astype(np.float32).reshape(1, T, 1)
    m = np.ones((1, T), bool)
    m[0, r.integers(0, T, T // 10)] = False          # holes: the masked path
    kept = x[0, m[0], 0].astype(np.float64)
    ref_sum, ref_mean = kept.sum(), kept.mean()
    scale = np.abs(kept).mean()
    got_sum, got_mean = float(masked_sum(x, m)[0, 0]), float(masked_mean(x, m)[0, 0])
    if dist == "uniform":       # no cancellation: the float32 rounding of the exact result
        assert abs(got_mean - ref_mean) <= _f32_ulp(ref_mean)
        assert abs(got_sum - ref_sum) <= _f32_ulp(ref_sum)
    else:                       # zero mean: within the rounding of one float32 input
        assert abs(got_mean - ref_mean) <= _f32_ulp(ref_mean) + scale * 2.0 ** -24
        assert abs(got_sum - ref_sum) <= _f32_ulp(ref_sum) + scale * len(kept) * 2.0 ** -24
    # Bit-identical across thread counts, and what one row gives alone in a batch.
    x3 = np.concatenate([x, x[:, ::-1], x], axis=2).reshape(1, T, 3)
    for n in (1, 2):
        got = masked_mean(x3, m, n_threads=n)
        assert got[0, 0] == got[0, 2] == np.float32(got_mean)


def test_wide_rows_accurate_on_every_isa(isa, rng, monkeypatch):
    # Many columns (vector loops and the 256-column blocks), odd kept counts, threads.
    monkeypatch.setattr(_pooling, "MIN_BYTES_PER_THREAD", 1)
    x = (rng.random((3, 4099, 300)) + 1).astype(np.float32)
    m = rng.random((3, 4099)) < 0.9
    m[1] = False
    m[2, :-1] = False                                # one kept step
    want = reference(x.astype(np.float64), m, 1, "mean", 0.0)
    ulp = np.spacing(want.astype(np.float32))
    for n in (1, 3):
        got = masked_mean(x, m, n_threads=n)
        assert np.all(np.abs(got - want) <= ulp), np.max(np.abs(got - want) / ulp)


def test_isa_variants_give_the_same_bits(rng):
    x = rng.standard_normal((3, 333, 70)).astype(np.float32)
    m = rng.random((3, 333)) < 0.8
    results = []
    for name in _isa.NAMES:
        if skip_reason(name, [_pooling]) is None:
            with using(name, [_pooling]):     # restores the module fixture's variant
                results.append([f(x, m) for f in FUNCS.values()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
