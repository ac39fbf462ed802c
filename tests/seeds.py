"""Stable seeds for the tests: the same on every run and every process.

`hash()` of a string is randomised per process (PYTHONHASHSEED), so a seed drawn
from it cannot replay a failure. `stable_seed(*parts)` is the CRC-32 of the
parts' repr: print it in assertion messages (`f"seed={seed}"`) and a failure
replays with `np.random.default_rng(seed)`.
"""
import contextlib
import zlib

import numpy as np


def stable_seed(*parts):
    """A 32-bit seed that depends only on `parts` (their repr)."""
    return zlib.crc32(repr(parts).encode("utf-8"))


def stable_rng(*parts):
    """(numpy Generator, seed) for `parts`; put the seed in failure messages."""
    seed = stable_seed(*parts)
    return np.random.default_rng(seed), seed


@contextlib.contextmanager
def seed_on_failure(seed):
    """Add `seed=...` to any AssertionError raised in the block."""
    try:
        yield
    except AssertionError as e:
        raise AssertionError(f"{e}\n(replay: seed={seed})") from e
