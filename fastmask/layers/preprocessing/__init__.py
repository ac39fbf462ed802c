"""Preprocessing layers (Keras's `layers/preprocessing/`): only placeholders for the string
ones, which fastmask does not support (see `unsupported`)."""
from .unsupported import HashedCrossing, Hashing, IntegerLookup, StringLookup, TextVectorization

__all__ = ["TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing"]
