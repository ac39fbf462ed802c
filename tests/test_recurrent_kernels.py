"""Masked recurrent kernels (fastmask.kernels.lstm / gru / simple_rnn).

Oracles: `np_reference.rnn_ref`, a float64 NumPy loop written from Keras's cell
equations that shares no code with fastmask (float64 within 1e-10, float32 within
1e-5), and Keras 3.15.1's own layers (numpy backend) in float32 within 1e-5 (at
benchmark sizes in tests/test_keras_real_sizes.py). The tests taking `isa` run
under every instruction-set variant (a variant this CPU cannot execute is a skip
with the reason). Seeds are stable (tests/seeds.py) and printed in failure
messages.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmask.kernels import _isa, _recurrent
from fastmask.kernels import gru, lstm, simple_rnn
from isa_variants import isa_fixture
from np_reference import RNN_ACTIVATIONS, rnn_ref
from seeds import stable_rng

CELLS = [("lstm", True), ("gru", True), ("gru", False), ("simple_rnn", True)]
NG = {"lstm": 4, "gru": 3, "simple_rnn": 1}
FUNCS = {"lstm": lstm, "gru": gru, "simple_rnn": simple_rnn}
TOL = {np.float32: 1e-5, np.float64: 1e-10}


@pytest.fixture
def split_small_steps(monkeypatch):
    """Let the tests' small problems use several threads (see _recurrent.pyx)."""
    monkeypatch.setattr(_recurrent, "MIN_STEP_FLOPS_PER_THREAD", 0.0)
    monkeypatch.setattr(_recurrent, "MIN_PART_FLOPS", 0.0)


isa = isa_fixture(_recurrent, autouse=False)


def make_mask(kind, B, T, rng):
    lens = rng.integers(1, T + 1, B)
    if kind == "none":
        return None
    if kind == "post":
        return np.arange(T)[None, :] < lens[:, None]
    if kind == "pre":
        return np.arange(T)[None, :] >= (T - lens)[:, None]
    if kind == "holes":
        return rng.random((B, T)) < 0.6
    if kind == "all_masked_rows":
        m = rng.random((B, T)) < 0.6
        m[::2] = False
        return m
    if kind == "all_masked":
        return np.zeros((B, T), bool)
    raise ValueError(kind)


def make_weights(cell, F, U, dtype, rng, reset_after=True, use_bias=True, scale=0.6):
    ng = NG[cell]
    k = (rng.standard_normal((F, ng * U)) * scale).astype(dtype)
    r = (rng.standard_normal((U, ng * U)) * scale).astype(dtype)
    if not use_bias:
        return k, r, None
    shape = (2, 3 * U) if (cell == "gru" and reset_after) else (ng * U,)
    return k, r, (rng.standard_normal(shape) * scale).astype(dtype)


def make_state(cell, B, U, dtype, rng):
    n = 2 if cell == "lstm" else 1
    return [rng.standard_normal((B, U)).astype(dtype) for _ in range(n)]


def call(cell, reset_after, *args, **kw):
    if cell == "gru":
        kw["reset_after"] = reset_after
    if cell == "simple_rnn":
        kw.pop("recurrent_activation", None)
    return FUNCS[cell](*args, **kw)


def reference(cell, reset_after, x, *args, **kw):
    """The independent oracle (float64), cast back to x's dtype."""
    kw.pop("n_threads", None)
    out = rnn_ref(cell, x, *args, reset_after=reset_after, **kw)
    return [a.astype(np.asarray(x).dtype) for a in out]


def assert_close(got, want, tol, seed=None):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape, seed)
        np.testing.assert_allclose(g, w, rtol=0, atol=tol, err_msg=f"result {i}, seed={seed}")


# ------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ["linear", "tanh", "sigmoid", "relu", "hard_sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["scalar", "vector"])
def test_c_activations_match_numpy(name, dtype, path, isa):
    """The scalar C functions, and the vector code of every ISA (fused epilogues)."""
    apply = _recurrent.activation_c if path == "scalar" else _recurrent.activation_vec
    x = np.concatenate([np.linspace(-30, 30, 20001), [0.0, -0.0, 1e-30, -1e-30, 0.6249, 0.6251,
                                                      8.99, 9.01, 88.0, -88.0, 100.0, -100.0]])
    x = x.astype(dtype)
    got = x.copy()
    apply(name, got)
    want = RNN_ACTIVATIONS[name](x.astype(np.float64))
    tol = 2e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    if name in ("tanh", "sigmoid"):
        special = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], dtype)
        got = special.copy()
        apply(name, got)
        assert np.isnan(got[0])
        with np.errstate(over="ignore"):
            want = RNN_ACTIVATIONS[name](special[1:].astype(np.float64)).astype(dtype)
        np.testing.assert_array_equal(got[1:], want)


# ------------------------------------------------ kernel vs float64 reference
@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("mask_kind", ["none", "post", "pre", "holes", "all_masked_rows",
                                       "all_masked", "T=1", "B=1"])
def test_matches_reference_all_options(cell, reset_after, mask_kind):
    """Full product of options x mask kinds on the default ISA."""
    rng, seed = stable_rng("all-options", cell, reset_after, mask_kind)
    B, T, F, U = 5, 6, 3, 19  # U not a multiple of any lane count
    if mask_kind == "T=1":
        T, kind = 1, "holes"
    elif mask_kind == "B=1":
        B, kind = 1, "holes"
    else:
        kind = mask_kind
    x = rng.standard_normal((B, T, F))
    mask = make_mask(kind, B, T, rng)
    for rs, gb, zo, unroll, use_bias, init in itertools.product([False, True], repeat=6):
        w = make_weights(cell, F, U, np.float64, rng, reset_after, use_bias)
        state = make_state(cell, B, U, np.float64, rng) if init else None
        kw = dict(return_sequences=rs, go_backwards=gb, zero_output_for_mask=zo, unroll=unroll)
        got = call(cell, reset_after, x, *w, mask, state, **kw)
        want = reference(cell, reset_after, x, *w, mask, state, **kw)
        assert_close(got, want, 1e-10, seed)


@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_isa_matches_reference(isa, cell, reset_after, dtype, split_small_steps):
    """Each compiled ISA variant: partial unit groups, all register-block remainders."""
    rng = np.random.default_rng(12)
    B, T, F, U = 29, 5, 4, 37
    x = rng.standard_normal((B, T, F))
    for kind, gb, rs in [("holes", False, True), ("post", True, True), ("pre", False, False),
                         ("all_masked_rows", True, False)]:
        mask = make_mask(kind, B, T, rng)
        w = make_weights(cell, F, U, np.float64, rng, reset_after, scale=0.4)
        state = make_state(cell, B, U, np.float64, rng)
        kw = dict(return_sequences=rs, go_backwards=gb)
        got = call(cell, reset_after, x.astype(dtype), *[a.astype(dtype) for a in w], mask,
                   [s.astype(dtype) for s in state], n_threads=2, **kw)
        want = reference(cell, reset_after, x, *w, mask, state, **kw)
        assert_close(got, [a.astype(dtype) for a in want], TOL[dtype])


@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("act,ract", [("relu", "hard_sigmoid"), ("linear", "tanh"),
                                      ("sigmoid", "linear"), ("hard_sigmoid", "relu")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_in_kernel(isa, cell, reset_after, act, ract, dtype):
    rng = np.random.default_rng(7)
    B, T, F, U = 4, 5, 3, 17
    x = rng.standard_normal((B, T, F)).astype(dtype)
    mask = make_mask("holes", B, T, rng)
    w = make_weights(cell, F, U, dtype, rng, reset_after, scale=0.3)
    kw = dict(return_sequences=True, activation=act, recurrent_activation=ract)
    got = call(cell, reset_after, x, *w, mask, **kw)
    want = reference(cell, reset_after, x.astype(np.float64),
                     *[None if a is None else a.astype(np.float64) for a in w], mask, **kw)
    assert_close(got, [a.astype(dtype) for a in want], TOL[dtype])


@pytest.mark.parametrize("cell,reset_after", CELLS)
def test_float32_matches_float64_reference(isa, cell, reset_after):
    rng = np.random.default_rng(3)
    B, T, F, U = 6, 9, 7, 40
    x = rng.standard_normal((B, T, F))
    mask = make_mask("holes", B, T, rng)
    w = make_weights(cell, F, U, np.float64, rng, reset_after, scale=0.3)
    got = call(cell, reset_after, x.astype(np.float32), *[a.astype(np.float32) for a in w],
               mask, return_sequences=True)
    want = reference(cell, reset_after, x, *w, mask, return_sequences=True)
    assert_close(got, [a.astype(np.float32) for a in want], 1e-5)


# -------------------------------------------------------- Keras conformance
def _keras_layer(cell, units, **kw):
    import keras
    cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
           "simple_rnn": keras.layers.SimpleRNN}[cell]
    return cls(units, **kw)


@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("mask_kind", ["post", "pre", "holes", "all_masked_rows"])
def test_matches_keras_float32(cell, reset_after, mask_kind):
    rng = np.random.default_rng(11)
    B, T, F, U = 4, 5, 3, 6
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    mask = make_mask(mask_kind, B, T, rng)
    # each option both ways (the full product is covered against the reference above)
    for gb, zo, use_bias, init in [(False, False, True, False), (True, True, True, True),
                                   (False, True, False, True), (True, False, False, False)]:
        kw = dict(return_sequences=True, return_state=True, go_backwards=gb,
                  zero_output_for_mask=zo, use_bias=use_bias)
        if cell == "gru":
            kw["reset_after"] = reset_after
        layer = _keras_layer(cell, U, **kw)
        state = make_state(cell, B, U, np.float32, rng) if init else None
        want = layer(x, initial_state=state, mask=mask)
        weights = layer.get_weights()
        if not use_bias:
            weights.append(None)
        got = call(cell, reset_after, x, *weights, mask, state, return_sequences=True,
                   go_backwards=gb, zero_output_for_mask=zo)
        assert_close(got, [np.asarray(a) for a in want], 1e-5)


@pytest.mark.parametrize("cell,reset_after", CELLS)
def test_matches_keras_activations_and_unroll(cell, reset_after):
    rng = np.random.default_rng(5)
    B, T, F, U = 3, 4, 2, 5
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    mask = make_mask("holes", B, T, rng)
    state = make_state(cell, B, U, np.float32, rng)
    for act, ract, unroll, rs in [("relu", "hard_sigmoid", False, True),
                                  (None, "tanh", True, True), ("sigmoid", "sigmoid", True, False),
                                  ("tanh", "sigmoid", True, True)]:
        kw = dict(return_sequences=rs, return_state=True, activation=act, unroll=unroll,
                  zero_output_for_mask=True)
        if cell != "simple_rnn":
            kw["recurrent_activation"] = ract
        if cell == "gru":
            kw["reset_after"] = reset_after
        layer = _keras_layer(cell, U, **kw)
        want = layer(x, initial_state=state, mask=mask)
        got = call(cell, reset_after, x, *layer.get_weights(), mask, state,
                   return_sequences=rs, zero_output_for_mask=True, unroll=unroll,
                   activation=act, recurrent_activation=ract)
        assert_close(got, [np.asarray(a) for a in want], 1e-5)


# ------------------------------------------------ conformance cases (§15)
SEQ = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
M1 = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
M2 = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], bool)


def c3(cell, U=2, reset_after=True):
    ng = NG[cell]
    k = np.full((3, ng * U), 0.01, np.float32)
    r = np.full((U, ng * U), 0.02, np.float32)
    if cell == "lstm":  # unit_forget_bias: [init(u), ones(u), init(2u)]
        b = np.concatenate([np.full(U, 0.03), np.ones(U), np.full(2 * U, 0.03)]).astype(np.float32)
    elif cell == "gru" and reset_after:
        b = np.full((2, 3 * U), 0.03, np.float32)
    else:
        b = np.full(ng * U, 0.03, np.float32)
    return k, r, b


def test_case6_custom_linear_cell():
    ones = (np.ones((3, 2), np.float32), np.ones((2, 2), np.float32))
    out, h = simple_rnn(SEQ, *ones, None, M1, activation=None, return_sequences=True)
    np.testing.assert_allclose(out[..., 0], [[3, 18, 57, 57], [39, 126, 126, 126]])
    np.testing.assert_allclose(out[..., 1], out[..., 0])
    last, _ = simple_rnn(SEQ, *ones, None, M1, activation=None)
    np.testing.assert_allclose(last[:, 0], [57, 126])
    last_u, _ = simple_rnn(SEQ, *ones, None, M1, activation=None, unroll=True)
    np.testing.assert_allclose(last_u[:, 0], [57, 126])
    one = (np.ones((3, 1), np.float32), np.ones((1, 1), np.float32))
    back, _ = simple_rnn(SEQ, *one, None, M1, activation=None, return_sequences=True,
                         go_backwards=True)
    np.testing.assert_allclose(back[..., 0], [[0, 21, 33, 36], [0, 0, 48, 87]])


def test_case7_lstm():
    w = c3("lstm")
    out, _, _ = lstm(SEQ, *w, M1, return_sequences=True)
    want = [[.0158891, .0555205, .1175594, .1175594], [.141856, .2855621, .2855621, .2855621]]
    np.testing.assert_allclose(out[..., 0], want, atol=1e-6)
    np.testing.assert_allclose(out[..., 1], want, atol=1e-6)
    zo, _, _ = lstm(SEQ, *w, M1, return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_allclose(zo[..., 0], np.where(M1, want, 0), atol=1e-6)
    back, _, _ = lstm(SEQ, *w, np.array([[0, 1, 1, 1], [0, 0, 1, 1]], bool), go_backwards=True)
    np.testing.assert_allclose(back[:, 0], [.15341201, .3844719], atol=1e-6)


def test_case8_gru():
    w = c3("gru")
    out, _ = gru(SEQ, *w, M2, return_sequences=True)
    want = [[.03606692, .09497581, .09497581, .19393763],
            [.16051409, .16051409, .16051409, .30818558]]
    np.testing.assert_allclose(out[..., 0], want, atol=1e-6)
    back, _ = gru(SEQ, *w, M2, go_backwards=True)
    np.testing.assert_allclose(back[:, 0], [.11669192, .28380975], atol=1e-6)
    last, _ = gru(SEQ, *c3("gru", reset_after=False), M2, reset_after=False)
    np.testing.assert_allclose(last[:, 0], [.18306306, .30484116], atol=1e-6)


def test_case9_simple_rnn():
    out, _ = simple_rnn(SEQ, *c3("simple_rnn"), M2, return_sequences=True)
    want = [[.0599281, .15122814, .15122814, .32394567], [.3969304, .3969304, .3969304, .608085]]
    np.testing.assert_allclose(out[..., 0], want, atol=1e-6)


def test_case10_bidirectional_gru_from_two_kernel_calls():
    w = c3("gru")
    fwd, _ = gru(SEQ, *w, M2)
    bwd, _ = gru(SEQ, *w, M2, go_backwards=True)
    got = np.concatenate([fwd, bwd], axis=-1)
    np.testing.assert_allclose(got, [[.19393763] * 2 + [.11669192] * 2,
                                     [.30818558] * 2 + [.28380975] * 2], atol=1e-6)
    # return_sequences (Bidirectional forces zero_output_for_mask) and merge_mode="sum"
    fs, _ = gru(SEQ, *w, M2, return_sequences=True, zero_output_for_mask=True)
    bs, _ = gru(SEQ, *w, M2, return_sequences=True, zero_output_for_mask=True,
                go_backwards=True)
    summed = fs + bs[:, ::-1]
    np.testing.assert_allclose(summed[0, :, 0], [.15275885, .24615747, 0, .33132496], atol=1e-6)


def test_case17_embedding_ones_simple_rnn():
    x = np.ones((1, 4, 1), np.float32)
    w = (np.ones((1, 1), np.float32), np.ones((1, 1), np.float32), np.ones(1, np.float32))
    m = np.array([[1, 1, 0, 0]], bool)
    out, _ = simple_rnn(x, *w, m, activation=None, return_sequences=True)
    np.testing.assert_allclose(out[0, :, 0], [2, 4, 4, 4])
    out, _ = simple_rnn(x, *w, None, [np.zeros((1, 1), np.float32)], activation=None,
                        return_sequences=True)
    np.testing.assert_allclose(out[0, :, 0], [2, 4, 6, 8])


# ------------------------------------------------------- semantics details
def test_masked_step_semantics():
    rng = np.random.default_rng(0)
    B, T, F, U = 3, 5, 2, 4
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    w = make_weights("lstm", F, U, np.float32, rng)
    h0, c0 = make_state("lstm", B, U, np.float32, rng)
    m = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], bool)
    out, h, c = lstm(x, *w, m, [h0, c0], return_sequences=True)
    np.testing.assert_array_equal(out[0, :2], [h0[0], h0[0]])      # pre-padding: h0
    np.testing.assert_array_equal(out[1, 3:], [out[1, 2]] * 2)     # post-padding: last h
    np.testing.assert_array_equal(out[2], [h0[2]] * T)             # all masked: h0
    np.testing.assert_array_equal(h[2], h0[2])
    np.testing.assert_array_equal(c[2], c0[2])
    np.testing.assert_array_equal(h[1], out[1, 2])
    zo, _, _ = lstm(x, *w, m, [h0, c0], return_sequences=True, zero_output_for_mask=True)
    np.testing.assert_array_equal(zo[~m], 0)
    last, _, _ = lstm(x, *w, m, [h0, c0], zero_output_for_mask=True)
    np.testing.assert_array_equal(last[1], 0)  # post-padded row: last output is 0
    un, _, _ = lstm(x, *w, m, [h0, c0], return_sequences=True, unroll=True,
                    zero_output_for_mask=True)
    np.testing.assert_array_equal(un[0, :2], 0)  # unroll: previous output, from zeros
    np.testing.assert_array_equal(un[1, 3:], [out[1, 2]] * 2)
    back, _, _ = lstm(x, *w, m, [h0, c0], return_sequences=True, go_backwards=True)
    full_back = rnn_ref("lstm", x, *w, m, [h0, c0], return_sequences=True,
                        go_backwards=True)[0]
    np.testing.assert_allclose(back, full_back, atol=1e-6)
    np.testing.assert_array_equal(back[1, :2], [h0[1]] * 2)  # processing order, mask not reversed


@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_invariance(cell, reset_after, dtype, split_small_steps):
    """Batch split (B=80: rows dealt to threads) and per-step split (B=7)."""
    rng = np.random.default_rng(2)
    mr = _recurrent.rows_per_block(cell, reset_after, dtype)
    for (B, T, F, U), kind in itertools.product([(80, 10, 5, 45), (7, 9, 4, 50)],
                                                ("post", "pre", "holes")):
        x = rng.standard_normal((B, T, F)).astype(dtype)
        mask = make_mask(kind, B, T, rng)
        w = make_weights(cell, F, U, dtype, rng, reset_after, scale=0.3)
        res = []
        for n in (1, 2, 3):
            res.append(call(cell, reset_after, x, *w, mask, return_sequences=True, n_threads=n))
            plan = _recurrent.last_plan
            assert plan["n_threads"] == n
            assert plan["batch_split"] == (n > 1 and B >= 2 * mr)     # >= 1 block per part
        for other in res[1:]:
            for a, b in zip(res[0], other):
                np.testing.assert_array_equal(a, b)


def test_packed_weights_reuse_and_zero_batch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    w = make_weights("lstm", 2, 5, np.float32, rng)
    out, h, c = lstm(x[:0], *w, np.zeros((0, 4), bool), return_sequences=True)
    assert out.shape == (0, 4, 5) and h.shape == (0, 5) and c.shape == (0, 5)
    from fastmask.kernels.recurrent import _run
    packed = _recurrent.pack("lstm", w[0], w[1], True)
    a = _run("lstm", x, *w, None, None, False, True, False, False, "tanh", "sigmoid", True,
             1, packed=packed)
    b = lstm(x, *w, return_sequences=True)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_saturation_no_nan():
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((2, 6, 3)) * 1e4).astype(np.float32)
    for cell, ra in CELLS:
        w = make_weights(cell, 3, 7, np.float32, rng, ra, scale=30)
        res = call(cell, ra, x, *w, None, return_sequences=True)
        assert all(np.isfinite(r).all() for r in res)
        want = reference(cell, ra, x.astype(np.float64), *[a.astype(np.float64) for a in w],
                         None, return_sequences=True)
        assert_close(res, [a.astype(np.float32) for a in want], 1e-5)


def test_fallback_activation_callable():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 2))
    mask = make_mask("holes", 3, 4, rng)
    w = make_weights("gru", 2, 5, np.float64, rng)

    def softsign(v):
        return v / (1 + np.abs(v))

    got = gru(x, *w, mask, activation=softsign, return_sequences=True)
    want = rnn_ref("gru", x, *w, mask, activation=softsign, return_sequences=True)
    assert_close(got, want, 1e-12)
    import keras
    got = gru(x, *w, mask, activation=keras.activations.tanh,
              recurrent_activation=keras.activations.sigmoid, return_sequences=True)
    assert_close(got, rnn_ref("gru", x, *w, mask, return_sequences=True), 1e-10)


# --------------------------------------------------------------- hypothesis
@st.composite
def problems(draw):
    cell, reset_after = draw(st.sampled_from(CELLS))
    # Sizes past every block: rows beyond 2 x the register block (<= 6 rows) + 3 and
    # the batch split at 2 threads (2 * rows per block * 2), units beyond
    # 4 x 16 lanes (SimpleRNN's unit block is 2 x 16 with AVX-512 float32), features
    # beyond one vector.
    B = draw(st.integers(1, 40))
    T = draw(st.integers(1, 8))
    F = draw(st.integers(0, 40))
    U = draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**31))
    mask_kind = draw(st.sampled_from(["none", "post", "pre", "holes", "all_masked_rows"]))
    opts = draw(st.fixed_dictionaries({k: st.booleans() for k in (
        "return_sequences", "go_backwards", "zero_output_for_mask", "unroll")}))
    use_bias = draw(st.booleans())
    init = draw(st.booleans())
    n_threads = draw(st.sampled_from([1, 2]))
    return cell, reset_after, B, T, F, U, seed, mask_kind, opts, use_bias, init, n_threads


@given(problems())
def test_hypothesis_matches_reference(problem):
    _recurrent.MIN_STEP_FLOPS_PER_THREAD, saved = 0.0, _recurrent.MIN_STEP_FLOPS_PER_THREAD
    try:
        _check_problem(problem)
    finally:
        _recurrent.MIN_STEP_FLOPS_PER_THREAD = saved


def _check_problem(problem):
    cell, reset_after, B, T, F, U, seed, mask_kind, opts, use_bias, init, n_threads = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, F))
    mask = make_mask(mask_kind, B, T, rng)
    w = make_weights(cell, F, U, np.float64, rng, reset_after, use_bias)
    state = make_state(cell, B, U, np.float64, rng) if init else None
    got = call(cell, reset_after, x, *w, mask, state, n_threads=n_threads, **opts)
    want = reference(cell, reset_after, x, *w, mask, state, **opts)
    assert_close(got, want, 1e-10, f"{seed} (problem {problem})")


# ---------------------------------------------------------------- bad input
def test_bad_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    k, r, b = make_weights("lstm", 4, 5, np.float32, rng)
    with pytest.raises(ValueError, match="`x` must have rank 3"):
        lstm(x[0], k, r, b)
    with pytest.raises(ValueError, match="at least one timestep"):
        lstm(x[:, :0], k, r, b)
    with pytest.raises(TypeError, match="`x` must be a real numeric array"):
        lstm(np.array([["a"]]), k, r, b)
    with pytest.raises(ValueError, match=r"`mask` must have shape \(2, 3\)"):
        lstm(x, k, r, b, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"`mask` must have shape"):
        lstm(x, k, r, b, mask=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="must hold 2 state"):
        lstm(x, k, r, b, initial_state=[np.zeros((2, 5), np.float32)])
    with pytest.raises(ValueError, match="must be a list of 2 arrays"):
        lstm(x, k, r, b, initial_state=np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"`initial_state\[1\]` must have shape"):
        lstm(x, k, r, b, initial_state=[np.zeros((2, 5)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"`initial_state\[0\]` must have shape"):
        gru(x, *make_weights("gru", 4, 5, np.float32, rng), initial_state=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="must hold 1 state"):
        gru(x, *make_weights("gru", 4, 5, np.float32, rng),
            initial_state=[np.zeros((2, 5))] * 2)
    with pytest.raises(ValueError, match="`kernel` must have shape"):
        lstm(x, k[:3], r, b)
    with pytest.raises(ValueError, match="`kernel` must have shape"):
        lstm(x, k[:, :8], r, b)
    with pytest.raises(ValueError, match="`recurrent_kernel` must have shape"):
        lstm(x, k, r[:, :8], b)
    with pytest.raises(ValueError, match="`recurrent_kernel` must have shape"):
        lstm(x, k[:, :0], r[:0, :0], b[:0])
    with pytest.raises(ValueError, match="`bias` must have shape"):
        lstm(x, k, r, b[:4])
    gk, gr, gb = make_weights("gru", 4, 5, np.float32, rng)
    with pytest.raises(ValueError, match=r"`bias` must have shape \(2, 15\)"):
        gru(x, gk, gr, gb[0])
    with pytest.raises(ValueError, match=r"`bias` must have shape \(15,\)"):
        gru(x, gk, gr, gb, reset_after=False)
    with pytest.raises(ValueError, match="Unknown `activation`"):
        lstm(x, k, r, b, activation="no_such_activation")
    with pytest.raises(TypeError, match="`recurrent_activation` must be a str"):
        lstm(x, k, r, b, recurrent_activation=3)
    with pytest.raises(TypeError, match="`go_backwards` must be a bool"):
        lstm(x, k, r, b, go_backwards="yes")
    with pytest.raises(ValueError, match="`n_threads` must not be 0"):
        lstm(x, k, r, b, n_threads=0)
    with pytest.raises(ValueError, match="Received: name='bogus'"):
        _isa.set_isa("bogus")


# ------------------------------------------------------------ lengths API
@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("padding", ["post", "pre"])
def test_lengths_equal_the_mask_they_describe(cell, reset_after, padding):
    rng = np.random.default_rng(23)
    B, T, F, U = 5, 7, 3, 6
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    w = make_weights(cell, F, U, np.float32, rng, reset_after)
    lengths = np.array([0, 7, 3, 1, 5], dtype=np.int32)
    steps = np.arange(T)[None, :]
    mask = steps < lengths[:, None] if padding == "post" else steps >= (T - lengths)[:, None]
    kw = dict(return_sequences=True, go_backwards=True)
    got = call(cell, reset_after, x, *w, lengths=lengths, padding=padding, **kw)
    want = call(cell, reset_after, x, *w, mask, **kw)
    for g, v in zip(got, want):
        assert np.array_equal(g, v)
    if padding == "post":   # the default side
        for g, v in zip(call(cell, reset_after, x, *w, lengths=list(lengths), **kw), want):
            assert np.array_equal(g, v)


@pytest.mark.parametrize("kw,exc,words", [
    (dict(lengths=[1, 2]), ValueError, "shape (batch,) = (3,)"),
    (dict(lengths=[1, 2, 5]), ValueError, "[0, timesteps] = [0, 4]"),
    (dict(lengths=[-1, 2, 3]), ValueError, "lengths[0]=-1"),
    (dict(lengths=[1.0, 2.0, 3.0]), TypeError, "integers"),
    (dict(lengths=[True, False, True]), TypeError, "integers"),
    (dict(lengths=[1, 2, 3], mask=np.ones((3, 4), bool)), ValueError, "not both"),
    (dict(padding="pre"), ValueError, "`padding` goes with `lengths`"),
    (dict(lengths=[1, 2, 3], padding="left"), ValueError, '"pre" or "post"'),
])
def test_lengths_errors(kw, exc, words):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    w = make_weights("lstm", 2, 3, np.float32, rng)
    with pytest.raises(exc) as info:
        lstm(x, *w, **kw)
    assert words in str(info.value)


# ------------------------------------------------------------ counted work
@pytest.mark.parametrize("cell,reset_after", CELLS)
def test_masked_steps_cost_nothing_counted(cell, reset_after, split_small_steps):
    """README: "masked steps cost nothing". The kernel counts the (row, unit group)
    tiles its threads computed (`last_plan["row_steps"]`, per recurrence, divided by
    the unit groups): it equals the number of unmasked (row, step) pairs, for every
    mask kind and every thread split (one thread, batch split, per-step row and
    unit-group splits), and B x T without a mask."""
    rng, seed = stable_rng("counted-work", cell, reset_after)
    F, U = 5, 37
    # (batch, threads) covering the splits for register blocks of 2-6 rows: one
    # thread, batch split (40 x 2), per-step row split (e.g. 21 x 2 with 6-row
    # blocks, 14 x 2 with 4, 7 x 2 with 2, 33 x 3) and unit-group split (5 x 2)
    for (B, T), n_threads in [((40, 9), 1), ((40, 9), 2), ((5, 9), 2), ((7, 9), 2),
                              ((14, 9), 2), ((21, 9), 2), ((33, 9), 3)]:
        x = rng.standard_normal((B, T, F)).astype(np.float32)
        w = make_weights(cell, F, U, np.float32, rng, reset_after)
        for kind in ("none", "post", "pre", "holes", "all_masked_rows", "all_masked"):
            mask = make_mask(kind, B, T, rng)
            call(cell, reset_after, x, *w, mask, return_sequences=True, n_threads=n_threads)
            want = B * T if mask is None else int(mask.sum())
            plan = _recurrent.last_plan
            assert plan["row_steps"] == [want], (kind, B, n_threads, plan, seed)
    # Bidirectional: both directions in one team, each counted
    x = rng.standard_normal((40, 9, F)).astype(np.float32)
    mask = make_mask("holes", 40, 9, rng)
    from fastmask import layers
    layer = layers.Bidirectional({"lstm": layers.LSTM, "gru": layers.GRU,
                                  "simple_rnn": layers.SimpleRNN}[cell](U))
    layer(x, mask=mask)
    assert _recurrent.last_plan["row_steps"] == [int(mask.sum())] * 2


def test_unmasked_schedules_are_shared_read_only_and_bounded(monkeypatch):
    """An unmasked (B, T) schedule is built once and shared: every row at every step,
    read-only (the kernel only reads it), the cache bounded in entries and size."""
    monkeypatch.setattr(_recurrent, "_FULL_SCHEDULES", {})
    off, rows = _recurrent.schedule(None, 3, 4, False)
    np.testing.assert_array_equal(off, [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(rows, [0, 1, 2] * 4)
    assert not off.flags.writeable and not rows.flags.writeable
    again = _recurrent.schedule(None, 3, 4, True)       # direction does not change it
    assert again[0] is off and again[1] is rows
    # a row subset or a mask builds its own (writable) schedule
    off_sub, rows_sub = _recurrent.schedule(None, 3, 2, False, np.array([0, 2]))
    np.testing.assert_array_equal(rows_sub, [0, 2, 0, 2])
    big = _recurrent._FULL_SCHEDULE_MAX_ROWS + 1
    off_big, rows_big = _recurrent.schedule(None, big, 1, False)
    assert rows_big.shape == (big,) and (big, 1) not in _recurrent._FULL_SCHEDULES
    for b in range(1, 2 * _recurrent._FULL_SCHEDULE_MAX_KEPT):
        _recurrent.schedule(None, b, 2, False)
    assert len(_recurrent._FULL_SCHEDULES) <= _recurrent._FULL_SCHEDULE_MAX_KEPT


# ------------------------------------------------ prepared recurrences (layers' path)
@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_prepared_recurrence_is_bit_identical_to_run(cell, reset_after, n_threads,
                                                     split_small_steps):
    """`prepare` once, then `run_prepared` with other masks and states on every call:
    the same bits as `_run` (the layers' path at inference), and None exactly when
    `_run` would split the batch (then the caller runs `_run`)."""
    import importlib
    rec = importlib.import_module("fastmask.kernels.recurrent")
    rng, seed = stable_rng("prepared", cell, reset_after, n_threads)
    F, U, refused = 3, 19, 0
    for B, T in ((1, 6), (5, 1), (5, 6), (40, 4)):
        x = rng.standard_normal((B, T, F)).astype(np.float32)
        w = make_weights(cell, F, U, np.float32, rng, reset_after)
        for rs, gb, zo, unroll in itertools.product([False, True], repeat=4):
            kw = dict(go_backwards=gb, return_sequences=rs, zero_output_for_mask=zo,
                      unroll=unroll)
            r = rec.prepare(cell, x, *w, activation="tanh", recurrent_activation="sigmoid",
                            reset_after=reset_after, **kw)
            for kind, init in itertools.product(["none", "holes", "all_masked_rows"],
                                                [False, True]):
                mask = make_mask(kind, B, T, rng)
                state = make_state(cell, B, U, np.float32, rng) if init else None
                xi = (x + rng.standard_normal(x.shape).astype(np.float32)).astype(np.float32)
                got = rec.run_prepared(r, cell, xi, mask, state, n_threads)
                want = rec._run(cell, xi, *w, mask, state, gb, rs, zo, unroll, "tanh",
                                "sigmoid", reset_after, n_threads)
                split = _recurrent.last_plan["batch_split"]
                refused += got is None
                if got is None:
                    assert split, (B, kind, seed)
                    continue
                assert not split, (B, kind, seed)
                assert len(got) == len(want)
                for g, wv in zip(got, want):
                    np.testing.assert_array_equal(g, wv, err_msg=f"{B, T, kind, kw} {seed}")
    assert (refused > 0) == (n_threads > 1), refused    # B=40 at 2 threads: batch split


def test_prepared_recurrence_refuses_other_inputs():
    """Arrays that do not fit the prepared shape or dtype go back to `_run` (None);
    wrong states are errors naming them."""
    import importlib
    rec = importlib.import_module("fastmask.kernels.recurrent")
    rng, _ = stable_rng("prepared-refuse")
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = make_weights("lstm", 4, 5, np.float32, rng)
    r = rec.prepare("lstm", x, *w, go_backwards=False, return_sequences=False,
                    zero_output_for_mask=False, unroll=False, activation="tanh",
                    recurrent_activation="sigmoid", reset_after=True)
    assert rec.run_prepared(r, "lstm", x[:1], None, None) is None
    assert rec.run_prepared(r, "lstm", x.astype(np.float64), None, None) is None
    assert rec.run_prepared(r, "lstm", np.asfortranarray(x), None, None) is None
    unaligned = np.frombuffer(bytearray(x.nbytes + 1), np.float32, count=x.size,
                              offset=1).reshape(x.shape)
    assert not unaligned.flags.aligned
    assert rec.run_prepared(r, "lstm", unaligned, None, None) is None
    assert rec.run_prepared(r, "lstm", x, np.ones((2, 2), bool), None) is None
    with pytest.raises(ValueError, match="initial_state"):
        rec.run_prepared(r, "lstm", x, None, [np.zeros((2, 6), np.float32)] * 2)
    with pytest.raises(ValueError, match="x"):
        r(x[:, :2].copy(), None, None, None, 1)
    assert rec.prepare("lstm", x, *w, go_backwards=False, return_sequences=False,
                       zero_output_for_mask=False, unroll=False, activation="softplus",
                       recurrent_activation="sigmoid", reset_after=True) is None


# ------------------------------------------ hoisted input projections (batch 1-2)
@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_hoisted_input_projection_is_bit_identical(isa, cell, reset_after, dtype, n_threads,
                                                   split_small_steps, monkeypatch):
    """A recurrence of 1-2 rows with F >= U / 4 computes x @ kernel for every step before
    its time loop (`fm_rnn_xproj`), in the order the fused step sums: the public kernel,
    the layers' prepared recurrence and Bidirectional's two recurrences in one team give
    the fused path's bits (HOIST_MAX_ROWS = 0), for every cell, mask kind, direction,
    output kind and initial state, on each ISA variant this CPU runs;
    `last_plan["hoisted"]` says which ran, and 3 rows or few features are not hoisted."""
    import importlib
    rec = importlib.import_module("fastmask.kernels.recurrent")
    rng, seed = stable_rng("hoisted", cell, reset_after, str(np.dtype(dtype)), n_threads)
    runs = 0
    for B, T, F, U in ((1, 6, 7, 13), (2, 5, 16, 8), (1, 1, 5, 9), (2, 4, 9, 33),
                       (3, 4, 9, 9), (1, 5, 2, 24)):
        expect = int(B <= 2 and T > 1 and 4 * F >= U)
        x = rng.standard_normal((B, T, F)).astype(dtype)
        w = make_weights(cell, F, U, dtype, rng, reset_after, scale=0.5)
        w2 = make_weights(cell, F, U, dtype, rng, reset_after, scale=0.5)
        for kind, gb, rs, init in itertools.product(["none", "post", "holes", "all_masked"],
                                                    [False, True], [False, True],
                                                    [False, True]):
            mask = make_mask(kind, B, T, rng)
            state = make_state(cell, B, U, dtype, rng) if init else None
            kw = dict(go_backwards=gb, return_sequences=rs)

            def public():
                return call(cell, reset_after, x, *w, mask, state, n_threads=n_threads, **kw)

            def prepared():
                r = rec.prepare(cell, x, *w, zero_output_for_mask=False, unroll=False,
                                activation="tanh", recurrent_activation="sigmoid",
                                reset_after=reset_after, **kw)
                return rec.run_prepared(r, cell, x, mask, state, n_threads)

            def bidirectional():
                specs = [dict(kernel=ww[0], recurrent_kernel=ww[1], bias=ww[2],
                              initial_state=state, go_backwards=back, activation="tanh",
                              recurrent_activation="sigmoid", reset_after=reset_after,
                              out_time=back) for ww, back in ((w, False), (w2, True))]
                results, buf = rec._run_many(cell, x, specs, mask, rs, False, False,
                                             n_threads, concat=True)
                return [a for r in results for a in r if a is not None] + (
                    [buf] if buf is not None else [])

            for run, problems in ((public, 1), (prepared, 1), (bidirectional, 2)):
                monkeypatch.setattr(_recurrent, "HOIST_MAX_ROWS", 0)
                want = run()
                assert _recurrent.last_plan["hoisted"] == 0
                monkeypatch.setattr(_recurrent, "HOIST_MAX_ROWS", 2)
                got = run()
                split = _recurrent.last_plan["batch_split"]
                assert _recurrent.last_plan["hoisted"] == (0 if split else expect * problems), (
                    B, T, F, U, run.__name__, seed)
                assert len(got) == len(want)
                for g, wv in zip(got, want):
                    np.testing.assert_array_equal(g, wv, err_msg=f"{B, T, F, U, kind, kw} "
                                                                 f"{run.__name__} {seed}")
                runs += 1
    assert runs == 6 * 32 * 3


@pytest.mark.parametrize("hoist", [0, 2])
def test_streaming_bound_steps_split_between_threads(monkeypatch, hoist):
    """A batch-1 LSTM whose weights streamed per step take >= MIN_STEP_WEIGHT_BYTES splits
    each step's unit groups between 2 threads (below MIN_STEP_FLOPS_PER_THREAD), with the
    1-thread bits; smaller weights, or 3 rows, keep one thread. Hoisting (the recurrent
    rows alone are streamed) is counted."""
    import importlib
    rec = importlib.import_module("fastmask.kernels.recurrent")
    monkeypatch.setattr(_recurrent, "HOIST_MAX_ROWS", hoist)
    monkeypatch.setattr(_recurrent, "MIN_PART_FLOPS", 0.0)
    rng, seed = stable_rng("streaming", hoist)
    F, U = 40, 64
    per_step = ((0 if hoist else F) + U) * 4 * U * 4          # float32 bytes
    for B, limit, want in ((1, per_step, 2), (1, per_step + 1, 1), (3, per_step, 1)):
        monkeypatch.setattr(_recurrent, "MIN_STEP_WEIGHT_BYTES", limit)
        x = rng.standard_normal((B, 6, F)).astype(np.float32)
        w = make_weights("lstm", F, U, np.float32, rng, scale=0.4)
        r = rec.prepare("lstm", x, *w, go_backwards=False, return_sequences=True,
                        zero_output_for_mask=False, unroll=False, activation="tanh",
                        recurrent_activation="sigmoid", reset_after=True)
        mask = make_mask("holes", B, 6, rng)
        one = rec.run_prepared(r, "lstm", x, mask, None, 1)
        two = rec.run_prepared(r, "lstm", x, mask, None, 2)
        assert _recurrent.last_plan["n_threads"] == want, (B, limit, seed)
        assert _recurrent.last_plan["hoisted"] == int(hoist > 0 and B <= 2)
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b, err_msg=f"{B} {seed}")
        got = lstm(x, *w, mask, None, return_sequences=True, n_threads=2)
        assert _recurrent.last_plan["n_threads"] == want
        np.testing.assert_array_equal(got[0], one[0])
