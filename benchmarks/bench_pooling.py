"""Family "pooling": masked time reductions (fastmask.kernels.pooling).

x (256, 512, 128) float32 (64 MiB) with a padding mask whose lengths are
uniform in 256..512 (about 75% of the steps kept; masked steps are not read,
so the bytes behind "% bound" are the kept steps' and the mask's, not x's).
Peers: `x.sum()` (one read pass over the whole array, split over the same
number of Python threads), the NumPy expression of Keras's layer, and
keras.layers.GlobalAveragePooling1D (numpy backend) called with the mask.

Targets. "within 1.3x of x.sum()" (masked_mean and masked_max): one read pass
over x is what a masked reduction needs at most -- fastmask reads only the
kept steps (about 75%) and the mask, so at the memory bound it would take
0.75x of x.sum(); 1.3x leaves room for the float64 accumulation, the call's
fixed overhead (which counts at the quick size, 1 MiB, where x.sum() takes
~60 us) and a shared machine. It is honest about the bytes: "% bound" counts
only what fastmask reads. "keras 3x": Keras's layer computes where + sum +
divide over the whole array plus its call overhead.
"""

import numpy as np
import pytest

from harness import Case, Target, parallel_sum, peer_keras, pytest_params
from fastmask.kernels import masked_max, masked_mean

FAMILY = "pooling"


def numpy_masked_mean(x, mask):
    m = mask[:, :, None]
    return np.where(m, x, 0).sum(axis=1) / m.sum(axis=1, dtype=x.dtype)


def cases(quick=False):
    rng = np.random.default_rng(0)
    b, t, f = (32, 128, 64) if quick else (256, 512, 128)
    x = rng.standard_normal((b, t, f), dtype=np.float32)
    lengths = rng.integers(t // 2, t + 1, b)
    mask = np.arange(t)[None, :] < lengths[:, None]
    shape = f"x ({b}, {t}, {f}) float32, padding mask ({mask.mean():.0%} kept)"
    keras = peer_keras()
    read = int(mask.sum()) * f * x.itemsize + mask.nbytes    # what fastmask reads
    impls = {"fastmask": lambda: masked_mean(x, mask, empty_value=np.nan),
             "x.sum()": lambda: parallel_sum(x),
             "numpy": lambda: numpy_masked_mean(x, mask)}
    if keras is not None:
        gap = keras.layers.GlobalAveragePooling1D()
        impls["keras"] = lambda: gap(x, mask=mask)
    out = [Case(FAMILY, "masked_mean", shape, impls=impls, bound="memory-read",
                bytes=read, targets=[Target("x.sum()", 1 / 1.3), Target("keras", 3.0)])]
    out.append(Case(FAMILY, "masked_max", shape,
                    impls={"fastmask": lambda: masked_max(x, mask),
                           "x.sum()": lambda: parallel_sum(x),
                           "numpy": lambda: np.where(mask[:, :, None], x, -np.inf).max(axis=1)},
                    bound="memory-read", bytes=read, targets=[Target("x.sum()", 1 / 1.3)]))
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
