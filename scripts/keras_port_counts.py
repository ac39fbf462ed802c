#!/usr/bin/env python3
"""The README's count of Keras 3.15.1's own tests ported to fastmask (tests/keras_port).

Collects tests/keras_port with pytest (collection only: nothing runs, a few
seconds) and classifies each collected case:

- skip: a `skipped_cases([...])` case; its reason category (`_harness.SKIP_CATEGORIES`)
  is the `category` parameter;
- xfail: a case marked `xfail(strict=True)` (fastmask is wrong there today);
- pass: every other case (the suite proves it: a failing port fails the run).

Prints the README line, e.g.
"Keras's own tests: ported 980, pass 739, xfail 9, skip 232 (reasons: quantization 75, ...)".
`--write` replaces that line in README.md instead. tests/test_keras_port_counts.py
fails when README.md's line differs from the output.

Usage: python scripts/keras_port_counts.py [--write]   (from the repository root)
"""
import collections
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "Keras's own tests: "
LINE = re.compile(r"^Keras's own tests: ported \d+.*$", re.M)


class _Classifier:
    """pytest plugin: counts the collected keras_port cases by outcome and skip category."""

    def __init__(self):
        self.outcomes = collections.Counter()
        self.reasons = collections.Counter()

    def pytest_collection_modifyitems(self, items):
        for item in items:
            if "keras_port" not in item.nodeid:
                continue
            params = getattr(getattr(item, "callspec", None), "params", {})
            if item.originalname == "test_not_ported" and "category" in params:
                self.outcomes["skip"] += 1
                self.reasons[params["category"]] += 1
            elif item.get_closest_marker("xfail") is not None:
                self.outcomes["xfail"] += 1
            else:
                self.outcomes["pass"] += 1


def counts():
    """(outcome Counter, skip-category Counter) of tests/keras_port, by collection."""
    import pytest
    plugin = _Classifier()
    if ROOT not in sys.path:   # the checkout's fastmask, as `python -m pytest` would import
        sys.path.insert(0, ROOT)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider",
                            "-W", "ignore", "tests/keras_port"], plugins=[plugin])
    finally:
        os.chdir(cwd)
    if code != 0:
        raise SystemExit(f"collecting tests/keras_port failed (pytest exit code {code})")
    return plugin.outcomes, plugin.reasons


def readme_line(outcomes, reasons):
    """The README sentence for these counts (reasons by count, then name)."""
    ported = sum(outcomes.values())
    why = ", ".join(f"{cat} {n}" for cat, n in sorted(reasons.items(), key=lambda kv: (-kv[1],
                                                                                     kv[0])))
    return (f"{PREFIX}ported {ported}, pass {outcomes['pass']}, xfail {outcomes['xfail']}, "
            f"skip {outcomes['skip']} (reasons: {why}).")


def main(argv):
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):   # pytest's collection listing
        line = readme_line(*counts())
    if "--write" in argv:
        path = os.path.join(ROOT, "README.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if not LINE.search(text):
            raise SystemExit(f"README.md has no line starting {PREFIX!r}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(LINE.sub(lambda _: line, text, count=1))
    print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
