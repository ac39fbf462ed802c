"""Regularization layers (Keras's `layers/regularization/`)."""
from .dropout import Dropout

__all__ = ["Dropout"]
