#!/usr/bin/env bash
# Build fastmask with AddressSanitizer + UndefinedBehaviorSanitizer (FASTMASK_SANITIZE=1:
# -fsanitize=address,undefined -O0 -g, Cython bounds/wraparound/initialized checks on)
# into its own venv, run the kernel tests under it, and fail on any sanitizer report.
#
#   scripts/sanitize.sh                 # default test selection (below)
#   scripts/sanitize.sh tests/test_padding.py -k pre   # any pytest arguments instead
#
# Environment: PYTHON (default python3), SANITIZE_VENV (default .venv-sanitize; reused
# when it exists, SANITIZE_REBUILD=1 rebuilds fastmask in it).
#
# How: the sources (git-tracked and untracked-not-ignored files) are copied to a
# temporary directory and built there (never the developer's in-place build or
# ./build); the venv sees the system site-packages (numpy, scipy, pytest,
# hypothesis, ...); missing test dependencies are installed. Python is not instrumented,
# so the ASan/UBSan runtimes are LD_PRELOADed (gcc's libasan/libubsan). Leak
# detection is off (CPython does not free everything at exit; scripts/valgrind.sh
# covers leaks); allocator_may_return_null=1 lets huge allocations fail with
# MemoryError as without ASan. A report stops the process (halt_on_error); the
# output is also scanned for reports, so one printed by a subprocess whose exit
# status a test might not look at fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VENV=${SANITIZE_VENV:-$ROOT/.venv-sanitize}
start=$(date +%s)

KNOWN_SANITIZER_BUGS=()
if [ $# -eq 0 ]; then
  # The kernel tests (the battery skips its own SANITIZER_KNOWN_BUGS).
  set -- tests/test_masking_kernels.py tests/test_recurrent_kernels.py \
         tests/test_softmax_kernels.py tests/test_pooling_kernels.py \
         tests/test_attention_kernels.py tests/test_dense_kernels.py \
         tests/test_normalization_kernels.py tests/test_padding.py tests/test_mask_utils.py \
         tests/test_bad_inputs.py "${KNOWN_SANITIZER_BUGS[@]}"
fi

ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
  if [ ! -e "$lib" ]; then
    echo "sanitize.sh: $lib not found (install gcc's libasan/libubsan)" >&2
    exit 2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# (read, not imported: importing fastmask without the preloaded runtimes fails)
is_sanitized() {
  [ -x "$VENV/bin/python" ] || return 1
  local site
  site=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['platlib'])")
  grep -q "^SANITIZE = True" "$site/fastmask/_build_info.py" 2>/dev/null
}

if [ "${SANITIZE_REBUILD:-0}" = 1 ] || ! is_sanitized; then
  echo "sanitize.sh: building fastmask with FASTMASK_SANITIZE=1 into $VENV"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv --system-site-packages "$VENV"
  mkdir -p "$work/src"
  # (generated .c and .so files are git-ignored: Cython regenerates the .c files
  # with the sanitizer's directives)
  { git ls-files -z; git ls-files -z --others --exclude-standard; } \
    | tar --null -T - -cf - | tar -C "$work/src" -xf -
  # The test extra's dependencies come from the system site-packages when present,
  # else from the index (a fresh machine); fastmask itself is built with the
  # sanitizer flags (FASTMASK_SANITIZE reaches the isolated build).
  "$VENV/bin/python" -m pip uninstall -q -y fastmask 2>/dev/null || true
  (cd "$work/src" && FASTMASK_SANITIZE=1 "$VENV/bin/python" -m pip install -q ".[test]")
fi

# Run from a directory without a fastmask/ source tree, so the sanitized install is used.
mkdir -p "$work/run"
cp -r tests "$work/run/tests"
cp pyproject.toml "$work/run/"
cd "$work/run"
is_sanitized || { echo "sanitize.sh: $VENV holds no sanitizer build of fastmask" >&2; exit 2; }

set +e
# --capture=sys: C-level writes to fd 2 (the sanitizer reports) reach the console even
# when the process dies in the middle of a test; the output is also scanned below.
LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
KERAS_BACKEND=numpy HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci} \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider --capture=sys -x "$@" 2>&1 \
  | tee "$work/pytest.log"
rc=${PIPESTATUS[0]}
set -e

if grep -qE "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|UndefinedBehaviorSanitizer" \
    "$work/pytest.log"; then
  echo "sanitize.sh: FAILED: sanitizer report(s) above" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
echo "sanitize.sh: pytest exit $rc in $(( $(date +%s) - start )) s"
exit "$rc"
