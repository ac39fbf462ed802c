"""Core layers (Keras's `layers/core/`): Dense, Embedding, Masking, Lambda, Identity,
InputLayer, Wrapper."""
from .input_layer import Input, InputLayer
from .dense import Dense
from .embedding import Embedding
from .masking import Masking
from .lambda_layer import Lambda
from .identity import Identity
from .wrapper import Wrapper

__all__ = ["Input", "InputLayer", "Dense", "Embedding", "Masking", "Lambda", "Identity", "Wrapper"]
