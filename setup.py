"""Build the fastmask Cython extensions (every fastmask/kernels/_*.pyx, module
fastmask.kernels._<name>; the C headers they include are in csrc/).

Environment variables:
  FASTMASK_USE_OPENMP=probe|0|1   probe (default): compile and run a tiny OpenMP
                                  program; 0: serial build; 1: force -fopenmp.
  FASTMASK_FAIL_NO_OPENMP=1       make a failed probe an error instead of a warning.
  FASTMASK_DEBUG=1                -O0 -g, Cython boundscheck/wraparound/initializedcheck on.
  FASTMASK_SANITIZE=1             -fsanitize=address,undefined (implies FASTMASK_DEBUG).
  FASTMASK_MARCH=<arch>           add -march=<arch> (e.g. native); never set for wheels.
  FASTMASK_EXTENSIONS=a,b         developers only: build just these modules (e.g. _padding).
  FASTMASK_BUILD_JOBS=N           parallel Cython and C compiler jobs (default: the CPUs this
                                  process may use; `-j N` of build_ext wins).
  FASTMASK_GLUE_OPT=O1|O2|O3      optimisation of the C files Cython generates (default O1 with
                                  GCC; see GLUE_OPT). The kernels are -O3 whatever this says.

The build runs on every CPU: Cython translates the modules in parallel processes, then the
C compiler compiles the object files of all extensions through one pool of jobs, the
costliest first (a module's C kernels may be split over several files, csrc/fm_<family>_*.c,
which then compile in parallel: the recurrent kernels are one file per dtype x instruction
set), and each extension is linked as soon as its objects are ready. The C files Cython
generates are compiled at -O1 with GCC (GLUE_OPT: half their compile time; the kernels they
include from csrc/ stay at -O3, see csrc/fm_hot.h). Cython's shared utility code
(memoryviews and the like) is compiled once, into fastmask.kernels._cyutility, instead of into
every module. Progress lines ("fastmask: ...") are printed as it goes: `pip install -v .`
shows them.
"""
import concurrent.futures
import glob
import heapq
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_UTILITY = "fastmask.kernels._cyutility"   # Cython's utility code, compiled once
OPENMP_TEST = textwrap.dedent("""\
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0 && omp_get_max_threads() > 0);
        return 0;
    }
    """)


def env_flag(name):
    return os.environ.get(name, "0").strip().lower() in ("1", "true", "yes", "on")


def progress(msg):
    """A build progress line; pip shows the build's output with `pip install -v`."""
    print(f"fastmask: {msg}", flush=True)


def build_jobs():
    """Parallel jobs for Cython and the C compiler: FASTMASK_BUILD_JOBS, else the usable CPUs."""
    value = os.environ.get("FASTMASK_BUILD_JOBS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"FASTMASK_BUILD_JOBS must be a positive integer. "
                             f"Received: FASTMASK_BUILD_JOBS={value!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


INCLUDE_RE = re.compile(r'''(?:#include|cdef extern from)\s+[<"']([\w./]+)[>"']''')
CIMPORT_RE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+cimport|cimport\s+([\w.]+))", re.M)


def compile_weight(pyx):
    """Bytes of the C headers (csrc/) and .pxd files a .pyx or C file reaches: an estimate
    of its compile work (extensions are listed heaviest first; see also source_cost)."""
    seen, todo, weight = set(), [pyx], 0
    while todo:
        path = todo.pop()
        if path in seen or not os.path.exists(path):
            continue
        seen.add(path)
        weight += os.path.getsize(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        todo += [os.path.join(HERE, "csrc", name) for name in INCLUDE_RE.findall(text)]
        for a, b in CIMPORT_RE.findall(text):
            todo.append((a or b).replace(".", os.sep) + ".pxd")
    return weight


# The C file Cython generates from a .pyx is the module's Python glue: argument parsing,
# memoryview acquisition, the module's init, and the thread split around the kernels. Its hot
# loops are the C kernels of csrc/ (fm_*.h, included into it between FM_HOT_BEGIN/END, and
# the recurrent csrc/fm_recurrent_*.c files) and _pooling.pyx's verbatim C block (also
# between FM_HOT_BEGIN/END); the nogil loops written in the .pyx files themselves only deal
# work out, build mask rows or memcpy rows. So the glue compiles at GLUE_OPT and defines
# FM_HOT_O3, which keeps those kernels at -O3 (GCC's optimize pragma; the benchmarks of every
# kernel family ran at the same speed, README "Install time"). With a compiler that has no
# such pragma (clang) or in debug builds every file gets the one level of CFLAGS.
GLUE_OPT = "O1"


def glue_opt_flags(compiler_is_gcc, debug):
    """Extra flags for the Cython-generated C files (after CFLAGS; empty: CFLAGS alone)."""
    level = os.environ.get("FASTMASK_GLUE_OPT", "").strip().upper() or GLUE_OPT
    if level not in ("O1", "O2", "O3"):
        raise ValueError(f"FASTMASK_GLUE_OPT must be O1, O2 or O3. "
                         f"Received: FASTMASK_GLUE_OPT={level!r}")
    if debug or not compiler_is_gcc or level == "O3":
        return []
    return [f"-{level}", "-DFM_HOT_O3"]


def openmp_flags(compiler_type):
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin" and "openmp" in os.getenv("CPPFLAGS", ""):
        return [], ["-lomp"]  # Apple clang: -Xpreprocessor -fopenmp comes from CPPFLAGS
    return ["-fopenmp"], ["-fopenmp"]


def probe_openmp(compiler, cflags, ldflags):
    """Compile, link and run a small OpenMP program with the build's compiler."""
    tmp = tempfile.mkdtemp(prefix="fastmask_omp_")
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with open("omp_test.c", "w") as f:
            f.write(OPENMP_TEST)
        objs = compiler.compile(["omp_test.c"], extra_postargs=cflags)
        exe = os.path.join(tmp, "omp_test")
        compiler.link_executable(objs, exe, extra_postargs=ldflags)
        out = os.popen(exe).read().strip()
        return out == "1"
    except Exception as exc:  # any compile/link failure means "no OpenMP"
        print(f"fastmask: OpenMP probe failed: {exc}")
        return False
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


class CompilePool:
    """`workers` threads running compile jobs, the costliest queued job first.

    The workers wait until `expected` callers have queued their jobs (`arrive`), so that
    the order is by cost over all extensions, not by which extension asked first."""

    def __init__(self, workers, expected):
        self._cv = threading.Condition()
        self._heap, self._seq = [], itertools.count()
        self._waiting_for, self._closed = expected, False
        self._threads = [threading.Thread(target=self._work, daemon=True)
                         for _ in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, cost, fn, *args):
        future = concurrent.futures.Future()
        with self._cv:
            heapq.heappush(self._heap, (-cost, next(self._seq), future, fn, args))
            self._cv.notify()
        return future

    def arrive(self):
        """One expected caller has queued all its jobs (or has none)."""
        with self._cv:
            self._waiting_for -= 1
            self._cv.notify_all()

    def _work(self):
        while True:
            with self._cv:
                while not self._closed and (self._waiting_for > 0 or not self._heap):
                    self._cv.wait()
                if not self._heap:
                    return
                _, _, future, fn, args = heapq.heappop(self._heap)
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)

    def close(self):
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for t in self._threads:
            t.join()


def is_kernel_source(src):
    """Whether a C file is one of the kernel files of csrc/ (not Cython's output)."""
    return os.path.dirname(os.path.abspath(src)) == os.path.join(HERE, "csrc")


def source_cost(src):
    """Estimated compile cost of one C file, for the order of the pool: the kernel files in
    csrc/ (template instantiations, the slowest per byte) before Cython's C files, each
    group largest first."""
    if is_kernel_source(src):
        return 1e9 + compile_weight(src)
    return os.path.getsize(src) if os.path.exists(src) else 0


class BuildExt(build_ext):
    """Cythonizes in parallel, then compiles the C files of all extensions in one pool of
    jobs (costliest first) and links each extension when its files are compiled, with
    optimisation, OpenMP and debug/sanitizer flags, printing a progress line per extension."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:        # `-j N` / `--parallel N` wins
            self.parallel = build_jobs()

    def cythonize_all(self):
        """Translate every .pyx to C, `self.parallel` files at a time."""
        t0 = time.perf_counter()
        pyx = [e for e in self.extensions if any(s.endswith(".pyx") for s in e.sources)]
        progress(f"Cython: translating {len(pyx)} modules with {self.parallel} processes "
                 f"(+ the shared utility module {SHARED_UTILITY})")
        # (in place: build_ext.finalize_options gave these Extension objects attributes
        # that the ones cythonize returns lack)
        translated = {e.name: e for e in cythonize_extensions(
            self.extensions, nthreads=self.parallel, force=self.force)}
        for ext in self.extensions:
            ext.sources = translated[ext.name].sources
        progress(f"Cython: done in {time.perf_counter() - t0:.1f} s")

    def build_extension(self, ext):
        t0 = time.perf_counter()
        try:
            super().build_extension(ext)
        finally:
            if getattr(self, "_pool", None) is not None:
                if not getattr(self._arrived, "done", False):
                    self._pool.arrive()        # up to date (or failed): it queued no jobs
                self._arrived.done = False
        with self._progress_lock:
            self._done += 1
            progress(f"[{self._done}/{len(self.extensions)}] {ext.name} built in "
                     f"{time.perf_counter() - t0:.1f} s")

    def pooled_compile(self, sources, output_dir=None, macros=None, include_dirs=None,
                       debug=0, extra_preargs=None, extra_postargs=None, depends=None):
        """CCompiler.compile (Unix compilers), each source a job of the shared pool: the
        object files of one extension compile in parallel with each other and with those
        of the other extensions."""
        cc = self.compiler
        macros, objects, extra_postargs, pp_opts, build = cc._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = cc._get_cc_args(pp_opts, debug, extra_preargs)
        jobs = [(src, self._pool.submit(source_cost(src), self.compile_one, obj, src, ext,
                                        cc_args, extra_postargs, pp_opts))
                for obj, (src, ext) in build.items()]
        self._arrived.done = True
        self._pool.arrive()
        errors = [f.exception() for _, f in jobs]
        for exc in errors:
            if exc is not None:
                raise exc
        return objects

    def compile_one(self, obj, src, ext, cc_args, extra_postargs, pp_opts):
        t0 = time.perf_counter()
        glue = not is_kernel_source(src) and self._glue_flags
        if glue:
            extra_postargs = list(extra_postargs) + self._glue_flags
        self.compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)
        with self._progress_lock:
            self._objects_done += 1
            progress(f"  object {self._objects_done}: {os.path.relpath(src, HERE)} compiled in "
                     f"{time.perf_counter() - t0:.1f} s" +
                     (f" ({' '.join(self._glue_flags)})" if glue else ""))

    def compile_and_link_all(self):
        """build_ext.build_extensions with one compile pool of `self.parallel` jobs for the
        object files of every extension (a thread per extension waits for its objects, then
        links). Compilers other than the Unix ones compile one extension at a time."""
        self.check_extensions_list(self.extensions)
        if self.compiler.compiler_type != "unix":
            return super().build_extensions()
        self._pool = CompilePool(self.parallel, expected=len(self.extensions))
        self._arrived, self._objects_done = threading.local(), 0
        self.compiler.compile = self.pooled_compile
        try:
            with concurrent.futures.ThreadPoolExecutor(len(self.extensions)) as threads:
                futures = [(ext, threads.submit(self.build_extension, ext))
                           for ext in self.extensions]
                for ext, future in futures:
                    with self._filter_build_errors(ext):
                        future.result()
        finally:
            del self.compiler.compile          # the class's method again
            self._pool.close()
            self._pool = None

    def build_extensions(self):
        self.cythonize_all()
        self.extensions.sort(key=lambda e: -compile_weight(getattr(e, "fastmask_pyx", "")))
        self._progress_lock, self._done = threading.Lock(), 0
        ctype = self.compiler.compiler_type
        debug = env_flag("FASTMASK_DEBUG") or env_flag("FASTMASK_SANITIZE")
        if ctype == "msvc":
            cflags, ldflags = (["/Od", "/Zi"] if debug else ["/O2"]), []
        else:
            cflags = ["-O0", "-g"] if debug else ["-O3", "-g0"]
            cflags += ["-fno-math-errno", "-Wno-unused-function",
                       "-Wno-unreachable-code"]
            ldflags = []
            march = os.environ.get("FASTMASK_MARCH", "").strip()
            if march:
                cflags.append(f"-march={march}")
            if env_flag("FASTMASK_SANITIZE"):
                san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
                cflags += san
                ldflags += san

        mode = os.environ.get("FASTMASK_USE_OPENMP", "probe").strip().lower()
        omp_c, omp_l = openmp_flags(ctype)
        if mode in ("0", "false", "no", "off"):
            use_omp = False
        elif mode in ("1", "true", "yes", "on"):
            use_omp = True
        else:
            use_omp = probe_openmp(self.compiler, omp_c, omp_l)
        if not use_omp:
            msg = ("fastmask: building WITHOUT OpenMP; kernels will run on one "
                   "thread (fastmask.show_config() says so).")
            if env_flag("FASTMASK_FAIL_NO_OPENMP") and mode not in ("0", "false", "no", "off"):
                raise RuntimeError(msg + " FASTMASK_FAIL_NO_OPENMP is set.")
            warnings.warn(msg)
        else:
            cflags += omp_c
            ldflags += omp_l

        for ext in self.extensions:
            ext.extra_compile_args = cflags + ext.extra_compile_args
            ext.extra_link_args = ldflags + ext.extra_link_args
        # (the pooled compile applies them; other compilers build every file with cflags)
        self._glue_flags = (glue_opt_flags(self.compiler_is_gcc(), debug)
                            if ctype == "unix" else [])
        self.write_build_info(use_omp, cflags, ldflags, self._glue_flags)
        t0 = time.perf_counter()
        n_objects = sum(len(e.sources) for e in self.extensions)
        progress(f"compiling {len(self.extensions)} extensions ({n_objects} C files) with "
                 f"{self.parallel} parallel jobs, costliest files first")
        self.compile_and_link_all()
        progress(f"compiled {len(self.extensions)} extensions in {time.perf_counter() - t0:.1f} s")

    def run(self):
        # build_ext.run() clears self.inplace while it compiles (then copies the
        # .so files back): remember it for write_build_info.
        self.fastmask_inplace = self.inplace
        super().run()

    def compiler_description(self):
        """(executable, first line of its --version) of the C compiler."""
        cmd = getattr(self.compiler, "compiler_so", None)
        if not cmd:
            return self.compiler.compiler_type, ""
        try:
            out = subprocess.run([cmd[0], "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        return cmd[0], (out.splitlines() or [""])[0].strip()

    def compiler_is_gcc(self):
        """Whether the C compiler is GCC (whose optimize pragma csrc/fm_hot.h uses)."""
        cmd = getattr(self.compiler, "compiler_so", None)
        if not cmd:
            return False
        try:
            out = subprocess.run([cmd[0], "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return False
        return "Free Software Foundation" in out and "clang" not in out.lower()

    def write_build_info(self, use_omp, cflags, ldflags, glue_flags=()):
        compiler, version = self.compiler_description()
        base = list(getattr(self.compiler, "compiler_so", None) or [])[1:]
        text = (
            '"""Written by setup.py at build time; read by fastmask.show_config()."""\n'
            f"OPENMP = {use_omp!r}\n"
            f"COMPILER = {compiler!r}\n"
            f"COMPILER_VERSION = {version!r}\n"
            f"# fastmask's own flags (after Python's, below)\n"
            f"CFLAGS = {cflags!r}\n"
            f"LDFLAGS = {ldflags!r}\n"
            f"# added for the C files Cython generates (kernels stay at CFLAGS' level)\n"
            f"GLUE_CFLAGS = {list(glue_flags)!r}\n"
            f"# the flags Python was built with, which the compiler also gets first\n"
            f"PYTHON_CFLAGS = {base!r}\n"
            f"DEBUG = {env_flag('FASTMASK_DEBUG') or env_flag('FASTMASK_SANITIZE')!r}\n"
            f"SANITIZE = {env_flag('FASTMASK_SANITIZE')!r}\n"
        )
        targets = [os.path.join(self.build_lib, "fastmask")]
        if getattr(self, "fastmask_inplace", self.inplace):
            targets.append(os.path.join(HERE, "fastmask"))
        for d in targets:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "_build_info.py"), "w") as f:
                f.write(text)


def extensions():
    """One Extension per fastmask/**/_*.pyx (sources still .pyx: BuildExt cythonizes them, so
    the metadata steps of `pip install` do not) with its family's C kernel files
    csrc/fm_<family>_*.c, plus Cython's shared utility module."""
    only = {m.strip() for m in os.environ.get("FASTMASK_EXTENSIONS", "").split(",") if m.strip()}
    exts = []
    for pyx in sorted(glob.glob(os.path.join("fastmask", "**", "_*.pyx"), recursive=True)):
        modname = os.path.splitext(pyx)[0].replace(os.sep, ".")
        if only and modname.rsplit(".", 1)[-1] not in only:
            continue
        family = modname.rsplit(".", 1)[-1].lstrip("_")
        kernel_c = sorted(glob.glob(os.path.join("csrc", f"fm_{family}_*.c")))
        ext = Extension(
            modname, [pyx] + kernel_c,
            include_dirs=[np.get_include(), "csrc"],
            depends=sorted(glob.glob(os.path.join("csrc", "*.h"))) + sorted(
                glob.glob(os.path.join("fastmask", "kernels", "*.pxd"))),
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        )
        ext.fastmask_pyx = pyx
        exts.append(ext)
    # Every module imports its memoryview (etc.) utility code from here.
    exts.append(Extension(SHARED_UTILITY, [SHARED_UTILITY.replace(".", os.sep) + ".c"]))
    return exts


def cythonize_extensions(exts, nthreads=1, force=False):
    debug = env_flag("FASTMASK_DEBUG") or env_flag("FASTMASK_SANITIZE")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "nonecheck": False,
        "cdivision": True,
        "embedsignature": True,
        "freethreading_compatible": True,
    }
    return cythonize(exts, compiler_directives=directives, compile_time_env={}, annotate=False,
                    quiet=False, nthreads=nthreads if nthreads > 1 else 0, force=force,
                    shared_utility_qualified_name=SHARED_UTILITY)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
