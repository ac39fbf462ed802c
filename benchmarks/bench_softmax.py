"""Family "softmax": masked_softmax (fastmask.kernels.softmax), Keras's formula.

Cases:
- attention-sized logits x (64, 8, 512, 512) float32 (512 MiB) with a key
  padding mask (64, 1, 1, 512) (lengths uniform in 1..512), broadcast over
  heads and query rows:
  * "out=": fastmask writes into a preallocated output, against `np.copyto`
    of the same array into a preallocated array (read + write bound; split
    over the same number of Python threads at 2 threads) and Keras's NumPy
    expression also writing into a preallocated output (like with like: no
    target against allocating peers here);
  * allocating: fastmask returns a new array, like its peers torch
    (`masked_fill(~mask, -1e9)` then `softmax`) and NumPy (Keras's numpy
    backend expression: where, exp(x - max) / sum, where). A fresh 512 MiB
    output costs the kernel's page faults (zeroing by the OS) in every call.
- x (256, 512) float32 with a (256, 512) mask: small rows, call overhead counts.

quick=True shrinks the big case to (8, 4, 128, 128).
"""
import numpy as np
import pytest

from harness import Case, Target, parallel_copyto, peer_torch, pytest_params
from fastmask.kernels import masked_softmax

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
    out_fm[...] = 0.0          # touched: no page faults inside the timed calls
    out_cp[...] = 0.0
    out_np[...] = 0.0
    shape = f"x ({b}, {h}, {t}, {t}) float32, key mask ({b}, 1, 1, {t})"

    peers = {"numpy": lambda: numpy_masked_softmax(x, km)}
    if torch is not None:
        xt, not_km = torch.from_numpy(x), torch.from_numpy(~km)
        peers["torch"] = lambda: torch.softmax(xt.masked_fill(not_km, -1e9), dim=-1)

    out = [
        Case(FAMILY, "masked_softmax (out=)", shape,
             impls={"fastmask": lambda: masked_softmax(x, km, out=out_fm),
                    "np.copyto": lambda: parallel_copyto(out_cp, x),
                    "numpy out=": lambda: numpy_masked_softmax_out(x, km, out_np)},
             bound="memory", bytes=2 * x.nbytes,
             targets=[Target("np.copyto", 1 / 2.0)]),
        Case(FAMILY, "masked_softmax", shape,
             impls={"fastmask": lambda: masked_softmax(x, km), **peers},
             bound="memory", bytes=2 * x.nbytes,
             targets=[Target("torch", 5.0), Target("numpy", 5.0)]),
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
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
