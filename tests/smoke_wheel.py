"""Smoke test for an installed wheel: imports from site-packages, no Cython."""
import importlib.util
import os
import sys

import numpy as np

import fastmask

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
pkg = os.path.dirname(os.path.abspath(fastmask.__file__))
assert pkg != os.path.join(repo, "fastmask") and "site-packages" in pkg, fastmask.__file__
assert importlib.util.find_spec("Cython") is None, "Cython must not be needed at run time"
fastmask.show_config()
padded = fastmask.utils.pad_sequences([[1, 2, 3], [4, 5], [6]], padding="post")
expected = np.array([[1, 2, 3], [4, 5, 0], [6, 0, 0]], dtype=np.int32)
assert padded.dtype == np.int32 and np.array_equal(padded, expected), padded
print("wheel smoke test: ok", file=sys.stderr)
