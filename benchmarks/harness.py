"""Benchmark harness: time fastmask against its peers and the machine's limits.

A benchmark family (``benchmarks/bench_<family>.py``) returns a list of `Case`;
`run_cases` times every implementation of every case at each thread count and
`format_table` prints one row per (case, implementation, threads) with the
speed-up of fastmask over that implementation, fastmask's % of the machine's
bound measured in the same run (`measure_machine`) and the `Target` checks.

Timing: a warm-up call, then the median of repeated samples; each sample loops
the call until it lasts >= 20 ms (one call if a call is longer), with the
garbage collector off. All implementations of a case are timed back to back
in the same run: quote ratios, not absolute times.

Threads: `thread_limits(t)` sets fastmask's OpenMP threads, limits every loaded
BLAS (numpy and scipy each ship their own OpenBLAS) and torch's intra-op pool
to `t`, so peers run at the same thread count as fastmask.

Machine bounds per thread count: copy bandwidth ((read + write bytes) / time of
`np.copyto` on a 256 MiB float32 array), read bandwidth (bytes / time of the
faster of `x.max()` and `x.sum()`) and float32 GEMM GFLOP/s (`np.matmul`,
2048 x 2048), each from its fastest sample. NumPy copies and reduces on one
thread, so at t threads the array is split into t chunks handled by t Python
threads (NumPy releases the GIL meanwhile): `parallel_copyto`, `parallel_max`.
The bound at t threads is the best measurement at <= t threads: a 2-thread
copy can be slower than a 1-thread one, as glibc's memcpy uses non-temporal
stores only above a size threshold that each half may fall under.

Only numpy and the standard library are imported here; threadpoolctl, torch
and matplotlib are imported when needed.
"""
import contextlib
import dataclasses
import gc
import json
import math
import os
import platform
import sys
import time

import numpy as np

BOUNDS = (None, "memory", "memory-read", "gemm")
MIN_SAMPLE = 0.02     # seconds: inner loops make each sample at least this long
MAX_REPEATS = 30
SLOWER = 0.95         # "2 threads vs 1" below this is flagged as slower
BUSY = 0.5            # a timing is marked "*" when other processes used more than the
                      # cores it left idle + BUSY (/proc/stat: +-0.3 core on 60 ms)


@dataclasses.dataclass(frozen=True)
class Target:
    """Required speed-up of fastmask over `peer`: time(peer) / time(fastmask) >= ratio.

    A ratio < 1 reads "within 1/ratio of": Target("x.max()", 1/1.3) passes when
    fastmask takes at most 1.3x the time of `x.max()`.
    """
    peer: str
    ratio: float

    def __post_init__(self):
        if not isinstance(self.peer, str) or not self.peer:
            raise TypeError(f"Target peer must be a non-empty str. Received: peer={self.peer!r}")
        if not (isinstance(self.ratio, (int, float)) and math.isfinite(self.ratio)
                and self.ratio > 0):
            raise ValueError(f"Target ratio must be a finite number > 0. "
                             f"Received: ratio={self.ratio!r}")

    def check(self, speedup):
        """True when the measured `speedup` (peer time / fastmask time) meets the target."""
        return speedup >= self.ratio

    def describe(self, speedup, ceiling=None):
        """A table cell: 'keras 7.10x >= 5x ok' or 'within 1.3x of x.max(): 1.45x FAIL'.

        Numbers are rounded towards failing (4.999 shows as 4.99, not 5.00).
        `ceiling`: the speed-up an implementation running at the machine bound
        would get (see `analyse`); a failed target above it says so.
        """
        mark = "ok" if self.check(speedup) else "FAIL"
        if not self.check(speedup) and self.unreachable(ceiling):
            mark += f" (unreachable: the machine bound allows {_ratio(ceiling)})"
        if self.ratio >= 1:
            return f"{self.peer} {_ratio(speedup)} >= {self.ratio:.3g}x {mark}"
        slower = math.ceil(100 / speedup - 1e-9) / 100
        return f"within {1 / self.ratio:.3g}x of {self.peer}: {slower:.2f}x {mark}"

    def unreachable(self, ceiling):
        """True when even the machine bound (speed-up `ceiling`) misses the target."""
        return ceiling is not None and ceiling < self.ratio


def _ratio(x):
    """'4.99x' for 4.999: truncated, never rounded up past a threshold."""
    return f"{math.floor(x * 100 + 1e-9) / 100:.2f}x"


@dataclasses.dataclass(eq=False)
class Case:
    """One benchmark case: a kernel variant on one input, with its implementations.

    impls: {label: zero-arg callable}; "fastmask" is required, peers ("numpy",
    "keras", "torch", "np.copyto", ...) optional. setup: run once before timing.
    bound: "memory" (read+write kernel: % of copy bandwidth, needs `bytes`),
    "memory-read" (read-dominated kernel: % of read bandwidth, needs `bytes`),
    "gemm" (% of matmul GFLOP/s, needs `flops`) or None. threaded=False: run at
    1 thread only.
    """
    family: str
    name: str
    shape: str
    impls: dict
    setup: object = None
    bound: object = None
    bytes: object = None
    flops: object = None
    targets: tuple = ()
    threaded: bool = True

    def __post_init__(self):
        for field in ("family", "name", "shape"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"Case {field} must be a str. "
                                f"Received: {field}={getattr(self, field)!r}")
        if not isinstance(self.impls, dict) or "fastmask" not in self.impls:
            raise ValueError(f"Case impls must be a dict with a 'fastmask' entry. "
                             f"Received: impls={self.impls!r}")
        bad = {label: fn for label, fn in self.impls.items() if not callable(fn)}
        if bad:
            raise TypeError(f"Case impls must be zero-arg callables. Received: {bad!r}")
        if self.bound not in BOUNDS:
            raise ValueError(f"Case bound must be one of {BOUNDS}. Received: bound={self.bound!r}")
        need = {"memory": "bytes", "memory-read": "bytes", "gemm": "flops"}.get(self.bound)
        if need and not (getattr(self, need) or 0) > 0:
            raise ValueError(f"Case bound={self.bound!r} needs {need} > 0. "
                             f"Received: {need}={getattr(self, need)!r}")
        self.targets = tuple(self.targets)
        if not all(isinstance(t, Target) for t in self.targets):
            raise TypeError(f"Case targets must be Target objects. "
                            f"Received: targets={self.targets!r}")
        self._ready = False

    @property
    def id(self):
        """'family-name' with spaces replaced by '_' (used in pytest ids)."""
        return f"{self.family}-{self.name}".replace(" ", "_")

    def prepare(self):
        """Run `setup` once (later calls do nothing)."""
        if not self._ready:
            if self.setup is not None:
                self.setup()
            self._ready = True

    def bench(self, benchmark, impl, threads):
        """Time `impls[impl]` at `threads` threads with pytest-benchmark's `benchmark` fixture."""
        self.prepare()
        fn = self.impls[impl]
        benchmark.group = f"{self.family}: {self.name} [{self.shape}]"
        benchmark.extra_info.update(family=self.family, kernel=self.name, case=self.shape,
                                    impl=impl, threads=threads, bound=self.bound,
                                    bytes=self.bytes, flops=self.flops)
        with thread_limits(threads):
            inner, sample = _calibrate(fn)
            rounds = 1 if sample > 1.0 else min(20, max(3, int(1.0 / sample)))
            cpu0, t0 = _cpu_seconds(), time.perf_counter()
            benchmark.pedantic(fn, rounds=rounds, iterations=inner, warmup_rounds=0)
            benchmark.extra_info["busy"] = _busy(cpu0, _cpu_seconds(), time.perf_counter() - t0)


def pytest_params(cases, threads=(1, 2)):
    """pytest.param(case, impl, t, id="family-name-impl-tN") over cases x threads x impls.

    Spaces in ids become "_". Non-threaded cases get t=1 only.
    """
    import pytest
    return [pytest.param(case, impl, t, id=f"{case.id}-{impl}-t{t}".replace(" ", "_"))
            for case in cases for t in _case_threads(case, threads) for impl in case.impls]


def _case_threads(case, threads):
    return tuple(threads) if case.threaded else (1,)


# ----------------------------------------------------------------------- peers
def peer_keras():
    """Keras on its numpy backend (the peer of the benchmark families), or None.

    Sets KERAS_BACKEND=numpy unless already set; None when Keras is missing or
    was imported with another backend.
    """
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    try:
        import keras
    except ImportError:
        return None
    return keras if keras.backend.backend() == "numpy" else None


def peer_torch():
    """The torch module, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# --------------------------------------------------------------------- threads
@contextlib.contextmanager
def thread_limits(threads):
    """Run the block with fastmask, every loaded BLAS and torch limited to `threads` threads."""
    import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS now, so that it is limited too)
    from threadpoolctl import threadpool_limits

    from . import _config
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_config.num_threads(threads))
        stack.enter_context(_config.blas_threads(threads))
        # _config's controller is created once and misses BLAS libraries loaded
        # after it (numpy and scipy each load their own OpenBLAS): a fresh scan
        # limits every BLAS loaded now.
        stack.enter_context(threadpool_limits(limits=threads, user_api="blas"))
        if torch is not None:
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, torch_before)
        yield


_pools = {}


def _chunked(fn, arrays, n_threads):
    """fn(*chunks) over n_threads contiguous chunks of the raveled arrays, in parallel."""
    from . import _config
    n = _config.effective_num_threads(n_threads)
    flat = [a.reshape(-1) for a in arrays]   # views: the arrays must be contiguous
    size = flat[0].size
    edges = [size * i // n for i in range(n + 1)]
    parts = [[f[edges[i]:edges[i + 1]] for f in flat] for i in range(n)]
    if n == 1:
        return [fn(*parts[0])]
    if n not in _pools:
        from concurrent.futures import ThreadPoolExecutor
        _pools[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="fastmask-bench")
    return list(_pools[n].map(lambda p: fn(*p), parts))


def parallel_copyto(dst, src, n_threads=None):
    """np.copyto(dst, src) split over `n_threads` Python threads (C-contiguous, same shape)."""
    if dst.shape != src.shape or not (dst.flags.c_contiguous and src.flags.c_contiguous):
        raise ValueError(f"parallel_copyto needs C-contiguous arrays of one shape. "
                         f"Received: dst.shape={dst.shape}, src.shape={src.shape}")
    _chunked(np.copyto, (dst, src), n_threads)


def parallel_max(x, n_threads=None):
    """x.max() split over `n_threads` Python threads (C-contiguous x)."""
    return max(_chunked(np.max, (np.ascontiguousarray(x),), n_threads))


def parallel_sum(x, n_threads=None):
    """x.sum() split over `n_threads` Python threads (C-contiguous x)."""
    return sum(_chunked(np.sum, (np.ascontiguousarray(x),), n_threads))


# ---------------------------------------------------------------------- timing
def _call_time(fn, inner=1):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _calibrate(fn):
    """Warm up `fn`; return (inner loop count, estimated seconds per sample)."""
    t = _call_time(fn)
    if t < MIN_SAMPLE:
        t = min(t, _call_time(fn))
    inner = 1 if t >= MIN_SAMPLE else min(10 ** 6, math.ceil(MIN_SAMPLE / max(t, 1e-9)))
    return inner, inner * t


def _cpu_seconds():
    """(CPU seconds used by all processes since boot, by this process) or None (not Linux)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]      # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def _samples(fn, inner, repeats):
    """[seconds per call] x repeats, gc off; and the cores other processes kept busy meanwhile."""
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    try:
        samples = [_call_time(fn, inner) for _ in range(repeats)]
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples, _busy(cpu0, _cpu_seconds(), time.perf_counter() - t0)


def _contended(busy, threads, cores=None):
    """True when other processes used more cores than `threads` left idle (+ BUSY)."""
    from . import _config
    cores = cores or _config._cpu_count()
    return busy is not None and busy > max(0, cores - threads) + BUSY


def _busy(cpu0, cpu1, wall):
    """Cores used by other processes between two `_cpu_seconds()` readings."""
    if cpu0 is None or cpu1 is None or wall <= 0:
        return None
    other = ((cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / wall
    return min(max(0.0, other), float(os.cpu_count() or 1))   # clip tick rounding


def time_impls(impls, budget, retries=1):
    """Median seconds per call of each zero-arg callable in `impls` ({label: fn}).

    Returns {label: {"time" (median), "best", "samples", "inner", "busy", "error"}}.
    Each implementation is timed in one block right after its warm-up: mixing
    samples of different libraries would make each run against the previous
    one's idle threads, which keep spinning (OpenMP, OpenBLAS) and on a 2-core
    machine make threaded calls several times slower. Each implementation gets
    an equal share of `budget` seconds (warm-up included) for 3..30 repeats, 1
    if one call exceeds its share. "busy" is how many cores other processes
    used meanwhile (Linux; None elsewhere): a threaded call waits for its
    slowest thread, so on a busy 2-core machine 2-thread timings of short
    kernels become meaningless. A block timed while `_contended` is re-timed up
    to `retries` times and the least disturbed block kept. An exception in one
    implementation is recorded as its "error" and the others carry on.
    """
    from . import _config
    threads = _config.get_num_threads()
    share = budget / max(1, len(impls))
    out = {}
    for label, fn in impls.items():
        inner = 0
        try:
            start = time.perf_counter()
            inner, sample = _calibrate(fn)
            left = share - (time.perf_counter() - start)
            repeats = 1 if sample / inner > share else max(3, min(MAX_REPEATS, int(left / sample)))
            samples, busy = _samples(fn, inner, repeats)
            for _ in range(retries if sample * repeats < 5.0 else 0):
                if not _contended(busy, threads):
                    break
                again, busy_again = _samples(fn, inner, repeats)
                if busy_again < busy:
                    samples, busy = again, busy_again
            out[label] = {"time": float(np.median(samples)), "best": min(samples),
                          "samples": repeats, "inner": inner, "busy": busy, "error": None}
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            out[label] = {"time": None, "best": None, "samples": 0, "inner": inner,
                          "busy": None, "error": f"{type(exc).__name__}: {exc}"[:200]}
    return out


def run_cases(cases, threads=(1, 2), budget=3.0, progress=None):
    """Time every case x thread count x implementation; return a list of result dicts.

    budget: seconds per case, split over its thread counts. progress: a file to
    log each step to (e.g. sys.stderr), or None.
    """
    seen, results = set(), []
    for case in cases:
        key = (case.family, case.name, case.shape)
        if key in seen:
            raise ValueError(f"Duplicate case (family, name, shape): {key}")
        seen.add(key)
        common = dict(family=case.family, kernel=case.name, case=case.shape, bound=case.bound,
                      bytes=case.bytes, flops=case.flops,
                      targets=[[t.peer, t.ratio] for t in case.targets])
        case_threads = _case_threads(case, threads)
        try:
            case.prepare()
        except Exception as exc:  # noqa: BLE001
            results += [dict(common, impl=impl, threads=t, time=None, best=None, samples=0,
                             inner=0, busy=None, error=f"setup: {type(exc).__name__}: {exc}"[:200])
                        for t in case_threads for impl in case.impls]
            continue
        for t in case_threads:
            if progress:
                print(f"  {case.family}: {case.name} [{case.shape}] t{t}", file=progress,
                      flush=True)
            with thread_limits(t):
                timed = time_impls(case.impls, budget / len(case_threads))
            results += [dict(common, impl=impl, threads=t, **timed[impl]) for impl in case.impls]
    return results


# --------------------------------------------------------------------- machine
def measure_machine(threads=(1, 2), budget=4.0, size_mib=256, gemm_n=2048, previous=None,
                    retries=2):
    """CPU, BLAS and, per thread count, copy/read bandwidth (GB/s) and GEMM GFLOP/s.

    "gemm" (the bound) is np.matmul's float32 GFLOP/s; "gemm_scipy" is scipy's
    sgemm, the OpenBLAS that fastmask's kernels call through cython_blas (scipy
    and numpy ship different OpenBLAS builds, which need not be equally fast).
    "busy" per thread count: cores other processes used meanwhile (see
    `time_impls`). previous: an earlier result of this run to merge with (each
    bound the better of the two): measuring before and after the cases makes a
    bound spoiled by a burst of load from other processes less likely.
    retries: see `time_impls`.
    """
    import scipy.linalg.blas
    from threadpoolctl import threadpool_info

    from . import __version__, _config
    n = size_mib * 2 ** 20 // 4
    src = np.ones(n, np.float32)
    dst = np.zeros_like(src)
    a = np.random.default_rng(0).random((gemm_n, gemm_n), dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    af, bf = np.asfortranarray(a), np.asfortranarray(b)
    limits, busy = {}, {}
    for t in sorted(threads):
        with thread_limits(t):
            r = time_impls({"copy": lambda: parallel_copyto(dst, src, t),
                            "max": lambda: parallel_max(src, t),
                            "sum": lambda: parallel_sum(src, t),
                            "gemm": lambda: np.matmul(a, b, out=c),
                            "gemm_scipy": lambda: scipy.linalg.blas.sgemm(1.0, af, bf)},
                           budget / len(threads), retries)
        bad = {k: v["error"] for k, v in r.items() if v["error"]}
        if bad:
            raise RuntimeError(f"measuring the machine failed: {bad}")
        best = {k: v["best"] for k, v in r.items()}   # a ceiling: noise only lowers it
        lim = {"copy": 2 * src.nbytes / best["copy"] / 1e9,
               "read": src.nbytes / min(best["max"], best["sum"]) / 1e9,
               "gemm": 2 * gemm_n ** 3 / best["gemm"] / 1e9,
               "gemm_scipy": 2 * gemm_n ** 3 / best["gemm_scipy"] / 1e9}
        # t threads may use fewer: the bound is the best seen at <= t threads.
        for fewer in [str(u) for u in threads if u < t]:
            lim = {k: max(v, limits[fewer][k]) for k, v in lim.items()}
        limits[str(t)] = lim
        busy[str(t)] = max((v["busy"] for v in r.values() if v["busy"] is not None), default=None)
        if previous and str(t) in previous["limits"]:
            limits[str(t)] = {k: max(v, previous["limits"][str(t)][k]) for k, v in lim.items()}
            old = previous.get("busy", {}).get(str(t))
            busy[str(t)] = busy[str(t)] if old is None else min(old, busy[str(t)] or 0)
    blas = [f"{i['internal_api']} {i['version']} {i.get('threading_layer', '')} "
            f"[{i.get('architecture', '?')}] ({os.path.basename(os.path.dirname(i['filepath']))})"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return {"cpu": _cpu_model(), "cores": _config._cpu_count(), "fastmask": __version__,
            "numpy": np.__version__, "openmp": bool(_config._openmp_helpers.openmp_enabled()),
            "blas": blas, "size_mib": size_mib, "gemm_n": gemm_n, "limits": limits, "busy": busy,
            "loadavg": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                               "OMP_NUM_THREADS") if k in os.environ}}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_machine(machine):
    """The machine line(s) printed above the table."""
    m = machine
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, OpenMP {'on' if m['openmp'] else 'OFF'}, "
             f"fastmask {m['fastmask']}, numpy {m['numpy']}, load average {m.get('loadavg')}",
             "  BLAS: " + "; ".join(m["blas"])]
    for t, lim in m["limits"].items():
        star = " *" if _contended(m.get("busy", {}).get(t), int(t), m["cores"]) else ""
        lines.append(f"  t{t}: copy {lim['copy']:.1f} GB/s, read {lim['read']:.1f} GB/s "
                     f"({m['size_mib']} MiB float32), sgemm {lim['gemm']:.0f} GFLOP/s "
                     f"(np.matmul {m['gemm_n']}^2; scipy's sgemm {lim['gemm_scipy']:.0f}){star}")
    if m.get("env"):
        lines.append(f"  note: measured with {m['env']} set")
    return "\n".join(lines)


# ---------------------------------------------------------------------- report
def analyse(results, machine=None):
    """Copies of `results` with derived fields.

    speedup (peer rows: peer time / fastmask time at the same thread count),
    pct_bound and scaling (fastmask rows: % of the machine bound; time at 1
    thread / time at t threads), checks: [(text, ok)] with ok None for a
    target whose peer was not run, contended (see `time_impls`), and for peer
    rows of bound cases `ceiling` (peer time / the case's work at the machine
    bound: the largest speed-up any implementation could show) and
    `unreachable` (how many of the row's failed targets lie above it).
    """
    times = {(r["family"], r["kernel"], r["case"], r["threads"], r["impl"]): r["time"]
             for r in results}
    rows = []
    for r in results:
        key = (r["family"], r["kernel"], r["case"], r["threads"])
        t, t_fm = r["time"], times.get(key + ("fastmask",))
        row = dict(r, speedup=None, pct_bound=None, scaling=None, checks=[], ceiling=None,
                   unreachable=0,
                   contended=_contended(r.get("busy"), r["threads"], (machine or {}).get("cores")))
        targets = [Target(p, q) for p, q in r.get("targets") or ()]
        if r["impl"] == "fastmask":
            if t:
                limits = (machine or {}).get("limits", {}).get(str(r["threads"]))
                row["pct_bound"] = _pct_bound(r, limits)
                t1 = times.get(key[:3] + (1, "fastmask"))
                row["scaling"] = t1 / t if r["threads"] != 1 and t1 else None
            for g in targets:   # a target that cannot be checked is reported here
                if key + (g.peer,) not in times:
                    row["checks"].append((f"{g.peer}: n/a (not run)", None))
                elif not (t and times[key + (g.peer,)]):
                    row["checks"].append((f"{g.peer}: n/a (error)", None))
        elif t and t_fm:
            row["speedup"] = t / t_fm
            limits = (machine or {}).get("limits", {}).get(str(r["threads"]))
            pct = _pct_bound(dict(r, time=t_fm), limits)
            # Speed-up over this peer of an implementation doing the case's
            # work at the machine bound (100% bound): no target above it can be met.
            row["ceiling"] = row["speedup"] * 100 / pct if pct else None
            row["checks"] = [(g.describe(row["speedup"], row["ceiling"]), g.check(row["speedup"]))
                             for g in targets if g.peer == r["impl"]]
            row["unreachable"] = sum(g.unreachable(row["ceiling"]) and not g.check(row["speedup"])
                                     for g in targets if g.peer == r["impl"])
        rows.append(row)
    return rows


BOUND_LIMIT = {"memory": "copy", "memory-read": "read", "gemm": "gemm"}


def _pct_bound(r, limits):
    if not limits or not r.get("bound"):
        return None
    work = r["flops"] if r["bound"] == "gemm" else r["bytes"]
    return 100 * work / r["time"] / 1e9 / limits[BOUND_LIMIT[r["bound"]]]


def _fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


HEADERS = ("family", "kernel", "case", "impl", "thr", "median", "fastmask speed-up",
           "% bound", "2t vs 1t", "targets")


def _cells(results, machine):
    out = []
    for r in analyse(results, machine):
        bound = ("" if r["pct_bound"] is None
                 else f"{r['pct_bound']:.0f}% {BOUND_LIMIT[r['bound']]}")
        scaling = "" if r["scaling"] is None else (
            f"{r['scaling']:.2f}x" + (" SLOWER" if r["scaling"] < SLOWER else ""))
        checks = "; ".join(text for text, _ in r["checks"])
        median = _fmt_time(r["time"]) if not r.get("error") else "ERROR: " + r["error"]
        median += " *" if r["contended"] else ""
        out.append([r["family"], r["kernel"], r["case"], r["impl"], str(r["threads"]), median,
                    "" if r["speedup"] is None else _ratio(r["speedup"]), bound, scaling, checks])
    return out


def _summary(results, machine=None):
    rows = analyse(results, machine)
    checks = [c for r in rows for c in r["checks"]]
    ok = sum(c[1] is True for c in checks)
    fail = [c[0] for c in checks if c[1] is False]
    na = sum(c[1] is None for c in checks)
    slower = sum(r["scaling"] is not None and r["scaling"] < SLOWER for r in rows)
    errors = sum(bool(r.get("error")) for r in rows)
    busy = [r["busy"] for r in rows if r["contended"]]
    line = f"targets: {ok} ok, {len(fail)} FAIL"
    unreachable = sum(r["unreachable"] for r in rows)
    line += f" ({unreachable} of them above what the machine bound allows)" if unreachable else ""
    line += f", {na} n/a" if na else ""
    line += f"; 2 threads slower than 1 in {slower} row(s)" if slower else ""
    line += f"; {errors} ERROR row(s)" if errors else ""
    line += (f"; {len(busy)} row(s) timed while other processes used up to {max(busy):.1f} "
             f"cores (*): re-run those" if busy else "")
    return line


def _aligned(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(results, machine=None):
    """The report: machine lines, one aligned row per (case, impl, threads), summary line."""
    head = format_machine(machine) + "\n\n" if machine else ""
    return (head + _aligned([list(HEADERS)] + _cells(results, machine)) + "\n\n"
            + _summary(results, machine))


def to_markdown(results, machine=None):
    """The report as Markdown: machine lines, a table, the summary line."""
    esc = [[c.replace("|", "\\|") for c in r] for r in _cells(results, machine)]
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    head = "```\n" + format_machine(machine) + "\n```\n\n" if machine else ""
    return head + "\n".join(lines) + "\n\n" + _summary(results, machine) + "\n"


def to_json(results, machine=None):
    """JSON text {"machine", "results" (with derived fields), "summary"}; see `from_json`."""
    rows = analyse(results, machine)
    return json.dumps({"machine": machine, "results": rows,
                       "summary": _summary(results, machine)}, indent=1)


def from_json(text):
    """(results, machine) back from `to_json` text."""
    data = json.loads(text)
    derived = ("speedup", "pct_bound", "scaling", "checks", "contended", "ceiling", "unreachable")
    results = [{k: v for k, v in r.items() if k not in derived} for r in data["results"]]
    return results, data["machine"]


def to_png(results, path):
    """Bar chart (log scale) of fastmask's speed-up over each peer, per case and thread count."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise RuntimeError("to_png needs matplotlib: pip install matplotlib "
                           "(or pip install '.[bench]')") from None
    groups = {}   # case label -> [(series, speedup)]
    for r in analyse(results):
        if r["speedup"]:
            label = f"{r['family']}: {r['kernel']}\n{r['case']}"
            groups.setdefault(label, []).append((f"vs {r['impl']}, {r['threads']} thr",
                                                 r["speedup"]))
    series = list(dict.fromkeys(s for bars in groups.values() for s, _ in bars))
    colors = {s: plt.get_cmap("tab20")(i % 20) for i, s in enumerate(series)}
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(groups)), 4.5))
    for i, bars in enumerate(groups.values()):
        width = 0.8 / len(bars)
        for j, (s, speedup) in enumerate(bars):
            ax.bar(i - 0.4 + (j + 0.5) * width, speedup, width, color=colors[s])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    label = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}x")
    ax.yaxis.set_major_formatter(label)
    ax.yaxis.set_minor_formatter(label)
    ax.tick_params(axis="y", which="minor", labelsize=6)
    ax.set_ylabel("fastmask speed-up (peer time / fastmask time)")
    ax.set_xticks(range(len(groups)), list(groups), fontsize=7, rotation=30, ha="right")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colors[s]) for s in series],
              labels=series, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def quick_table(cases, budget=0.4):
    """A short table of fastmask vs each case's "numpy" impl at the default thread count.

    For `python -m fastmask`: about `budget` seconds per case after warm-up.
    """
    from . import _config
    t = _config.get_num_threads()
    rows, contended = [("kernel", "case", "fastmask", "numpy", "speed-up")], False
    with thread_limits(t):
        for case in cases:
            case.prepare()
            impls = {k: v for k, v in case.impls.items() if k in ("fastmask", "numpy")}
            r = time_impls(impls, budget, retries=0)
            cells = []
            for label in ("fastmask", "numpy"):
                res = r.get(label, {"time": None, "error": None, "busy": None})
                busy = _contended(res["busy"], t)
                contended |= busy
                cells.append("error" if res["error"] else _fmt_time(res["time"]) + " *" * busy)
            tf, tn = r["fastmask"]["time"], r.get("numpy", {}).get("time")
            rows.append((case.name, case.shape, *cells, f"{tn / tf:.1f}x" if tf and tn else "-"))
    note = ("\n* other processes kept the CPUs busy during this timing: re-run for a fair "
            "number" if contended else "")
    return f"speed vs the NumPy reference ({t} thread{'s' * (t > 1)}):\n" + _aligned(rows) + note


if __name__ == "__main__":
    print(format_machine(measure_machine()))
