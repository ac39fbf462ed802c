"""The fuzz targets replay their committed seed corpus (fuzz/corpus_*) without a failure.

libFuzzer runs each file given on the command line once (no mutation); a crash,
a property violation or an unexpected exception makes it exit non-zero. The timed
fuzzing run is `bash scripts/fuzz_smoke.sh` (CI). Needs atheris (`pip install
".[fuzz]"`); skipped without it.
"""
import os
import subprocess
import sys

import pytest

pytest.importorskip("atheris", reason="atheris not installed (pip install '.[fuzz]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("target", ["pad_sequences", "layers"])
def test_fuzz_target_replays_its_seed_corpus(target):
    corpus = os.path.join(ROOT, "fuzz", f"corpus_{target}")
    seeds = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
    assert len(seeds) >= 8, f"seed corpus {corpus} is missing (python fuzz/make_corpus.py)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([sys.executable, os.path.join(ROOT, "fuzz", f"fuzz_{target}.py"),
                          *seeds], capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-4000:]
    assert f"Executed {seeds[-1]}" in res.stderr, res.stderr[-2000:]


def test_seed_corpus_is_what_make_corpus_writes():
    sys.path.insert(0, os.path.join(ROOT, "fuzz"))
    try:
        import make_corpus
    finally:
        sys.path.pop(0)
    for target in ("pad_sequences", "layers"):
        for i, text in enumerate(make_corpus.seeds(target)):
            with open(os.path.join(ROOT, "fuzz", f"corpus_{target}", f"seed-{i:02d}")) as f:
                assert f.read() == text
