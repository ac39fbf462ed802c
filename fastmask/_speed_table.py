"""Timing for the speed table of `python -m fastmask` (`quick_table`) and the benchmarks.

A `Case` is one kernel variant on one input with its implementations
({label: zero-arg callable}, "fastmask" required) and optional `Target`s.
`time_impls` times each implementation: a warm-up call, then the median of
repeated samples; each sample loops the call until it lasts >= 20 ms (one call
if a call is longer), with the garbage collector off. All implementations of a
case are timed back to back in the same run: quote ratios, not absolute times.
`thread_limits(t)` sets fastmask's OpenMP threads and limits every loaded BLAS
(numpy and scipy each ship their own OpenBLAS) and torch's intra-op pool to `t`.

The rest of the harness (peers, machine bounds, reports) is `benchmarks/harness.py`.
Only numpy and the standard library are imported here; threadpoolctl and
scipy are imported when needed.
"""
import contextlib
import dataclasses
import gc
import math
import os
import sys
import time

import numpy as np

from .kernels import _threads

BOUNDS = (None, "memory", "memory-read", "gemm")
MIN_SAMPLE = 0.02     # seconds: inner loops make each sample at least this long
MAX_REPEATS = 30
BUSY = 0.5            # a timing is marked "*" when other processes used more than the
                      # cores it left idle + BUSY (/proc/stat: +-0.3 core on 60 ms)



@dataclasses.dataclass(frozen=True)
class Target:
    """Required speed-up of fastmask over `peer`: time(peer) / time(fastmask) >= ratio.

    A ratio < 1 reads "within 1/ratio of": Target("x.max()", 1/1.3) passes when
    fastmask takes at most 1.3x the time of `x.max()`.
    self_check=True: `peer` is fastmask itself (another call of it, e.g. the
    post-padded run against a pre-padded one) or the row times no fastmask code:
    the benchmark report counts it apart from the peer targets and
    `report.py --check` does not gate on it (benchmarks/harness.py also infers it
    for the labels in its SELF_CHECK_PEERS and for the "machine" family).
    """
    peer: str
    ratio: float
    self_check: bool = False

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
    "gemm" (% of matmul GFLOP/s, needs `flops`) or None; `bytes`/`flops` are
    the work fastmask does (not bytes it skips). threaded=False: run at 1 thread
    only.
    references: labels of impls that compute something else (machine primitives
    such as "np.copyto", fastmask on another input): their outputs are not
    compared with fastmask's. None: benchmarks/harness.py's REFERENCE_IMPLS.
    check: how each other impl's output is compared with fastmask's before it is
    timed (benchmarks/harness.py `check_outputs`): None for the defaults, a dict
    with "rtol", "atol" and "where" (a bool array broadcast to the output: the
    positions that must agree, e.g. the unpadded steps), or False (not compared).
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
    references: tuple = None
    check: object = None

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
        if self.references is not None:
            self.references = tuple(self.references)
            unknown = [r for r in self.references if r not in self.impls]
            if unknown or "fastmask" in self.references:
                raise ValueError(f"Case references must be labels of impls other than "
                                 f"'fastmask'. Received: references={self.references!r}")
        if self.check is not None and self.check is not False and not (
                isinstance(self.check, dict) and set(self.check) <= {"rtol", "atol", "where"}):
            raise ValueError(f"Case check must be None, False or a dict with keys rtol, atol, "
                             f"where. Received: check={self.check!r}")
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


# --------------------------------------------------------------------- threads
@contextlib.contextmanager
def thread_limits(threads):
    """Run the block with fastmask, every loaded BLAS and torch limited to `threads` threads."""
    import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS now, so that it is limited too)
    from threadpoolctl import threadpool_limits
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_threads.num_threads(threads))
        stack.enter_context(_threads.blas_threads(threads))
        # _threads's controller is created once and misses BLAS libraries loaded
        # after it (numpy and scipy each load their own OpenBLAS): a fresh scan
        # limits every BLAS loaded now.
        stack.enter_context(threadpool_limits(limits=threads, user_api="blas"))
        if torch is not None:
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, torch_before)
        yield


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
    """[seconds per call] x repeats, gc off; and the cores other processes kept busy meanwhile.

    The young generations are collected first (the previous implementation's
    garbage), not all three: a full collection with Keras, JAX and torch imported
    walks ~330k objects, 0.3-0.8 s on a 2-core machine, before every block of
    samples -- most of the quick report's run time."""
    gc.collect(1)
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
    cores = cores or _threads._cpu_count()
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
    threads = _threads.get_num_threads()
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


def _fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _aligned(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def quick_table(cases, budget=0.4, rounds=3):
    """A short table of fastmask vs each case's "numpy" impl at the default thread count.

    For `python -m fastmask`: about `budget` seconds per case after warm-up, in
    `rounds` rounds (fastmask and NumPy in alternating order). Each figure is the
    best round's median, so a burst of load from another process during one round
    does not move it: the table is stable from run to run. A figure whose best
    round still ran while other processes kept the CPUs busy is marked "*".
    """
    t = _threads.get_num_threads()
    rows, contended = [("kernel", "case", "fastmask", "numpy", "speed-up")], False
    with thread_limits(t):
        for case in cases:
            case.prepare()
            impls = {k: v for k, v in case.impls.items() if k in ("fastmask", "numpy")}
            best = _best_of_rounds(impls, budget, rounds)
            cells = []
            for label in ("fastmask", "numpy"):
                res = best.get(label, {"time": None, "error": None, "busy": None})
                busy = _contended(res["busy"], t)
                contended |= busy
                cells.append("error" if res["error"] else _fmt_time(res["time"]) + " *" * busy)
            tf, tn = best["fastmask"]["time"], best.get("numpy", {}).get("time")
            rows.append((case.name, case.shape, *cells, f"{tn / tf:.1f}x" if tf and tn else "-"))
    note = (f"\n* other processes kept the CPUs busy during the best of {rounds} timings: "
            f"re-run for a fair number" if contended else "")
    return (f"speed vs the NumPy reference ({t} thread{'s' * (t > 1)}; best of {rounds} "
            f"rounds):\n" + _aligned(rows) + note)


def _best_of_rounds(impls, budget, rounds):
    """{label: time_impls result of the round with the lowest median} over `rounds` rounds
    of `time_impls` (budget / rounds each; the order of impls alternates)."""
    best = {}
    labels = list(impls)
    for r in range(max(1, rounds)):
        order = labels if r % 2 == 0 else labels[::-1]
        timed = time_impls({k: impls[k] for k in order}, budget / max(1, rounds), retries=0)
        for label, res in timed.items():
            old = best.get(label)
            if old is None or (res["time"] is not None and (
                    old["time"] is None or res["time"] < old["time"])):
                best[label] = res
    return best
