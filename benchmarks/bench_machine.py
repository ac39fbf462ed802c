"""Family "machine": the harness's bound measurements as cases (a sanity check).

Here the "fastmask" implementation is the harness's own measurement of each
bound (`harness.parallel_copyto` / `parallel_max`, or `np.matmul` under
the harness's BLAS limit), so its "% bound" should read close to 100% and its
"2t vs 1t" shows how much a second thread buys on this machine. The peers show
that the thread limits reach every library: NumPy's copy and reductions are
single-threaded, scipy's sgemm uses scipy's own OpenBLAS (a different library
from NumPy's), torch uses its own thread pool.
"""
import numpy as np
import pytest

from harness import Case, Target, parallel_copyto, parallel_max, pytest_params


def cases(quick=False):
    mib = 256   # above 128 MiB glibc's memcpy switches to non-temporal stores: keep the
    # machine bound's size (smaller copies run at about half the bandwidth here)
    src = np.ones(mib * 2 ** 18, np.float32)
    dst = np.zeros_like(src)
    desc = f"{mib} MiB float32"
    out = [
        Case("machine", "copy", desc,
             impls={"fastmask": lambda: parallel_copyto(dst, src),
                    "np.copyto": lambda: np.copyto(dst, src)},
             bound="memory", bytes=2 * src.nbytes,
             targets=[Target("np.copyto", 1 / 1.15)]),
        Case("machine", "read pass", desc,
             impls={"fastmask": lambda: parallel_max(src),
                    "x.max()": src.max, "x.sum()": src.sum},
             bound="memory-read", bytes=src.nbytes,
             targets=[Target("x.max()", 1 / 1.15)]),
    ]
    n = 1024 if quick else 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    af, bf = np.asfortranarray(a), np.asfortranarray(b)

    def scipy_sgemm():
        from scipy.linalg.blas import sgemm
        sgemm(1.0, af, bf)

    impls = {"fastmask": lambda: np.matmul(a, b, out=c), "scipy sgemm": scipy_sgemm}
    try:
        import torch
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        impls["torch"] = lambda: torch.matmul(ta, tb)
    except ImportError:
        pass
    out.append(Case("machine", "sgemm", f"{n}x{n} @ {n}x{n} float32", impls=impls,
                    bound="gemm", flops=2 * n ** 3, targets=[Target("scipy sgemm", 1 / 1.3)]))
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
