"""Reshaping layers (Keras's `layers/reshaping/`)."""
from .flatten import Flatten
from .reshape import Reshape

__all__ = ["Flatten", "Reshape"]
