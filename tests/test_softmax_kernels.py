"""masked_softmax: Keras 3.15.1 (numpy backend) conformance, NumPy-reference properties,
thread-count bit identity, input handling and errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fastmask.kernels import _softmax
from fastmask.kernels import masked_softmax
from isa_variants import isa_fixture
from oracle import keras

# Every test runs under each instruction-set variant (FASTMASK_ISA), module by
# module; one this CPU cannot execute is a skip that says why.
isa = isa_fixture(_softmax)

RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def reference(x, mask, axis=-1, fill=-1e9):
    """Keras's Softmax layer formula in NumPy (single or tuple axis)."""
    x = np.asarray(x)
    if mask is None:
        mask = np.ones((), bool)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        mask = mask > 0.5
    y = np.where(mask, x, x.dtype.type(fill))
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(y - np.max(y, axis=axis, keepdims=True))
        out = e / np.sum(e, axis=axis, keepdims=True)
    return np.where(mask, out, 0).astype(x.dtype)


def keras_softmax(x, mask, axis=-1):
    """keras.layers.Softmax (float32: Keras's numpy `where` returns float32 even
    for a float64 layer, so float64 is checked against `reference`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(keras().layers.Softmax(axis=axis)(x, mask=mask))


def assert_close(a, b, dtype=np.float32):
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype],
                               atol=1e-30 if dtype == np.float32 else 1e-300)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ----------------------------------------------------------------- Keras cases
def test_keras_case_11():
    x = np.array([[1, 2, 5, 1], [1, 1, 1, 1], [3, 1, 2, 4]], np.float32)
    m = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    want = [[.268941, .731059, 0, 0], [0, 0, 0, 0], [.236883, .032059, .087144, .643914]]
    got = masked_softmax(x, m)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert_close(got, keras_softmax(x, m))
    assert np.all(got[1] == 0) and np.all(got[0, 2:] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xshape,mshape,axis", [
    ((4, 7), (4, 7), -1),
    ((4, 7), (7,), -1),
    ((3, 2, 5, 6), (3, 1, 1, 6), -1),     # key padding mask
    ((3, 2, 5, 6), (3, 1, 5, 6), -1),
    ((3, 2, 5, 6), (1, 2, 1, 1), -1),     # whole rows kept/masked
    ((3, 2, 5, 6), (5, 6), 2),            # strided axis
    ((3, 2, 5, 6), (3, 2, 5, 1), 1),      # mask broadcast along inner dims
    ((3, 2, 5, 6), (3, 1, 5, 1), 0),
    ((3, 4, 70), (3, 4, 70), 1),          # more than one column block
    ((3, 4, 5), (3, 1, 5), (1, 2)),       # tuple axes (adjacent)
    ((3, 4, 5), (3, 4, 1), (0, 2)),       # tuple axes (not adjacent)
    ((2, 3), (2, 3), (0, 1)),
    ((5,), (5,), 0),
])
def test_matches_keras(rng, dtype, xshape, mshape, axis):
    x = (rng.standard_normal(xshape) * 4).astype(dtype)
    m = rng.random(mshape) < 0.6
    if m.ndim >= 2:
        m.reshape(-1, m.shape[-1])[0] = False      # a fully masked row
    got = masked_softmax(x, m, axis=axis)
    assert got.dtype == dtype and got.shape == x.shape
    if dtype == np.float32:
        assert_close(got, keras_softmax(x, m, axis=axis), dtype)
    else:
        mm = m > 0.5
        want = reference(x, mm, axis) if not isinstance(axis, tuple) else None
        if want is None:   # tuple axes: softmax over the flattened axes
            xt = np.moveaxis(x, axis, range(x.ndim - len(axis), x.ndim))
            mt = np.moveaxis(np.broadcast_to(mm, x.shape), axis, range(x.ndim - len(axis), x.ndim))
            flat = reference(xt.reshape(xt.shape[:x.ndim - len(axis)] + (-1,)),
                             mt.reshape(mt.shape[:x.ndim - len(axis)] + (-1,)))
            want = np.moveaxis(flat.reshape(xt.shape), range(x.ndim - len(axis), x.ndim), axis)
        assert_close(got, want, dtype)
    assert np.all(got[np.broadcast_to(~m, x.shape)] == 0)


def test_mask_none_and_numeric_masks(rng):
    x = rng.standard_normal((4, 9)).astype(np.float32)
    assert_close(masked_softmax(x), keras_softmax(x, None))
    for m in ((rng.random((4, 9)) * 1.0), rng.integers(0, 2, (4, 9)),
              rng.integers(0, 2, (4, 9)).astype(np.uint8)):
        assert_close(masked_softmax(x, m), keras_softmax(x, m))


def test_float16_and_int_inputs(rng):
    x = rng.standard_normal((3, 6)).astype(np.float16)
    m = rng.random((3, 6)) < 0.5
    got = masked_softmax(x, m)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference(x.astype(np.float32), m, fill=-3e4), rtol=1e-6)
    xi = rng.integers(-3, 3, (3, 6))
    assert_close(masked_softmax(xi, m), reference(xi.astype(np.float32), m))


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_inf_nan_like_keras(axis):
    inf, nan = np.inf, np.nan
    x = np.array([[nan, 1, 2, 0], [inf, 1, 2, 0], [-inf, -inf, -inf, -inf], [-inf, -inf, 3, 0],
                  [inf, 1, nan, 0], [1, 2, 3, 4], [-inf, 0, 0, inf], [inf, inf, 1, 1]], np.float32)
    for m in (np.ones_like(x, bool),
              np.array([[1, 1, 1, 0], [1, 1, 0, 1], [1, 1, 1, 1], [1, 1, 0, 1],
                        [0, 1, 1, 1], [0, 0, 0, 0], [1, 0, 1, 1], [1, 0, 1, 1]], bool)):
        got = masked_softmax(x, m, axis=axis)
        want = keras_softmax(x, m, axis=axis)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-30)


def test_kept_below_fill_and_subnormal_rows():
    # A kept logit below -1e9 loses to the masked fill, as in Keras.
    x = np.array([[-1e10, 0.0, 5.0], [-1e9, -1e9, 3.0], [1e30, -1e30, 0]], np.float32)
    m = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], bool)
    assert_close(masked_softmax(x, m), keras_softmax(x, m))


# ------------------------------------------------------------ properties (NumPy)
@st.composite
def logits_and_mask(draw):
    """Sizes past the kernels' blocks: rows past 8 and 16 lanes along the last axis,
    columns past the 64-column block of the strided (axis not last) kernel."""
    ndim = draw(st.integers(1, 4))
    sides = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 130]
    shape = [draw(st.integers(1, 3)) for _ in range(ndim)]
    for i in draw(st.sets(st.integers(0, ndim - 1), max_size=2)):   # up to 2 long axes
        shape[i] = draw(st.sampled_from(sides))
    shape = tuple(shape)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = rng.uniform(-50, 50, shape).astype(dtype)
    mshape = tuple(draw(st.sampled_from([1, n])) for n in shape)
    mshape = mshape[draw(st.integers(0, len(shape))):]
    m = rng.random(mshape) < draw(st.sampled_from([0.1, 0.5, 0.9]))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return x, m, axis, draw(st.sampled_from([1, 2]))


@given(logits_and_mask())
def test_properties(threads_on_small_inputs, case):
    x, m, axis, n_threads = case
    got = masked_softmax(x, m, axis=axis, n_threads=n_threads)
    mb = np.broadcast_to(m, x.shape)
    assert np.all(got[~mb] == 0)                                   # masked: exactly 0
    kept = np.sum(mb, axis=axis)
    sums = np.sum(got, axis=axis, dtype=np.float64)
    np.testing.assert_allclose(sums[kept > 0], 1.0, rtol=1e-5)     # rows sum to 1
    assert np.all(sums[kept == 0] == 0)                            # fully masked: zeros
    # the fixed tests' tolerance, against Keras's formula in x's dtype, as Keras
    # computes it (against float64, a float32 probability of e**-75 differs by 2e-6
    # relative: the rounding of x - max, which Keras's float32 shares)
    assert_close(got, reference(x, m, axis), x.dtype.type)


@pytest.fixture(scope="module")
def threads_on_small_inputs():
    """n_threads=2 splits the property inputs too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_softmax, "MIN_ELEMENTS_PER_THREAD", 1)
        yield


# ----------------------------------------------------------- threads & layouts
@pytest.mark.parametrize("shape,mshape,axis", [
    ((16, 3, 33), (16, 1, 33), -1), ((6, 40, 130), (6, 40, 1), 1), ((9, 513), (513,), -1)])
def test_bit_identical_across_threads(rng, shape, mshape, axis, monkeypatch):
    monkeypatch.setattr(_softmax, "MIN_ELEMENTS_PER_THREAD", 1)   # threads on small inputs
    x = rng.standard_normal(shape).astype(np.float32)
    m = rng.random(mshape) < 0.7
    ref = masked_softmax(x, m, axis=axis, n_threads=1)
    for t in (2, 3, 8):
        np.testing.assert_array_equal(masked_softmax(x, m, axis=axis, n_threads=t), ref)


def test_noncontiguous_readonly_and_out(rng):
    base = rng.standard_normal((6, 10, 8)).astype(np.float32)
    x = base[:, ::2, ::-1]
    x.flags.writeable = False
    m = rng.random((3, 5, 1)) < 0.8
    m = np.broadcast_to(m[:1], (6, 5, 1))       # a read-only broadcast view
    want = reference(np.ascontiguousarray(x), m, axis=1)
    assert_close(masked_softmax(x, m, axis=1), want)
    out = np.empty((6, 5, 8), np.float32)
    assert masked_softmax(x, m, axis=1, out=out) is out
    assert_close(out, want)
    y = np.ascontiguousarray(x)
    assert masked_softmax(y, m, axis=1, out=y) is y          # in place
    assert_close(y, want)


def test_empty_and_size_one():
    assert masked_softmax(np.zeros((0, 4), np.float32)).shape == (0, 4)
    assert masked_softmax(np.zeros((3, 0), np.float32), axis=-1).shape == (3, 0)
    np.testing.assert_array_equal(masked_softmax(np.ones((2, 1), np.float32), [[True], [False]]),
                                  [[1.0], [0.0]])


# ----------------------------------------------------------------- bad input
def test_bad_masks_and_args(rng):
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="mask.*more dimensions"):
        masked_softmax(x, np.ones((1, 2, 3, 4), bool))
    with pytest.raises(ValueError, match="mask.*broadcastable"):
        masked_softmax(x, np.ones((2, 3), bool))          # Keras's (B, T) on (B, T, F) error
    with pytest.raises(ValueError, match="mask"):
        masked_softmax(x, np.ones((2, 1, 3), bool))
    with pytest.raises(TypeError, match="mask"):
        masked_softmax(x, np.array([["a"] * 4] * 3))
    with pytest.raises(ValueError, match="axis"):
        masked_softmax(x, axis=3)
    with pytest.raises(ValueError, match="axis"):
        masked_softmax(x, axis=(1, 1))
    with pytest.raises(TypeError, match="axis"):
        masked_softmax(x, axis=1.0)
    with pytest.raises(TypeError, match="x"):
        masked_softmax(np.array(["a"]))
    with pytest.raises(ValueError, match="x"):
        masked_softmax(np.float32(1))
    with pytest.raises(ValueError, match="out"):
        masked_softmax(x, out=np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match="out"):
        masked_softmax(x, out=np.empty((2, 3, 4), np.float64))
    with pytest.raises(ValueError, match="n_threads"):
        masked_softmax(x, n_threads=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 8, 10, 17, 64, 200])
def test_row_groups_give_each_rows_bits(rng, dtype, n):
    """fm_softmax_rows (groups of FM_ROW_GROUP rows whose passes overlap: the Softmax of
    rows without a mask, MultiHeadAttention's scores, Dense's fused softmax) gives each
    row the bits of fm_softmax_row alone, for every mask kind and special row, and
    for row counts that leave a short last group."""
    R = 11
    x = (rng.standard_normal((R, n)) * 4).astype(dtype)
    x[1, 0] = np.nan                    # a NaN row
    x[2, -1] = np.inf                   # a +inf row
    x[3] = -np.inf                      # a row of -inf
    x[4, :] = x[4, :1]                  # equal logits
    x[5] *= 1e4                         # exp underflows to 0 but at the max
    keep = rng.random((R, n)) < 0.6
    keep[6] = False                     # a fully masked row
    whole = np.array([1, 0] * R, np.uint8)[:R]
    masks = [(np.zeros(1, np.uint8), False, 0, 1),                  # none
             (keep[0].astype(np.uint8), True, 0, 1),                # one mask for all rows
             (keep.astype(np.uint8).reshape(-1), True, n, 1),       # a mask per row
             (whole, True, 1, 0)]                                   # one byte per row
    for mask, has_mask, m_ls, m_stride in masks:
        for mode in (0, 1, 2):          # replace, subtract, replace | +inf gives NaN
            for zero_masked in (False, True):
                for rows in (R, 4, 3, 1):
                    args = (mask, has_mask, m_ls, m_stride, mode, -1e9, zero_masked)
                    one, grouped = np.empty((rows, n), dtype), np.empty((rows, n), dtype)
                    _softmax.softmax_rows_flat(x[:rows], one, *args, False)
                    _softmax.softmax_rows_flat(x[:rows], grouped, *args, True)
                    np.testing.assert_array_equal(
                        grouped.view(np.uint8), one.view(np.uint8),
                        err_msg=f"mask {m_ls, m_stride} mode {mode} zero {zero_masked}")
    # and the grouped rows are the softmax (not only equal to something)
    out = np.empty((R, n), dtype)
    _softmax.softmax_rows_flat(x, out, masks[0][0], False, 0, 1, 0, -1e9, False, True)
    np.testing.assert_allclose(out[7:], reference(x[7:], None), rtol=RTOL[dtype], atol=1e-30)
