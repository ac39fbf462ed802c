"""Family "masking": Masking and Embedding(mask_zero) kernels (fastmask.kernels.masking).

Inputs are float32 sequences padded after a random length (uniform in 1..T,
so about half of the steps are padding), the way Masking/Embedding see them in
a model. Two extra cases take away what helps fastmask on such data:
"all steps masked" (every row must be read to its end: the any() cannot stop
early) and "no padding" (every row is kept and written).

Peers: `x.max()` (one read pass over x, NumPy, 1 thread), the NumPy reference
expressions and the Keras 3 layers on the NumPy backend, built once outside the
timed call (`Masking()(x)` and `Embedding(mask_zero=True)(ids)` both return the
output with its mask attached, computed inside the call). "np.full(out)" is
not a competitor but the floor of any function returning a new output of that
size: allocate it and write it once (page faults included), NumPy, 1 thread.

"embedding mask_zero" target keras 4x (kept as set): Keras's call is np.take +
(ids != 0) behind Layer.__call__'s Python overhead; fastmask is one gather pass
writing the output and the mask. Reachable: the np.full(out) row bounds any
allocating implementation, and keras / np.full(out) is over 10x in the same run.
At the quick size fastmask still takes longer than the plain NumPy expression
(the "numpy" row, below 1x): its gather into a preallocated output took about
as long as np.take (one measurement on a busy machine), so the allocations and
the Python work around the kernel are what is left to cut there.
"""
import numpy as np
import pytest

from harness import Case, Target, peer_keras, pytest_params
from fastmask.kernels import embedding, masking, masking_mask

FAMILY = "masking"


def _padded(rng, batch, steps, features):
    """Random normal float32 (batch, steps, features), zeroed after a random length per row."""
    x = rng.standard_normal((batch, steps, features), dtype=np.float32)
    lengths = rng.integers(1, steps + 1, batch)
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    return x


def _numpy_masking(x):
    mask = np.any(x != 0.0, axis=-1)
    return np.where(mask[..., None], x, 0.0), mask


def cases(quick=False):
    rng = np.random.default_rng(0)
    b, t, f = (32, 128, 64) if quick else (256, 512, 128)
    shape = f"x ({b}, {t}, {f}) float32"
    x = _padded(rng, b, t, f)
    x_masked = np.zeros_like(x)
    x_masked[...] = 0.0                     # written: not lazily mapped zero pages
    x_kept = rng.standard_normal(x.shape, dtype=np.float32)
    keras = peer_keras()
    read_targets = [Target("x.max()", 1 / 1.3), Target("numpy", 2.0)]

    out = []
    for data, desc in ((x, "padded"), (x_masked, "all steps masked")):
        out.append(Case(
            FAMILY, "masking_mask", f"{shape}, {desc}",
            impls={"fastmask": lambda d=data: masking_mask(d),
                   "x.max()": data.max,
                   "numpy": lambda d=data: np.any(d != 0.0, axis=-1)},
            bound="memory-read" if desc == "all steps masked" else None,
            bytes=data.nbytes, targets=read_targets))

    layer = keras.layers.Masking() if keras is not None else None
    for data, desc in ((x, "padded"), (x_kept, "no padding")):
        impls = {"fastmask": lambda d=data: masking(d),
                 "numpy": lambda d=data: _numpy_masking(d),
                 "np.full(out)": lambda d=data: np.full(d.shape, 1.0, d.dtype)}
        if layer is not None:
            impls["keras"] = lambda d=data: layer(d)
        out.append(Case(
            FAMILY, "masking (out + mask)", f"{shape}, {desc}", impls=impls,
            bound="memory" if desc == "no padding" else None,
            bytes=2 * data.nbytes, targets=[Target("keras", 5.0)]))

    n_ids, dim, vocab = ((32, 128), 64, 1000) if quick else ((256, 512), 128, 10000)
    ids = rng.integers(1, vocab, n_ids)
    lengths = rng.integers(1, n_ids[1] + 1, n_ids[0])
    ids[np.arange(n_ids[1])[None, :] >= lengths[:, None]] = 0
    ids = ids.astype(np.int32)
    table = rng.uniform(-0.05, 0.05, (vocab, dim)).astype(np.float32)
    impls = {"fastmask": lambda: embedding(ids, table, mask_zero=True),
             "numpy": lambda: (np.take(table, ids, axis=0), ids != 0),
             "np.full(out)": lambda: np.full(ids.shape + (dim,), 1.0, np.float32)}
    if keras is not None:
        emb = keras.layers.Embedding(vocab, dim, mask_zero=True)
        emb.build()
        emb.set_weights([table])
        impls["keras"] = lambda: emb(ids)
    out.append(Case(
        FAMILY, "embedding mask_zero", f"ids {n_ids} int32, table ({vocab}, {dim}) float32",
        impls=impls, bound="memory", bytes=2 * ids.size * dim * 4,
        targets=[Target("keras", 4.0)]))
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
