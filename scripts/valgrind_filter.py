"""Pick fastmask's reports out of a memcheck XML file (valgrind --xml=yes): for valgrind.sh.

A memory error or definite leak is fastmask's when

* it is a pwrite64 of uninitialised bytes: valgrind_smoke.py writes every kernel and
  layer output to /dev/null with os.pwrite, so an output element no kernel wrote; or
* its stack, or the stack that created the uninitialised value (--track-origins=yes),
  has a frame in a fastmask extension module (fastmask/kernels/_*.so), and that stack is not
  import noise.

Import noise: a fastmask module-init function (Cython's `__pyx_pymod_exec_<name>`) or
Cython's or NumPy's import helpers (whoever called them) called one of CPython's import
functions, and every frame inside that call, up to the top of the stack, is in CPython,
NumPy, SciPy, their bundled libraries or the C runtime. Our code only ran `import`; the
bad read is the imported code's. Known case (CPython 3.11, fixed in 3.12: cpython
gh-102509, gh-119022): `maybe_small_long` reads the uninitialised digit of a zero-size
int (`size * ob_digit[0]`), e.g. in `int("0")`, which SciPy's import runs when
`fastmask.kernels._cython_blas` cimports `scipy.linalg.cython_blas`.

Everything else with a fastmask frame stays ours: a kernel, or an init function doing
the bad read itself, or a stack through a library not listed in THIRD_PARTY.

    python valgrind_filter.py memcheck.xml       # exit 1 iff a report is ours
    python valgrind_filter.py memcheck.xml --expect A,B --expect-noise F
        # selftest: exit 0 iff the reports that are ours are exactly A, B (the innermost
        # fastmask function of each, or "pwrite64") and import noise under F was ignored
"""
import argparse
import re
import sys
import xml.etree.ElementTree as ET

OURS = re.compile(r"/fastmask/(?:[^/]+/)?[^/]*\.so$")
THIRD_PARTY = re.compile(
    r"/libpython3[^/]*\.so[^/]*$"                    # CPython, shared build
    r"|/bin/python3[^/]*$"                           # CPython, static build
    r"|/lib-dynload/"                                # CPython's own extension modules
    r"|/(?:site|dist)-packages/(?:numpy|scipy)(?:\.libs)?/"   # incl. bundled OpenBLAS
    r"|/libopenblas[^/]*$"
    r"|/(?:libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|libgfortran|libquadmath"
    r"|libz|libffi|libexpat|libbz2|liblzma|libcrypto|libssl|libuuid)[.-][^/]*$"
    r"|/ld-linux[^/]*$"
    r"|/vgpreload_memcheck[^/]*$")                   # valgrind's malloc
IMPORT_CALLS = {"PyImport_Import", "PyImport_ImportModule", "PyImport_ImportModuleLevel",
                "PyImport_ImportModuleLevelObject", "PyImport_ImportModuleNoBlock"}
# GCC may suffix local functions (.constprop.0, .isra.0, .part.0, .cold).
INIT_FRAME = re.compile(r"(?:__pyx_pymod_exec_\w+|__Pyx_+Import\w*|_import_array|_import_umath)"
                        r"(?:\.\w+(?:\.\d+)?)*$")


def frames(stack):
    """(function, object file) per frame, innermost first."""
    return [(f.findtext("fn") or "???", f.findtext("obj") or "") for f in stack.findall("frame")]


def classify(stack):
    """(verdict, fastmask function): "ours", "noise" or None (no fastmask frame)."""
    fr = frames(stack)
    mine = [i for i, (_, obj) in enumerate(fr) if OURS.search(obj)]
    if not mine:
        return None, None
    k = mine[0]
    # Whatever fastmask code is further out (a module init, or a helper it calls such as
    # _cython_blas's `_scipy_blas`, which imports SciPy), the innermost fastmask frame only
    # ran `import` and the bad read is in the imported code.
    noise = (k > 0 and fr[k - 1][0] in IMPORT_CALLS
             and all(THIRD_PARTY.search(obj) for _, obj in fr[:k])
             and INIT_FRAME.match(fr[k][0]) is not None)
    return ("noise" if noise else "ours"), fr[k][0]


def judge(err):
    """(verdict, signature) of one report: verdict "ours", "noise" or None."""
    what = err.findtext("what") or err.findtext("xwhat/text") or ""
    if err.findtext("kind") == "SyscallParam" and "pwrite64(buf)" in what:
        return "ours", "pwrite64"
    verdicts = [classify(s) for s in err.findall("stack")]  # the error's, then the origin's
    for wanted in ("ours", "noise"):
        for verdict, fn in verdicts:
            if verdict == wanted:
                return verdict, fn
    return None, None


def describe(err):
    """The report as text: kind, message, then each stack under its caption."""
    what = err.findtext("what") or err.findtext("xwhat/text") or ""
    lines, caption = [f"{err.findtext('kind')}: {what}"], None
    for child in err:
        if child.tag in ("auxwhat", "xauxwhat"):
            caption = child.text if child.tag == "auxwhat" else child.findtext("text")
        elif child.tag == "stack":
            if caption:
                lines.append(f"  {caption}:")
            for f in child.findall("frame")[:25]:
                where = f.findtext("file")
                where = f"{where}:{f.findtext('line')}" if where else (f.findtext("obj") or "")
                lines.append(f"    {f.findtext('fn') or '???'}  ({where})")
            caption = None
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("xml")
    ap.add_argument("--expect", help="selftest: comma-separated signatures that must be ours")
    ap.add_argument("--expect-noise", help="selftest: init function whose import noise "
                                           "must be ignored (CPython < 3.12)")
    args = ap.parse_args()
    errors = list(ET.parse(args.xml).getroot().iter("error"))
    ours, noise = [], {}
    for err in errors:
        verdict, sig = judge(err)
        if verdict == "ours":
            ours.append((sig, err))
        elif verdict == "noise":
            noise[sig] = noise.get(sig, 0) + 1
    print(f"valgrind.sh: memcheck reported {len(errors)} error(s)/definite leak(s) in all; "
          f"{sum(noise.values())} import noise under fastmask module init {sorted(noise)} "
          f"ignored; {len(ours)} fastmask's")
    want = set(args.expect.split(",")) if args.expect else set()
    got = {sig for sig, _ in ours}
    ok = got == want
    if args.expect is None or not ok:
        for _, err in ours:
            print(describe(err))
    if args.expect is None:
        return 0 if ok else 1
    print(f"valgrind.sh: selftest: planted bugs caught: {sorted(got & want)}; "
          f"missed: {sorted(want - got)}; unexpected: {sorted(got - want)}")
    if args.expect_noise:
        if noise.get(args.expect_noise):
            print(f"valgrind.sh: selftest: import noise under {args.expect_noise} ignored")
        elif sys.version_info < (3, 12):
            print(f"valgrind.sh: selftest: no import noise under {args.expect_noise} seen")
            ok = False
        else:
            print("valgrind.sh: selftest: (no CPython int noise on this Python: "
                  "the noise case is not exercised)")
    print("valgrind.sh: selftest", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
