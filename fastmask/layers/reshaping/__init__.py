"""Reshaping layers (Keras's `layers/reshaping/`)."""
from .flatten import Flatten
from .reshape import Reshape
from .repeat_vector import RepeatVector
from .permute import Permute
from .zero_padding1d import ZeroPadding1D
from .cropping1d import Cropping1D
from .up_sampling1d import UpSampling1D

__all__ = ["Flatten", "Reshape", "RepeatVector", "Permute", "ZeroPadding1D", "Cropping1D",
           "UpSampling1D"]
