"""Smoke workload for scripts/valgrind.sh: every kernel, its error paths and a few layers.

Small inputs, a few calls each, 1 and 2 OpenMP threads, so that memcheck (~50x
slower than native) gets through it in well under a minute. Every result is
written to /dev/null with os.pwrite (`use`): memcheck reports any uninitialised
byte in it, i.e. an output element a kernel never wrote. Prints "smoke: ok".

The fastmask imported is whatever `import fastmask` finds: valgrind.sh puts the
source tree on PYTHONPATH for the in-place build, or nothing for an installed one.
"""
import functools
import gc
import os

import numpy as np

import fastmask
from fastmask import kernels, layers as L, utils

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 5, 4)).astype(np.float32)
M = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)


_SINK = os.open(os.devnull, os.O_WRONLY)


def use(result):
    """Write every array (and mask) in `result` to /dev/null with pwrite64: memcheck
    checks the bytes a system call reads, and valgrind.sh keeps every such report."""
    if isinstance(result, (tuple, list)):
        for r in result:
            use(r)
    elif isinstance(result, np.ndarray):
        if result.dtype != object:
            os.pwrite(_SINK, np.ascontiguousarray(result).tobytes(), 0)
        mask = fastmask.get_mask(result)
        if mask is not None:
            use(mask)
    return result


class Using:
    """`module` whose functions pass their results through `use`."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        fn = getattr(self._module, name)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return use(fn(*args, **kwargs))
        return call


K, U = Using(kernels), Using(utils)


def w(*shape):
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


def expect(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


def kernel_calls(n):
    x64 = X.astype(np.float64)
    K.masking(X, n_threads=n)
    K.masking(x64[:, ::-1], mask_value=np.float32(0.5), n_threads=n)
    K.masking_mask(X.astype(np.int64), n_threads=n)
    K.embedding(np.array([[1, 0, -1]]), X[0], mask_zero=True, n_threads=n)
    K.embedding(np.array([0.7, 2.2]), x64[0], n_threads=n)
    for dt in (np.float32, np.float64):
        xd = X.astype(dt)
        K.lstm(xd, w(4, 12), w(3, 12), w(12), M, return_sequences=True, n_threads=n)
        K.lstm(xd, w(4, 12), w(3, 12), None, M, go_backwards=True, unroll=True, n_threads=n)
        K.gru(xd, w(4, 9), w(3, 9), w(2, 9), M, zero_output_for_mask=True, n_threads=n)
        K.gru(xd, w(4, 9), w(3, 9), w(9), M, reset_after=False, n_threads=n)
        K.simple_rnn(xd, w(4, 3), w(3, 3), w(3), M, activation="relu", n_threads=n)
        K.lstm(xd, w(4, 12), w(3, 12), w(12), M, activation=np.tanh, n_threads=n)  # reference
        K.masked_softmax(xd, M[..., None], axis=1, n_threads=n)
        K.masked_softmax(xd.transpose(0, 2, 1), M[:, None, :], n_threads=n)
        K.masked_softmax(xd, M[..., None], axis=(1, 2), n_threads=n)
        for f in (K.masked_mean, K.masked_sum, K.masked_max, K.masked_min):
            f(xd, M, n_threads=n)
            f(xd.transpose(0, 2, 1), M, axis=2, empty_value=np.nan, n_threads=n)
        q = xd.reshape(3, 5, 2, 2)
        K.masked_attention(q, q, q, key_mask=M, query_mask=M, n_threads=n)
        K.masked_attention(q, q, q, key_mask=M, causal=True, fully_masked="uniform",
                           return_weights=True, n_threads=n)
        K.masked_attention(xd, xd, xd, attention_mask=np.tril(np.ones((5, 5), bool)),
                           layout="BTHD", n_threads=n)
        K.multi_head_attention(xd, xd, query_mask=M, value_mask=M, n_threads=n,
                               query_kernel=w(4, 2, 3), key_kernel=w(4, 2, 3),
                               value_kernel=w(4, 2, 3), output_kernel=w(2, 3, 4),
                               query_bias=w(2, 3), key_bias=w(2, 3), value_bias=w(2, 3),
                               output_bias=w(4))
    rows = [[1, 2, 3], [4], [], [5.5, 6, 7, 8, 9, 10]]
    U.pad_sequences(rows, maxlen=4, return_mask=True, n_threads=n)
    U.pad_sequences([np.arange(3), np.arange(7, dtype=np.int8)[::-2], np.zeros(0)],
                    padding="post", dtype="float32", n_threads=n)
    U.pad_sequences([np.array([1.0, np.nan])], dtype="float32", n_threads=n)
    U.pad_sequences([["a", "b"], ["c"]], dtype=object, value="", n_threads=n)
    U.pad_ragged(X.reshape(15, 4), lengths=[5, 0, 10], maxlen=6, return_mask=True,
                 n_threads=n)
    U.pad_ragged(X.reshape(15, 4)[::-1], offsets=[0, 7, 15], dtype="int16", n_threads=n)
    U.mask_from_lengths([3, 0, 7], maxlen=5, padding="pre", n_threads=n)
    U.lengths_from_mask(M, n_threads=n)


def errors():
    expect(IndexError, K.embedding, np.array([7]), X[0])
    expect(ValueError, K.masked_softmax, X, M)
    expect(ValueError, K.lstm, X, w(4, 3), w(3, 3))
    expect(ValueError, U.pad_ragged, X, lengths=[1])
    expect(ValueError, U.pad_sequences, [[1.0, np.nan]])
    expect(TypeError, K.masking, X.astype(complex))
    expect(ValueError, K.masked_attention, X, X[:, :3], X)


def layer_calls():
    model = fastmask.Sequential([L.Masking(), L.LSTM(3, return_sequences=True),
                                 L.Bidirectional(L.GRU(2, return_sequences=True)),
                                 L.GlobalAveragePooling1D(empty_value=0.0)])
    use(model(X))
    inp = fastmask.Input((None,), dtype="int32")
    e = L.Embedding(7, 4, mask_zero=True)(inp)
    h = L.SimpleRNN(4, return_sequences=True)(e)
    a = L.MultiHeadAttention(2, 2)(h, h)
    out = L.GlobalMaxPooling1D(masked=True)(L.Dense(3)(L.Add()([h, a])))
    use(fastmask.Model(inp, out)(np.array([[1, 2, 0, 0], [3, 0, 0, 0]])))
    use(L.Attention()([X, X], mask=[M, M]))
    use(L.TimeDistributed(L.Dense(2))(X, mask=M))


for n_threads in (1, 2):
    for _ in range(2):
        kernel_calls(n_threads)
errors()
layer_calls()
gc.collect()
print("smoke: ok")
