"""Thread control and what runs: set_num_threads, num_threads, show_config.

The kernels' thread count is resolved at each call by `effective_num_threads()`:
  1. a `with fastmask.num_threads(n):` block active in the calling thread, else
  2. the value given to `fastmask.set_num_threads(n)`, else
  3. OpenMP's maximum: OMP_NUM_THREADS as given when set, else capped at the
     CPUs this process may use.
Every count is capped at MAX_THREADS; a build without OpenMP always runs 1 thread. BLAS calls made by a kernel use
the same count (see `blas_threads`) so OpenMP and BLAS threads never multiply.
"""
import contextlib
import contextvars
import os
import platform
import sys
import threading

from . import _openmp_helpers

_global_threads = None
# Upper bound on any thread count: kernels call single-threaded BLAS from every
# OpenMP thread, and OpenBLAS has a fixed number of per-thread buffers (it
# crashes past them); libgomp also fails to create thousands of threads.
MAX_THREADS = 64
_local_threads = contextvars.ContextVar("fastmask_num_threads", default=None)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_n(n, name="n"):
    if isinstance(n, bool) or not isinstance(n, int):
        try:
            import numpy as np
            if isinstance(n, np.integer):
                n = int(n)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"`{name}` must be an int. Received: {name}={n!r} "
                            f"(of type {type(n).__name__})") from None
    if n == 0:
        raise ValueError(f"`{name}` must not be 0 (use a positive count, or a negative "
                         f"one to count down from the maximum). Received: {name}=0")
    return n


def _resolve(n):
    """n > 0: n threads; n < 0: max + 1 + n; None: max (OpenMP's maximum: an
    explicit OMP_NUM_THREADS as given, else capped at the usable CPUs). Always
    1..MAX_THREADS; without OpenMP: 1."""
    if not _openmp_helpers.openmp_enabled():
        return 1
    max_threads = _openmp_helpers.openmp_max_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        max_threads = min(max_threads, _cpu_count())
    if n is None:
        n = max_threads
    elif n < 0:
        n = max_threads + 1 + n
    return max(1, min(n, MAX_THREADS))


def set_num_threads(n):
    """Set the number of threads the kernels use (None restores the default).

    `n < 0` counts down from the maximum: -1 = all cores, -2 = all but one.
    """
    global _global_threads
    _global_threads = None if n is None else _check_n(n)


def get_num_threads():
    """The number of threads the next kernel call in this thread will use."""
    return effective_num_threads()


@contextlib.contextmanager
def num_threads(n):
    """Context manager: kernels called in this block (this thread) use `n` threads."""
    token = _local_threads.set(_check_n(n))
    try:
        yield
    finally:
        _local_threads.reset(token)


def effective_num_threads(n_threads=None):
    """Resolve an explicit `n_threads` argument or the configured count."""
    if n_threads is None:
        n_threads = _local_threads.get()
    if n_threads is None:
        n_threads = _global_threads
    else:
        n_threads = _check_n(n_threads, "n_threads")
    return _resolve(n_threads)


_controller = None
_controller_lock = threading.Lock()


def _threadpool_controller():
    global _controller
    with _controller_lock:
        if _controller is None:
            # Load scipy's BLAS first: the kernels call it through cython_blas, and
            # a controller only sees the libraries loaded when it is created.
            import scipy.linalg  # noqa: F401
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
    return _controller


def blas_threads(n):
    """Context manager limiting BLAS to `n` threads (for the kernels' GEMMs)."""
    return _threadpool_controller().limit(limits=n, user_api="blas")


def blas_info():
    """[(library, version, threading layer, num_threads, architecture)] of loaded BLAS libraries."""
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, the one the kernels call)
    out = []
    for info in _threadpool_controller().info():
        if info.get("user_api") == "blas":
            out.append((info.get("internal_api"), info.get("version"),
                        info.get("threading_layer"), info.get("num_threads"),
                        info.get("architecture"), os.path.basename(info.get("filepath", ""))))
    return out


def _isa_line():
    from fastmask import _attention, _isa, _masking, _pooling, _recurrent, _softmax
    active = _isa.active()
    text = f"{_isa.LABELS[active]} ({_isa.reason()})"
    families = {"masking": _masking, "recurrent": _recurrent, "softmax": _softmax,
                "pooling": _pooling, "attention": _attention}
    lower = [f"{name} (runs {_isa.LABELS[m.isa_in_use()]})" for name, m in families.items()
             if m.isa_in_use() != active]
    if lower:
        text += f"; no {_isa.LABELS[active]} variant in " + ", ".join(lower)
    return text


def _openmp_lines():
    from fastmask import _libraries
    runtime = _libraries.openmp_runtime()
    threads = (f"threads: {get_num_threads()} (cpus available: {_cpu_count()}, "
               f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    if runtime is None:
        return [f"  OpenMP: DISABLED (serial build: kernels run on 1 thread), {threads}"]
    return [f"  OpenMP: {runtime['name']}, {threads}",
            f"          {runtime['path'] or 'library path unknown'}"]


def _blas_lines():
    from fastmask import _libraries
    infos = [i for i in _threadpool_controller().info() if i.get("user_api") == "blas"]
    info, how = _libraries.scipy_blas(infos)
    if info is None:
        return [f"  BLAS: none found ({how})"]
    return [f"  BLAS: {info.get('internal_api')} {info.get('version')}, threads: "
            f"{info.get('num_threads')} (1 inside fastmask's kernels), threading: "
            f"{info.get('threading_layer')}, arch: {info.get('architecture')}",
            f"        {os.path.basename(info.get('filepath', ''))} via "
            f"scipy.linalg.cython_blas ({how})"]


def _build_lines():
    try:
        from fastmask import _build_info as bi
    except ImportError:  # built by a setup.py that did not record it
        return ["  compiler: unknown (no fastmask/_build_info.py in this build)"]
    version = getattr(bi, "COMPILER_VERSION", "")
    lines = [f"  compiler: {version} [{bi.COMPILER}]" if version else f"  compiler: {bi.COMPILER}",
             f"  fastmask flags: {' '.join(bi.CFLAGS)}; link: {' '.join(bi.LDFLAGS) or '-'}"]
    if bi.DEBUG or bi.SANITIZE:
        lines.append(f"  debug build: {bi.DEBUG}, sanitizers: {bi.SANITIZE}")
    return lines


def show_config(file=None):
    """Print what runs, in this order: fastmask's version; the kernels' instruction
    set and why (FASTMASK_ISA or the CPU's flags); the OpenMP runtime and thread
    count; the BLAS the kernels call (library, version, threads); the compiler and
    flags fastmask was built with; then Python, NumPy and SciPy versions."""
    from fastmask import __version__
    import numpy
    import scipy
    lines = [
        f"fastmask {__version__}",
        f"  instruction set: {_isa_line()}",
        *_openmp_lines(),
        *_blas_lines(),
        *_build_lines(),
        f"  python {sys.version.split()[0]} ({platform.machine()}, {platform.system()}), "
        f"numpy {numpy.__version__}, scipy {scipy.__version__}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
