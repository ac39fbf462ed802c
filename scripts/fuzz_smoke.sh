#!/usr/bin/env bash
# Fuzz smoke test: run each fuzz target for a few seconds from the committed seed
# corpus (fuzz/corpus_*). Fails on a crash, a hang or a property violation; the
# failing input is saved as $OUT/crash-* (replay: python fuzz/<target>.py <file>).
#
#   pip install ".[fuzz]"                 # atheris
#   bash scripts/fuzz_smoke.sh [seconds per target, default 20]
#   FUZZ_SEED=N bash scripts/fuzz_smoke.sh   # libFuzzer's mutation seed (default 1, so a
#                                            # CI run replays; another N explores elsewhere)
#
# Works on a copy of the corpus (new inputs found are not written into the repo).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-20}"
PY="${PYTHON:-python}"
SEED="${FUZZ_SEED:-1}"
if ! "$PY" -c "import atheris" 2>/dev/null; then
    echo "fuzz_smoke: atheris is not installed: pip install '.[fuzz]'" >&2
    exit 1
fi
OUT="$(mktemp -d "${TMPDIR:-/tmp}/fastmask-fuzz.XXXXXX")"
status=0
for target in pad_sequences layers; do
    corpus="$OUT/corpus_$target"
    cp -r "fuzz/corpus_$target" "$corpus"
    echo "fuzz_smoke: $target for ${SECONDS_PER_TARGET}s ($(ls "$corpus" | wc -l) seeds, -seed=$SEED)"
    if ! "$PY" "fuzz/fuzz_$target.py" -max_total_time="$SECONDS_PER_TARGET" -timeout=60 -seed="$SEED" \
            -rss_limit_mb=4096 -artifact_prefix="$OUT/" "$corpus" > "$OUT/$target.log" 2>&1; then
        echo "fuzz_smoke: $target FAILED; last lines of its log:" >&2
        tail -n 40 "$OUT/$target.log" >&2
        ls "$OUT"/crash-* "$OUT"/timeout-* "$OUT"/oom-* 2>/dev/null >&2 || true
        status=1
    else
        grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs" "$OUT/$target.log" | tail -n 1 || true
    fi
done
[ "$status" -eq 0 ] && rm -rf "$OUT"
exit "$status"
