"""Pooling layers (Keras's `layers/pooling/`)."""
from .global_average_pooling1d import GlobalAveragePooling1D, GlobalAvgPool1D
from .global_max_pooling1d import GlobalMaxPooling1D, GlobalMaxPool1D
from .max_pooling1d import MaxPooling1D, MaxPool1D
from .average_pooling1d import AveragePooling1D, AvgPool1D

__all__ = ["GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPooling1D", "GlobalMaxPool1D",
           "MaxPooling1D", "MaxPool1D", "AveragePooling1D", "AvgPool1D"]
