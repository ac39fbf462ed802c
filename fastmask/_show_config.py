"""`fastmask.show_config()`: what runs, in this order: version; instruction set and why;
OpenMP runtime and threads; the BLAS; compiler and fastmask's flags; Python/NumPy/SciPy."""
import os
import platform
import sys

from . import __version__
from .kernels._threads import (_cpu_count, _threadpool_controller, get_num_threads,
                               in_forked_child)

__all__ = ["show_config"]


def _isa_line():
    from .kernels import (_attention, _dense, _isa, _masking, _normalization, _pooling,
                          _recurrent, _softmax)
    active = _isa.active()
    text = f"{_isa.LABELS[active]} ({_isa.reason()})"
    families = {"masking": _masking, "recurrent": _recurrent, "softmax": _softmax,
                "pooling": _pooling, "attention": _attention, "dense": _dense,
                "normalization": _normalization}
    lower = [f"{name} (runs {_isa.LABELS[m.isa_in_use()]})" for name, m in families.items()
             if m.isa_in_use() != active]
    if lower:
        text += f"; no {_isa.LABELS[active]} variant in " + ", ".join(lower)
    return text


def _openmp_lines():
    from .kernels import _libraries     # ctypes: loaded only when show_config runs
    runtime = _libraries.openmp_runtime()
    threads = (f"threads: {get_num_threads()} (cpus available: {_cpu_count()}, "
               f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
               f"{'; forked after threads ran: 1 thread' if in_forked_child() else ''})")
    if runtime is None:
        return [f"  OpenMP: DISABLED (serial build: kernels run on 1 thread), {threads}"]
    return [f"  OpenMP: {runtime['name']}, {threads}",
            f"          {runtime['path'] or 'library path unknown'}"]


def _blas_lines():
    from .kernels import _libraries
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
        from . import _build_info as bi
    except ImportError:  # built by a setup.py that did not record it
        return ["  compiler: unknown (no fastmask/_build_info.py in this build)"]
    version = getattr(bi, "COMPILER_VERSION", "")
    lines = [f"  compiler: {version} [{bi.COMPILER}]" if version else f"  compiler: {bi.COMPILER}",
             f"  fastmask flags: {' '.join(bi.CFLAGS)}; link: {' '.join(bi.LDFLAGS) or '-'}"]
    glue = getattr(bi, "GLUE_CFLAGS", None)
    if glue:   # the C files Cython generates; the kernels keep the flags above
        lines.append(f"  Cython glue (not the kernels): {' '.join(glue)}")
    if bi.DEBUG or bi.SANITIZE:
        lines.append(f"  debug build: {bi.DEBUG}, sanitizers: {bi.SANITIZE}")
    return lines


def show_config(file=None):
    """Print what runs, in this order: fastmask's version; the kernels' instruction
    set and why (FASTMASK_ISA or the CPU's flags); the OpenMP runtime and thread
    count (and whether this is a child forked after threads ran, which runs 1
    thread); the BLAS the kernels call (library, version, threads); the compiler
    and flags fastmask was built with; then Python, NumPy and SciPy versions."""
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
