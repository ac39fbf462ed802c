"""Normalization layers (Keras's `layers/normalization/`)."""
from .layer_normalization import LayerNormalization

__all__ = ["LayerNormalization"]
