"""Thread control of the kernels: set_num_threads, num_threads, effective_num_threads, BLAS.

The kernels' thread count is resolved at each call by `effective_num_threads()`:
  1. a `with fastmask.num_threads(n):` block active in the calling thread, else
  2. the value given to `fastmask.set_num_threads(n)`, else
  3. OpenMP's maximum: OMP_NUM_THREADS as given when set, else capped at the
     CPUs this process may use.
Every count is capped at MAX_THREADS; a build without OpenMP, or a child forked
after threads ran, always runs 1 thread. BLAS calls made by a kernel use the
same count (see `blas_threads`) so OpenMP and BLAS threads never multiply.
"""
import contextlib
import contextvars
import os
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


# OpenMP reads OMP_NUM_THREADS once, when its runtime loads (with the first
# kernel module, before this one runs): read it once here too (a lookup in
# os.environ costs ~2.5 us, a tenth of a small kernel call).
_OMP_NUM_THREADS_SET = "OMP_NUM_THREADS" in os.environ
_OPENMP = _openmp_helpers.openmp_enabled()
_openmp_max_threads = _openmp_helpers.openmp_max_threads
_usable_cpus = None      # CPUs this process may run on: measured once, again after fork


def _usable_cpu_count():
    """_cpu_count(), measured once per process (a forked child measures again: the
    fork handler below forgets it)."""
    global _usable_cpus
    if _usable_cpus is None:
        _usable_cpus = _cpu_count()
    return _usable_cpus


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


# fork(): an OpenMP thread team does not survive it. A child forked after this process
# ran a team of 2+ threads (multiprocessing's "fork" start method, gunicorn, Dask's
# process workers) would wait forever on libgomp's stale team at its first parallel
# region, so in such a child every kernel runs on the calling thread alone (1 thread,
# whatever is asked), and so do the child's own forked children. A team of one thread
# does not touch the pool and is safe. The "spawn"/"forkserver" start methods start
# fresh processes with the normal thread count.
_threads_used = False       # this process may have started an OpenMP team of 2+ threads
_forked_child = False       # forked after a team was started: kernels run on 1 thread


def _after_fork_in_child():
    global _forked_child, _usable_cpus
    _usable_cpus = None
    if _threads_used:
        _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def in_forked_child():
    """True in a process forked after its parent ran kernels on 2+ threads (then the
    kernels run on one thread: OpenMP's thread team does not survive fork)."""
    return _forked_child


def _resolve(n):
    """n > 0: n threads; n < 0: max + 1 + n; None: max (OpenMP's maximum: an
    explicit OMP_NUM_THREADS as given, else capped at the usable CPUs). Always
    1..MAX_THREADS; without OpenMP, or in a child forked after threads were used: 1."""
    global _threads_used
    if _forked_child or not _OPENMP:
        return 1
    max_threads = _openmp_max_threads()
    if not _OMP_NUM_THREADS_SET:
        cpus = _usable_cpus if _usable_cpus is not None else _usable_cpu_count()
        if cpus < max_threads:
            max_threads = cpus
    if n is None:
        n = max_threads
    elif n < 0:
        n = max_threads + 1 + n
    if n > MAX_THREADS:
        n = MAX_THREADS
    if n > 1:
        _threads_used = True
        return n
    return 1


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


_blas_libs = None     # ((get, set) thread-count calls of each loaded BLAS library)


def _openblas_calls(lib):
    """OpenBLAS's own (get, set) thread-count C functions, or None.

    threadpoolctl's wrappers cost microseconds a call and let one Python thread
    at a time set a pthreads OpenBLAS's count (silently ignoring the others);
    the kernels serialise their changes themselves (`_SingleThreadedBlas`)."""
    if getattr(lib, "internal_api", None) != "openblas" \
            or getattr(lib, "threading_layer", None) == "openmp":
        return None
    try:
        prefix, suffix = lib._symbol_prefix, lib._symbol_suffix   # threadpoolctl 3.5+
        get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}")
        set_ = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}")
    except AttributeError:
        return None
    return get, set_


def _release_blas_ownership():
    """Let any thread set OpenBLAS's thread count through threadpoolctl again."""
    import threadpoolctl
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                    "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _threadpoolctl_calls(lib):
    """(get, set) through threadpoolctl's controller (any BLAS it knows)."""
    def set_(n):
        _release_blas_ownership()
        lib.set_num_threads(n)
        _release_blas_ownership()
    return lib.get_num_threads, set_


def _blas_controllers():
    global _blas_libs
    libs = _blas_libs
    if libs is None:
        libs = _blas_libs = tuple(
            _openblas_calls(lib) or _threadpoolctl_calls(lib)
            for lib in _threadpool_controller().select(user_api="blas").lib_controllers)
    return libs


def _set_blas_threads(n):
    """Set every BLAS library to `n` threads; [(set, its count before)] of those changed.

    Reads each library's count (one C call) and sets only those that differ
    (threadpoolctl's `limit` first queries every library's version and
    architecture: about 0.1 ms a call, more than a small kernel)."""
    changed = []
    for get, set_ in _blas_controllers():
        before = get()
        if before is not None and before != n:
            set_(n)
            changed.append((set_, before))
    return changed


def _restore_blas_threads(changed):
    for set_, before in changed:
        set_(before)


class _SingleThreadedBlas:
    """BLAS at one thread while any kernel call in any thread needs it.

    OpenBLAS's thread count is one value per process (its
    `openblas_set_num_threads_local` sets that same value), so a kernel cannot
    limit BLAS for its own calls only. Each call's own limit would save the
    count at entry and restore it at exit: two overlapping calls then restored
    the default while the second still ran (BLAS threads on top of its own
    threads) and left the process at one BLAS thread after both. Here the first
    call in limits, the last call out restores, whichever threads they run in;
    NumPy calls of other threads run single-threaded BLAS meanwhile.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._changed = ()

    def __enter__(self):
        _blas_controllers()     # outside the lock: the first call may import scipy
        with self._lock:
            if self._holders == 0:
                self._changed = _set_blas_threads(1)
            self._holders += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                changed, self._changed = self._changed, ()
                _restore_blas_threads(changed)
        return False

    def _after_fork_in_child(self):
        # Only the forking thread survives: no other holder will ever leave.
        self._lock = threading.Lock()
        self._holders = 0
        self._changed = ()


_single_threaded_blas = _SingleThreadedBlas()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_single_threaded_blas._after_fork_in_child)


class _BlasLimit:
    """`with blas_threads(n)` for n > 1 (benchmarks): each library at `n` inside
    the block, given back its own count after it."""

    __slots__ = ("n", "changed")

    def __init__(self, n):
        self.n = n
        self.changed = ()

    def __enter__(self):
        self.changed = _set_blas_threads(self.n)
        return self

    def __exit__(self, *exc):
        changed, self.changed = self.changed, ()
        _restore_blas_threads(changed)
        return False


def blas_threads(n):
    """Context manager limiting BLAS to `n` threads (for the kernels' GEMMs).

    `n == 1` (the kernels) is shared by concurrent calls (`_SingleThreadedBlas`);
    another `n` is a per-block limit (benchmarks)."""
    if n == 1:
        return _single_threaded_blas
    return _BlasLimit(n)


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
