"""Keras-format (de)serialization of layers, models and functions.

`serialize(layer)` gives Keras's dict `{"module", "class_name", "config",
"registered_name", "build_config"}`; `deserialize(d)` rebuilds the object,
looking the class up in `custom_objects`, the active `custom_object_scope`s,
the objects registered with `register_keras_serializable`, fastmask's own
layers/models (registered by `Layer.__init_subclass__`, see `registry`), then
any `Layer` subclass with that name. A class found nowhere raises a TypeError
naming it and listing the supported layers. Classes are only looked up here:
this module imports no layer or model.

Custom layers keep their masking behaviour across a save/load: the class
(found by its registered name) brings back `compute_mask`, and the saved
`build_config` records `supports_masking`, so a value set on the instance after
construction is restored too (Keras ignores the extra key).
"""
import base64
import importlib
import inspect
import marshal
import types

from .registry import (_NAMES, builtin_class, builtin_classes, find_subclass,
                       get_registered_object, in_safe_mode, is_layer, safe_mode_scope)

__all__ = ["serialize", "deserialize", "supported_layer_names", "serialize_function",
           "deserialize_function"]

# fastmask's base classes, which no config names.
_ABSTRACT = frozenset({"Wrapper", "Merge", "KernelCell", "KernelRNN"})


def supported_layer_names():
    """Sorted names of the layer and model classes fastmask can rebuild from a config."""
    return sorted(name for name in builtin_classes()
                  if not name.startswith("_") and name not in _ABSTRACT)


def _lookup(class_name, registered_name=None, custom_objects=None, module=None):
    custom_objects = custom_objects or {}
    for key in (registered_name, class_name):
        if not key:
            continue
        if key in custom_objects:
            return custom_objects[key]
        found = get_registered_object(key)
        if found is not None:
            return found
    found = builtin_class(class_name)
    if found is not None:
        return found
    found = find_subclass(class_name)
    if found is not None:
        return found
    where = f" (module '{module}')" if module else ""
    if registered_name and registered_name != class_name:
        where += f", registered as '{registered_name}'"
    raise TypeError(
        f"Could not locate class '{class_name}'{where}: fastmask does not support this layer. "
        f"Supported layers and models: {', '.join(supported_layer_names())}. A custom "
        "class must be decorated with `@fastmask.saving.register_keras_serializable()` "
        "(same package and name as in Keras) or passed in `custom_objects`.")


def serialize(obj):
    """Keras's serialized dict for a layer or model (None stays None)."""
    if obj is None:
        return None
    if not is_layer(obj):
        raise TypeError(f"Cannot serialize {obj!r}: not a fastmask layer.")
    cls = type(obj)
    registered = _NAMES.get(cls)
    builtin = _is_builtin(cls)
    if cls.__name__ == "Functional" and builtin:
        module, registered = "keras.src.models.functional", "Functional"
    elif cls.__name__ in ("Sequential", "Model") and builtin:
        module = "keras"
    elif builtin:
        module = "keras.layers"
    else:
        module = cls.__module__
        registered = registered or cls.__name__
    out = {"module": module, "class_name": cls.__name__,
           "config": _serialize_values(obj.get_config()), "registered_name": registered}
    build_config = _get_build_config(obj)
    if not builtin:
        build_config = dict(build_config or {})
        build_config["supports_masking"] = bool(obj.supports_masking)
    if build_config:
        out["build_config"] = build_config
    compile_config = obj.get_compile_config() if hasattr(obj, "get_compile_config") else None
    if compile_config is not None:
        out["compile_config"] = compile_config
    return out


def _serialize_values(value):
    """A config with the layers it holds serialized (Keras serializes every value of a
    `get_config()` dict; a custom layer may return its sublayers there)."""
    if is_layer(value):
        return serialize(value)
    if isinstance(value, dict):
        return {k: _serialize_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(
            is_layer(v) or isinstance(v, (list, tuple, dict)) for v in value):
        return type(value)(_serialize_values(v) for v in value)
    return value


def _get_build_config(obj):
    """`obj.get_build_config()`, as Keras's `get_build_and_compile_config` reads it."""
    get = getattr(obj, "get_build_config", None)
    return get() if get is not None else None


def _is_builtin(cls):
    return cls.__module__.startswith("fastmask.")


def deserialize(config, custom_objects=None, safe_mode=None):
    """Rebuild a layer/model from `serialize` output (or Keras's own).

    Args:
        config: the serialized dict.
        custom_objects: optional `{name: class or function}` for custom objects
            (looked up by registered name, then class name).
        safe_mode: refuse to rebuild Python lambdas from marshalled code. None
            means the enclosing `safe_mode_scope` (True by default).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a serialized layer dict with a 'class_name' key. "
                         f"Received: config={config!r}")
    if safe_mode is None:
        safe_mode = in_safe_mode()
    cls = _lookup(config["class_name"], config.get("registered_name"), custom_objects,
                  config.get("module"))
    inner = config.get("config", {})
    kwargs = {}
    try:
        params = inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        params = {}
    if "custom_objects" in params:
        kwargs["custom_objects"] = custom_objects
    if "safe_mode" in params:
        kwargs["safe_mode"] = safe_mode
    with safe_mode_scope(safe_mode):
        try:
            obj = cls.from_config(inner, **kwargs)
        except TypeError as e:
            raise TypeError(
                f"{cls} could not be deserialized properly. Please ensure that components "
                "that are Python object instances (layers, models, etc.) returned by "
                "`get_config()` are explicitly deserialized in the model's `from_config()` "
                f"method.\n\nconfig={config}.\n\nException encountered: {e}") from e
        # Keras (`serialization_lib.deserialize_keras_object`): `build_from_config`
        # on an unbuilt object, which is then marked built whatever it did; then
        # `compile_from_config` (fastmask records the compile config only).
        build_config = config.get("build_config") or {}
        own = {k: v for k, v in build_config.items() if k != "supports_masking"} \
            if isinstance(build_config, dict) else build_config
        if own and not obj.built:
            obj.build_from_config(_shape_from_json(own))
            obj.built = True
        compile_config = config.get("compile_config")
        if compile_config and hasattr(obj, "compile_from_config"):
            obj.compile_from_config(compile_config)
            obj.compiled = True
    masking = build_config.get("supports_masking") if isinstance(build_config, dict) else None
    if isinstance(masking, bool) and hasattr(obj, "supports_masking") \
            and obj.supports_masking != masking:
        obj.supports_masking = masking
    return obj


def _shape_from_json(shape):
    """A build config with its shapes (JSON lists of ints/None) as tuples."""
    if isinstance(shape, dict):
        return {k: _shape_from_json(v) for k, v in shape.items()}
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


def deserialize_function(config, custom_objects=None, safe_mode=True, fallback=None):
    """The function `serialize_function` described (a lambda only with `safe_mode=False`).

    A plain string is looked up in `custom_objects`, then the registry, then
    with `fallback(name)` (e.g. `fastmask.activations.get`), if given.
    """
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
        for key in (config.get("registered_name"), name):
            found = get_registered_object(key) if isinstance(key, str) else None
            if found is not None and key != "function":
                return found
        module = config.get("module") or "builtins"
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise ValueError(f"Could not find function '{name}' in module '{module}'; pass "
                             "it in `custom_objects`.") from None
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return custom_objects[config]
        found = get_registered_object(config)
        if found is not None:
            return found
        if fallback is not None:
            return fallback(config)
    raise ValueError(f"Cannot deserialize function from {config!r}")
