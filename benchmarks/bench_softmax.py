"""Family "softmax": masked_softmax (fastmask.kernels.softmax), Keras's formula.

Cases:
- attention-sized logits x (64, 8, 512, 512) float32 (512 MiB) with a key
  padding mask (64, 1, 1, 512) (lengths uniform in 1..512), broadcast over
  heads and query rows:
  * "out=": fastmask writes into a preallocated output. Peer (like with like):
    Keras's NumPy expression also writing into a preallocated output ("numpy
    out=": six passes, one of them NumPy's exp). Target: 2x faster -- the
    fused kernel does in one pass what NumPy does in six, but NumPy's exp
    alone costs about as much as the whole kernel here, so the win is 2-3x,
    not the 6x the pass count suggests; 2x leaves margin for a shared machine.
    Two references, not peers, timed on the same arrays in the same run:
    `np.copyto` of x into a preallocated array (the memory bound: read + write
    once, "% bound") and `np.exp(x, out=)` (the exponentials alone, NumPy;
    both split over the same number of Python threads at 2 threads). The
    earlier target "within 2x of np.copyto" is out of reach and no longer
    gated: every element needs an exp (a ~20-instruction polynomial), which
    costs several copies per element on AVX2 (about 1 ns per element and
    thread where a copy takes 0.1-0.2 ns, and far more when the array sits in
    cache as at the quick size); the report shows both references, so the
    distance to each bound is measured in the same run.
  * allocating: fastmask returns a new array, like its peers torch
    (`masked_fill(~mask, -1e9)` then `softmax`: two passes, two new arrays)
    and NumPy (Keras's numpy backend expression: where, exp(x - max) / sum,
    where: five passes, five temporaries). A fresh output costs the kernel's
    page faults (zeroing by the OS) in every call. Targets: NumPy 2x (as
    "out=" above); torch 1.2x -- torch's softmax has a vectorised exp as fast
    as fastmask's, so fastmask's whole advantage is the masked_fill pass and
    its array (1.3-1.6x measured on a 2-core AVX2 machine, 1.2x gated).
- x (256, 512) float32 with a (256, 512) mask: small rows, call overhead
  counts. Target: torch 1.5x (unchanged; torch's per-call overhead counts
  more on this 0.5 MiB input).

quick=True shrinks the big case to (8, 4, 128, 128) (2 MiB: in cache, so the
exp, not memory, dominates every implementation).
"""
import numpy as np
import pytest

from harness import Case, Target, parallel_copyto, parallel_exp, peer_torch, pytest_params
from fastmask.kernels import _softmax, masked_softmax

FAMILY = "softmax"


def numpy_masked_softmax(x, mask, axis=-1):
    """Keras's Softmax layer on the numpy backend, written out."""
    y = np.where(mask, x, np.float32(-1e9))
    e = np.exp(y - np.max(y, axis=axis, keepdims=True))
    return np.where(mask, e / np.sum(e, axis=axis, keepdims=True), np.float32(0))


def numpy_masked_softmax_out(x, mask, out, axis=-1):
    """numpy_masked_softmax written into `out` (no full-size temporary allocated)."""
    np.copyto(out, np.float32(-1e9))
    np.copyto(out, x, where=mask)
    out -= np.max(out, axis=axis, keepdims=True)
    np.exp(out, out=out)
    out /= np.sum(out, axis=axis, keepdims=True)
    np.copyto(out, np.float32(0), where=~mask)
    return out


def _key_mask(rng, batch, steps):
    lengths = rng.integers(1, steps + 1, batch)
    return np.arange(steps)[None, :] < lengths[:, None]


def cases(quick=False):
    rng = np.random.default_rng(0)
    torch = peer_torch()
    b, h, t = (8, 4, 128) if quick else (64, 8, 512)
    x = rng.standard_normal((b, h, t, t), dtype=np.float32)
    km = _key_mask(rng, b, t)[:, None, None, :]
    out_fm = np.empty_like(x)
    out_cp = np.empty_like(x)
    out_np = np.empty_like(x)
    out_ex = np.empty_like(x)
    for o in (out_fm, out_cp, out_np, out_ex):
        o[...] = 0.0           # touched: no page faults inside the timed calls
    shape = f"x ({b}, {h}, {t}, {t}) float32, key mask ({b}, 1, 1, {t})"

    peers = {"numpy": lambda: numpy_masked_softmax(x, km)}
    if torch is not None:
        xt, not_km = torch.from_numpy(x), torch.from_numpy(~km)
        peers["torch"] = lambda: torch.softmax(xt.masked_fill(not_km, -1e9), dim=-1)

    out = [
        Case(FAMILY, "masked_softmax (out=)", shape,
             impls={"fastmask": lambda: masked_softmax(x, km, out=out_fm),
                    "numpy out=": lambda: numpy_masked_softmax_out(x, km, out_np),
                    "np.copyto": lambda: parallel_copyto(out_cp, x),
                    "np.exp(out=)": lambda: parallel_exp(out_ex, x)},
             bound="memory", bytes=2 * x.nbytes,
             targets=[Target("numpy out=", 2.0)]),
        Case(FAMILY, "masked_softmax", shape,
             impls={"fastmask": lambda: masked_softmax(x, km), **peers},
             bound="memory", bytes=2 * x.nbytes,
             targets=[Target("torch", 1.2), Target("numpy", 2.0)]),
    ]

    xs = rng.standard_normal((256, 512), dtype=np.float32)
    ms = rng.random((256, 512)) < 0.8
    impls = {"fastmask": lambda: masked_softmax(xs, ms),
             "numpy": lambda: numpy_masked_softmax(xs, ms)}
    if torch is not None:
        xst, not_ms = torch.from_numpy(xs), torch.from_numpy(~ms)
        impls["torch"] = lambda: torch.softmax(xst.masked_fill(not_ms, -1e9), dim=-1)
    out.append(Case(FAMILY, "masked_softmax", "x (256, 512) float32, mask (256, 512)",
                    impls=impls, bound="memory", bytes=2 * xs.nbytes,
                    targets=[Target("torch", 1.5)]))

    # Short rows (attention scores of short sequences, a small vocabulary), no mask: the
    # kernel alone on one thread (the test hook), its rows in groups whose passes
    # overlap (fm_softmax_rows, what the Softmax layer, attention and Dense's fused
    # softmax run) against the same kernel one row at a time (the same bits).
    xr = rng.standard_normal((1024, 64) if quick else (16384, 64), dtype=np.float32)
    out_rows, out_one = np.empty_like(xr), np.empty_like(xr)
    no_mask = np.zeros(1, np.uint8)
    out.append(Case(
        FAMILY, "softmax rows kernel (1 thread)", f"x {xr.shape} float32, rows of 64, no mask",
        impls={"fastmask": lambda: _softmax.softmax_rows_flat(
                   xr, out_rows, no_mask, False, 0, 1, 0, 0.0, False, True),
               "fastmask 1 row at a time": lambda: _softmax.softmax_rows_flat(
                   xr, out_one, no_mask, False, 0, 1, 0, 0.0, False, False)},
        bound="memory", bytes=2 * xr.nbytes,
        targets=[Target("fastmask 1 row at a time", 1.05)]))
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
