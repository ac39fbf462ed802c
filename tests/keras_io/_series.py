"""Synthetic series shared by the timeseries examples' `make_inputs`."""
import numpy as np


def random_walks(rng, shape):
    """float32 random walks along axis 1, z-normalised per row (FordA-like)."""
    x = rng.standard_normal(shape).cumsum(axis=1)
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x.astype("float32")


def class_labels(rng, n, num_classes):
    return rng.integers(0, num_classes, size=(n,)).astype("int32")
