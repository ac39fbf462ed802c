"""Batch and padding invariance of the masked recurrent kernels (user-needs A7, B10).

A sequence's result must not depend on what else is in the batch, on how much
padding surrounds it, on which side the padding is (or whether its masked
steps are holes), nor on the thread count: PyTorch/oneDNN and Keras's numpy
loop change outputs by ~1e-6 with the padding amount or the batch size.
fastmask computes each (row, unit) element by the same instruction sequence
whatever the register block, batch split or row order, so the results are
compared bit for bit here, under every instruction-set variant (FASTMASK_ISA).
"""
import numpy as np
import pytest

from fastmask.kernels import _recurrent
from fastmask.kernels import gru, lstm, simple_rnn
from isa_variants import isa_fixture

CELLS = [("lstm", True), ("gru", True), ("gru", False), ("simple_rnn", True)]
NG = {"lstm": 4, "gru": 3, "simple_rnn": 1}
FUNCS = {"lstm": lstm, "gru": gru, "simple_rnn": simple_rnn}
isa = isa_fixture(_recurrent, autouse=False)


@pytest.fixture
def split_small_steps(monkeypatch):
    """Let these small problems use several threads (both split strategies)."""
    monkeypatch.setattr(_recurrent, "MIN_STEP_FLOPS_PER_THREAD", 0.0)
    monkeypatch.setattr(_recurrent, "MIN_PART_FLOPS", 0.0)


def _weights(cell, reset_after, F, U, dtype, rng):
    ng = NG[cell]
    k = (rng.standard_normal((F, ng * U)) * 0.5).astype(dtype)
    r = (rng.standard_normal((U, ng * U)) * 0.5).astype(dtype)
    shape = (2, 3 * U) if (cell == "gru" and reset_after) else (ng * U,)
    return k, r, (rng.standard_normal(shape) * 0.5).astype(dtype)


def _run(cell, reset_after, x, w, mask, n_threads):
    kw = dict(return_sequences=True, n_threads=n_threads)
    if cell == "gru":
        kw["reset_after"] = reset_after
    out = FUNCS[cell](x, *w, mask=mask, **kw)
    return out[0], out[1:]          # sequence output, final states


def _layout(seqs, T, side, rng):
    """Batch (B, T, F) holding seqs[i] at the valid steps of row i, and the mask."""
    B, F = len(seqs), seqs[0].shape[1]
    x = rng.standard_normal((B, T, F)).astype(seqs[0].dtype) * 100   # garbage in the padding
    mask = np.zeros((B, T), bool)
    for i, s in enumerate(seqs):
        L = s.shape[0]
        if side == "post":
            steps = np.arange(L)
        elif side == "pre":
            steps = np.arange(T - L, T)
        else:   # holes: L sorted random steps
            steps = np.sort(rng.choice(T, L, replace=False))
        mask[i, steps] = True
        x[i, steps] = s
    return x, mask


@pytest.mark.parametrize("cell,reset_after", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_result_independent_of_batch_padding_and_threads(isa, cell, reset_after, dtype,
                                                              split_small_steps):
    rng = np.random.default_rng(17)
    F, U = 5, 37                       # a partial last unit group on every ISA
    lengths = [1, 9, 4, 13, 13, 2, 7, 11, 6, 10, 3, 12, 8, 5, 13, 1, 9, 6, 12, 4, 10]
    seqs = [rng.standard_normal((L, F)).astype(dtype) for L in lengths]
    w = _weights(cell, reset_after, F, U, dtype, rng)
    # Reference: each sequence alone (B=1, no padding, no mask), one thread.
    alone = [_run(cell, reset_after, s[None], w, None, 1) for s in seqs]
    variants = [(T, side, nt, order) for T, side in [(13, "post"), (20, "post"), (20, "pre"),
                                                     (24, "holes")]
                for nt in (1, 2) for order in ("given", "shuffled")]
    for T, side, nt, order in variants:
        perm = np.arange(len(seqs)) if order == "given" else rng.permutation(len(seqs))
        x, mask = _layout([seqs[i] for i in perm], T, side, rng)
        out, states = _run(cell, reset_after, x, w, mask, nt)
        for row, i in enumerate(perm):
            where = f"{side} T={T} threads={nt} {order}: sequence {i} in row {row}"
            out_alone, states_alone = alone[i]
            for s_batch, s_alone in zip(states, states_alone):
                assert np.array_equal(s_batch[row], s_alone[0]), where + " (final state)"
            valid = np.flatnonzero(mask[row])
            assert np.array_equal(out[row, valid], out_alone[0]), where + " (outputs)"


def test_invariance_holds_for_a_batch_large_enough_for_the_batch_split(split_small_steps):
    """B=64 at 2 threads takes the batch split (one part per thread), not the step split."""
    rng = np.random.default_rng(5)
    F, U, T = 16, 48, 30
    lengths = rng.integers(1, T + 1, 64)
    seqs = [rng.standard_normal((L, F)).astype(np.float32) for L in lengths]
    w = _weights("lstm", True, F, U, np.float32, rng)
    x, mask = _layout(seqs, T, "post", rng)
    out2, states2 = _run("lstm", True, x, w, mask, 2)
    assert _recurrent.last_plan["batch_split"]
    for i in (0, 17, 63):
        out1, states1 = _run("lstm", True, seqs[i][None], w, None, 1)
        assert np.array_equal(states2[0][i], states1[0][0])
        assert np.array_equal(out2[i, :lengths[i]], out1[0])
