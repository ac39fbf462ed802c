"""Attention layers (Keras's `layers/attention/`)."""
from .attention import Attention
from .additive_attention import AdditiveAttention
from .multi_head_attention import MultiHeadAttention

__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]
