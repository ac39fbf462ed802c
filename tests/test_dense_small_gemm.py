"""The small-GEMM path of fastmask.kernels.dense (csrc/fm_dense.h) and its BLAS path.

Each path is forced (`FORCE_PATH`) at sizes crossing every vector width (4/8/16
lanes), register block (4-8 rows, 2 vectors) and panel edge (8/16/32 columns),
float32 and float64, under every instruction-set variant this CPU runs
(tests/isa_variants.py). The oracle is plain NumPy in float64.
"""
import importlib
import itertools
import math

import numpy as np
import pytest

import fastmask
from fastmask.kernels import _dense
from fastmask.kernels.dense import dense, pack_kernel
from isa_variants import isa_fixture
from np_reference import dense_activation_ref

dense_mod = importlib.import_module("fastmask.kernels.dense")
dense_layer_mod = importlib.import_module("fastmask.layers.core.dense")

isa = isa_fixture(_dense, autouse=False)

MS = (1, 2, 5, 7, 9, 13, 25, 70)
KS = (0, 1, 3, 8, 17, 33, 69)
NS = (1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 47, 65, 70)
FUSED = ("linear", "relu", "tanh", "sigmoid", "hard_sigmoid", "softmax")


def _oracle(x, w, b, act, dtype):
    y = np.matmul(np.asarray(x, np.float64), np.asarray(w, np.float64))
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return dense_activation_ref(act, y).astype(dtype)


def _tol(dtype, K):
    return 2e-6 * max(1, math.sqrt(K)) if dtype == np.float32 else 1e-12 * max(1, K)


def _operands(rng, M, K, N, dtype, with_bias):
    x = (rng.standard_normal((M, K)) * 2).astype(dtype)
    w = (rng.standard_normal((K, N)) / max(1, math.sqrt(K))).astype(dtype)
    b = rng.standard_normal(N).astype(dtype) if with_bias else None
    return x, w, b


@pytest.fixture(params=["small", "blas"])
def path(request, monkeypatch):
    monkeypatch.setattr(dense_mod, "FORCE_PATH", request.param)
    return request.param


def _check(x, w, b, act, dtype, path, **kw):
    y = dense(x, w, b, act, **kw)
    assert dense_mod.last_path == path
    assert y.dtype == dtype
    K = w.shape[0]
    np.testing.assert_allclose(y, _oracle(x, w, b, act, dtype), rtol=_tol(dtype, K),
                               atol=_tol(dtype, K), err_msg=f"{x.shape} @ {w.shape} {act}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_every_edge_linear(isa, path, dtype, with_bias):
    """Every (M, K, N) of MS x KS x NS, no activation."""
    rng = np.random.default_rng(11)
    for M, K, N in itertools.product(MS, KS, NS):
        x, w, b = _operands(rng, M, K, N, dtype, with_bias)
        _check(x, w, b, None, dtype, path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("act", FUSED)
def test_every_fused_activation(isa, path, dtype, with_bias, act):
    """Each fused activation over a sample of edge sizes (every N of NS)."""
    rng = np.random.default_rng(12)
    for i, N in enumerate(NS):
        M, K = MS[i % len(MS)], KS[(3 * i) % len(KS)]
        x, w, b = _operands(rng, M, K, N, dtype, with_bias)
        _check(x, w, b, act, dtype, path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_operands(isa, path, dtype):
    """Transposed, strided and 3-D inputs, a Fortran-order kernel, a strided bias."""
    rng = np.random.default_rng(13)
    base = rng.standard_normal((41, 2 * 19)).astype(dtype)
    x = base[:, ::2]                                   # (41, 19), strided
    xt = rng.standard_normal((19, 37)).astype(dtype).T   # (37, 19), a transposed view
    w = np.asfortranarray(rng.standard_normal((19, 23)).astype(dtype) / 4)
    b = rng.standard_normal(46).astype(dtype)[::2]
    x3 = rng.standard_normal((3, 7, 19)).astype(dtype).transpose(1, 0, 2)
    for xi in (x, xt):
        _check(xi, w, b, "relu", dtype, path)
    y = dense(x3, w, b, "tanh")
    assert y.shape == (7, 3, 23)
    np.testing.assert_allclose(y, _oracle(x3, w, b, "tanh", dtype), rtol=_tol(dtype, 19),
                               atol=_tol(dtype, 19))


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows x 8 columns (the small path rounds columns up to its
    panel) and threads for any work: odd sizes cross every block edge, threaded."""
    monkeypatch.setattr(dense_mod, "BLOCK_BYTES", 16 * 8 * 4)
    monkeypatch.setattr(dense_mod, "MAX_COLS", 8)
    monkeypatch.setattr(dense_mod, "MIN_ROWS", 16)
    monkeypatch.setattr(_dense, "MIN_FLOPS_PER_THREAD", 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_blocks_threads_and_batch_invariance(isa, small_blocks, monkeypatch, dtype):
    """Many blocks on 1 and 2 threads: the oracle's values, the same bits on any
    thread count, and (small path: k summed in order from the bias) a row alone
    gives the same bits as inside the batch."""
    monkeypatch.setattr(dense_mod, "FORCE_PATH", "small")
    rng = np.random.default_rng(14)
    for M, K, N in [(70, 33, 65), (37, 8, 17), (16, 69, 70)]:
        x, w, b = _operands(rng, M, K, N, dtype, True)
        one = dense(x, w, b, "sigmoid", n_threads=1)
        two = dense(x, w, b, "sigmoid", n_threads=2)
        np.testing.assert_array_equal(one, two)
        np.testing.assert_allclose(one, _oracle(x, w, b, "sigmoid", dtype),
                                   rtol=_tol(dtype, K), atol=_tol(dtype, K))
        for r in (0, M // 2, M - 1):
            np.testing.assert_array_equal(dense(x[r:r + 1], w, b, "sigmoid"), one[r:r + 1])


def test_packed_kernel_reused_and_checked(isa):
    """A matching pack is used as given; one for another shape is not (packed again)."""
    rng = np.random.default_rng(15)
    x, w, b = _operands(rng, 9, 17, 33, np.float32, True)
    pk = pack_kernel(w, np.float32)
    assert pk.matches(17, 33, np.float32)
    assert not pk.matches(17, 34, np.float32) and not pk.matches(17, 33, np.float64)
    assert pk.panel == _dense.panel_width(False) and pk.isa == _dense.isa_in_use()
    np.testing.assert_allclose(dense(x, w, b, packed=pk), _oracle(x, w, b, None, np.float32),
                               rtol=2e-5, atol=2e-5)
    assert dense_mod.last_path == "small"
    other = pack_kernel(np.ones((17, 5), np.float32))
    np.testing.assert_allclose(dense(x, w, b, packed=other), _oracle(x, w, b, None, np.float32),
                               rtol=2e-5, atol=2e-5)
    # A pack whose panel width is not the variant's is refused by the kernel itself.
    with pytest.raises(ValueError, match="panel"):
        _dense.dense_flat(x.reshape(-1), np.zeros(1, np.float32), b, True,
                          np.empty(9 * 33, np.float32), 9, 17, 33, 0, 9, 33, 1,
                          pk.data, pk.panel + 1)


def test_path_choice_by_shape(monkeypatch):
    """Products whose packed kernel panel fits in L1 take the small path whatever M
    and N (the per-token sizes of the issue, the seq2seq's and mini-GPT's output
    Dense), a long K BLAS, and SMALL_GEMM = False turns the small path off."""
    choose = dense_mod.use_small_gemm
    for M, K, N in [(200, 32, 32), (64, 32, 64), (64, 64, 10), (6400, 32, 32), (256, 64, 64)]:
        assert choose(M, K, N, np.dtype(np.float32)) and choose(M, K, N, np.dtype(np.float64))
    for M, K, N in [(4096, 256, 256), (59 * 256, 256, 93), (32 * 80, 256, 20000)]:
        assert choose(M, K, N, np.dtype(np.float32))
    assert not choose(4, 8192, 4, np.dtype(np.float32))        # a panel larger than L1
    assert not choose(4, 8192, 4, np.dtype(np.float64))
    monkeypatch.setattr(dense_mod, "SMALL_GEMM", False)
    assert not choose(200, 32, 32, np.dtype(np.float32))


def test_dense_layer_takes_small_path_and_caches_pack(monkeypatch):
    """Dense on a per-token batch-1 input runs the small path with its kernel packed
    once, packed again after a weight write (new values used), BLAS for a long K."""
    packs = []
    real = dense_layer_mod.pack_kernel

    def counting(*a, **k):
        packs.append(1)
        return real(*a, **k)

    monkeypatch.setattr(dense_layer_mod, "pack_kernel", counting)
    rng = np.random.default_rng(16)
    layer = fastmask.layers.Dense(32, activation="relu")
    x = rng.standard_normal((1, 200, 32)).astype(np.float32)
    y = np.asarray(layer(x))
    assert dense_mod.last_path == "small" and len(packs) == 1
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, _oracle(x, k, b, "relu", np.float32), rtol=1e-5, atol=1e-5)
    layer(x)
    assert len(packs) == 1
    k2 = rng.standard_normal(k.shape).astype(np.float32)
    layer.set_weights([k2, b])
    y2 = np.asarray(layer(x))
    assert len(packs) == 2
    np.testing.assert_allclose(y2, _oracle(x, k2, b, "relu", np.float32), rtol=1e-5, atol=1e-5)
    big = fastmask.layers.Dense(64)
    xb = rng.standard_normal((64, 4096)).astype(np.float32)
    yb = np.asarray(big(xb))
    assert dense_mod.last_path == "blas" and len(packs) == 2
    kb, bb = big.get_weights()
    np.testing.assert_allclose(yb, _oracle(xb, kb, bb, None, np.float32), rtol=1e-4, atol=1e-4)
