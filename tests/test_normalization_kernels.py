"""fastmask.kernels.layer_norm: one-pass layer normalization over the last axis.

Oracles: plain NumPy in float64 (`_reference`, two-pass centred variance) and
Keras 3.15.1's `ops.layer_normalization` (numpy backend) for its numerics.
The tests taking `isa` run under every instruction-set variant
(tests/isa_variants.py; the row kernels have a baseline and an AVX2 + FMA variant).
"""
import numpy as np
import pytest

from fastmask.kernels import _normalization
from fastmask.kernels.normalization import layer_norm
from isa_variants import isa_fixture, skip_reason, using
from oracle import keras

isa = isa_fixture(_normalization, autouse=False)


def _reference(x, gamma, beta, eps, rms=False):
    x = np.asarray(x, np.float64)
    var = x.var(axis=-1, keepdims=True)
    if rms:
        y = x / np.sqrt(var + eps)
        return y if gamma is None else y * np.asarray(gamma, np.float64)
    y = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def threaded(monkeypatch):
    """Threads started for any amount of work."""
    monkeypatch.setattr(_normalization, "MIN_BYTES_PER_THREAD", 0)


def _tol(dtype, x=None, gamma=None, eps=1e-3):
    """Keras's formula x * inv + (-mean * inv + beta) rounds at the size of
    |x * inv * gamma|, which exceeds the result's when the row's spread is small
    compared with its mean (e.g. one-value rows): scale atol by it."""
    scale = 1.0
    if x is not None:
        x64 = np.asarray(x, np.float64)
        inv = 1 / np.sqrt(x64.var(axis=-1, keepdims=True) + eps)
        scale = max(1.0, float(np.abs(x64 * inv * (1 if gamma is None else gamma)).max()))
    return (dict(rtol=3e-6, atol=3e-6 * scale) if dtype == np.float32
            else dict(rtol=1e-12, atol=1e-12 * scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100])
@pytest.mark.parametrize("params", ["both", "gamma", "beta", "none"])
@pytest.mark.parametrize("rms", [False, True])
def test_matches_float64_reference(threaded, isa, dtype, n, params, rms):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((5, 3, n)) * 3 + 2).astype(dtype)
    g = rng.standard_normal(n).astype(dtype) if params in ("both", "gamma") else None
    b = rng.standard_normal(n).astype(dtype) if params in ("both", "beta") else None
    y = layer_norm(x, g, b, 1e-3, rms, n_threads=2)
    assert y.shape == x.shape and y.dtype == dtype
    np.testing.assert_allclose(y, _reference(x, g, None if rms else b, 1e-3, rms),
                               **_tol(dtype, x, g))


@pytest.mark.parametrize("rows", [1, 255, 256, 257, 600])
def test_rows_crossing_blocks(threaded, isa, rows):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 12)).astype(np.float32)
    g, b = rng.standard_normal(12).astype(np.float32), rng.standard_normal(12).astype(np.float32)
    np.testing.assert_allclose(layer_norm(x, g, b, n_threads=3), _reference(x, g, b, 1e-3),
                               **_tol(np.float32))


@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_matches_keras_op(isa, rms, dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((6, 4, 33)) * 2 + 0.5).astype(dtype)
    g = rng.standard_normal(33).astype(np.float32)
    b = rng.standard_normal(33).astype(np.float32)
    with pytest.warns(UserWarning) if rms else _no_warning():
        expected = np.asarray(keras().ops.layer_normalization(x, g, b, -1, 1e-3,
                                                              rms_scaling=rms))
    got = layer_norm(x, g, b, 1e-3, rms)
    assert got.dtype == (np.float64 if dtype == "float64" else np.float32)
    np.testing.assert_allclose(got, expected.astype(got.dtype), rtol=1e-5, atol=1e-5 if
                               dtype != "float16" else 2e-3)


def test_large_mean_is_accurate(isa):
    """Sums in double: no cancellation in E[x^2] - E[x]^2 for a mean 1e3 x the spread."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, 64)) + 1000).astype(np.float32)
    np.testing.assert_allclose(layer_norm(x, epsilon=1e-6), _reference(x, None, None, 1e-6),
                               rtol=1e-3, atol=1e-3)


def test_constant_row_and_nan(isa):
    x = np.array([[2.0, 2.0, 2.0], [1.0, np.nan, 0.0], [np.inf, 0.0, 1.0]], np.float32)
    y = layer_norm(x, epsilon=0.0)
    assert np.isnan(y[0]).all()                       # 0 / sqrt(0): NaN as in NumPy
    assert np.isnan(y[1]).all() and np.isnan(y[2]).all()
    y = layer_norm(x[:1], epsilon=1e-3)
    np.testing.assert_array_equal(y, 0.0)


def test_isa_variants_agree_within_rounding():
    """Each call runs the variant fastmask.kernels._isa selects; the AVX2 one
    (which may contract x * inv + res into an FMA) agrees with the baseline
    within rounding."""
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((300, 77)) * 3 + 1).astype(np.float32)
    g, b = rng.standard_normal(77).astype(np.float32), rng.standard_normal(77).astype(np.float32)
    with using("generic", [_normalization]):
        base = layer_norm(x, g, b), layer_norm(x.astype(np.float64), g, b)
    ran = 0
    for name in _normalization.compiled_isas()[1:]:
        if skip_reason(name, [_normalization]):
            continue
        with using(name, [_normalization]):
            fast = layer_norm(x, g, b), layer_norm(x.astype(np.float64), g, b)
        np.testing.assert_allclose(fast[0], base[0], **_tol(np.float32, x, g))
        np.testing.assert_allclose(fast[1], base[1], **_tol(np.float64, x, g))
        ran += 1
    if not ran:
        pytest.skip("no variant besides generic compiled or executable here")


@pytest.mark.parametrize("layout", ["transposed", "strided", "readonly", "negative"])
def test_any_memory_layout_gives_the_contiguous_result(layout):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 10)).astype(np.float32)
    g = rng.standard_normal(10).astype(np.float32)
    expected = layer_norm(x, g, g)
    if layout == "transposed":
        xs = np.ascontiguousarray(x.T).T
    elif layout == "strided":
        xs = np.repeat(x, 2, axis=1)[:, ::2]
    elif layout == "readonly":
        xs = x.copy()
        xs.flags.writeable = False
    else:
        xs = np.ascontiguousarray(x[:, ::-1])[:, ::-1]
    np.testing.assert_array_equal(layer_norm(xs, g[::-1][::-1], g, ), expected)


def test_input_dtypes_and_empty():
    assert layer_norm(np.ones((2, 3), np.int64)).dtype == np.float32
    assert layer_norm(np.ones((2, 3), np.float16)).dtype == np.float32
    assert layer_norm(np.ones((2, 3), bool)).dtype == np.float32
    assert layer_norm(np.ones((0, 3), np.float32)).shape == (0, 3)
    assert layer_norm(np.ones((2, 0), np.float32)).shape == (2, 0)


def test_thread_count_and_other_rows_do_not_change_bits(threaded, isa):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((700, 37)).astype(np.float32)
    g, b = rng.standard_normal(37).astype(np.float32), rng.standard_normal(37).astype(np.float32)
    runs = [layer_norm(x, g, b, n_threads=n) for n in (1, 2, 3, 8)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])
    for i in (0, 255, 256, 699):
        np.testing.assert_array_equal(layer_norm(x[i:i + 1], g, b)[0], runs[0][i])


def test_out_given_and_in_place(isa):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 4, 16)).astype(np.float32)
    g, b = rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    expected = layer_norm(x, g, b)
    out = np.full_like(x, np.nan)
    assert layer_norm(x, g, b, out=out) is out
    np.testing.assert_array_equal(out, expected)
    xi = x.copy()
    assert layer_norm(xi, g, b, out=xi) is xi        # in place: out is x
    np.testing.assert_array_equal(xi, expected)


def _bad_out_cases():
    ro = np.empty((4, 3), np.float32)
    ro.flags.writeable = False
    return [
        ([[0.0] * 3] * 4, TypeError, "must be a NumPy array"),
        (np.empty((4, 4), np.float32), ValueError, "shape"),
        (np.empty((4, 3), np.float64), ValueError, "dtype"),
        (np.empty((3, 4), np.float32).T, ValueError, "C-contiguous"),
        (ro, ValueError, "writeable"),
    ]


@pytest.mark.parametrize("out,exc,match", _bad_out_cases())
def test_bad_out_rejected(out, exc, match):
    with pytest.raises(exc, match=match) as info:
        layer_norm(np.ones((4, 3), np.float32), out=out)
    assert "Received: out" in str(info.value)


def test_out_overlapping_rejected():
    buf = np.zeros(40, np.float32)
    x = buf[:12].reshape(4, 3)
    with pytest.raises(ValueError, match="must not overlap"):
        layer_norm(x, out=buf[3:15].reshape(4, 3))
    g = np.ones(12, np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        layer_norm(np.ones((4, 3), np.float32), g[:3], out=g.reshape(4, 3))
    # x converted (float64 -> out of another dtype) is not "in place": checked as usual
    x64 = np.ones((4, 3))
    with pytest.raises(ValueError, match="dtype"):
        layer_norm(x64.astype(np.float16), out=x64.astype(np.float16))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(gamma=np.ones(4)), ValueError, "gamma"),
    (dict(beta=np.ones((2, 2))), ValueError, "beta"),
    (dict(epsilon=-1.0), ValueError, "epsilon"),
    (dict(epsilon=float("nan")), ValueError, "epsilon"),
    (dict(epsilon="a"), ValueError, "epsilon"),
    (dict(rms_scaling=1), TypeError, "rms_scaling"),
    (dict(x=np.ones((2, 3), complex)), TypeError, "x"),
    (dict(x=np.ones(())), ValueError, "x"),
])
def test_bad_arguments(kwargs, exc, match):
    args = dict(x=np.ones((2, 3), np.float32))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        layer_norm(**args)


# ---------------------------------------- prepared parameters (the layer's path)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params,rms", [((True, True), False), ((True, False), False),
                                        ((False, False), False), ((True, True), True)])
def test_prepared_layer_norm_is_layer_norm_bit_for_bit(threaded, dtype, params, rms):
    from fastmask.kernels.normalization import prepare_layer_norm
    rng = np.random.default_rng(11)
    n = 37
    g = rng.standard_normal(n).astype(dtype) if params[0] else None
    b = rng.standard_normal(n).astype(dtype) if params[1] else None
    prep = prepare_layer_norm(n, g, b, 1e-5, rms, dtype)
    for shape in ((1, n), (4, 9, n), (0, n)):
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        want = layer_norm(x, g, b, 1e-5, rms, n_threads=2)
        np.testing.assert_array_equal(prep(x, n_threads=2), want)
        out = np.full(shape, np.nan, dtype)
        assert prep(x, out=out, n_threads=2) is out
        np.testing.assert_array_equal(out, want)
        y = x.copy()
        assert prep(y, out=y) is y        # in place
        np.testing.assert_array_equal(y, layer_norm(x, g, b, 1e-5, rms))


def test_prepared_layer_norm_refuses_what_it_was_not_prepared_for():
    from fastmask.kernels.normalization import prepare_layer_norm
    prep = prepare_layer_norm(4, None, None, 1e-3, False, np.float32)
    unaligned = np.frombuffer(bytearray(4 * 8 + 1), np.float32, count=8, offset=1).reshape(2, 4)
    assert not unaligned.flags.aligned
    for bad in (np.ones((2, 5), np.float32), np.ones((2, 4)), np.ones((4, 2), np.float32).T,
                [[1.0] * 4], unaligned):
        with pytest.raises(ValueError, match="Received: "):
            prep(bad)
    with pytest.raises(ValueError, match="float32 or float64"):
        prepare_layer_norm(4, None, None, 1e-3, False, np.float16)
    with pytest.raises(ValueError, match="gamma"):
        prepare_layer_norm(4, np.ones(3), None, 1e-3, False, np.float32)
    with pytest.raises(ValueError, match="epsilon"):
        prepare_layer_norm(4, None, None, -1.0, False, np.float32)
