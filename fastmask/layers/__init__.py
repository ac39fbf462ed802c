"""Keras-compatible layers. Each line registers one module's layers (append new ones)."""
from .layer import DTypePolicy, InputSpec, Layer
from .input_layer import Input, InputLayer
