"""Convolution layers (Keras's `layers/convolutional/`)."""
from .conv1d import Conv1D, Convolution1D
from .conv1d_transpose import Conv1DTranspose, Convolution1DTranspose

__all__ = ["Conv1D", "Convolution1D", "Conv1DTranspose", "Convolution1DTranspose"]
