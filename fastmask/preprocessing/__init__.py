"""Keras's legacy `keras.preprocessing` namespace (`sequence.pad_sequences`)."""
from . import sequence
