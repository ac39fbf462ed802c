"""Thread safety: kernels and layers called from many Python threads at once.

* Every kernel, and the same (shared) layer or model object, called from 8 Python
  threads at once gives exactly the serial result (bit for bit, masks included),
  whatever `n_threads` each thread asks for.
* Kernels release the GIL: a Python thread keeps counting through the middle
  half of a long kernel call in another thread, where a GIL-holding call lets it
  make no progress at all (only at the interpreter's forced switches while the
  caller runs Python code, at the call's edges).
* OpenMP inside user threads: 8 Python threads each running OpenMP kernels
  finish (no deadlock, checked in a subprocess with a timeout), and the process
  never holds more threads than the thread-count settings allow (no
  oversubscription; counted from /proc/self/status).
"""
import functools
import importlib
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastmask
from fastmask.kernels import (_attention, _dense, _normalization, _openmp_helpers, _pooling,
                              _softmax)
from fastmask import get_mask, kernels as K, layers as L, utils as U

N_PY_THREADS = 8
MASKING_WRAPPERS = importlib.import_module("fastmask.kernels.masking")  # name taken by a function


def run_in_threads(fn, n=N_PY_THREADS, args_for=None):
    """Start `n` threads together (barrier), each calling fn(i); return results by index."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def target(i):
        try:
            barrier.wait()
            results[i] = fn(i) if args_for is None else fn(*args_for(i))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread did not finish (deadlock?)"
    if errors:
        raise errors[0]
    return results


def assert_identical(got, want, where=""):
    """Bit-identical results (tuples recursively, masks of layer outputs too)."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_identical(g, w, f"{where}[{i}]")
        return
    if want is None:
        assert got is None, where
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape, where
    assert g.tobytes() == w.tobytes(), f"{where}: results differ from the serial run"
    gm, wm = get_mask(got), get_mask(want)
    assert (gm is None) == (wm is None), where
    if wm is not None:
        assert np.array_equal(np.asarray(gm), np.asarray(wm)), f"{where}: masks differ"


# --------------------------------------------------------------------------- inputs

def rng(seed=0):
    return np.random.default_rng(seed)


def mask_bt(b, t, seed=1):
    r = rng(seed)
    lengths = r.integers(0, t + 1, size=b)
    m = np.arange(t)[None, :] < lengths[:, None]
    m[r.random((b, t)) < 0.1] = False     # a few holes
    return m


B, T, F, UNITS = 64, 24, 16, 8
X = rng(0).standard_normal((B, T, F)).astype(np.float32)
M = mask_bt(B, T)


def _w(shape, seed):
    return (rng(seed).standard_normal(shape) * 0.3).astype(np.float32)


LSTM_W = (_w((F, 4 * UNITS), 1), _w((UNITS, 4 * UNITS), 2), _w((4 * UNITS,), 3))
GRU_W = (_w((F, 3 * UNITS), 4), _w((UNITS, 3 * UNITS), 5), _w((2, 3 * UNITS), 6))
RNN_W = (_w((F, UNITS), 7), _w((UNITS, UNITS), 8), _w((UNITS,), 9))
MHA_W = dict(query_kernel=_w((F, 2, 4), 10), key_kernel=_w((F, 2, 4), 11),
             value_kernel=_w((F, 2, 4), 12), output_kernel=_w((2, 4, F), 13),
             query_bias=_w((2, 4), 14), key_bias=_w((2, 4), 15), value_bias=_w((2, 4), 16),
             output_bias=_w((F,), 17))
IDS = rng(3).integers(0, 50, size=(B, T))
IDS[M == 0] = 0
TABLE = _w((50, F), 18)
BIG_ROWS = [rng(4).integers(0, 9, size=int(n)) for n in rng(5).integers(0, 400, size=3000)]
RAGGED_LENGTHS = rng(6).integers(0, 300, size=2000)
RAGGED_VALUES = rng(7).standard_normal((int(RAGGED_LENGTHS.sum()), 4)).astype(np.float32)

# name -> fn(n_threads): every kernel; its threaded paths run with threads_even_for_small_inputs
KERNELS = {
    "masking": lambda n: K.masking(np.where(M[..., None], X, 0), n_threads=n),
    "masking_mask": lambda n: K.masking_mask(np.where(M[..., None], X, 0), n_threads=n),
    "embedding": lambda n: K.embedding(IDS, TABLE, mask_zero=True, n_threads=n),
    "lstm": lambda n: K.lstm(X, *LSTM_W, mask=M, return_sequences=True, n_threads=n),
    "gru": lambda n: K.gru(X, *GRU_W, mask=M, n_threads=n),
    "simple_rnn": lambda n: K.simple_rnn(X, *RNN_W, mask=M, go_backwards=True,
                                         return_sequences=True, n_threads=n),
    "masked_softmax": lambda n: K.masked_softmax(X, M[..., None], axis=1, n_threads=n),
    "masked_softmax_last": lambda n: K.masked_softmax(X.reshape(B * T, F), n_threads=n),
    "masked_mean": lambda n: K.masked_mean(X, M, n_threads=n),
    "masked_max": lambda n: K.masked_max(X, M, n_threads=n),
    "masked_attention": lambda n: K.masked_attention(
        X.reshape(B, T, 2, 8), X.reshape(B, T, 2, 8), X.reshape(B, T, 2, 8), key_mask=M,
        query_mask=M, n_threads=n),
    "masked_attention_causal": lambda n: K.masked_attention(
        X, X, X, key_mask=M, causal=True, fully_masked="uniform", return_weights=True,
        n_threads=n),
    "multi_head_attention": lambda n: K.multi_head_attention(
        X, X, query_mask=M, value_mask=M, n_threads=n, **MHA_W),
    "dense": lambda n: K.dense(X, LSTM_W[0], LSTM_W[2], "tanh", n_threads=n),
    "dense_softmax": lambda n: K.dense(X, RNN_W[0], RNN_W[2], "softmax", n_threads=n),
    "layer_norm": lambda n: K.layer_norm(X, X[0, 0], X[0, 1], n_threads=n),
    "pad_sequences": lambda n: U.pad_sequences(BIG_ROWS, maxlen=300, return_mask=True,
                                               n_threads=n),
    "pad_ragged": lambda n: U.pad_ragged(RAGGED_VALUES, lengths=RAGGED_LENGTHS, maxlen=256,
                                         padding="post", return_mask=True, n_threads=n),
    "mask_from_lengths": lambda n: U.mask_from_lengths(RAGGED_LENGTHS, maxlen=300, n_threads=n),
    "lengths_from_mask": lambda n: U.lengths_from_mask(M, n_threads=n),
}

# Work per thread below which a kernel starts no further thread (module, name).
SMALL_INPUT_THRESHOLDS = [(_softmax, "MIN_ELEMENTS_PER_THREAD"), (_pooling, "MIN_BYTES_PER_THREAD"),
                          (_attention, "MIN_FLOPS_PER_THREAD"), (_dense, "MIN_FLOPS_PER_THREAD"),
                          (_normalization, "MIN_BYTES_PER_THREAD"),
                          (MASKING_WRAPPERS, "_BYTES_PER_THREAD"), (U, "_MIN_BYTES_PER_THREAD")]


@pytest.fixture
def threads_even_for_small_inputs(monkeypatch):
    """The kernels run small inputs on one thread: lower their thresholds so that
    KERNELS' inputs take the threaded paths."""
    for module, name in SMALL_INPUT_THRESHOLDS:
        monkeypatch.setattr(module, name, 1)


def test_small_inputs_run_on_one_thread():
    """Below its work threshold a kernel starts one thread, whatever it is asked
    for (the functions the kernels call to size their OpenMP team)."""
    assert _openmp_helpers.threads_for(4, 10, 8) == 1
    assert _openmp_helpers.threads_for(4, 24, 8) == 3
    assert _openmp_helpers.threads_for(4, 1e12, 8) == 4
    assert _openmp_helpers.threads_for(4, 1e12, 8, 3) == 3            # at most one per task
    assert _softmax.threads_for(8, 16, 1, False, 4) == 1              # 128 elements
    assert _softmax.threads_for(512, 256, 1, False, 4) == 4
    assert _softmax.threads_for(64, 256, 1, True, 2) == 2             # float64 counts more
    assert _softmax.threads_for(2, 2 ** 20, 1, False, 4) == 2         # one row per thread
    assert _softmax.threads_for(1, 2 ** 20, 8, False, 4) == 1         # one block of columns
    assert _pooling.threads_for(64, 2 ** 14, 8) == 1                  # 16 KiB
    assert _pooling.threads_for(64, 2 ** 26, 8) == 8
    assert _attention.sdpa_threads(2 * 2 * 16 * 16, 16, 16, False, 4, 2) == 1
    assert _attention.sdpa_threads(8 * 8 * 128 * 128, 64, 64, False, 64, 2) == 2
    assert _attention.sdpa_threads(8 * 8 * 128 * 128, 64, 64, False, 1, 2) == 1
    assert _dense.dense_threads(4096, 2, 2, False, 16, 4) == 1
    assert _dense.dense_threads(4096, 256, 256, False, 16, 4) == 4
    assert _dense.dense_threads(4096, 256, 256, False, 2, 4) == 2          # one per block
    assert _normalization.layer_norm_threads(64, 64, 4, 4) == 1            # 16 KiB
    assert _normalization.layer_norm_threads(4096, 1024, 4, 4) == 4


@pytest.mark.usefixtures("threads_even_for_small_inputs")
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_from_8_threads_is_bit_identical_to_serial(name):
    fn = KERNELS[name]
    want = fn(1)
    # Each Python thread asks for a different OpenMP thread count (1, 2, 3, 4, ...).
    got = run_in_threads(lambda i: [fn(1 + i % 4) for _ in range(3)])
    for i, runs in enumerate(got):
        for r in runs:
            assert_identical(r, want, f"{name} thread {i}")


# --------------------------------------------------------------------------- layers

def _functional():
    inp = fastmask.Input((None,), dtype="int32")
    e = L.Embedding(50, F, mask_zero=True)(inp)
    h = L.Bidirectional(L.GRU(UNITS, return_sequences=True))(e)
    a = L.MultiHeadAttention(2, 4)(h, h)
    out = L.GlobalAveragePooling1D(empty_value=0.0)(L.Add()([h, a]))
    return fastmask.Model(inp, out)


LAYERS = {
    "Masking": (lambda: L.Masking(), lambda: np.where(M[..., None], X, 0), None),
    "Embedding": (lambda: L.Embedding(50, F, mask_zero=True), lambda: IDS, None),
    "Dense": (lambda: L.Dense(UNITS, activation="tanh"), lambda: X, None),
    "LSTM": (lambda: L.LSTM(UNITS, return_sequences=True), lambda: X, M),
    "GRU": (lambda: L.GRU(UNITS, go_backwards=True), lambda: X, M),
    "SimpleRNN": (lambda: L.SimpleRNN(UNITS, return_sequences=True), lambda: X, M),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(UNITS, return_sequences=True)),
                      lambda: X, M),
    "Softmax": (lambda: L.Softmax(axis=1), lambda: X, M[..., None]),
    "GlobalAveragePooling1D": (lambda: L.GlobalAveragePooling1D(), lambda: X, M),
    "GlobalMaxPooling1D": (lambda: L.GlobalMaxPooling1D(masked=True), lambda: X, M),
    "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(4)), lambda: X, M),
    "LayerNormalization": (lambda: L.LayerNormalization(), lambda: X, None),
    "Sequential": (lambda: fastmask.Sequential([L.Masking(), L.LSTM(UNITS, return_sequences=True),
                                                L.Dense(3), L.GlobalMaxPooling1D(masked=True)]),
                   lambda: np.where(M[..., None], X, 0), None),
    "Functional": (_functional, lambda: IDS, None),
}


def _call(layer, x, mask):
    return layer(x) if mask is None else layer(x, mask=mask)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_layer_from_8_threads_is_bit_identical_to_serial(name):
    make, x, mask = LAYERS[name]
    layer = make()
    want = _call(layer, x(), mask)          # builds the layer (serially)
    got = run_in_threads(lambda i: [_call(layer, x(), mask) for _ in range(3)])
    for i, runs in enumerate(got):
        for r in runs:
            assert_identical(r, want, f"{name} thread {i}")
    assert_identical(_call(layer, x(), mask), want, f"{name} serial after the threads")


def _attention_call(layer):
    q, v = X[:, :10], X
    return layer([q, v], mask=[M[:, :10], M])


def _mha_call(layer):
    return layer(X[:, :10], X, query_mask=M[:, :10], value_mask=M, return_attention_scores=True)


@pytest.mark.parametrize("make,call", [(lambda: L.Attention(use_scale=True), _attention_call),
                                       (lambda: L.MultiHeadAttention(2, 4), _mha_call)],
                         ids=["Attention", "MultiHeadAttention"])
def test_attention_layers_from_8_threads(make, call):
    layer = make()
    want = call(layer)
    for runs in run_in_threads(lambda i: [call(layer) for _ in range(3)]):
        for r in runs:
            assert_identical(r, want, type(layer).__name__)


@pytest.mark.parametrize("make", [lambda: L.Dense(UNITS), lambda: L.LSTM(UNITS),
                                  lambda: L.Embedding(50, F)],
                         ids=["Dense", "LSTM", "Embedding"])
def test_first_call_from_8_threads_builds_one_set_of_weights(make):
    """An unbuilt layer called by 8 threads at once: every thread sees the same weights
    (the build runs once). Five fresh layers: the race, if any, shows up in most runs."""
    for _ in range(5):
        layer = make()
        x = IDS if isinstance(layer, L.Embedding) else X
        got = run_in_threads(lambda i: layer(x))
        want = layer(x)
        for i, r in enumerate(got):
            assert_identical(r, want, f"thread {i}")


# --------------------------------------------------------------------------- the GIL

def _count_during(fn):
    """Run fn() in a thread while this thread counts in a pure-Python loop.

    Returns (the counts made in each quarter of fn's run, the counter's own
    rate per second measured just before). The counter stamps the time every 64
    counts; a count belongs to the quarter of [start, end] of fn() its stamp falls
    in.
    """
    n, t_end = 0, time.perf_counter() + 0.05
    while True:
        n += 1
        if not n & 63 and time.perf_counter() > t_end:
            break
    rate = n / 0.05
    box = {}
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        box["t0"] = time.perf_counter()
        fn()
        box["t1"] = time.perf_counter()
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    stamps, n = [], 0
    while not done.is_set():
        n += 1
        if not n & 63:
            stamps.append(time.perf_counter())
    t.join()
    t0, t1 = box["t0"], box["t1"]
    quarters = [0, 0, 0, 0]
    for s in stamps:
        if t0 <= s < t1:
            quarters[min(3, int(4 * (s - t0) / (t1 - t0)))] += 64
    return t1 - t0, quarters, rate


def _released(run, quarters, rate):
    """Whether the counter progressed through the middle half of the call: each
    middle quarter holds at least 1,000 counts and 5% of what the counter makes
    alone in a quarter's time. A call holding the GIL allows none there (the
    counter gets the GIL only at forced switches while the caller's thread runs
    Python code: before and after the C call, at the edges of the run)."""
    need = max(1000, 0.05 * rate * run / 4)
    return quarters[1] >= need and quarters[2] >= need


_LONG_B = 4096
_LONG_X = rng(9).standard_normal((_LONG_B, 128, 32)).astype(np.float32)   # 64 MiB
_LONG_M = mask_bt(_LONG_B, 128)


@functools.lru_cache(maxsize=1)
def _long_x4():
    return np.concatenate([_LONG_X] * 4)   # 256 MiB, made on the warm-up call


_LONG_ROWS = [np.arange(int(n)) for n in rng(10).integers(0, 2000, size=20000)]

# Long single calls (about 10-100 ms each on one thread).
LONG_KERNELS = {
    "masking": lambda: K.masking(_LONG_X, n_threads=1),
    "embedding": lambda: K.embedding(rng(11).integers(0, 50, (4096, 512)), TABLE, n_threads=1),
    "lstm": lambda: K.lstm(_LONG_X[:, :, :F], *LSTM_W, mask=_LONG_M, n_threads=1),
    "masked_softmax": lambda: K.masked_softmax(_LONG_X, _LONG_M[..., None], axis=1, n_threads=1),
    # masked_mean reads only kept steps at memory speed: 4x the data for a >= 10 ms call
    "masked_mean": lambda: K.masked_mean(_long_x4(), np.concatenate([_LONG_M] * 4), n_threads=1),
    "masked_attention": lambda: K.masked_attention(
        _LONG_X[:512], _LONG_X[:512], _LONG_X[:512], key_mask=_LONG_M[:512], n_threads=1),
    "pad_sequences-arrays": lambda: U.pad_sequences(_LONG_ROWS, maxlen=2000, n_threads=1),
    "mask_from_lengths": lambda: U.mask_from_lengths(
        rng(12).integers(0, 4000, size=40000), maxlen=4000, n_threads=1),
}


@pytest.mark.parametrize("name", sorted(LONG_KERNELS))
def test_kernels_release_the_gil(name):
    """While a long kernel runs on one OpenMP thread, a Python thread keeps counting
    through the middle half of the call (see _released); retried twice on a busy
    machine."""
    fn = LONG_KERNELS[name]
    fn()  # warm up (first-touch allocations, lazy imports)
    for attempt in range(3):
        run, quarters, rate = _count_during(fn)
        if _released(run, quarters, rate):
            return
    pytest.fail(f"{name}: another Python thread counted {quarters} in the four quarters of "
                f"a {run * 1e3:.0f} ms kernel call (alone it counts {rate:.3g}/s): the kernel "
                f"seems to hold the GIL")


def test_gil_check_can_fail():
    """The check above flags a C call that holds the GIL (bytes.count does), and
    passes one that releases it (time.sleep)."""
    data = b"a" * 200_000_000
    run, quarters, rate = _count_during(lambda: data.count(b"b"))
    assert run > 0.02 and not _released(run, quarters, rate), (run, quarters, rate)
    assert quarters[1] == quarters[2] == 0, quarters
    for attempt in range(3):
        run, quarters, rate = _count_during(lambda: time.sleep(0.1))
        if _released(run, quarters, rate):
            return
    pytest.fail(f"time.sleep(0.1): counts {quarters} (rate {rate:.3g}/s)")


# --------------------------------------------------------------------------- OpenMP + threads

def _threads_now():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise RuntimeError("no Threads: line")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
@pytest.mark.usefixtures("threads_even_for_small_inputs")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_no_oversubscription_from_user_threads(n_threads):
    """8 Python threads running OpenMP kernels hold at most 8 * n_threads threads.

    libgomp gives each calling thread its own team of n_threads - 1 helpers,
    and BLAS runs single-threaded inside the kernels (its own pool exists
    already), so the process may grow by at most 8 * n_threads threads.
    """
    names = ["lstm", "masked_attention", "multi_head_attention", "masked_softmax",
             "masking", "pad_ragged"]
    for nm in names:      # warm up: BLAS pools, lazy imports
        KERNELS[nm](n_threads)
    base = _threads_now()
    peak = [base]
    stop = threading.Event()

    def monitor():
        while not stop.is_set():
            peak[0] = max(peak[0], _threads_now())
            time.sleep(0.001)

    mon = threading.Thread(target=monitor)
    mon.start()
    try:
        run_in_threads(lambda i: [KERNELS[nm](n_threads) for nm in names for _ in range(2)])
    finally:
        stop.set()
        mon.join()
    # + the monitor, + a little slack for unrelated pools (other tests' executors)
    allowed = base + 1 + N_PY_THREADS * n_threads + 3
    assert peak[0] <= allowed, (f"{peak[0]} threads at peak with 8 user threads x "
                                f"n_threads={n_threads} (baseline {base})")


def test_num_threads_context_is_per_thread():
    """`with fastmask.num_threads(n)` in one thread does not leak into others."""
    fastmask.set_num_threads(None)
    default = fastmask.get_num_threads()
    barrier = threading.Barrier(4)

    def worker(i):
        with fastmask.num_threads(i + 1):
            barrier.wait()
            seen = fastmask.get_num_threads()
            K.masked_softmax(X, n_threads=None)
            barrier.wait()
            return seen, fastmask.get_num_threads()

    res = run_in_threads(worker, n=4)
    assert res == [(i + 1, i + 1) for i in range(4)]
    assert fastmask.get_num_threads() == default


def test_openmp_in_user_threads_does_not_deadlock():
    """8 threads x nested OpenMP teams x every kernel, with a fork-free fresh process
    and a timeout: a deadlock fails the test instead of hanging the run."""
    script = textwrap.dedent("""
        import sys, threading
        sys.path.insert(0, %r)
        import test_threads as t
        def work(i):
            for _ in range(3):
                for name in sorted(t.KERNELS):
                    t.KERNELS[name](1 + (i + _) %% 3)
        t.run_in_threads(work)
        # and OpenMP teams started from threads that then exit, repeatedly
        for _ in range(20):
            th = [threading.Thread(target=t.KERNELS["masking"], args=(2,)) for _ in range(8)]
            [x.start() for x in th]; [x.join() for x in th]
        print("done")
    """) % os.path.dirname(os.path.abspath(__file__))
    # the child imports the same fastmask as this process (installed or source tree)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        res = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], env=env,
                             capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"OpenMP kernels in 8 Python threads did not finish in 240 s "
                    f"(deadlock?):\n{(e.stderr or '')[-3000:]}")
    assert res.returncode == 0 and "done" in res.stdout, res.stderr[-3000:]
