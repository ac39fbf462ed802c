"""pytest setup for the benchmark suites: `pytest benchmarks/` (needs pytest-benchmark).

The default test run never sees these files (pyproject's testpaths is tests/).
Here the bench_*.py files are collected as test modules, and benchmarks/ (and
the source tree, when built in place) are put on sys.path.
"""
import glob
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("KERAS_BACKEND", "numpy")
sys.path.insert(0, HERE)
if any(glob.glob(os.path.join(ROOT, "fastmask", "kernels", "_openmp_helpers*." + ext))
       for ext in ("so", "pyd")):
    sys.path.insert(0, ROOT)   # a source tree built in place: benchmark it, not an install


def pytest_collect_file(file_path, parent):
    """Collect benchmarks/bench_*.py (pytest's default pattern is test_*.py)."""
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):  # named files: pytest collects them
        return pytest.Module.from_parent(parent, path=file_path)
    return None
