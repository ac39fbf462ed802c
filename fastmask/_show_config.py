"""`fastmask.show_config()`: version, OpenMP, threads, BLAS and the build's compiler flags."""
import os
import platform
import sys

from . import __version__
from .kernels import _openmp_helpers
from .kernels._threads import _cpu_count, blas_info, get_num_threads, in_forked_child

__all__ = ["show_config"]


def show_config(file=None):
    """Print version, OpenMP status, thread count, BLAS and build flags."""
    try:
        from . import _build_info as bi
    except ImportError:  # built by a setup.py older than _build_info
        bi = None
    file = file or sys.stdout
    lines = [
        f"fastmask {__version__}",
        f"  python: {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"  numpy: {__import__('numpy').__version__}, scipy: {__import__('scipy').__version__}",
        f"  OpenMP: {'enabled' if _openmp_helpers.openmp_enabled() else 'DISABLED (serial build: kernels run on 1 thread)'}",
        f"  threads: {get_num_threads()} (cpus available: {_cpu_count()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
        f"{'; forked after threads ran: 1 thread' if in_forked_child() else ''})",
    ]
    for api, ver, layer, nt, arch, lib in blas_info():
        lines.append(f"  BLAS: {api} {ver} ({lib}), threading: {layer}, threads: {nt}, arch: {arch}")
    if bi is not None:
        lines += [f"  compiler: {bi.COMPILER}",
                  f"  cflags: {' '.join(bi.CFLAGS)}",
                  f"  ldflags: {' '.join(bi.LDFLAGS)}",
                  f"  debug build: {bi.DEBUG}, sanitizers: {bi.SANITIZE}"]
    print("\n".join(lines), file=file)
