#!/usr/bin/env bash
# Run scripts/valgrind_smoke.py under valgrind memcheck and fail on any memory error or
# definite leak that is fastmask's: its stack, or the stack that created the
# uninitialised value, goes through fastmask's extension modules (fastmask/kernels/_*.so), or an
# output array holds uninitialised bytes. Reports from Python, NumPy, SciPy or OpenBLAS
# themselves are ignored (CPython does not free everything at exit), and so is their
# import noise under a fastmask module-init frame; scripts/valgrind_filter.py decides.
#
#   scripts/valgrind.sh              # `python3` (or $PYTHON), the in-place build
#   scripts/valgrind.sh --installed  # the fastmask installed for $PYTHON (CI: the wheel);
#                                    # fails if the source tree would shadow it
#   scripts/valgrind.sh --selftest   # exits 0 iff the filter catches the bugs planted in a
#                                    # throwaway fastmask/_selftest.so (a leak, uninitialised
#                                    # reads by a function and by a module-init function, an
#                                    # uninitialised value used elsewhere, an uninitialised
#                                    # output) and ignores CPython import noise under its
#                                    # module-init function
#
# Requires valgrind (Debian/Ubuntu: apt-get install valgrind). PYTHONMALLOC=malloc
# makes every Python allocation a malloc, so memcheck sees them (no pymalloc
# arenas, no Python suppression file needed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
# The interpreter itself, not a wrapper script (pyenv shims exec it: valgrind would
# trace the shell). A venv's python is kept as is: it finds its site-packages from
# its own path.
PY=$("$PY" -c 'import sys; print(sys.executable)')
MODE=${1:-inplace}
case "$MODE" in
  inplace|--installed|--selftest) ;;
  *) echo "usage: scripts/valgrind.sh [--installed | --selftest]" >&2; exit 2 ;;
esac
if ! command -v valgrind >/dev/null; then
  echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
script=$ROOT/scripts/valgrind_smoke.py
filter_args=()
env_args=(-u PYTHONPATH)
if [ "$MODE" = inplace ]; then
  env_args=(PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}")
elif [ "$MODE" = --selftest ]; then
  mkdir -p "$out/fastmask"
  cat > "$out/fastmask/_selftest.c" <<'EOF'
#include <stdlib.h>
void *PyImport_ImportModule(const char *name);  /* from the running interpreter */
void *kept;
void fm_selftest_leak(void) { kept = malloc(4096); kept = 0; }
/* A conditional jump on an uninitialised value, in the caller's own frame. */
#define BRANCH_ON_UNINIT(r) { int *p = malloc(4 * sizeof(int)); if (p[1] > 0) r = 1; free(p); }
int fm_selftest_uninit(void) { int r = 0; BRANCH_ON_UNINIT(r); return r; }
int fm_selftest_uninit_value(void) {  /* the value is used later, by CPython */
    int *p = malloc(4 * sizeof(int)), v = p[1];
    free(p);
    return v;
}
void *output;  /* an output nobody wrote (still reachable: not a leak) */
void *fm_selftest_alloc(size_t n) { return output = malloc(n); }
int __pyx_pymod_exec__selftest(const char *name) { return PyImport_ImportModule(name) ? 0 : -1; }
int __pyx_pymod_exec__selftest_bad(void) { int r = 0; BRANCH_ON_UNINIT(r); return r; }
EOF
  # -O0 -fno-inline: every function keeps its own frame.
  gcc -shared -fPIC -g -O0 -fno-inline -o "$out/fastmask/_selftest.so" "$out/fastmask/_selftest.c"
  # CPython < 3.12 reads an uninitialised digit in int("0") (cpython gh-102509).
  echo 'ZERO = int("0")' > "$out/selftest_noise.py"
  cat > "$out/selftest.py" <<EOF
import ctypes, os
lib = ctypes.PyDLL("$out/fastmask/_selftest.so")
lib.fm_selftest_leak()
lib.fm_selftest_uninit()
lib.fm_selftest_uninit_value()
lib["__pyx_pymod_exec__selftest"](b"selftest_noise")
lib["__pyx_pymod_exec__selftest_bad"]()
lib.fm_selftest_alloc.restype = ctypes.c_void_p
fd = os.open(os.devnull, os.O_WRONLY)
os.pwrite(fd, ctypes.string_at(lib.fm_selftest_alloc(64), 64), 0)  # as valgrind_smoke.use
print("smoke: ok")
EOF
  script=$out/selftest.py
  planted=fm_selftest_leak,fm_selftest_uninit,fm_selftest_uninit_value
  filter_args=(--expect-noise __pyx_pymod_exec__selftest
    --expect "$planted,__pyx_pymod_exec__selftest_bad,pwrite64")
fi
if [ "$MODE" != --selftest ]; then
  # The smoke runs in $out, with the environment below: which fastmask will it import?
  where=$(cd "$out" && env "${env_args[@]}" "$PY" -c \
    'import os, fastmask; print(os.path.dirname(fastmask.__file__))')
  echo "valgrind.sh: testing the fastmask in $where"
  if [ "$MODE" = --installed ] && [ "$where" = "$ROOT/fastmask" ]; then
    echo "valgrind.sh: --installed, but $PY imports the source tree's fastmask" >&2
    exit 1
  fi
fi
# --num-callers=60: deep enough that import noise shows the fastmask init frame it runs
# under (about 70 frames up, inlined frames included). With 40 that frame was cut off on
# the in-place build but not on the pip-built one: the same CPython noise passed in one
# and failed in the other. The filter now recognises it, so the depth no longer decides.
set +e
(cd "$out" && env "${env_args[@]}" PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 \
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --track-origins=yes --num-callers=60 \
  --xml=yes --xml-file="$out/memcheck.xml" \
  "$PY" "$script" > "$out/stdout" 2> "$out/stderr")
rc=$?
set -e
cat "$out/stdout"
if [ "$rc" -ne 0 ] || ! grep -q "smoke: ok" "$out/stdout"; then
  echo "valgrind.sh: the smoke script failed under valgrind (exit $rc):" >&2
  tail -n 40 "$out/stderr" >&2
  exit 1
fi
"$PY" "$ROOT/scripts/valgrind_filter.py" "$out/memcheck.xml" "${filter_args[@]}"
echo "valgrind.sh: done in $(( $(date +%s) - start )) s"
