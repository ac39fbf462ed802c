"""Activation layers (Keras's `layers/activations/`)."""
from .activation import Activation
from .relu import ReLU
from .softmax import Softmax

__all__ = ["Activation", "ReLU", "Softmax"]
