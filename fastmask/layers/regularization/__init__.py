"""Regularization layers (Keras's `layers/regularization/`)."""
from .dropout import Dropout
from .spatial_dropout import SpatialDropout1D
from .gaussian_noise import GaussianNoise
from .gaussian_dropout import GaussianDropout

__all__ = ["Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout"]
