"""Models: `Model` (Functional or subclassed) and `Sequential`."""
from .model import Model
from .functional import Functional
from .sequential import Sequential
