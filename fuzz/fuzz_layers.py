"""atheris fuzz target: the layer call path (layers and small models) on awkward inputs.

From the fuzzer's bytes: a layer or a small Sequential/Functional model (Masking,
Embedding, Dense, LSTM/GRU/SimpleRNN with random options, Bidirectional,
Softmax, pooling, TimeDistributed, LayerNormalization, merges, Attention,
MultiHeadAttention), an input with random shape (zero-size dimensions
included), dtype, values (NaN/inf, fully masked rows) and memory layout
(Fortran, strided, negative strides, unaligned, read-only, byte-swapped), and a
mask (bool/int/float, right shape or not) passed as `mask=` or attached to the
input. Properties:

  * no crash (libFuzzer catches signals and saves the input);
  * errors are TypeError/ValueError/IndexError only (anything else is a bug:
    AttributeError, KeyError, ZeroDivisionError, ...);
  * the result on the awkward layout equals the result on a C-contiguous copy,
    bit for bit (masks included), or both raise the same exception type;
  * the result does not depend on the thread count (1 vs 2 OpenMP threads).

CI runs it for a few seconds from the seed corpus (scripts/fuzz_smoke.sh); by hand,
e.g. for 10 minutes:

    python fuzz/fuzz_layers.py -max_total_time=600 -artifact_prefix=fuzz/ fuzz/corpus_layers
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
    import fastmask
    from fastmask import get_mask, layers as L

ALLOWED = (TypeError, ValueError, IndexError)
DTYPES = ["float32"] * 6 + ["float64", "float16", "int32", "int64", "bool", "uint8"]


def rnn(src, cls):
    kw = dict(return_sequences=src.bool(), go_backwards=src.bool(),
              unroll=src.int(0, 5) == 0,
              activation=src.pick(["tanh", "relu", "sigmoid", None]))
    if cls is not L.SimpleRNN:
        kw["recurrent_activation"] = src.pick(["sigmoid", "hard_sigmoid", "tanh"])
    if cls is L.GRU:
        kw["reset_after"] = src.bool()
    return cls(src.int(1, 5), **kw)


def make_layer(src):
    """(layer, input kind): 'seq' (B, T, F) float input, 'ids' (B, T) ids, 'pair' [q, v]."""
    k = src.int(0, 17)
    if k == 0:
        return L.Masking(mask_value=src.pick([0.0, 1.0, np.nan])), "seq"
    if k == 1:
        return L.Embedding(src.int(1, 8), src.int(1, 4),
                           mask_zero=src.bool()), "ids"
    if k == 2:
        return L.Dense(src.int(1, 4), activation=src.pick(
            [None, "relu", "softmax"])), "seq"
    if k in (3, 4, 5):
        return rnn(src, (L.LSTM, L.GRU, L.SimpleRNN)[k - 3]), "seq"
    if k == 6:
        return L.Bidirectional(rnn(src, L.LSTM), merge_mode=src.pick(
            ["concat", "sum", "ave", "mul"])), "seq"
    if k == 7:
        return L.Softmax(axis=src.pick([-1, 1, (1, 2)])), "seq"
    if k == 8:
        return L.GlobalAveragePooling1D(keepdims=src.bool()), "seq"
    if k == 9:
        return L.GlobalMaxPooling1D(masked=src.bool()), "seq"
    if k == 10:
        return L.TimeDistributed(L.Dense(2)), "seq"
    if k == 11:
        return L.LayerNormalization(), "seq"
    if k == 12:
        return L.Attention(use_scale=src.bool(), score_mode=src.pick(
            ["dot", "concat"])), "pair"
    if k == 13:
        return L.MultiHeadAttention(src.int(1, 3),
                                    src.int(1, 3)), "mha"
    if k == 14:
        return src.pick([L.Add, L.Multiply, L.Average, L.Maximum,
                                    L.Concatenate])(), "pair"
    if k == 15:
        return fastmask.Sequential([L.Masking(), rnn(src, L.GRU),
                                    L.Dense(2)]), "seq"
    if k == 16:
        inp = fastmask.Input((None,), dtype="int32")
        e = L.Embedding(6, 3, mask_zero=True)(inp)
        h = L.LSTM(3, return_sequences=True)(e)
        return fastmask.Model(inp, L.GlobalAveragePooling1D(empty_value=0.0)(h)), "ids"
    return L.Dropout(0.5), "seq"


def values(src, shape, dtype):
    n = int(np.prod(shape)) if shape else 1
    raw = np.array([src.int(-8, 8) for _ in range(n)], np.float64) / 4
    if n and src.int(0, 5) == 0:
        raw[src.int(0, n - 1)] = src.pick([np.nan, np.inf, -np.inf])
    with np.errstate(all="ignore"):
        return raw.reshape(shape).astype(dtype)


def mask_for(src, b, t):
    kind = src.int(0, 6)
    if kind <= 1:
        return None
    m = np.array([src.bool() for _ in range(b * t)], bool).reshape(b, t)
    if b and src.bool():
        m[src.int(0, b - 1)] = False        # a fully masked row
    if kind == 3:
        return m.astype(src.pick(["int8", "float32", "uint8"]))
    if kind == 4 and t:
        return m[:, :-1]                                  # wrong shape
    return m


def layout(src, a):
    """(awkward view of a, name)."""
    k = src.int(0, 6)
    if k == 0 or a.ndim == 0:
        return np.asfortranarray(a), "fortran"
    if k == 1:
        return np.ascontiguousarray(a[::-1])[::-1], "negstride"
    if k == 2:
        buf = np.zeros(a.nbytes + 1, np.uint8)
        u = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
        u[...] = a
        return u, "unaligned"
    if k == 3:
        r = a.copy()
        r.flags.writeable = False
        return r, "readonly"
    if k == 4 and a.dtype.itemsize > 1:
        return a.astype(a.dtype.newbyteorder()), "byteswapped"
    if k == 5 and a.shape and a.shape[-1]:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2], "strided"
    return a.copy(), "copy"


def call(layer, kind, arrays, mask, attach):
    if kind in ("pair", "mha"):
        q, v = arrays
        if kind == "mha":
            return layer(q, v, query_mask=mask[0], value_mask=mask[1])
        if attach:
            return layer([fastmask.with_mask(q, mask[0]) if mask[0] is not None else q,
                          fastmask.with_mask(v, mask[1]) if mask[1] is not None else v])
        return layer([q, v], mask=list(mask)) if mask[0] is not None else layer([q, v])
    x = arrays[0]
    if mask is None:
        return layer(x)
    if attach:
        return layer(fastmask.with_mask(x, mask))
    return layer(x, mask=mask)


def run(layer, kind, arrays, mask, attach, n_threads):
    """(result, exception) of one call."""
    try:
        with fastmask.num_threads(n_threads):
            return call(layer, kind, arrays, mask, attach), None
    except ALLOWED as e:
        return None, e


def same(a, b, where):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for x, y in zip(a, b):
            same(x, y, where)
        return
    x, y = np.asarray(a), np.asarray(b)
    # identity-like layers return a byte-swapped input as is: compare native values
    x = x.astype(x.dtype.newbyteorder("="), copy=False)
    y = y.astype(y.dtype.newbyteorder("="), copy=False)
    assert x.dtype == y.dtype and x.shape == y.shape, (where, x.dtype, y.dtype, x.shape, y.shape)
    assert x.tobytes() == y.tobytes(), (where, x, y)
    ma, mb = get_mask(a), get_mask(b)
    assert (ma is None) == (mb is None), where
    if ma is not None:
        assert np.array_equal(np.asarray(ma), np.asarray(mb)), (where, ma, mb)


def TestOneInput(data):
    src = Source(data)
    try:
        layer, kind = make_layer(src)
    except ALLOWED:
        return
    b, t, f = (src.int(0, 4), src.int(0, 5),
               src.int(0, 4))
    dtype = src.pick(DTYPES)
    if kind == "ids":
        arrays = [np.array([src.int(-1, 7) for _ in range(b * t)],
                           dtype=src.pick(["int32", "int64", "float32"])
                           ).reshape(b, t)]
        mask = None
    elif kind in ("pair", "mha"):
        t2 = src.int(0, 5)
        arrays = [values(src, (b, t, f), dtype), values(src, (b, t2, f), dtype)]
        mask = (mask_for(src, b, t), mask_for(src, b, t2))
    else:
        arrays = [values(src, (b, t, f), dtype)]
        mask = mask_for(src, b, t)
    attach = src.bool()
    which = src.int(0, len(arrays) - 1)
    view, how = layout(src, arrays[which])
    awkward = list(arrays)
    awkward[which] = view
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want, want_exc = run(layer, kind, arrays, mask, attach, 1)   # builds the layer
        got, exc = run(layer, kind, awkward, mask, attach, 1)
        got2, exc2 = run(layer, kind, arrays, mask, attach, 2)
    where = f"{type(layer).__name__} {kind} {how} dtype={dtype} shape={(b, t, f)}"
    assert type(exc) is type(want_exc), (where, exc, want_exc)
    assert type(exc2) is type(want_exc), (where, "threads", exc2, want_exc)
    if want_exc is None:
        same(got, want, where)
        same(got2, want, where + " 2 threads")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        if not arg.startswith("-") and not os.path.isfile(arg):
            os.makedirs(arg, exist_ok=True)   # the corpus directory (libFuzzer wants it)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
