"""Keras-format (de)serialization of layers, models and functions.

`serialize(layer)` gives Keras's dict `{"module", "class_name", "config",
"registered_name", "build_config"}`; `deserialize(d)` rebuilds the object,
looking the class up in `custom_objects`, the classes registered with
`register_keras_serializable`, fastmask's layers/models, then any `Layer`
subclass with that name.
"""
import base64
import importlib
import marshal
import types

__all__ = ["serialize", "deserialize", "register_keras_serializable", "get_custom_objects",
           "serialize_function", "deserialize_function"]

_REGISTRY = {}


def register_keras_serializable(package="Custom", name=None):
    """Class decorator: make a custom layer findable by `deserialize` ("package>Name")."""
    def decorator(cls):
        key = f"{package}>{name or cls.__name__}"
        _REGISTRY[key] = cls
        cls._registered_name = key
        return cls
    return decorator


def get_custom_objects():
    return _REGISTRY


def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _lookup(class_name, registered_name=None, custom_objects=None):
    custom_objects = custom_objects or {}
    for key in (registered_name, class_name):
        if key and key in custom_objects:
            return custom_objects[key]
        if key and key in _REGISTRY:
            return _REGISTRY[key]
    from .. import layers as layers_mod
    from .. import models as models_mod
    for mod in (layers_mod, models_mod):
        cls = getattr(mod, class_name, None)
        if isinstance(cls, type):
            return cls
    from .layer import Layer
    found = [c for c in _all_subclasses(Layer) if c.__name__ == class_name]
    if found:
        return found[-1]
    raise TypeError(f"Could not locate class '{class_name}'. Make sure custom classes are "
                    "decorated with `@fastmask.saving.register_keras_serializable()` or "
                    "passed in `custom_objects`.")


def serialize(obj):
    """Keras's serialized dict for a layer or model (None stays None)."""
    if obj is None:
        return None
    from .layer import Layer
    if not isinstance(obj, Layer):
        raise TypeError(f"Cannot serialize {obj!r}: not a fastmask layer.")
    cls = type(obj)
    module = "keras" if cls.__name__ in ("Sequential", "Functional", "Model") else "keras.layers"
    out = {"module": module, "class_name": cls.__name__, "config": obj.get_config(),
           "registered_name": getattr(cls, "_registered_name", None)}
    if obj.built and getattr(obj, "_build_shapes_dict", None):
        shapes = obj._build_shapes_dict
        if len(shapes) == 1:
            out["build_config"] = {"input_shape": next(iter(shapes.values()))}
        else:
            out["build_config"] = {"shapes_dict": shapes}
    return out


def deserialize(config, custom_objects=None):
    """Rebuild a layer/model from `serialize` output (or Keras's own)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a serialized layer dict with a 'class_name' key. "
                         f"Received: config={config!r}")
    cls = _lookup(config["class_name"], config.get("registered_name"), custom_objects)
    inner = config.get("config", {})
    try:
        obj = cls.from_config(inner, custom_objects=custom_objects)
    except TypeError as e:
        if "custom_objects" not in str(e):
            raise
        obj = cls.from_config(inner)
    build_config = config.get("build_config")
    if build_config and not obj.built:
        shape = build_config.get("input_shape")
        if shape is not None:
            try:
                obj.build(_shape_from_json(shape))
            except Exception:
                pass
    return obj


def _shape_from_json(shape):
    if isinstance(shape, list) and all(isinstance(d, (int, type(None))) for d in shape):
        return tuple(shape)
    if isinstance(shape, (list, tuple)):
        return type(shape)(_shape_from_json(s) for s in shape)
    return shape


def serialize_function(fn):
    """Keras's dict for a function: by name, or its marshalled code for a lambda."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        closure = None
        if fn.__closure__:
            closure = tuple(c.cell_contents for c in fn.__closure__)
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    if callable(fn):
        return {"module": getattr(fn, "__module__", None) or "builtins",
                "class_name": "function", "config": fn.__name__,
                "registered_name": "function"}
    raise ValueError(f"Invalid input type for serialization. Received: {fn} of type "
                     f"{type(fn)}.")


def deserialize_function(config, custom_objects=None, safe_mode=True):
    if callable(config):
        return config
    if isinstance(config, dict) and config.get("class_name") == "__lambda__":
        if safe_mode:
            raise ValueError(
                "Requested the deserialization of a `Lambda` layer whose `function` is a "
                "Python lambda. This carries a potential risk of arbitrary code execution "
                "and thus it is disallowed by default. If you trust the source of the "
                "artifact, pass `safe_mode=False`.")
        inner = config["config"]
        code = marshal.loads(base64.b64decode(inner["code"]))
        closure = inner.get("closure")
        if closure is not None:
            closure = tuple(types.CellType(c) for c in closure)
        defaults = inner.get("defaults")
        return types.FunctionType(code, globals(), code.co_name,
                                  tuple(defaults) if defaults else None, closure)
    if isinstance(config, dict):
        name = config.get("config")
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        module = config.get("module") or "builtins"
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise ValueError(f"Could not find function '{name}' in module '{module}'; pass "
                             "it in `custom_objects`.") from None
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        from .. import activations
        return activations.get(config)
    raise ValueError(f"Cannot deserialize function from {config!r}")
