"""Choices for the fuzz targets: from the fuzzer's bytes while they last, then from a
PRNG seeded by those bytes, so that even a short input describes a full-size case
(libFuzzer keeps its inputs small) and every case replays from its input."""
import glob
import os
import random
import sys
import zlib

import atheris


class Source:
    def __init__(self, data):
        self.fdp = atheris.FuzzedDataProvider(data)
        self.rng = random.Random(zlib.crc32(data) ^ len(data))

    def _bytes_left(self):
        return self.fdp.remaining_bytes() > 0

    def int(self, lo, hi):
        if self._bytes_left():
            return self.fdp.ConsumeIntInRange(lo, hi)
        return self.rng.randint(lo, hi)

    def bool(self):
        return self.fdp.ConsumeBool() if self._bytes_left() else self.rng.random() < 0.5

    def pick(self, values):
        return values[self.int(0, len(values) - 1)]

    def float(self):
        if self._bytes_left():
            return self.fdp.ConsumeRegularFloat()
        return self.rng.choice([self.rng.uniform(-1e3, 1e3), self.rng.uniform(-1, 1),
                                self.rng.gauss(0, 1e10)])

    def text(self, n):
        if self._bytes_left():
            return self.fdp.ConsumeUnicode(n)
        return "".join(self.rng.choice("ab\u00e9\u4e2d0 ") for _ in range(self.rng.randint(0, n)))


def use_source_tree_if_built():
    """Fuzz the repository's fastmask when it is built in place (compiled kernels
    beside the sources), else the installed one (CI fuzzes the installed package)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if glob.glob(os.path.join(root, "fastmask", "kernels", "_openmp_helpers*.so")) or glob.glob(
            os.path.join(root, "fastmask", "kernels", "_openmp_helpers*.pyd")):
        sys.path.insert(0, root)
