"""Attention layers (Keras's `layers/attention/`)."""
from .attention import Attention
from .multi_head_attention import MultiHeadAttention

__all__ = ["Attention", "MultiHeadAttention"]
