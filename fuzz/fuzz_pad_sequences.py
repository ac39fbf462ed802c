"""atheris fuzz target: fastmask.utils.pad_sequences against Keras's algorithm.

Builds a random `sequences` argument from the fuzzer's bytes (lists/tuples of
Python ints, floats, bools, huge ints, NaN/inf, strings; NumPy rows of every
numeric dtype, byte-swapped, strided, negative-stride, unaligned, read-only,
2-D samples) and random arguments (maxlen, dtype, padding, truncating, value,
n_threads). Property: pad_sequences gives exactly what Keras 3.15.1's
algorithm gives (utils._pad_sequences_reference, a copy of
keras/src/utils/sequence_utils.py, plus the mask): same dtype, shape, values
(NaN-aware) and mask, or both raise the same exception type. A crash (signal)
is caught by libFuzzer, which saves the input.

CI runs it for a few seconds from the seed corpus (scripts/fuzz_smoke.sh); by hand,
e.g. for 10 minutes:

    python fuzz/fuzz_pad_sequences.py -max_total_time=600 -artifact_prefix=fuzz/ fuzz/corpus_pad_sequences

Replay
a saved crash: python fuzz/fuzz_pad_sequences.py crash-<sha1>.
"""
import os
import sys
import warnings

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _source import Source, use_source_tree_if_built  # noqa: E402

use_source_tree_if_built()


with atheris.instrument_imports(include=["fastmask"]):
    import numpy as np
    from fastmask import utils as U

DTYPES = ["int32"] * 4 + ["float32"] * 3 + [
    "int8", "uint8", "int16", "uint16", "uint32", "int64", "uint64", "float16", "float64",
    "bool", object, "U4", "S3", None, "complex64", "i8"]
ROW_DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float16", "float32", "float64", ">i4", ">f8", "<f4"]
SIDES = ["pre", "post", "middle", None]
SPECIAL_FLOATS = [float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 3.4e38, 1e-320,
                  -0.0, 0.5, -0.5, 255.5, 2.0 ** 31, -(2.0 ** 63), 2.0 ** 64]
SPECIAL_INTS = [0, 1, -1, 127, 128, -129, 255, 256, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1,
                2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64, -(2 ** 63) - 1, 10 ** 30]


def scalar(src):
    kind = src.int(0, 63)
    if kind <= 7:
        return src.int(-300, 300)
    if kind <= 9:
        return src.int(-300, 300) / 4.0
    if kind == 10:
        return src.pick(SPECIAL_INTS)
    if kind == 11:
        return src.pick(SPECIAL_FLOATS)
    if kind == 12:
        return src.float()
    if kind == 13:
        return src.bool()
    if kind == 14:
        return np.float32(src.int(-5, 5))   # NumPy scalars in lists
    if kind == 15:
        return src.text(2)
    return src.int(-100, 100)


def array_row(src, n, sample):
    dt = np.dtype(src.pick(ROW_DTYPES))
    vals = [src.int(-200, 200) for _ in range(n * max(sample, 1))]
    with np.errstate(all="ignore"):
        a = np.array(vals, dtype=np.float64)
        if a.size and src.int(0, 3) == 0:
            a[src.int(0, a.size - 1)] = src.pick(SPECIAL_FLOATS)
        a = a.astype(dt)
    shape = (n, sample) if sample else (n,)
    a = a.reshape(shape)
    layout = src.int(0, 5)
    if layout == 1 and n:
        big = np.zeros((2 * n,) + shape[1:], dt)
        big[::2] = a
        a = big[::2]
    elif layout == 2:
        a = np.ascontiguousarray(a[::-1])[::-1]
    elif layout == 3:
        buf = np.zeros(a.nbytes + 1, np.uint8)
        u = np.ndarray(a.shape, dt, buffer=buf, offset=1)
        u[...] = a
        a = u
    elif layout == 4:
        a = a.copy()
        a.flags.writeable = False
    return a


def row(src, sample):
    n = src.int(0, 12)
    kind = src.int(0, 4)
    if kind <= 1:
        if sample:
            items = [[scalar(src) for _ in range(sample)] for _ in range(n)]
        else:
            items = [scalar(src) for _ in range(n)]
        return items if kind == 0 else tuple(items)
    if kind == 2:   # homogeneous Python ints or floats (the compiled list path)
        ints = src.bool()
        items = [src.int(-1000, 1000) if ints else src.float()
                 for _ in range(n)]
        return [[v] * sample for v in items] if sample else items
    if kind == 3:
        return array_row(src, n, sample)
    return np.array([]) if src.bool() else range(n)


def arguments(src):
    sample = src.int(0, 2) if src.int(0, 4) == 0 else 0
    sequences = [row(src, sample) for _ in range(src.int(0, 8))]
    if src.int(0, 9) == 0:
        sequences = tuple(sequences)
    mchoice = src.int(0, 19)
    maxlen = (None if mchoice <= 9 else src.int(0, 20) if mchoice <= 17
              else src.int(-2, -1) if mchoice == 18
              else src.pick([np.int64(3), 2.0, True, "3"]))
    value_kind = src.int(0, 9)
    value = (0.0 if value_kind <= 4 else scalar(src) if value_kind <= 8
             else src.pick(["", "x", None, np.nan]))
    sides = SIDES[:2] * 20 + SIDES[2:]
    return sequences, dict(
        maxlen=maxlen, dtype=src.pick(DTYPES), padding=src.pick(sides),
        truncating=src.pick(sides), value=value,
        return_mask=True, n_threads=src.int(1, 3))


def same(got, want):
    g, w = got[0], want[0]
    assert type(g) is np.ndarray and g.dtype == w.dtype and g.shape == w.shape, (g, w)
    if g.dtype.kind in "fc":
        assert np.array_equal(g, w, equal_nan=True), (g, w)
    elif g.dtype.kind == "O":
        assert g.tolist() == w.tolist() or all(
            a == b or (a != a and b != b) for a, b in zip(g.ravel(), w.ravel())), (g, w)
    else:
        assert np.array_equal(g, w), (g, w)
    assert np.array_equal(got[1], want[1]), (got[1], want[1])


def TestOneInput(data):
    src = Source(data)
    sequences, kw = arguments(src)
    n_threads = kw.pop("n_threads")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = U._pad_sequences_reference(sequences, kw["maxlen"], kw["dtype"],
                                              kw["padding"], kw["truncating"], kw["value"],
                                              True)
            want_exc = None
        except Exception as e:  # noqa: BLE001
            want, want_exc = None, e
        try:
            got = U.pad_sequences(sequences, n_threads=n_threads, **kw)
        except Exception as e:  # noqa: BLE001
            if want_exc is None or type(e) is not type(want_exc):
                raise AssertionError(f"pad_sequences raised {type(e).__name__}: {e}; "
                                     f"Keras's algorithm: {want_exc!r}") from e
            return
    if want_exc is not None:
        raise AssertionError(f"pad_sequences returned, Keras's algorithm raised {want_exc!r}")
    same(got, want)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        if not arg.startswith("-") and not os.path.isfile(arg):
            os.makedirs(arg, exist_ok=True)   # the corpus directory (libFuzzer wants it)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
