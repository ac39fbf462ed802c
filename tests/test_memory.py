"""Memory: every kernel run 10,000 times on small inputs keeps RSS and tracemalloc flat.

After a warm-up (first-touch allocations, caches, lazy imports), each kernel runs
10,000 times while the process RSS is watched (/proc/self/statm: it also sees
C-level malloc leaks), then 2,000 more times under tracemalloc (Python and NumPy
allocations; it slows NumPy-heavy calls ~20x, hence the smaller window). A leak
of 64 bytes per call (any leaked array) exceeds the tracemalloc bound, 400 bytes
per call the RSS bound. Error paths (bad ids, shapes, the pad_sequences
fallback) are included: a reference leaked when a kernel raises is a classic
extension bug. Kernels run on one OpenMP thread here (on a busy machine every
parallel region can cost a scheduler time slice); the threaded paths are covered
by tests/test_threads.py.
The C-level check is complemented by scripts/valgrind.sh (definite leaks).
"""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import fastmask
from fastmask import kernels as K, layers as L, utils as U

CALLS = 10_000               # RSS window
TRACED_CALLS = 2_000         # tracemalloc window
WARMUP = 500
RSS_BOUND = 4 << 20          # bytes over CALLS: 400 bytes per call
TRACED_BOUND = 128 << 10     # bytes over TRACED_CALLS: 64 bytes per call

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def rng(seed=0):
    return np.random.default_rng(seed)


X = rng(0).standard_normal((3, 5, 4)).astype(np.float32)
M = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
W = lambda *s: (rng(len(s)).standard_normal(s) * 0.3).astype(np.float32)  # noqa: E731
LSTM_W = (W(4, 12), W(3, 12), W(12))
GRU_W = (W(4, 9), W(3, 9), W(2, 9))
RNN_W = (W(4, 3), W(3, 3), W(3))
MHA_W = dict(query_kernel=W(4, 2, 3), key_kernel=W(4, 2, 3), value_kernel=W(4, 2, 3),
             output_kernel=W(2, 3, 4), query_bias=W(2, 3), key_bias=W(2, 3),
             value_bias=W(2, 3), output_bias=W(4))
Q4 = X.reshape(3, 5, 2, 2)
MHA_OUT = np.empty((3, 5, 4), np.float32)
DENSE_OUT = np.empty((3, 5, 4), np.float32)
LN_BUF = X.copy()
ROWS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9, 10]]
ARR_ROWS = [np.arange(3), np.arange(7, dtype=np.int8), np.zeros(0)]


def _expect(exc, fn):
    def call():
        try:
            fn()
        except exc:
            return
        raise AssertionError("expected an exception")
    return call


KERNELS = {
    "masking": lambda: K.masking(X),
    "masking_mask": lambda: K.masking_mask(X, mask_value=np.float64(0.5)),
    "masking_numpy_path": lambda: K.masking(X.astype(np.int64)),
    "embedding": lambda: K.embedding(np.array([[1, 0, 2]]), X[0], mask_zero=True),
    "lstm": lambda: K.lstm(X, *LSTM_W, mask=M, return_sequences=True),
    "gru": lambda: K.gru(X, *GRU_W, mask=M, go_backwards=True),
    "simple_rnn": lambda: K.simple_rnn(X, *RNN_W, mask=M, initial_state=W(3, 3)),
    "masked_softmax": lambda: K.masked_softmax(X, M[..., None], axis=1),
    "masked_softmax_tuple_axes": lambda: K.masked_softmax(X, M[..., None], axis=(1, 2)),
    "masked_mean": lambda: K.masked_mean(X, M),
    "masked_sum": lambda: K.masked_sum(X, M),
    "masked_max": lambda: K.masked_max(X, M, keepdims=True),
    "masked_min": lambda: K.masked_min(X, M),
    "masked_attention": lambda: K.masked_attention(Q4, Q4, Q4, key_mask=M, query_mask=M),
    "masked_attention_weights": lambda: K.masked_attention(Q4, Q4, Q4, key_mask=M, causal=True,
                                                           return_weights=True),
    "multi_head_attention": lambda: K.multi_head_attention(X, X, query_mask=M, value_mask=M,
                                                           **MHA_W),
    "multi_head_attention_self_out": lambda: K.multi_head_attention(X, X, causal=True,
                                                                    out=MHA_OUT, **MHA_W),
    "dense": lambda: K.dense(X, X[0, :4], X[0, 0], "softmax"),
    "dense_out": lambda: K.dense(X, X[0, :4], X[0, 0], "relu", out=DENSE_OUT),
    "layer_norm": lambda: K.layer_norm(X, X[0, 0], X[0, 1]),
    "layer_norm_in_place": lambda: K.layer_norm(LN_BUF, out=LN_BUF),
    "pad_sequences_lists": lambda: U.pad_sequences(ROWS, maxlen=4, return_mask=True),
    "pad_sequences_arrays": lambda: U.pad_sequences(ARR_ROWS, padding="post", dtype="float32"),
    "pad_sequences_fallback": lambda: U.pad_sequences([["a", "b"], ["c"]], dtype=object,
                                                      value=""),
    "pad_ragged": lambda: U.pad_ragged(X.reshape(15, 4), lengths=[5, 0, 10], maxlen=6,
                                       return_mask=True),
    "mask_from_lengths": lambda: U.mask_from_lengths([3, 0, 7], maxlen=5, padding="pre"),
    "lengths_from_mask": lambda: U.lengths_from_mask(M),
    # error paths
    "error_embedding_bad_id": _expect(IndexError, lambda: K.embedding(np.array([7]), X[0])),
    "error_softmax_bad_mask": _expect(ValueError, lambda: K.masked_softmax(X, M)),
    "error_lstm_bad_kernel": _expect(ValueError, lambda: K.lstm(X, *RNN_W)),
    "error_pad_ragged_lengths": _expect(ValueError, lambda: U.pad_ragged(X, lengths=[1])),
    "error_pad_sequences_nan": _expect(ValueError, lambda: U.pad_sequences([[1.0, np.nan]])),
    "error_dense_bad_out": _expect(ValueError, lambda: K.dense(X, X[0, :4], out=X)),
}


def _model():
    model = fastmask.Sequential([L.Masking(), L.LSTM(3, return_sequences=True),
                                 L.GlobalAveragePooling1D(empty_value=0.0)])
    model(X)
    return lambda: model(X)


def _flat(fn, calls=CALLS, traced_calls=TRACED_CALLS):
    """(RSS growth over `calls` calls, tracemalloc growth over `traced_calls` more calls),
    after a warm-up. (tracemalloc slows NumPy-heavy calls ~20x, hence fewer traced calls.)"""
    for _ in range(WARMUP):
        fn()
    gc.collect()
    r0 = rss()
    for _ in range(calls):
        fn()
    gc.collect()
    r1 = rss()
    tracemalloc.start()
    try:
        for _ in range(WARMUP // 5):   # tracemalloc's own first allocations
            fn()
        gc.collect()
        t0 = tracemalloc.get_traced_memory()[0]
        for _ in range(traced_calls):
            fn()
        gc.collect()
        t1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return r1 - r0, t1 - t0


@pytest.fixture(autouse=True)
def one_thread():
    fastmask.set_num_threads(1)
    yield
    fastmask.set_num_threads(None)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_memory_is_flat(name):
    fn = KERNELS[name]
    grow_rss, grow_traced = _flat(fn)
    print(f"{name}: RSS {grow_rss:+d} B / {CALLS} calls, traced {grow_traced:+d} B / "
          f"{TRACED_CALLS} calls")
    assert grow_traced < TRACED_BOUND, (f"{name}: traced memory grew {grow_traced} bytes "
                                        f"over {TRACED_CALLS} calls")
    assert grow_rss < RSS_BOUND, f"{name}: RSS grew {grow_rss} bytes over {CALLS} calls"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_model_call_memory_is_flat():
    grow_rss, grow_traced = _flat(_model(), calls=2000, traced_calls=300)
    assert grow_traced < TRACED_BOUND and grow_rss < RSS_BOUND, (grow_rss, grow_traced)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_the_check_catches_a_small_leak():
    """A function that keeps 100 bytes per call fails the tracemalloc bound."""
    kept = []
    grow_rss, grow_traced = _flat(lambda: kept.append(bytes(100)))
    assert grow_traced >= TRACED_BOUND
