"""The softmax exp loops compile to vector code in every instruction-set variant.

GCC 12 once kept every loop calling fm_exp_f32/f64 scalar in the generic and AVX2
variants (a `t < lo ? lo : t` clamp became control flow, which -ftrapping-math does
not if-convert): the kernels were right, only 3-5x slower, so no numeric test
could see it. This test compiles csrc/fm_softmax.h with the build's optimisation
flags once per (kernel, dtype, variant), with GCC's vectoriser report
(-fopt-info-vec), and asserts each loop that calls FM_EXP is reported vectorised.
No timing: the compiler's own report is the oracle.
"""
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
IMPL = os.path.join(CSRC, "fm_softmax_impl.h")
GCC = shutil.which("gcc")

# Flags of setup.py's release build (-O3 -fno-math-errno, OpenMP for `omp simd`).
FLAGS = ["-O3", "-fno-math-errno", "-fopenmp", "-Wno-unused-function"]

CALLS = {
    "row": "{fn}(x, m, 1, out, n, 0, (T)-1e9, 1, (T *)0);",
    "rows": "{fn}(x, n, out, n, 5, m, 0, 1, n, 0, (T)-1e9, 1);",
    "cols": "{fn}(x, n, 64, 64, m, 64, 1, out, 0, (T)-1e9, 1);",
}
# (dtype suffix, C type, variant suffix): the baseline float64 exp is not vectorised
# (SSE2 has no 64-bit integer compare for the 2**k scale; GCC reports "no vectype"):
# only CPUs without AVX2 run it.
VARIANTS = [("f32", "float", "base"), ("f32", "float", "v3"), ("f32", "float", "v4"),
            ("f64", "double", "v3"), ("f64", "double", "v4")]


def _gcc_major():
    out = subprocess.run([GCC, "-dumpversion"], capture_output=True, text=True).stdout
    return int(out.strip().split(".")[0] or 0)


def _exp_loops():
    """{kernel: (first, last)}: the lines of fm_softmax_impl.h from the `for` of the
    loop that calls FM_EXP to that call (GCC reports a loop at a line of its body,
    inlined or not): fm_softmax_cols's own, and pass 2's (fm_softmax_p2), which
    fm_softmax_row and fm_softmax_rows call."""
    loops, kernel, last_for = {}, None, None
    with open(IMPL) as f:
        for i, line in enumerate(f, 1):
            m = re.search(r"FM_NAME\(fm_softmax_(p2|cols)\)", line)
            if m:
                kernel = m.group(1)
            if re.match(r"\s*for \(", line):
                last_for = i
            if "FM_EXP(" in line and kernel:
                loops[kernel] = (last_for, i)
    loops["row"] = loops["rows"] = loops.pop("p2")
    return loops


@pytest.mark.skipif(GCC is None, reason="no gcc on PATH: the vectoriser report is GCC's")
@pytest.mark.parametrize("kernel", sorted(CALLS))
@pytest.mark.parametrize("sfx,ctype,isa", VARIANTS)
def test_exp_loop_is_vectorised(tmp_path, kernel, sfx, ctype, isa):
    if isa != "base" and _gcc_major() < 12:
        pytest.skip("gcc < 12 builds the baseline variant only (FM_MULTIVERSION 0)")
    first, last = _exp_loops()[kernel]
    fn = f"fm_softmax_{kernel}_{sfx}_{isa}"
    src = tmp_path / "probe.c"
    src.write_text(f'#include "fm_softmax.h"\ntypedef {ctype} T;\n'
                   f"void probe(const T *x, const uint8_t *m, T *out, ptrdiff_t n)\n"
                   f"{{ {CALLS[kernel].format(fn=fn)} }}\n")
    res = subprocess.run([GCC, *FLAGS, "-I", CSRC, "-c", str(src), "-o", str(tmp_path / "p.o"),
                          "-fopt-info-vec-all"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    at_loop = [r for r in res.stderr.splitlines()
               if (m := re.search(r"fm_softmax_impl\.h:(\d+):\d+: ", r))
               and first <= int(m.group(1)) <= last]
    vectorised = [r for r in at_loop if "optimized: loop vectorized" in r]
    assert vectorised, (f"{fn}: the exp loop (fm_softmax_impl.h:{first}-{last}) was not "
                        f"vectorised; GCC said:\n" + "\n".join(at_loop[:10]))
