"""Smoke test for an installed fastmask (a wheel, or an sdist build): run it from a directory
without the source tree.

    python tests/smoke_wheel.py                 # any installed fastmask
    python tests/smoke_wheel.py --no-compiler   # CI's repaired wheel: also check that no C
                                                # compiler is reachable, and that the OpenMP
                                                # runtime in use is the one bundled in the wheel

Checks: fastmask is imported from site-packages (not a source checkout), Cython is not
installed, every compiled module imports, the kernels give the right numbers on 2 OpenMP
threads, and `python -m fastmask --no-bench` runs. With --no-compiler: `cc`, `gcc`,
`clang` and `$CC` are not usable, and when the wheel bundles libgomp (auditwheel repair puts
it in `fastmask.libs/`), the libgomp mapped into this process is that copy.
"""
import glob
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np

import fastmask

NO_COMPILER = "--no-compiler" in sys.argv[1:]
here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
pkg = os.path.dirname(os.path.abspath(fastmask.__file__))
assert pkg != os.path.join(repo, "fastmask") and "site-packages" in pkg, fastmask.__file__
assert importlib.util.find_spec("Cython") is None, "Cython must not be needed at run time"

if NO_COMPILER:
    found = {name: shutil.which(name) for name in ("cc", "gcc", "clang", "c++", "g++")}
    assert not any(found.values()), f"a C compiler is on PATH: {found}"
    cc = shutil.which(os.environ.get("CC", "cc"))
    assert cc is None or subprocess.run([cc, "--version"], capture_output=True).returncode, \
        f"CC={os.environ.get('CC')!r} works"

modules = sorted(os.path.basename(p).split(".")[0]
                 for p in glob.glob(os.path.join(pkg, "kernels", "_*.so"))
                 + glob.glob(os.path.join(pkg, "kernels", "_*.pyd")))
assert "_recurrent" in modules and "_openmp_helpers" in modules, modules
for name in modules:
    importlib.import_module(f"fastmask.kernels.{name}")

fastmask.show_config()
padded = fastmask.utils.pad_sequences([[1, 2, 3], [4, 5], [6]], padding="post")
expected = np.array([[1, 2, 3], [4, 5, 0], [6, 0, 0]], dtype=np.int32)
assert padded.dtype == np.int32 and np.array_equal(padded, expected), padded

# The OpenMP kernels on 2 threads against plain NumPy.
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 50, 16)).astype(np.float32)
keep = rng.random((64, 50)) < 0.7
with fastmask.num_threads(2):
    got = fastmask.kernels.masked_mean(x, keep, axis=1)
    sm = fastmask.kernels.masked_softmax(x, keep[..., None], axis=1)
want = (x * keep[..., None]).sum(1) / np.maximum(keep.sum(1), 1)[:, None]
np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(sm.sum(1)[keep.any(1)], 1.0, rtol=1e-5)

libs = os.path.join(os.path.dirname(pkg), "fastmask.libs")
if NO_COMPILER and sys.platform.startswith("linux"):
    from fastmask.kernels import _openmp_helpers
    assert _openmp_helpers.openmp_enabled(), "the wheel was built without OpenMP"
    bundled = glob.glob(os.path.join(libs, "libgomp*.so*"))
    assert bundled, f"no libgomp bundled in {libs} (was the wheel repaired by auditwheel?)"
    with open("/proc/self/maps") as f:
        gomp = {line.split()[-1] for line in f if "libgomp" in line}
    assert gomp and all(p.startswith(libs) for p in gomp), \
        f"the libgomp in use is not the wheel's: {sorted(gomp)}"
    print(f"wheel smoke test: OpenMP runtime from the wheel: {sorted(gomp)}", file=sys.stderr)

tour = subprocess.run([sys.executable, "-m", "fastmask", "--no-bench"], capture_output=True,
                      text=True, timeout=600)
assert tour.returncode == 0 and "== 6. Serving" in tour.stdout, tour.stderr[-3000:]
print("wheel smoke test: ok", file=sys.stderr)
