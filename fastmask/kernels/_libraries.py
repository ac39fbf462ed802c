"""Which run-time libraries fastmask's kernels call: the OpenMP runtime and the BLAS.

For show_config(). The OpenMP runtime is found exactly: the shared library that
holds `omp_get_max_threads` as fastmask's extensions call it (dladdr, or
GetModuleHandleEx on Windows). The BLAS is the one scipy.linalg.cython_blas
links (fastmask's GEMMs go through it), picked among the BLAS libraries
threadpoolctl sees loaded (NumPy often loads a second one): the one vendored
inside SciPy's installation, else the one in SciPy's build-time library
directory, else the only one loaded.
"""
import ctypes
import ctypes.util
import os
import sys

_OPENMP_NAMES = (("gomp", "libgomp (GNU)"), ("iomp", "libiomp (Intel)"),
                 ("vcomp", "vcomp (MSVC)"), ("omp", "libomp (LLVM)"))


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def library_of(address):
    """Path of the shared library that contains `address` (None if unknown)."""
    if not address:
        return None
    if sys.platform == "win32":
        k32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = ctypes.c_void_p()
        # GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | ..._UNCHANGED_REFCOUNT
        if not k32.GetModuleHandleExW(0x4 | 0x2, ctypes.c_void_p(address), ctypes.byref(handle)):
            return None
        buf = ctypes.create_unicode_buffer(32768)
        n = k32.GetModuleFileNameW(handle, buf, len(buf))
        return buf.value[:n] or None
    for lib in (None, ctypes.util.find_library("dl")):
        try:
            dladdr = ctypes.CDLL(lib).dladdr
        except (OSError, AttributeError, TypeError):
            continue
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        dladdr.restype = ctypes.c_int
        info = _DlInfo()
        if dladdr(ctypes.c_void_p(address), ctypes.byref(info)) and info.dli_fname:
            return os.fsdecode(info.dli_fname)
        return None
    return None


def openmp_runtime():
    """{"name", "path"} of the OpenMP runtime the kernels use; None without OpenMP."""
    from . import _openmp_helpers
    if not _openmp_helpers.openmp_enabled():
        return None
    path = library_of(_openmp_helpers.openmp_symbol_address())
    base = os.path.basename(path or "").lower()
    name = next((label for key, label in _OPENMP_NAMES if key in base), None)
    if name is None:   # linked statically into the extension, or an unknown runtime
        name = os.path.basename(path) if path else "unknown runtime"
    return {"name": name, "path": os.path.realpath(path) if path else None}


def _inside(path, roots):
    path = os.path.realpath(path)
    return any(path.startswith(os.path.join(r, "")) for r in roots if r)


def scipy_blas(infos):
    """(info, how) of the BLAS scipy.linalg.cython_blas links, among threadpoolctl
    `infos` of user_api "blas"; (None, reason) when none is loaded."""
    import scipy
    if not infos:
        return None, "no BLAS library loaded"
    pkg = os.path.dirname(os.path.realpath(scipy.__file__))
    vendored = [i for i in infos if _inside(i.get("filepath", ""), [pkg, pkg + ".libs"])]
    if vendored:
        return vendored[0], "vendored in SciPy's wheel"
    try:
        libdir = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]["lib directory"]
    except Exception:  # older SciPy, or no such entry
        libdir = None
    built = [i for i in infos if libdir and _inside(i.get("filepath", ""), [libdir])]
    if built:
        return built[0], "SciPy's build-time BLAS"
    if len(infos) == 1:
        return infos[0], "the only BLAS loaded"
    return infos[0], f"first of {len(infos)} loaded: could not tell which SciPy links"
