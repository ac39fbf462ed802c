"""Family "padding": pad_sequences, pad_ragged, mask_from_lengths, lengths_from_mask.

Inputs (seeded): n sequences with lengths uniform in 1..200, token ids in
1..19999, maxlen 200, int32 output (n = 100,000; 5,000 with quick=True).

- pad_sequences on Python lists of ints vs `keras.utils.pad_sequences` and vs
  `np.array(flat_list_of_all_tokens)`, the cost of unboxing the Python ints at
  all. The list path unboxes Python objects, so it holds the GIL and runs on
  one thread (threaded=False).
- pad_sequences on a list of 1-D int32 arrays vs Keras (rows copied in parallel).
- pad_ragged from flat (values, lengths) vs `np.copyto` of an output-sized
  array and vs a vectorised NumPy scatter.
- mask_from_lengths vs `np.arange(T) < lengths[:, None]`; lengths_from_mask vs
  `mask.sum(axis=1)`.

Every fastmask call returns a fresh output, as Keras does: about 9 ms of a
100k x 200 int32 result (80 MB) is the kernel zeroing the new pages, which
`np.copyto` into an existing array does not pay.
"""
import numpy as np
import pytest

from harness import Case, Target, pytest_params
from fastmask.utils import lengths_from_mask, mask_from_lengths, pad_ragged, pad_sequences

MAXLEN = 200


def _keras_pad():
    try:
        import keras
    except Exception:  # noqa: BLE001  (keras missing or its backend broken: no peer)
        return None
    return keras.utils.pad_sequences


class _Data:
    """Inputs built once, on first use (collection stays cheap)."""

    def __init__(self, n):
        self.n = n
        self.ready = False

    def build(self):
        if self.ready:
            return
        rng = np.random.default_rng(0)
        self.lengths = rng.integers(1, MAXLEN + 1, size=self.n)
        self.values = rng.integers(1, 20000, size=int(self.lengths.sum())).astype(np.int32)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.arrays = np.split(self.values, np.cumsum(self.lengths)[:-1])
        self.lists = [a.tolist() for a in self.arrays]
        self.flat = self.values.tolist()
        self.src = np.ones((self.n, MAXLEN), np.int32)      # np.copyto peer
        self.dst = np.zeros_like(self.src)
        self.mask = np.arange(MAXLEN) < self.lengths[:, None]
        self.ready = True


def numpy_pad_ragged(values, starts, lengths, maxlen, pre):
    """Vectorised NumPy reference: scatter the kept steps into a zero array."""
    keep = np.minimum(lengths, maxlen)
    first = starts + (lengths - keep if pre else 0)
    out = np.zeros((lengths.size, maxlen), values.dtype)
    steps = np.arange(maxlen)
    where = steps >= (maxlen - keep)[:, None] if pre else steps < keep[:, None]
    ends = np.cumsum(keep)
    idx = np.arange(ends[-1]) - np.repeat(ends - keep - first, keep)
    out[where] = values[idx]
    return out


def cases(quick=False):
    n = 5_000 if quick else 100_000
    d = _Data(n)
    keras_pad = _keras_pad()
    shape = f"{n // 1000}k seqs, len 1..{MAXLEN}, maxlen {MAXLEN}, int32"
    out_bytes = n * MAXLEN * 4
    out = []
    for side in ("pre", "post"):
        impls = {"fastmask": lambda s=side: pad_sequences(d.lists, maxlen=MAXLEN, padding=s,
                                                          truncating=s),
                 "np.array(flat)": lambda: np.array(d.flat)}
        if keras_pad is not None:
            impls["keras"] = lambda s=side: keras_pad(d.lists, maxlen=MAXLEN, padding=s,
                                                      truncating=s)
        out.append(Case("padding", f"pad_sequences lists {side}", shape, impls=impls,
                        setup=d.build, bound="memory", bytes=out_bytes,
                        targets=[Target("keras", 5.0), Target("np.array(flat)", 1 / 1.5)],
                        threaded=False))
    impls = {"fastmask": lambda: pad_sequences(d.arrays, maxlen=MAXLEN)}
    if keras_pad is not None:
        impls["keras"] = lambda: keras_pad(d.arrays, maxlen=MAXLEN)
    # our own bar (the issue sets none here): Keras is cheap on arrays (no unboxing)
    out.append(Case("padding", "pad_sequences arrays pre", shape, impls=impls, setup=d.build,
                    bound="memory", bytes=out_bytes + 4 * n * (MAXLEN + 1) // 2,
                    targets=[Target("keras", 3.0)]))
    for side in ("pre", "post"):
        pre = side == "pre"
        out.append(Case(
            "padding", f"pad_ragged {side}", shape + ", flat (values, lengths)",
            impls={"fastmask": lambda s=side: pad_ragged(d.values, lengths=d.lengths,
                                                         maxlen=MAXLEN, padding=s, truncating=s),
                   "np.copyto": lambda: np.copyto(d.dst, d.src),
                   "numpy": lambda p=pre: numpy_pad_ragged(d.values, d.starts, d.lengths,
                                                           MAXLEN, p)},
            setup=d.build, bound="memory", bytes=out_bytes + 4 * n * (MAXLEN + 1) // 2,
            targets=[Target("np.copyto", 1 / 2.0)]))
    mshape = f"{n // 1000}k x {MAXLEN} bool"
    out.append(Case(
        "padding", "mask_from_lengths post", mshape,
        impls={"fastmask": lambda: mask_from_lengths(d.lengths, MAXLEN),
               "numpy": lambda: np.arange(MAXLEN) < d.lengths[:, None]},
        setup=d.build, bound="memory", bytes=n * MAXLEN, targets=[Target("numpy", 2.0)]))
    out.append(Case(
        "padding", "lengths_from_mask", mshape,
        impls={"fastmask": lambda: lengths_from_mask(d.mask),
               "numpy": lambda: d.mask.sum(axis=1)},
        setup=d.build, bound="memory-read", bytes=n * MAXLEN, targets=[Target("numpy", 1.5)]))
    return out


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    case.bench(benchmark, impl, threads)
