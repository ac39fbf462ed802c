"""Hypothesis properties: masked_attention and multi_head_attention against NumPy.

Random sizes, layouts (BTHD, BHTD, one head), dtypes, key/query masks (fully
masked rows included), attention masks of every broadcast shape, causal, both
fully-masked conventions and 1 or 2 threads; the reference is
tests/np_reference.py (float64). Hypothesis shrinks a failure to a minimal case.

Sizes reach past the kernels' blocks: head dims past 16 lanes, query rows past
several 16-row score chunks (the chunk budget is lowered to 256 elements so that
chunks of the minimum 16 rows occur at these sizes), and MultiHeadAttention
projections past one 512-row GEMM block. Tolerances are the fixed tests' (float32
rtol 2e-5, atol 2e-5 on outputs, as in test_attention_kernels.py).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from fastmask import kernels as K
from fastmask.kernels import _attention
from fastmask.kernels import attention as A
from isa_variants import isa_fixture
from np_reference import mha_ref, sdpa_ref

# Every test runs under each instruction-set variant (FASTMASK_ISA), module by
# module; one this CPU cannot execute is a skip that says why.
isa = isa_fixture(_attention)

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(scope="module", autouse=True)
def _threads_even_for_tiny_inputs():
    """The kernels run small inputs on one thread; these tiny problems must still
    take the threaded path when they ask for 2 threads."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_attention, "MIN_FLOPS_PER_THREAD", 1)
        mp.setattr(A, "_CHUNK_ELEMS", 256)          # 16-row score chunks from S = 16 on
        yield


def _mask(draw, shape, p_true):
    if 0 in shape:
        return np.zeros(shape, bool)
    seed = draw(st.integers(0, 2 ** 32 - 1))
    m = np.random.default_rng(seed).random(shape) < p_true
    if draw(st.booleans()) and shape[0] > 0:
        m[draw(st.integers(0, shape[0] - 1))] = False          # a fully masked row
    return m


@st.composite
def attention_problems(draw):
    B, T, S = draw(st.integers(1, 3)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    H, D, Dv = draw(st.integers(1, 3)), draw(st.integers(1, 20)), draw(st.integers(1, 20))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    scale_x = draw(st.sampled_from([0.1, 1.0, 5.0]))
    q = (rng.standard_normal((B, T, H, D)) * scale_x).astype(dtype)
    k = (rng.standard_normal((B, S, H, D)) * scale_x).astype(dtype)
    v = rng.standard_normal((B, S, H, Dv)).astype(dtype)
    p = draw(st.sampled_from([0.2, 0.6, 0.95]))
    km = _mask(draw, (B, S), p) if draw(st.booleans()) else None
    qm = _mask(draw, (B, T), p) if draw(st.booleans()) else None
    am = None
    if draw(st.booleans()):
        rank = draw(st.sampled_from([2, 3, 4]))
        full = {2: (T, S), 3: (B, T, S), 4: (B, H, T, S)}[rank]
        shape = tuple(d if draw(st.booleans()) else 1 for d in full)
        am = _mask(draw, shape, p)
    return dict(q=q, k=k, v=v, key_mask=km, query_mask=qm, attention_mask=am,
                causal=draw(st.booleans()),
                fully_masked=draw(st.sampled_from(["zeros", "uniform"])),
                layout=draw(st.sampled_from(["BTHD", "BHTD", "one-head"])),
                n_threads=draw(st.sampled_from([1, 2])))


@given(attention_problems())
def test_masked_attention_matches_numpy(p):
    q, k, v = p["q"], p["k"], p["v"]
    want = sdpa_ref(q, k, v, key_mask=p["key_mask"], query_mask=p["query_mask"],
                    attention_mask=p["attention_mask"], causal=p["causal"],
                    fully_masked=p["fully_masked"])
    layout = p["layout"]
    am = p["attention_mask"]
    if layout == "one-head":
        q, k, v, want = q[:, :, :1], k[:, :, :1], v[:, :, :1], None
        if am is not None and am.ndim == 4:
            am = am[:, :1]
        want = sdpa_ref(q, k, v, key_mask=p["key_mask"], query_mask=p["query_mask"],
                        attention_mask=am, causal=p["causal"],
                        fully_masked=p["fully_masked"])[:, :, 0]
        q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]
    elif layout == "BHTD":
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))
        want = want.transpose(0, 2, 1, 3)
    got = K.masked_attention(q, k, v, key_mask=p["key_mask"], query_mask=p["query_mask"],
                             attention_mask=am, causal=p["causal"],
                             fully_masked=p["fully_masked"],
                             layout="BTHD" if layout != "BHTD" else "BHTD",
                             n_threads=p["n_threads"])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL[want.dtype.type])


@st.composite
def mha_problems(draw):
    B, T, S = draw(st.integers(1, 16)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    E, H, D = draw(st.integers(1, 20)), draw(st.integers(1, 3)), draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    f = np.float32

    def w(*shape, fan_in=1):
        # fan-in scales (as Keras's initialisers): outputs of order 1, like the fixed tests
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(f)

    bias = draw(st.booleans())
    weights = dict(query_kernel=w(E, H, D, fan_in=E), key_kernel=w(E, H, D, fan_in=E),
                   value_kernel=w(E, H, D, fan_in=E), output_kernel=w(H, D, E, fan_in=H * D),
                   query_bias=w(H, D) if bias else None, key_bias=w(H, D) if bias else None,
                   value_bias=w(H, D) if bias else None, output_bias=w(E) if bias else None)
    query = rng.standard_normal((B, T, E)).astype(f)
    self_attention = draw(st.booleans())
    value = query if self_attention else rng.standard_normal((B, S, E)).astype(f)
    S = value.shape[1]
    p = draw(st.sampled_from([0.3, 0.7, 1.0]))
    return dict(query=query, value=value, weights=weights,
                query_mask=_mask(draw, (B, T), p) if draw(st.booleans()) else None,
                value_mask=_mask(draw, (B, S), p) if draw(st.booleans()) else None,
                causal=draw(st.booleans()),
                fully_masked=draw(st.sampled_from(["uniform", "zeros"])),
                n_threads=draw(st.sampled_from([1, 2])))


@given(mha_problems())
def test_multi_head_attention_matches_numpy(p):
    """Includes the padding-skipping path (masks given) and its exactness fallback."""
    want = mha_ref(p["query"], p["value"], query_mask=p["query_mask"],
                   value_mask=p["value_mask"], causal=p["causal"],
                   fully_masked=p["fully_masked"], **p["weights"])
    got = K.multi_head_attention(p["query"], p["value"], query_mask=p["query_mask"],
                                 value_mask=p["value_mask"], causal=p["causal"],
                                 fully_masked=p["fully_masked"], n_threads=p["n_threads"],
                                 **p["weights"])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **TOL[np.float32])
