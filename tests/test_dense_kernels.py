"""fastmask.kernels.dense: activation(x @ kernel + bias) in one blocked pass.

The oracle is plain NumPy in float64 (`_reference`); the layer-level tests
against Keras are in test_core_layers.py (Dense). The tests taking `isa` run
under every instruction-set variant (tests/isa_variants.py): the fused softmax
activation is the kernel's ISA-specific code.
"""
import importlib
import math

import numpy as np
import pytest

from fastmask.kernels import _dense
from fastmask.kernels.dense import dense
from isa_variants import isa_fixture, skip_reason, using
from np_reference import dense_activation_ref

# The module (fastmask.kernels.dense is also the name of the function).
dense_mod = importlib.import_module("fastmask.kernels.dense")

isa = isa_fixture(_dense, autouse=False)


def _reference(x, w, b, act):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return dense_activation_ref(act, y)


def _tol(dtype, K):
    return (2e-6 * max(1, math.sqrt(K))) if dtype == np.float32 else 1e-12 * max(1, K)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows x 8 columns, and threads started for any work, so odd
    sizes cross every block edge and the threaded path runs."""
    monkeypatch.setattr(dense_mod, "BLOCK_BYTES", 16 * 8 * 4)
    monkeypatch.setattr(dense_mod, "MAX_COLS", 8)
    monkeypatch.setattr(dense_mod, "MIN_ROWS", 16)
    monkeypatch.setattr(_dense, "MIN_FLOPS_PER_THREAD", 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (15, 5, 7), (17, 17, 9), (33, 3, 33),
                                   (65, 31, 17), (130, 8, 64), (7, 0, 5)])
@pytest.mark.parametrize("act", ["linear", "relu", "tanh", "sigmoid", "hard_sigmoid",
                                 "softmax", "gelu"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_matches_numpy_reference(small_blocks, isa, dtype, M, K, N, act, with_bias):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    x = (rng.standard_normal((M, K)) * 2).astype(dtype)
    w = (rng.standard_normal((K, N)) / max(1, math.sqrt(K))).astype(dtype)
    b = rng.standard_normal(N).astype(dtype) if with_bias else None
    y = dense(x, w, b, act, n_threads=2)
    assert y.shape == (M, N) and y.dtype == dtype
    np.testing.assert_allclose(y, _reference(x, w, b, act), rtol=_tol(dtype, K),
                               atol=_tol(dtype, K))


def test_default_blocks_large_shapes(isa):
    """The real block sizes: a wide output (split by columns) and a tall one."""
    rng = np.random.default_rng(1)
    for M, K, N, act in [(300, 40, 2500, None), (5000, 24, 20, "relu"), (70, 16, 3000, "softmax")]:
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = (rng.standard_normal((K, N)) / math.sqrt(K)).astype(np.float32)
        b = rng.standard_normal(N).astype(np.float32)
        np.testing.assert_allclose(dense(x, w, b, act), _reference(x, w, b, act),
                                   rtol=2e-5, atol=2e-5)


def test_isa_variants_agree_within_rounding():
    """The softmax activation and the small-GEMM micro-kernel run the selected
    variant; the variants agree within float32 rounding (the GEMM's products are
    fused multiply-adds on AVX2/AVX-512, separate on generic code: not the same bits)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((300, 24)).astype(np.float32)
    w = (rng.standard_normal((24, 40)) / 5).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    with using("generic", [_dense]):
        base = dense(x, w, b, "softmax"), dense(x, w, b, "tanh")
    ran = 0
    for name in _dense.compiled_isas()[1:]:
        if skip_reason(name, [_dense]):
            continue
        with using(name, [_dense]):
            fast = dense(x, w, b, "softmax"), dense(x, w, b, "tanh")
        np.testing.assert_allclose(fast[0], base[0], rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(fast[1], base[1], rtol=1e-5, atol=1e-6)
        ran += 1
    if not ran:
        pytest.skip("no variant besides generic compiled or executable here")


def test_equals_numpy_dense_within_rounding():
    """Within float32 rounding of the NumPy path the Dense layer used before
    (np.matmul, then += bias, then the activation)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((257, 256)).astype(np.float32)
    w = (rng.standard_normal((256, 300)) / 16).astype(np.float32)
    b = rng.standard_normal(300).astype(np.float32)
    old = np.matmul(x, w)
    old += b
    np.testing.assert_allclose(dense(x, w, b), old, rtol=1e-5, atol=1e-5)
    # tanh is 1-Lipschitz: the product's tolerance carries over (the small-GEMM
    # path sums k in order, BLAS in its own blocks: both within ~5e-6 of float64 here)
    np.testing.assert_allclose(dense(x, w, b, "tanh"), np.tanh(old), rtol=1e-5, atol=1e-5)


def test_leading_dims_and_input_dtypes():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    x3 = rng.standard_normal((2, 3, 6)).astype(np.float32)
    y = dense(x3, w)
    assert y.shape == (2, 3, 4)
    np.testing.assert_allclose(y, _reference(x3, w, None, None), rtol=1e-6, atol=1e-6)
    xi = rng.integers(-3, 3, (5, 6))
    assert dense(xi, w).dtype == np.float32           # ints compute in float32
    assert dense(xi.astype(np.float16), w).dtype == np.float32
    assert dense(x3.astype(np.float64), w).dtype == np.float64   # kernel cast to x's dtype
    assert dense(np.zeros((0, 6), np.float32), w).shape == (0, 4)


@pytest.mark.parametrize("layout", ["transposed", "strided", "fortran_kernel", "readonly",
                                    "negative"])
def test_any_memory_layout_gives_the_contiguous_result(layout):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 12)).astype(np.float32)
    w = rng.standard_normal((12, 9)).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    expected = dense(x, w, b, "relu")
    xs, ws = x, w
    if layout == "transposed":
        xs = np.ascontiguousarray(x.T).T
    elif layout == "strided":
        xs = np.repeat(x, 2, axis=1)[:, ::2]
    elif layout == "fortran_kernel":
        ws = np.asfortranarray(w)
    elif layout == "readonly":
        xs = x.copy()
        xs.flags.writeable = False
    elif layout == "negative":
        xs = x[::-1][::-1]
        xs = np.ascontiguousarray(x[::-1])[::-1]
    np.testing.assert_array_equal(dense(xs, ws, b, "relu"), expected)


@pytest.mark.parametrize("act", ["linear", "tanh", "softmax", "gelu", np.negative])
def test_out_given_is_filled_in_place(small_blocks, act):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((37, 11)).astype(np.float32)
    w = rng.standard_normal((11, 19)).astype(np.float32)
    b = rng.standard_normal(19).astype(np.float32)
    expected = dense(x, w, b, act)
    out = np.full((37, 19), np.nan, np.float32)
    got = dense(x, w, b, act, out=out)
    assert got is out
    np.testing.assert_array_equal(out, expected)


def test_out_leading_dims():
    x = np.ones((2, 3, 4), np.float64)
    w = np.ones((4, 5))
    out = np.empty((2, 3, 5))
    assert dense(x, w, out=out) is out
    np.testing.assert_array_equal(out, 4.0)


def test_thread_count_does_not_change_bits(small_blocks):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((203, 29)).astype(np.float32)
    w = rng.standard_normal((29, 45)).astype(np.float32)
    b = rng.standard_normal(45).astype(np.float32)
    runs = [dense(x, w, b, "sigmoid", n_threads=n) for n in (1, 2, 3, 8)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def test_blocks_depend_on_shape_only():
    assert dense_mod.blocks(2560, 20000, 4) == dense_mod.blocks(2560, 20000, 4)
    rows, cols = dense_mod.blocks(2560, 20000, 4)
    assert cols == dense_mod.MAX_COLS and rows % dense_mod.ROW_ALIGN == 0
    assert dense_mod.blocks(70, 3000, 4, softmax=True)[1] == 3000   # softmax: whole rows
    assert dense_mod.blocks(1, 5, 4) == (1, 5)


def _bad_out_cases():
    good = np.empty((4, 3), np.float32)
    ro = np.empty((4, 3), np.float32)
    ro.flags.writeable = False
    return [
        ([[0.0] * 3] * 4, TypeError, "must be a NumPy array"),
        (np.empty((4, 4), np.float32), ValueError, "shape"),
        (np.empty((3,), np.float32), ValueError, "shape"),
        (np.empty((4, 3), np.float64), ValueError, "dtype"),
        (np.empty((3, 4), np.float32).T, ValueError, "C-contiguous"),
        (np.empty((4, 6), np.float32)[:, ::2], ValueError, "C-contiguous"),
        (ro, ValueError, "writeable"),
        (good, None, None),
    ]


@pytest.mark.parametrize("out,exc,match", _bad_out_cases())
def test_bad_out_rejected(out, exc, match):
    x = np.ones((4, 2), np.float32)
    w = np.ones((2, 3), np.float32)
    if exc is None:
        assert dense(x, w, out=out) is out
        return
    with pytest.raises(exc, match=match) as info:
        dense(x, w, out=out)
    assert "Received: out" in str(info.value)


def test_out_overlapping_inputs_rejected():
    buf = np.zeros(64, np.float32)
    x = buf[:12].reshape(4, 3)
    w = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        dense(x, w, out=buf[6:18].reshape(4, 3))
    with pytest.raises(ValueError, match="must not overlap"):
        dense(x, w, out=x)
    wbuf = np.ones(9, np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        dense(np.ones((3, 3), np.float32), wbuf.reshape(3, 3), out=wbuf.reshape(3, 3))
    bias = np.ones(3 * 4, np.float32)
    with pytest.raises(ValueError, match="must not overlap"):
        dense(np.ones((4, 3), np.float32), w, bias[:3], out=bias.reshape(4, 3))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(kernel=np.ones((3, 2))), ValueError, "kernel"),
    (dict(kernel=np.ones(2)), ValueError, "kernel"),
    (dict(bias=np.ones(3)), ValueError, "bias"),
    (dict(bias=np.ones((1, 2))), ValueError, "bias"),
    (dict(activation="nope"), ValueError, "activation"),
    (dict(activation=3), TypeError, "activation"),
    (dict(x=np.ones((2, 2), complex)), TypeError, "x"),
    (dict(x=np.ones(())), ValueError, "x"),
])
def test_bad_arguments(kwargs, exc, match):
    args = dict(x=np.ones((4, 2), np.float32), kernel=np.ones((2, 2), np.float32))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        dense(**args)


# ---------------------------------------------- prepared weights (the Dense layer's path)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["small", "blas"])
@pytest.mark.parametrize("act", [None, "relu", "softmax", "gelu"])
def test_prepared_dense_is_dense_bit_for_bit(monkeypatch, small_blocks, dtype, path, act):
    monkeypatch.setattr(dense_mod, "FORCE_PATH", path)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((9, 13)).astype(dtype)
    b = rng.standard_normal(13).astype(dtype)
    packed = dense_mod.pack_kernel(w, dtype)
    for bias, pk in ((b, packed), (None, None)):
        prep = dense_mod.prepare_dense(w, bias, act, dtype, packed=pk)
        for shape in ((1, 9), (3, 5, 9), (40, 9), (0, 9)):
            x = rng.standard_normal(shape).astype(dtype)
            want = dense(x, w, bias, act, n_threads=2)
            np.testing.assert_array_equal(prep(x, n_threads=2), want)
            out = np.full(shape[:-1] + (13,), np.nan, dtype)
            assert prep(x, out=out, n_threads=2) is out
            np.testing.assert_array_equal(out, want)
            assert dense_mod.last_path == path or x.size == 0


def test_prepared_dense_follows_the_path_settings_made_after_it(monkeypatch):
    """A PreparedDense resolves its small-GEMM call once, but takes the path the
    settings choose at each call (switched to BLAS after preparation: BLAS runs)."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((9, 13)).astype(np.float32)
    b = rng.standard_normal(13).astype(np.float32)
    x = rng.standard_normal((7, 9)).astype(np.float32)
    prep = dense_mod.prepare_dense(w, b, "relu", np.float32,
                                   packed=dense_mod.pack_kernel(w, np.float32))
    assert prep.small is not None
    np.testing.assert_array_equal(prep(x), dense(x, w, b, "relu"))
    assert dense_mod.last_path == "small"
    for name, value in (("FORCE_PATH", "blas"), ("SMALL_GEMM", False),
                        ("SMALL_MAX_PANEL_BYTES", 64)):
        with monkeypatch.context() as m:
            m.setattr(dense_mod, name, value)
            np.testing.assert_array_equal(prep(x), dense(x, w, b, "relu"))
            assert dense_mod.last_path == "blas", name


def _unaligned_f32(shape):
    """A C-contiguous float32 array at an odd byte address (not aligned)."""
    n = int(np.prod(shape))
    a = np.frombuffer(bytearray(4 * n + 1), np.float32, count=n, offset=1).reshape(shape)
    assert a.flags.c_contiguous and not a.flags.aligned
    return a


def test_prepared_dense_refuses_what_it_was_not_prepared_for():
    w = np.ones((4, 3), np.float32)
    prep = dense_mod.prepare_dense(w, None, "relu", np.float32)
    for bad in (np.ones((2, 5), np.float32), np.ones((2, 4)), np.ones((4, 2), np.float32).T,
                [[1.0] * 4], _unaligned_f32((2, 4))):
        with pytest.raises(ValueError, match="Received: "):
            prep(bad)
    with pytest.raises(ValueError, match="float32 or float64"):
        dense_mod.prepare_dense(w, None, None, np.float16)
    with pytest.raises(ValueError, match="bias"):
        dense_mod.prepare_dense(w, np.ones(4, np.float32), None, np.float32)
    # a pack of other weights is not used (made for the call instead)
    other = dense_mod.pack_kernel(np.ones((4, 5), np.float32))
    assert dense_mod.prepare_dense(w, None, None, np.float32, packed=other).packed is None
