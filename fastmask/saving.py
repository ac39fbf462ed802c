"""Serialization helpers with Keras's names (`register_keras_serializable`, ...)."""
from .layers.serialization import (deserialize as deserialize_keras_object,
                                   get_custom_objects, register_keras_serializable,
                                   serialize as serialize_keras_object)

__all__ = ["register_keras_serializable", "get_custom_objects", "serialize_keras_object",
           "deserialize_keras_object"]
