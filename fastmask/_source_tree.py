"""Importing fastmask from an unbuilt source checkout.

After `pip install .`, running Python in the checkout (`python -m fastmask`,
`python -c "import fastmask"`, a subprocess of the tests) finds the source
tree's `fastmask/` first, which has no compiled extensions. Then the installed
build is used instead; if there is none, the error says how to build.
"""
import glob
import importlib
import os
import sys


def _is_built(pkg_dir):
    kernels = os.path.join(pkg_dir, "kernels")   # the compiled modules are fastmask.kernels._*
    return bool(glob.glob(os.path.join(kernels, "_openmp_helpers.*.so"))
                or glob.glob(os.path.join(kernels, "_openmp_helpers.*.pyd"))
                or glob.glob(os.path.join(kernels, "_openmp_helpers.so")))


def installed_copy(init_file, name="fastmask"):
    """None if this package is built; else the installed fastmask module (or ImportError)."""
    pkg_dir = os.path.dirname(os.path.abspath(init_file))
    if _is_built(pkg_dir):
        return None
    checkout = os.path.dirname(pkg_dir)
    saved_path = sys.path[:]
    saved_modules = {k: v for k, v in sys.modules.items()
                     if k == name or k.startswith(name + ".")}
    for k in saved_modules:
        del sys.modules[k]
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or os.curdir) != checkout]
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        sys.modules.update(saved_modules)
        raise ImportError(
            f"fastmask is being imported from its source tree ({pkg_dir}), which has no "
            f"compiled extensions, and no installed fastmask was found. Install it with "
            f"`pip install .`, or build in place with `python setup.py build_ext --inplace`."
        ) from exc
    finally:
        sys.path[:] = saved_path
    return module
