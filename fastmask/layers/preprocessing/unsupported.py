"""Keras's string preprocessing layers, which fastmask does not run: a clear error instead.

`TextVectorization`, `StringLookup`, `IntegerLookup`, `Hashing` and
`HashedCrossing` turn strings (or arbitrary ids) into model inputs. They are
out of fastmask's scope, so constructing one, or loading a model file that
holds one, raises a TypeError that names the layer and says what to do,
instead of a generic "could not locate class". These placeholders are not
layers: `fastmask.core.serialization.supported_layer_names()` does not list them.
"""
from ...core import registry

__all__ = ["TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing"]


class _UnsupportedPreprocessing:
    """Stands for a Keras preprocessing layer: creating or deserializing it raises."""

    def __init__(self, *args, **kwargs):
        raise self._error(kwargs.get("name"))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        name = config.get("name") if isinstance(config, dict) else None
        raise cls._error(name)

    @classmethod
    def _error(cls, name=None):
        which = f" (named '{name}')" if name else ""
        return TypeError(
            f"Layer '{cls.__name__}'{which} is not supported by fastmask: it is a Keras string "
            "preprocessing layer, and string preprocessing is out of fastmask's scope. Run it "
            "outside the model (in Keras or your input pipeline) and give the fastmask model "
            f"its output (integer ids or vectors). Received: a '{cls.__name__}' layer.")


def _placeholder(name):
    cls = type(name, (_UnsupportedPreprocessing,), {
        "__doc__": f"keras.layers.{name} is not supported by fastmask (string preprocessing); "
                   "creating or loading one raises a TypeError naming it.",
        "__module__": __name__})
    return registry.register_alias(name, cls)   # found (and refused) by `deserialize`


TextVectorization = _placeholder("TextVectorization")
StringLookup = _placeholder("StringLookup")
IntegerLookup = _placeholder("IntegerLookup")
Hashing = _placeholder("Hashing")
HashedCrossing = _placeholder("HashedCrossing")
