"""Merge layers (Keras's `layers/merging/`): one layer and its functional form per file."""
from .base_merge import Merge
from .add import Add, add
from .subtract import Subtract, subtract
from .multiply import Multiply, multiply
from .average import Average, average
from .maximum import Maximum, maximum
from .minimum import Minimum, minimum
from .concatenate import Concatenate, concatenate
from .dot import Dot, dot

__all__ = ["Merge", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Concatenate", "Dot", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "concatenate", "dot"]
