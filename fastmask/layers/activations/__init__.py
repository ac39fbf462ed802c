"""Activation layers (Keras's `layers/activations/`)."""
from .activation import Activation
from .relu import ReLU
from .softmax import Softmax
from .leaky_relu import LeakyReLU
from .elu import ELU
from .prelu import PReLU

__all__ = ["Activation", "ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU"]
