"""Memory: every kernel run 10,000 times on small inputs keeps RSS and tracemalloc flat,
and again at medium sizes on 2 threads, where the threaded paths and their per-call
buffers run (a leak of one per-call buffer would show there).

After a warm-up (first-touch allocations, caches, lazy imports), each kernel runs
10,000 times while the process RSS is watched (/proc/self/statm: it also sees
C-level malloc leaks), then 2,000 more times under tracemalloc (Python and NumPy
allocations; it slows NumPy-heavy calls ~20x, hence the smaller window). A leak
of 64 bytes per call (any leaked array) exceeds the tracemalloc bound, 400 bytes
per call the RSS bound. Error paths (bad ids, shapes, the pad_sequences
fallback) are included: a reference leaked when a kernel raises is a classic
extension bug. Kernels run on one OpenMP thread here (on a busy machine every
parallel region can cost a scheduler time slice); `test_threaded_kernel_memory_is_flat`
runs each kernel at a size where its threaded path, batch split, chunks and
blocks run, on 2 threads, 60 times, and counts the C allocator's bytes in use
(glibc mallinfo2, every thread's arena; NumPy's array data comes from it too):
a leaked per-call buffer or array of 1 KiB or more (the scratch, schedule and
output buffers there are 8 KiB-1 MiB) exceeds that bound.
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


def _mallinfo2():
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = MallInfo2
    return fn


_MALLINFO2 = _mallinfo2()


def malloc_in_use():
    """Bytes the C allocator has handed out and not had back (glibc mallinfo2, all
    arenas: the OpenMP threads' too): unlike RSS, it sees a leaked block even when
    the allocator reuses pages already resident."""
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


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


def _flat(fn, calls=CALLS, traced_calls=TRACED_CALLS, warmup=WARMUP):
    """(RSS growth over `calls` calls, tracemalloc growth over `traced_calls` more calls),
    after a warm-up. (tracemalloc slows NumPy-heavy calls ~20x, hence fewer traced calls.)"""
    for _ in range(warmup):
        fn()
    gc.collect()
    r0 = rss()
    for _ in range(calls):
        fn()
    gc.collect()
    r1 = rss()
    tracemalloc.start()
    try:
        for _ in range(max(1, warmup // 5)):   # tracemalloc's own first allocations
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


# --------------------------------------------------------------- threaded, medium sizes
MED = rng(20).standard_normal((64, 32, 32)).astype(np.float32)
MED_M = rng(21).random((64, 32)) < 0.7
MED_M[:, 0] = True
MED_Q = MED.reshape(64, 32, 2, 16)
MW = lambda *s: (rng(len(s) + 30).standard_normal(s) * 0.2).astype(np.float32)  # noqa: E731
MED_LSTM = (MW(32, 128), MW(32, 128), MW(128))
MED_GRU = (MW(32, 96), MW(32, 96), MW(2, 96))
MED_MHA = dict(query_kernel=MW(32, 2, 16), key_kernel=MW(32, 2, 16), value_kernel=MW(32, 2, 16),
               output_kernel=MW(2, 16, 32), query_bias=MW(2, 16), key_bias=MW(2, 16),
               value_bias=MW(2, 16), output_bias=MW(32))
MED_ROWS = [np.arange(n) for n in rng(22).integers(0, 300, 500)]
_BIDI = L.Bidirectional(L.GRU(32, return_sequences=True))
_BIDI(MED, mask=MED_M)

THREADED = {
    "masking": lambda: K.masking(np.where(MED_M[..., None], MED, 0), n_threads=2),
    "embedding": lambda: K.embedding(rng(23).integers(0, 32, (64, 512)), MED[0], n_threads=2),
    "lstm_batch_split": lambda: K.lstm(MED, *MED_LSTM, mask=MED_M, return_sequences=True,
                                       n_threads=2),
    "gru_step_split": lambda: K.gru(MED[:5, :8], *MED_GRU, mask=MED_M[:5, :8], n_threads=2),
    "bidirectional": lambda: _BIDI(MED, mask=MED_M),
    "masked_softmax_strided": lambda: K.masked_softmax(MED, MED_M[..., None], axis=1,
                                                       n_threads=2),
    "masked_mean": lambda: K.masked_mean(np.repeat(MED, 10, axis=2), MED_M, n_threads=2),
    "masked_max": lambda: K.masked_max(np.repeat(MED, 10, axis=2), MED_M, n_threads=2),
    "masked_attention_chunks": lambda: K.masked_attention(MED_Q, MED_Q, MED_Q, key_mask=MED_M,
                                                          query_mask=MED_M, n_threads=2),
    "masked_attention_weights": lambda: K.masked_attention(MED_Q, MED_Q, MED_Q, key_mask=MED_M,
                                                           causal=True, return_weights=True,
                                                           n_threads=2),
    "multi_head_attention": lambda: K.multi_head_attention(MED, MED, query_mask=MED_M,
                                                           value_mask=MED_M, n_threads=2,
                                                           **MED_MHA),
    "pad_sequences": lambda: U.pad_sequences(MED_ROWS, maxlen=256, return_mask=True,
                                             n_threads=2),
    "pad_ragged": lambda: U.pad_ragged(MED.reshape(-1, 32), lengths=np.full(64, 32),
                                       maxlen=80, return_mask=True, n_threads=2),
}


@pytest.fixture
def threaded_paths(monkeypatch):
    """Thresholds lowered so that the medium inputs take every kernel's threaded path."""
    import importlib
    from fastmask.kernels import _attention, _pooling, _recurrent, _softmax
    monkeypatch.setattr(_recurrent, "MIN_STEP_FLOPS_PER_THREAD", 0.0)
    monkeypatch.setattr(_recurrent, "MIN_PART_FLOPS", 0.0)
    monkeypatch.setattr(_softmax, "MIN_ELEMENTS_PER_THREAD", 1)
    monkeypatch.setattr(_pooling, "MIN_BYTES_PER_THREAD", 1)
    monkeypatch.setattr(_attention, "MIN_FLOPS_PER_THREAD", 1)
    monkeypatch.setattr(importlib.import_module("fastmask.kernels.masking"),
                        "_BYTES_PER_THREAD", 1)
    monkeypatch.setattr(U, "_MIN_BYTES_PER_THREAD", 1)
    monkeypatch.setattr(importlib.import_module("fastmask.kernels.attention"),
                        "_CHUNK_ELEMS", 1)                          # 16-row score chunks
    fastmask.set_num_threads(2)


def _malloc_growth(fn, calls, warmup=5):
    for _ in range(warmup):
        fn()
    gc.collect()
    m0, r0 = malloc_in_use(), rss()
    for _ in range(calls):
        fn()
    gc.collect()
    return malloc_in_use() - m0, rss() - r0


needs_mallinfo2 = pytest.mark.skipif(_MALLINFO2 is None, reason="needs glibc >= 2.33 mallinfo2")


@needs_mallinfo2
@pytest.mark.parametrize("name", sorted(THREADED))
def test_threaded_kernel_memory_is_flat(name, threaded_paths):
    from fastmask.kernels import _recurrent
    fn = THREADED[name]
    fn()
    plan = _recurrent.last_plan                                # the path named is the one run
    if name.startswith(("lstm", "gru")):
        assert plan["n_threads"] == 2 and plan["batch_split"] == (name == "lstm_batch_split")
    elif name == "bidirectional":
        assert plan["n_threads"] == 2 and plan["problems"] == 2
    grow_c, grow_rss = _malloc_growth(fn, calls=60)
    print(f"{name}: malloc'd {grow_c:+d} B, RSS {grow_rss:+d} B / 60 calls")
    assert grow_c < 60 * 1024, f"{name}: C allocations in use grew {grow_c} bytes over 60 calls"
    assert grow_rss < 60 * 8192, f"{name}: RSS grew {grow_rss} bytes over 60 calls"


@needs_mallinfo2
def test_the_threaded_check_catches_a_leaked_c_buffer():
    """A call that leaks one 2 KiB C buffer (malloc'd, written, never freed) fails
    the C-allocation bound of the threaded test (RSS alone would miss it: the
    allocator reuses resident pages)."""
    import ctypes
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p

    def leak():
        ctypes.memset(libc.malloc(2048), 1, 2048)

    assert _malloc_growth(leak, calls=60)[0] >= 60 * 1024
