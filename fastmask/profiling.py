"""Per-layer time profile of `model.predict`: `fastmask.profile(model, x)`.

    prof = fastmask.profile(model, x, batch_size=32)     # prints the table
    prof.rows[0].share, prof.total, prof.as_dicts()

The profile runs `model.predict(x, batch_size=batch_size, verbose=0)` once (after
one unprofiled warm-up call) with every layer of the model -- nested models and
the layers inside custom layers included -- timed at its `__call__`. A row per
layer (in the model's tree order) gives its output shape, calls, total time
(inclusive of the layers it calls), self time (without them) and share of the
predict time (self / total; the shares of all rows, plus the row of `predict`'s
own work -- batching, copying the outputs -- add up to 100%). Where the layer's
work is known it is shown against the machine's bound measured once per process
and thread count with a quick probe: FLOPs against np.matmul's float32 GFLOP/s
(Dense, MultiHeadAttention, Attention, LSTM/GRU/SimpleRNN/Bidirectional, whose
masked steps are not counted) or bytes moved against the copy bandwidth
(Embedding, LayerNormalization, activations, merges, pooling, RepeatVector,
Masking).

The timing exists only while `profile` runs: it wraps `__call__` of the layer
classes involved and restores them afterwards, so unprofiled calls run the
normal code. Only calls made by the profiling thread are timed (other threads
using the same layers meanwhile run untimed, at the cost of one attribute look-up
per call). Times have the profiler's own bookkeeping subtracted. Planned calls
(`layers/planned_call.py`) are off while a profile runs (in every thread), so each
layer is called, and timed, through its `__call__`.
"""
import dataclasses
import functools
import math
import threading
import time

import numpy as np

from .core.tensor import get_mask, plain
from .core.tree import flatten
from .kernels import _threads
from .layers import planned_call
from .layers.layer import Layer

__all__ = ["profile", "Profile", "LayerProfile", "machine_bounds"]

_LOCAL = threading.local()          # .session: the Session profiling in this thread
_PATCH_LOCK = threading.Lock()
_PATCHED = {}                       # class -> [original __call__, number of active profiles]
_BOUNDS = {}                        # (fastmask threads, BLAS threads) -> bounds
_PLANNED_OFF = [0, True]            # active profiles, planned_call.ENABLED before them


@dataclasses.dataclass
class LayerProfile:
    """One layer's row: times in seconds; share = self_time / the profile's total."""
    name: str
    class_name: str
    depth: int
    output_shape: object = None
    calls: int = 0
    total_time: float = 0.0
    self_time: float = 0.0
    share: float = 0.0
    flops: float = 0.0
    bytes: float = 0.0
    pct_bound: object = None        # % of the machine bound, or None when the work is unknown

    @property
    def bound(self):
        """"gemm", "copy" or None: what the layer's work is measured against."""
        return "gemm" if self.flops else ("copy" if self.bytes else None)


class Profile:
    """The result of `profile`: `rows` (LayerProfile, tree order), `total` (s), `bounds`."""

    def __init__(self, model_name, rows, total, bounds, description):
        self.model_name = model_name
        self.rows = rows
        self.total = total
        self.bounds = bounds
        self.description = description

    def as_dicts(self):
        """The rows as plain dicts (e.g. for JSON or a DataFrame)."""
        return [dict(dataclasses.asdict(r), bound=r.bound) for r in self.rows]

    def __str__(self):
        return format_profile(self)

    __repr__ = __str__


# ------------------------------------------------------------------ the machine bound
def machine_bounds(refresh=False):
    """{"gemm": GFLOP/s of np.matmul float32 1024^2, "copy": GB/s (read + write) of a
    64 MiB float32 copy on `fastmask.get_num_threads()` threads, "threads"}; measured
    once per process and thread count (best of a few runs: noise only lowers it)."""
    t = _threads.get_num_threads()
    key = (t, _blas_threads())
    if key in _BOUNDS and not refresh:
        return _BOUNDS[key]
    n = 1024
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    gemm = _best(lambda: np.matmul(a, b, out=c), 5)
    src = np.ones(64 * 2 ** 20 // 4, np.float32)
    dst = np.empty_like(src)
    copy = _best(lambda: _parallel_copy(dst, src, t), 5)
    _BOUNDS[key] = {"gemm": 2 * n ** 3 / gemm / 1e9, "copy": 2 * src.nbytes / copy / 1e9,
                    "threads": t}
    return _BOUNDS[key]


def _blas_threads():
    try:
        return tuple(info[3] for info in _threads.blas_info())
    except Exception:   # noqa: BLE001  (threadpoolctl missing or failing: key on threads only)
        return ()


def _best(fn, repeats):
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _parallel_copy(dst, src, n):
    if n <= 1:
        np.copyto(dst, src)
        return
    edges = [len(src) * i // n for i in range(n + 1)]
    workers = [threading.Thread(target=np.copyto, args=(dst[lo:hi], src[lo:hi]))
               for lo, hi in zip(edges[:-1], edges[1:])]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


# ------------------------------------------------------------------ work per layer
def _arrays(x):
    return [a for a in flatten(x) if isinstance(a, np.ndarray)]


def _nbytes(x):
    return sum(a.nbytes for a in _arrays(x))


def _attr(layer, name):
    value = getattr(layer, name, None)
    return getattr(layer, "_" + name, None) if value is None else value


def _rows(a):
    return a.size // a.shape[-1] if a.ndim and a.shape[-1] else 0


def _rnn_flops(layer, x, mask):
    cell = getattr(layer, "cell", None)
    kernel, recurrent = getattr(cell, "kernel", None), getattr(cell, "recurrent_kernel", None)
    if kernel is None or recurrent is None or x is None or x.ndim != 3:
        return 0.0
    steps = int(np.count_nonzero(mask)) if mask is not None else x.shape[0] * x.shape[1]
    return 2.0 * steps * (math.prod(kernel.shape) + math.prod(recurrent.shape))


def _work(layer, args, kwargs, outputs):
    """(FLOPs, bytes) of one call: FLOPs for GEMM-bound layers, bytes for memory-bound ones."""
    names = {cls.__name__ for cls in type(layer).__mro__}
    inputs = _arrays(args) + [v for k, v in kwargs.items()
                              if isinstance(v, np.ndarray) and not k.endswith("mask")]
    x = inputs[0] if inputs else None
    if "Dense" in names and x is not None and getattr(layer, "kernel", None) is not None:
        return 2.0 * _rows(x) * math.prod(layer.kernel.shape), 0.0
    if "MultiHeadAttention" in names and x is not None and x.ndim == 3:
        q = x
        v = inputs[1] if len(inputs) > 1 else q
        k = inputs[2] if len(inputs) > 2 else v
        h, dk = _attr(layer, "num_heads"), _attr(layer, "key_dim")
        dv = _attr(layer, "value_dim") or dk
        out = _arrays(outputs)
        if not (h and dk and out):
            return 0.0, 0.0
        b, t, s = q.shape[0], q.shape[1], v.shape[1]
        proj = (t * q.shape[-1] * dk + s * k.shape[-1] * dk + s * v.shape[-1] * dv
                + t * dv * out[0].shape[-1]) * h
        return 2.0 * b * (proj + h * t * s * (dk + dv)), 0.0
    if "Attention" in names and len(inputs) >= 2 and inputs[0].ndim == 3:
        q, v = inputs[0], inputs[1]
        return 4.0 * q.shape[0] * q.shape[1] * v.shape[1] * q.shape[-1], 0.0
    if "Bidirectional" in names:
        mask = kwargs.get("mask")
        mask = get_mask(x) if mask is None else mask
        return sum(_rnn_flops(sub, x, mask) for sub in (getattr(layer, "forward_layer", None),
                                                           getattr(layer, "backward_layer", None))
                   if sub is not None), 0.0
    if "RNN" in names:
        mask = kwargs.get("mask")
        return _rnn_flops(layer, x, get_mask(x) if mask is None else mask), 0.0
    if "Embedding" in names and x is not None:
        return 0.0, float(x.nbytes + 2 * _nbytes(outputs))
    if names & _MEMORY_BOUND:
        return 0.0, float(sum(a.nbytes for a in inputs) + _nbytes(outputs))
    return 0.0, 0.0


_MEMORY_BOUND = {"LayerNormalization", "Activation", "ReLU", "Softmax", "Add", "Subtract",
                 "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Masking",
                 "GlobalAveragePooling1D", "GlobalMaxPooling1D", "RepeatVector"}


# ------------------------------------------------------------------ timing
class _Record:
    __slots__ = ("layer", "calls", "total", "self", "flops", "bytes", "shape")

    def __init__(self, layer):
        self.layer = layer
        self.calls = 0
        self.total = self.self = self.flops = self.bytes = 0.0
        self.shape = None


class _Session:
    """The records of one profile and the stack of layer calls in progress."""

    def __init__(self, layers):
        self.records = {id(layer): _Record(layer) for layer in layers}
        self.active = set()
        self.stack = []          # [children's time] of the calls in progress
        self.overhead = 0.0      # seconds spent in this profiler's bookkeeping
        self.top = 0.0           # inclusive time of calls made outside any tracked call

    def timed(self, layer, original, args, kwargs):
        key = id(layer)
        self.active.add(key)
        self.stack.append(0.0)
        overhead0 = self.overhead
        t0 = time.perf_counter()
        try:
            outputs = original(layer, *args, **kwargs)
        finally:
            t1 = time.perf_counter()
            self.active.discard(key)
            children = self.stack.pop()
        elapsed = (t1 - t0) - (self.overhead - overhead0)
        rec = self.records[key]
        rec.calls += 1
        rec.total += elapsed
        rec.self += elapsed - children
        if self.stack:
            self.stack[-1] += elapsed
        else:
            self.top += elapsed
        try:
            flops, nbytes = _work(layer, args, kwargs, outputs)
        except Exception:   # noqa: BLE001  (an unusual call: its work stays unknown)
            flops, nbytes = 0.0, 0.0
        rec.flops += flops
        rec.bytes += nbytes
        if rec.calls == 1:       # the first call's shape (a full batch)
            shapes = [a.shape for a in flatten(outputs) if hasattr(a, "shape")]
            rec.shape = (shapes[0] if len(shapes) == 1 else tuple(shapes)) if shapes else None
        self.overhead += time.perf_counter() - t1
        return outputs


def _timing_call(original):
    @functools.wraps(original)
    def __call__(self, *args, **kwargs):
        session = getattr(_LOCAL, "session", None)
        if session is None or id(self) not in session.records or id(self) in session.active:
            return original(self, *args, **kwargs)
        return session.timed(self, original, args, kwargs)
    __call__._fm_profiling = True
    return __call__


def _classes_to_wrap(layers):
    """Every Layer class defining its own `__call__` in the MRO of the given layers."""
    out = []
    for layer in layers:
        for cls in type(layer).__mro__:
            if (isinstance(cls, type) and issubclass(cls, Layer) and "__call__" in cls.__dict__
                    and cls not in out):
                out.append(cls)
    return out


def _wrap(classes):
    with _PATCH_LOCK:
        if not _PLANNED_OFF[0]:
            # Planned calls (layers/planned_call.py) would skip the wrapped `__call__`s
            # of the layers inside a planned model: off while any profile runs.
            _PLANNED_OFF[1] = planned_call.ENABLED
            planned_call.ENABLED = False
        _PLANNED_OFF[0] += 1
        for cls in classes:
            entry = _PATCHED.get(cls)
            if entry is None:
                _PATCHED[cls] = [cls.__dict__["__call__"], 1]
                cls.__call__ = _timing_call(cls.__dict__["__call__"])
            else:
                entry[1] += 1


def _unwrap(classes):
    with _PATCH_LOCK:
        _PLANNED_OFF[0] -= 1
        if not _PLANNED_OFF[0]:
            planned_call.ENABLED = _PLANNED_OFF[1]
        for cls in classes:
            entry = _PATCHED[cls]
            entry[1] -= 1
            if entry[1] == 0:
                cls.__call__ = entry[0]
                del _PATCHED[cls]


def _tree(model):
    """[(layer, depth)] in tree order: the model, then each sublayer below its owner."""
    out, seen = [], set()

    def visit(layer, depth):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        out.append((layer, depth))
        for sub in layer._layers:
            if type(sub).__name__ != "InputLayer":
                visit(sub, depth + 1)
    visit(model, 0)
    return out


# ------------------------------------------------------------------ the entry point
def profile(model, x, batch_size=None, *, warmup=True, bounds=True, print_fn=print):
    """Time `model.predict(x, batch_size=batch_size)` layer by layer.

    Args:
        model: a fastmask model (or layer with `predict`): Sequential,
            Functional, subclassed, nested.
        x: the model's input, as for `predict`.
        batch_size: as for `predict` (None: its default, 32).
        warmup: run one unprofiled `predict` first (builds, first-touch pages).
        bounds: measure the machine's GEMM and copy bounds (once per process and
            thread count) and show each layer's % of its bound.
        print_fn: called with the table (default `print`); None prints nothing.

    Returns:
        A `Profile`: `rows` (one `LayerProfile` per layer, tree order, then a row
        "(predict)" for `predict`'s own work), `total` (seconds of the profiled
        `predict`, the profiler's bookkeeping removed), `bounds`, `as_dicts()`.
    """
    if not isinstance(model, Layer) or not callable(getattr(model, "predict", None)):
        raise TypeError("`model` must be a fastmask model (a Layer with `predict`). "
                        f"Received: model={model!r} (of type {type(model).__name__})")
    if not (print_fn is None or callable(print_fn)):
        raise TypeError(f"`print_fn` must be callable or None. Received: print_fn={print_fn!r}")
    # The probe first: BLAS threads spin for a while after it, the warm-up absorbs that.
    machine = machine_bounds() if bounds else None
    if warmup:
        model.predict(x, batch_size=batch_size, verbose=0)
    tree = _tree(model)
    layers = [layer for layer, _ in tree]
    classes = _classes_to_wrap(layers)
    session = _Session(layers)
    if getattr(_LOCAL, "session", None) is not None:
        raise RuntimeError("fastmask.profile is already running in this thread.")
    _wrap(classes)
    _LOCAL.session = session
    try:
        t0 = time.perf_counter()
        model.predict(x, batch_size=batch_size, verbose=0)
        wall = time.perf_counter() - t0
    finally:
        _LOCAL.session = None
        _unwrap(classes)
    total = max(wall - session.overhead, 1e-12)
    rows = []
    for layer, depth in tree:
        rec = session.records[id(layer)]
        row = LayerProfile(layer.name, type(layer).__name__, depth, rec.shape, rec.calls,
                           rec.total, rec.self, rec.self / total, rec.flops, rec.bytes)
        if machine and rec.self > 0 and (rec.flops or rec.bytes):
            rate = rec.flops / rec.self / 1e9 / machine["gemm"] if rec.flops else \
                rec.bytes / rec.self / 1e9 / machine["copy"]
            row.pct_bound = 100 * rate
        rows.append(row)
    rest = max(total - session.top, 0.0)
    rows.append(LayerProfile("(predict)", "batching, outputs", 0, None, 1, rest, rest,
                             rest / total))
    flat = flatten(x)
    shapes = ", ".join(f"{tuple(np.shape(plain(a)))} {np.asarray(plain(a)).dtype}"
                       for a in flat[:3]) + (" ..." if len(flat) > 3 else "")
    description = (f"predict of '{model.name}' ({type(model).__name__}) on {shapes}, "
                   f"batch_size {32 if batch_size is None else batch_size}, "
                   f"{_threads.get_num_threads()} thread(s)")
    result = Profile(model.name, rows, total, machine, description)
    if print_fn is not None:
        print_fn(str(result))
    return result


# ------------------------------------------------------------------ the table
def _shape(shape):
    if shape is None:
        return ""
    if shape and isinstance(shape[0], tuple):
        return _shape(shape[0]) + f" +{len(shape) - 1}"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _si(value, unit):
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _work_text(row):
    if row.flops:
        return _si(row.flops, "FLOP")
    if row.bytes:
        return _si(row.bytes, "B")
    return ""


def _clip(text, width):
    return text if len(text) <= width else text[:width - 2] + ".."


def format_profile(prof):
    """The profile as a text table."""
    head = ["layer", "class", "output shape", "calls", "total ms", "self ms", "share", "work",
            "% bound"]
    lines = [head]
    for r in prof.rows:
        bound = "" if r.pct_bound is None else f"{r.pct_bound:.0f}% {r.bound}"
        timed = r.calls > 0      # 0: run inside its owner without a call of its own
        lines.append([_clip("  " * r.depth + r.name, 30), _clip(r.class_name, 20),
                      _shape(r.output_shape), str(r.calls),
                      f"{r.total_time * 1e3:.3f}" if timed else "-",
                      f"{r.self_time * 1e3:.3f}" if timed else "-",
                      f"{100 * r.share:.1f}%" if timed else "-", _work_text(r), bound])
    right = {3, 4, 5, 6}
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    title = f"fastmask.profile: {prof.description}: {prof.total * 1e3:.3f} ms"
    if prof.bounds:
        title += (f"\nbounds (probed once per process): sgemm {prof.bounds['gemm']:.0f} GFLOP/s,"
                  f" copy {prof.bounds['copy']:.1f} GB/s at {prof.bounds['threads']} thread(s)")
    return title + "\n" + "\n".join(out)
