#!/usr/bin/env bash
# Run scripts/valgrind_smoke.py under valgrind memcheck and fail on any definite
# leak, or any memory error, whose stack goes through fastmask's own extension
# modules (fastmask/_*.so). Reports from Python, NumPy, SciPy or OpenBLAS
# themselves are ignored (CPython does not free everything at exit).
#
#   scripts/valgrind.sh              # uses `python3` (or $PYTHON), the in-place build
#   scripts/valgrind.sh --selftest   # exits 0 iff the filter catches the leak of a
#                                    # throwaway fastmask/_leak.so (4 KiB)
#
# Requires valgrind (Debian/Ubuntu: apt-get install valgrind). PYTHONMALLOC=malloc
# makes every Python allocation a malloc, so memcheck sees them (no pymalloc
# arenas, no Python suppression file needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The interpreter itself, not a wrapper script (pyenv shims exec it: valgrind would
# trace the shell).
PY=$("$PY" -c 'import sys; print(sys.executable)')
if ! command -v valgrind >/dev/null; then
  echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
script=scripts/valgrind_smoke.py
if [ "${1:-}" = "--selftest" ]; then
  # A shared object under a directory named fastmask/ that leaks: the report must fail.
  mkdir -p "$out/fastmask"
  printf '#include <stdlib.h>\nvoid *keep;\nvoid leak(void) { keep = malloc(4096); keep = 0; }\n' \
    > "$out/fastmask/_leak.c"
  gcc -shared -fPIC -g -O0 -o "$out/fastmask/_leak.so" "$out/fastmask/_leak.c"
  printf 'import ctypes\nctypes.CDLL("%s").leak()\nprint("smoke: ok")\n' \
    "$out/fastmask/_leak.so" > "$out/selftest.py"
  script="$out/selftest.py"
fi
set +e
PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 valgrind --tool=memcheck --leak-check=full \
  --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=no \
  --num-callers=40 --xml=yes --xml-file="$out/memcheck.xml" \
  "$PY" "$script" > "$out/stdout" 2> "$out/stderr"
rc=$?
set -e
cat "$out/stdout"
if [ "$rc" -ne 0 ] || ! grep -q "smoke: ok" "$out/stdout"; then
  echo "valgrind.sh: the smoke script failed under valgrind (exit $rc):" >&2
  tail -n 40 "$out/stderr" >&2
  exit 1
fi
SELFTEST=$([ "$script" = scripts/valgrind_smoke.py ] && echo 0 || echo 1) \
  "$PY" - "$out/memcheck.xml" <<'EOF'
"""Keep the memcheck errors with a frame in a fastmask extension module."""
import os
import re
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
ours = re.compile(r"/fastmask/[^/]*\.so$|/fastmask/[^/]+/[^/]*\.so$")
total, bad = 0, []
for err in root.iter("error"):
    total += 1
    kind = err.findtext("kind")
    frames = err.find("stack").findall("frame") if err.find("stack") is not None else []
    objs = [f.findtext("obj") or "" for f in frames]
    if not any(ours.search(o) for o in objs):
        continue
    what = err.findtext("xwhat/text") or err.findtext("what") or ""
    lines = [f"{kind}: {what}"]
    for f in frames[:25]:
        fn = f.findtext("fn") or "?"
        where = f.findtext("file")
        where = f"{where}:{f.findtext('line')}" if where else (f.findtext("obj") or "")
        lines.append(f"    {fn}  ({where})")
    bad.append("\n".join(lines))
print(f"valgrind.sh: memcheck reported {total} error(s)/leak(s) in all; "
      f"{len(bad)} involve fastmask's extension modules")
for b in bad:
    print(b)
if os.environ.get("SELFTEST") == "1":
    print("valgrind.sh: selftest", "passed (the leak was caught)" if bad else "FAILED")
    sys.exit(0 if bad else 1)
sys.exit(1 if bad else 0)
EOF
echo "valgrind.sh: done in $(( $(date +%s) - start )) s"
