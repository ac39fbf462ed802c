"""Normalization layers (Keras's `layers/normalization/`)."""
from .layer_normalization import LayerNormalization
from .batch_normalization import BatchNormalization

__all__ = ["LayerNormalization", "BatchNormalization"]
