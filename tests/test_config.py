import io
import os
import threading

import numpy as np
import pytest

import fastmask
from fastmask.kernels import _isa, _threads as _config
from fresh_python import run_python


def _show_config(**env):
    """show_config()'s lines: in this process, or (with env) in a fresh one."""
    if not env:
        buf = io.StringIO()
        fastmask.show_config(file=buf)
        return buf.getvalue().splitlines()
    res = run_python("import fastmask; fastmask.show_config()", **env)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def _index(lines, prefix):
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert len(hits) == 1, (prefix, lines)
    return hits[0]


def test_show_config_lines_in_order():
    """Version, instruction set and why, OpenMP runtime and threads, the BLAS the
    kernels call, then fastmask's compiler and its own flags."""
    lines = _show_config()
    assert lines[0] == f"fastmask {fastmask.__version__}"
    order = [_index(lines, p) for p in ("  instruction set: ", "  OpenMP: ", "  BLAS: ",
                                        "  compiler: ", "  fastmask flags: ")]
    assert order == sorted(order) and order[0] == 1, lines
    isa = lines[order[0]]
    assert isa.startswith(f"  instruction set: {_isa.LABELS[_isa.active()]} ({_isa.reason()})")
    assert f"threads: {fastmask.get_num_threads()} (cpus available: " in lines[order[1]]


def test_show_config_names_the_openmp_runtime_the_kernels_load():
    """Oracle: threadpoolctl's list of loaded OpenMP libraries."""
    from threadpoolctl import threadpool_info
    lines = _show_config()
    i = _index(lines, "  OpenMP: ")
    loaded = {os.path.realpath(x["filepath"]): x["internal_api"] for x in threadpool_info()
              if x["user_api"] == "openmp"}
    path = lines[i + 1].strip()
    assert path in loaded, (path, loaded)
    if "gomp" in os.path.basename(path):
        assert lines[i].startswith("  OpenMP: libgomp (GNU), threads: ")


def test_show_config_names_only_the_blas_scipy_links():
    """Oracle: threadpoolctl's BLAS libraries; SciPy's wheel vendors its own in
    scipy.libs (NumPy's, also loaded, must not be reported)."""
    import scipy
    from threadpoolctl import threadpool_info
    lines = _show_config()
    i = _index(lines, "  BLAS: ")
    blas = [x for x in threadpool_info() if x["user_api"] == "blas"]
    ours = [x for x in blas if os.sep + "scipy.libs" + os.sep in x["filepath"]
            or os.path.dirname(scipy.__file__) in x["filepath"]]
    if not ours:
        pytest.skip("SciPy without a vendored BLAS (not a wheel install)")
    info = ours[0]
    assert lines[i].startswith(f"  BLAS: {info['internal_api']} {info['version']}, threads: "
                                f"{info['num_threads']} ")
    assert lines[i + 1].strip().startswith(os.path.basename(info["filepath"]) +
                                           " via scipy.linalg.cython_blas")
    for other in blas:
        if other is not info and other["filepath"] != info["filepath"]:
            assert os.path.basename(other["filepath"]) not in "\n".join(lines)


def test_show_config_compiler_line_is_fastmasks_own():
    from fastmask import _build_info as bi
    lines = _show_config()
    compiler = lines[_index(lines, "  compiler: ")]
    assert bi.COMPILER in compiler and bi.COMPILER_VERSION in compiler
    flags = lines[_index(lines, "  fastmask flags: ")]
    assert flags == (f"  fastmask flags: {' '.join(bi.CFLAGS)}; link: "
                     f"{' '.join(bi.LDFLAGS) or '-'}")
    assert ("-fopenmp" in flags) == bi.OPENMP
    # Python's own flags (-fwrapv, -Wsign-compare) are not fastmask's.
    assert "-fwrapv" not in flags and "-Wsign-compare" not in flags
    # The glue's lower level (setup.py's GLUE_OPT) is its own line, shown when it was used.
    glue = [line for line in lines if line.startswith("  Cython glue")]
    if getattr(bi, "GLUE_CFLAGS", None):
        assert glue == [f"  Cython glue (not the kernels): {' '.join(bi.GLUE_CFLAGS)}"]
        assert "-DFM_HOT_O3" in bi.GLUE_CFLAGS
    else:
        assert glue == []


@pytest.mark.parametrize("name", _isa.NAMES + (None,))
def test_show_config_isa_line_follows_fastmask_isa(name):
    if name is not None and name not in _isa.cpu_supported():
        pytest.skip(f"this CPU cannot execute {_isa.LABELS[name]} "
                    f"(it supports {', '.join(_isa.cpu_supported())})")
    lines = _show_config(FASTMASK_ISA=name)
    isa = lines[_index(lines, "  instruction set: ")]
    if name is None:
        assert isa.startswith(f"  instruction set: {_isa.LABELS[_isa.best()]} "
                              f"(best available: CPU has ")
    else:
        assert isa.startswith(f"  instruction set: {_isa.LABELS[name]} "
                              f"(forced by FASTMASK_ISA={name})")
    # a family without that variant is named with the one it runs
    avx512 = name == "avx512" or (name is None and _isa.best() == "avx512")
    assert ("no AVX-512 variant in masking (runs AVX2)" in isa) == avx512
    assert ("normalization (runs AVX2)" in isa) == avx512


def test_show_config_isa_line_follows_set_isa():
    try:
        _isa.set_isa("generic")
        isa = _show_config()[1]
    finally:
        _isa.set_isa(None)
    assert isa == ("  instruction set: generic (set in-process by "
                   "fastmask.kernels._isa.set_isa('generic'))")


FORK_REPORT = """
    import io, os, sys
    import numpy as np
    import fastmask
    from fastmask.kernels import _softmax, masked_softmax

    def openmp_line():
        buf = io.StringIO()
        fastmask.show_config(file=buf)
        return next(line for line in buf.getvalue().splitlines()
                    if line.startswith("  OpenMP: "))

    if {run_threads}:
        _softmax.MIN_ELEMENTS_PER_THREAD = 1       # a real team of 2 threads
        masked_softmax(np.ones((64, 64), np.float32), n_threads=2)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        print("child", openmp_line(), flush=True)
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    # after the fork: get_num_threads() resolving 2 counts as "threads used" for
    # later forks (kernels/_threads.py), so the parent does not ask before it
    print("parent", openmp_line(), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
@pytest.mark.skipif(not fastmask.kernels._openmp_helpers.openmp_enabled(), reason="serial build")
@pytest.mark.parametrize("run_threads", [True, False])
def test_show_config_threads_line_says_forked_after_threads_ran(run_threads):
    """A child forked after its parent ran kernels on 2 threads runs 1 thread (README
    "fork"): show_config's OpenMP line says so there, and only there."""
    res = run_python(FORK_REPORT.format(run_threads=run_threads), OMP_NUM_THREADS="2",
                     timeout=120)
    assert res.returncode == 0, res.stderr
    lines = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    note = "; forked after threads ran: 1 thread)"
    assert "threads: 2 (" in lines["parent"] and note not in lines["parent"], lines
    if run_threads:
        assert "threads: 1 (" in lines["child"] and lines["child"].endswith(note), lines
    else:
        assert "threads: 2 (" in lines["child"] and note not in lines["child"], lines


def test_openmp_is_enabled_in_this_build():
    # The CI machine has gcc with OpenMP; a serial build there is a regression.
    assert fastmask.kernels._openmp_helpers.openmp_enabled()


def test_set_num_threads_and_context_manager():
    default = fastmask.get_num_threads()
    assert default >= 1
    try:
        fastmask.set_num_threads(1)
        assert fastmask.get_num_threads() == 1
        with fastmask.num_threads(3):
            assert fastmask.get_num_threads() == 3
        assert fastmask.get_num_threads() == 1
        fastmask.set_num_threads(-1)
        assert fastmask.get_num_threads() == default
    finally:
        fastmask.set_num_threads(None)
    assert fastmask.get_num_threads() == default


def test_context_manager_is_per_thread():
    seen = {}

    def other():
        seen["other"] = fastmask.get_num_threads()

    with fastmask.num_threads(5):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert fastmask.get_num_threads() == 5
    assert seen["other"] == fastmask.get_num_threads()


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_bad_thread_counts(bad):
    with pytest.raises((TypeError, ValueError), match="`n`"):
        fastmask.set_num_threads(bad)


def test_numpy_integer_thread_count():
    with fastmask.num_threads(np.int64(1)):
        assert fastmask.get_num_threads() == 1


def test_explicit_n_threads_argument_wins():
    with fastmask.num_threads(1):
        assert _config.effective_num_threads(2) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_row_major_gemm_wrapper(dtype, ta, tb):
    from fastmask.kernels._cython_blas import gemm_memview
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(dtype)
    b = rng.standard_normal((7, 3)).astype(dtype)
    c = rng.standard_normal((5, 3)).astype(dtype)
    expected = 2.0 * a @ b + 0.5 * c
    gemm_memview(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                 c, ta, tb, 2.0, 0.5)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, expected, rtol=rtol, atol=rtol)


def test_blas_threads_limits_scipy_blas_used_by_the_kernels():
    from threadpoolctl import threadpool_info
    with _config.blas_threads(1):
        libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert any("scipy_openblas" in i["filepath"] for i in libs)
        assert all(i["num_threads"] == 1 for i in libs), libs


def test_overlapping_kernel_calls_share_the_blas_limit():
    """Two threads' kernel calls overlap (A in, B in, A out, B out): BLAS stays at one
    thread until B leaves, then is back at its count from before (a per-call limit
    restored it under B, and left the process at one thread after both). The main
    thread limits first: threadpoolctl then ignored other threads' limits."""
    import threading
    from threadpoolctl import threadpool_info

    def counts():
        return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    with _config.blas_threads(1):
        pass
    before = counts()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def call_a():
        with _config.blas_threads(1):
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def call_b():
        a_in.wait(10)
        with _config.blas_threads(1):
            b_in.set()
            a_out.wait(10)
            seen["under_b"] = counts()

    threads = [threading.Thread(target=call_a), threading.Thread(target=call_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(seen["under_b"]) == {1}
    assert counts() == before


@pytest.mark.parametrize("n", [65, 100000, 2 ** 31])
def test_huge_thread_counts_are_capped(n):
    with fastmask.num_threads(n):
        assert fastmask.get_num_threads() == _config.MAX_THREADS


# ------------------------------------------------------------ OMP_NUM_THREADS (README "Threads")
THREADS_REPORT = """
    import numpy as np
    import fastmask
    from fastmask.kernels import _recurrent
    from fastmask.kernels import lstm, masked_softmax

    def os_threads():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))

    masked_softmax(np.ones((2, 3), np.float32))          # tiny: runs on the calling thread
    base = os_threads()
    masked_softmax(np.ones((64, 4096), np.float32))      # 8 threads' worth of work
    started = os_threads() - base                        # OpenMP keeps its pool alive
    rng = np.random.default_rng(1)
    lstm(rng.standard_normal((64, 20, 32)).astype(np.float32),
         rng.standard_normal((32, 256)).astype(np.float32),
         rng.standard_normal((64, 256)).astype(np.float32))
    # the LSTM's team: at most one batch part per register block of rows, and per
    # MIN_PART_FLOPS of work (64 x 20 row-steps, 2 x 96 x 256 flops each)
    cap = min(64 // _recurrent.rows_per_block("lstm", True, np.float32),
              int(64 * 20 * 2 * 96 * 256 / _recurrent.MIN_PART_FLOPS))
    print(fastmask.get_num_threads(), started, _recurrent.last_plan["n_threads"], cap)
"""


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="counts threads in /proc")
@pytest.mark.skipif(not fastmask.kernels._openmp_helpers.openmp_enabled(), reason="serial build")
@pytest.mark.parametrize("omp,expected", [
    ("1", 1),                 # honoured
    ("3", 3),                 # honoured as given, even above this process's CPUs
    ("100", 64),              # capped at MAX_THREADS (README: thread counts are capped at 64)
    (None, None),             # unset: OpenMP's default, capped at the usable CPUs
])
def test_omp_num_threads_is_honoured_and_capped(omp, expected):
    """What get_num_threads() reports and the OpenMP team the kernels start: the
    softmax adds (team - 1) pool threads to the process, the LSTM reports its plan.
    Both kernels have work for 8+ threads here, so only the count limits them."""
    res = run_python(THREADS_REPORT, OMP_NUM_THREADS=omp)
    assert res.returncode == 0, res.stderr
    n, started, lstm_threads, lstm_cap = map(int, res.stdout.split())
    if expected is None:
        expected = min(_cpus(), _config.MAX_THREADS)
    assert n == expected
    assert started == min(expected, 8) - 1          # 64 x 4096 elements: work for 8
    assert 2 <= lstm_cap <= 64
    assert lstm_threads == min(expected, lstm_cap)  # 64 rows: parts of >= 1 register block


# ------------------------------------------------------------ serial build (README "Threads")
SERIAL_SMOKE = """
    import os, sys
    import numpy as np
    import fastmask
    from fastmask import _build_info
    from fastmask.kernels import _openmp_helpers
    from fastmask.kernels import masked_mean, masked_softmax, masking
    assert os.path.dirname(fastmask.__file__) == os.path.join(os.getcwd(), "fastmask"), \\
        fastmask.__file__
    assert not _openmp_helpers.openmp_enabled() and _build_info.OPENMP is False
    assert "-fopenmp" not in _build_info.CFLAGS
    assert fastmask.get_num_threads() == 1                # OMP_NUM_THREADS=4 is set
    with fastmask.num_threads(4):
        assert fastmask.get_num_threads() == 1
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 50, 6)).astype(np.float32)
    mask = rng.random((8, 50)) < 0.6
    e = np.exp(x - np.where(mask[:, :, None], x, -np.inf).max(1, keepdims=True)) * mask[:, :, None]
    np.testing.assert_allclose(masked_softmax(x, mask[:, :, None], axis=1, n_threads=4),
                               e / e.sum(1, keepdims=True), rtol=2e-6, atol=1e-7)
    # float64 oracle: the kernel accumulates in float64 (a float32 NumPy sum is the
    # less accurate of the two where a mean is near 0)
    np.testing.assert_allclose(masked_mean(x, mask, n_threads=4),
                               (x.astype(np.float64) * mask[:, :, None]).sum(1)
                               / mask.sum(1)[:, None], rtol=1e-5, atol=1e-6)
    out, m = masking(np.where(mask[:, :, None], x, 0), n_threads=4)
    assert (m == mask).all() and (out == np.where(mask[:, :, None], x, 0)).all()
    fastmask.show_config()
"""


@pytest.mark.slow
def test_serial_build_without_openmp(tmp_path):
    """FASTMASK_USE_OPENMP=0 builds serial code (in a copy of the source tree, so
    the in-place build is untouched): kernels run and match NumPy on one thread
    whatever is asked, and show_config() says `OpenMP: DISABLED`. About 2-3
    minutes on 2 cores (a full compile; Cython's .c files are reused when present)."""
    import shutil
    import subprocess
    import sys
    import time
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, "setup.py")):
        pytest.skip("needs the source tree (setup.py)")
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy2(os.path.join(root, name), tmp_path / name)
    shutil.copytree(os.path.join(root, "csrc"), tmp_path / "csrc")
    shutil.copytree(os.path.join(root, "fastmask"), tmp_path / "fastmask",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.html",
                                                  "_build_info.py"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FASTMASK_") and k != "PYTHONPATH"}
    env["FASTMASK_USE_OPENMP"] = "0"
    start = time.perf_counter()
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-j", "2"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    took = time.perf_counter() - start
    assert build.returncode == 0, build.stderr[-5000:]
    assert "building WITHOUT OpenMP" in build.stdout + build.stderr
    res = run_python(SERIAL_SMOKE, cwd=tmp_path, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS="4")
    assert res.returncode == 0, res.stderr[-5000:]
    openmp = [line for line in res.stdout.splitlines() if line.startswith("  OpenMP: ")]
    assert openmp == ["  OpenMP: DISABLED (serial build: kernels run on 1 thread), threads: 1 "
                      f"(cpus available: {_cpus()}, OMP_NUM_THREADS=4)"], res.stdout
    print(f"serial build took {took:.0f} s")
