"""`python -m fastmask`: a tour of masking & padding on fastmask, then a speed table.

Walks the workflow of Keras's guide *Understanding masking & padding* with
fastmask (padding, mask generation, mask propagation, masked layers), printing
the masks at each step, then times the kernels against their NumPy reference.
The tour itself is `fastmask.tour`.

Options: `--no-bench` skips the speed table; `--budget S` sets seconds per case.
A part that needs an optional package that is not installed (h5py, Keras) prints
one line saying what to install, and the tour goes on.
"""
import argparse
import sys

import numpy as np

import fastmask as keras
from fastmask import tour


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastmask", description=__doc__.splitlines()[0])
    parser.add_argument("--no-bench", action="store_true", help="skip the speed table")
    parser.add_argument("--budget", type=float, default=0.4, help="seconds per benchmark case")
    args = parser.parse_args(argv)
    np.set_printoptions(linewidth=100)
    keras.show_config()
    tour.tour()
    tour.run_optional(tour.serve)
    if not args.no_bench:
        tour.section("7. Speed: fastmask kernels vs the NumPy reference")
        tour.run_optional(tour.speed_table, args.budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
