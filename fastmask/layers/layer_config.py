"""Layer configs: `get_config`/`from_config`, and the auto-config of constructor arguments."""
import inspect

from .. import regularizers
from ..core.dtype_policy import get_policy
from ..core.tree import flatten
from .call_signature import _default, _is_default

__all__ = ["LayerConfigMixin", "constructor_config"]


def constructor_config(config):
    """A copy of a `get_config()` dict for the constructor (`cls(**config)`): a
    serialized dtype policy (dict) is replaced by its name."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = get_policy(config["dtype"]).name
    return config


class LayerConfigMixin:
    """`Layer`'s config methods (see `fastmask.layers.Layer`)."""

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        # Auto-config: constructor arguments of plain serializable types, for
        # layers that do not override get_config (as Keras's Operation.__new__).
        auto = None
        try:
            sig = inspect.signature(cls.__init__)
            bound = sig.bind(None, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            params = list(sig.parameters.values())
            arguments.pop(params[0].name)
            for p in params:
                if p.kind == p.VAR_KEYWORD:
                    arguments.update(arguments.pop(p.name, {}))
                elif p.kind == p.VAR_POSITIONAL:
                    if arguments.pop(p.name, ()):
                        raise TypeError
                elif p.kind == p.POSITIONAL_ONLY:
                    raise TypeError
            arguments.pop("name", None)
            if all(isinstance(v, (str, int, float, bool, type(None)))
                   for v in flatten(arguments)):
                auto = arguments
        except (TypeError, ValueError):
            auto = None
        object.__setattr__(obj, "_auto_config", auto)
        return obj

    @_default
    def get_config(self):
        """Serializable constructor arguments ({name, trainable, dtype, ...own})."""
        self._check_super_called()
        config = {"name": self.name}
        if _is_default(self.get_config):
            auto = getattr(self, "_auto_config", None)
            if auto is None:
                raise NotImplementedError(
                    f"Object {self.__class__.__name__} was created by passing "
                    "non-serializable argument values in `__init__()`, and therefore the "
                    "object must override `get_config()` in order to be serializable. "
                    "Please implement `get_config()`.")
            config.update(auto)
            params = inspect.signature(self.__init__).parameters
            if "name" not in params and not any(p.kind == p.VAR_KEYWORD
                                                for p in params.values()):
                config.pop("name", None)
        config["trainable"] = self.trainable
        config["dtype"] = self.dtype_policy.serialize()
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Instantiate from `get_config()` output (Keras configs are accepted too)."""
        config = constructor_config(config)
        try:
            return cls(**config)
        except Exception as e:
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using "
                            f"config={config}.\n\nException encountered: {e}") from e
