"""Keras-format (de)serialization of layers, models and functions.

`serialize(layer)` gives Keras's dict `{"module", "class_name", "config",
"registered_name", "build_config"}`; `deserialize(d)` rebuilds the object.
Classes are only looked up here: this module imports no layer or model.

Name resolution never imports a module a config names, whatever `safe_mode`
(a file could otherwise run code just by being loaded: importing a module
runs it). A name is looked up, in Keras's order, in:

1. the active `custom_object_scope`s, the objects registered with
   `register_keras_serializable` and the `custom_objects` argument (in that
   order at the top level; inside a `from_config` the scope becomes Keras's
   merge `{**custom_objects, **scopes, **registered}`, so a registration wins);
2. fastmask's own classes (layers, models: by class name, whatever the
   module, e.g. "keras.layers" or "keras.src.layers.core.dense") and public
   functions: `fastmask.activations` for module "builtins" (how Keras saves
   every function) or "keras.activations"/"keras.src.activations...",
   `fastmask.ops` for "keras.ops"/"keras.src.ops...";
3. for module "builtins", a custom object whose key ends in ">name" (files
   of Keras <= 3.6 saved registered functions by bare name).

Anything else raises a TypeError naming it ("Could not locate function
'run'. ..."). Python lambdas (marshalled bytecode) are rebuilt only with
`safe_mode=False`.

Custom layers keep their masking behaviour across a save/load: the class
(found by its registered name) brings back `compute_mask`, and the saved
`build_config` records `supports_masking`, so a value set on the instance after
construction is restored too (Keras ignores the extra key).
"""
import base64
import binascii
import inspect
import marshal
import reprlib
import threading
import types

from .registry import (_NAMES, builtin_class, builtin_classes, builtin_function,
                       custom_object_scope, custom_objects_in_scope, get_registered_object,
                       is_layer, resolve_safe_mode, safe_mode_scope)

__all__ = ["serialize", "deserialize", "supported_layer_names", "serialize_function", "json_default",
           "deserialize_function", "is_bytecode_function", "check_config_depth",
           "MAX_CONFIG_DEPTH", "NON_MODELING_APIS", "ConfigTypeError"]

# fastmask's base classes, which no config names.
_ABSTRACT = frozenset({"Wrapper", "Merge", "KernelCell", "KernelRNN"})

# Deepest nesting of lists/dicts accepted in a config (a Keras model nested 20
# models deep is about 130 levels). Deeper configs are refused with a
# ValueError before anything recursive runs (no RecursionError).
MAX_CONFIG_DEPTH = 256

# Keras's `keras.*` functions that are not modeling functions (serialization_lib):
# a config naming one is refused with Keras's message.
NON_MODELING_APIS = frozenset({
    "keras.backend.clear_session", "keras.config.enable_unsafe_deserialization",
    "keras.models.load_model", "keras.models.model_from_json", "keras.models.save_model",
    "keras.preprocessing.image_dataset_from_directory", "keras.preprocessing.image.load_img",
    "keras.preprocessing.image.save_img", "keras.preprocessing.text_dataset_from_directory",
    "keras.saving.deserialize_keras_object", "keras.saving.load_model",
    "keras.saving.load_weights", "keras.saving.register_keras_serializable",
    "keras.saving.save_model", "keras.saving.save_weights",
    "keras.saving.serialize_keras_object", "keras.utils.audio_dataset_from_directory",
    "keras.utils.clear_session", "keras.utils.deserialize_keras_object",
    "keras.utils.get_file", "keras.utils.image_dataset_from_directory",
    "keras.utils.load_img", "keras.utils.register_keras_serializable",
    "keras.utils.save_img", "keras.utils.serialize_keras_object",
    "keras.utils.text_dataset_from_directory"})

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = \
    4, 8, 8, 80, 80
_LOCAL = threading.local()   # depth of nested `deserialize` calls in this thread
_CONTAINERS = (dict, list, tuple)


class ConfigTypeError(TypeError):
    """A config fastmask cannot rebuild from: a class or function found nowhere, or an
    entry of the wrong type. Raised as it is through nested `from_config` calls (not
    wrapped in Keras's "could not be deserialized properly" text, which is kept for
    TypeErrors of a class's own `from_config`)."""


def _short(obj):
    """A bounded repr of (hostile) config data for error messages."""
    return _SHORT.repr(obj)


def _name(text):
    """A name from a config, cut to a readable length for error messages."""
    text = str(text)
    return text if len(text) <= 80 else text[:77] + "..."


def supported_layer_names():
    """Sorted names of the layer and model classes fastmask can rebuild from a config."""
    return sorted(name for name in builtin_classes()
                  if not name.startswith("_") and name not in _ABSTRACT)


def json_default(obj):
    """`json.dumps`'s `default` for configs: NumPy scalars and arrays as Python
    values and lists, sets as sorted lists; anything else is a TypeError."""
    import numpy as np
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable: {obj!r}")


def check_config_depth(config, limit=MAX_CONFIG_DEPTH, what="config"):
    """Raise ValueError if lists/dicts in `config` nest deeper than `limit` (no recursion).

    The last config checked in this thread is remembered, so that `deserialize`
    does not walk again a config its loader just checked.
    """
    level, depth = [config], 1
    while level:
        if depth > limit:
            raise ValueError(f"The {what} nests lists/dicts more than {limit} levels deep; "
                             "refusing it (Keras model configs are far shallower).")
        below = []
        for obj in level:
            values = obj.values() if isinstance(obj, dict) else obj
            below.extend(v for v in values if isinstance(v, _CONTAINERS))
        level, depth = below, depth + 1
    _LOCAL.checked = config


def _custom_lookup(key, custom_objects):
    """Scopes, then registrations, then `custom_objects` (Keras's `get_registered_object`)."""
    if not isinstance(key, str):
        return None
    return get_registered_object(key, custom_objects=custom_objects)


def _lookup(class_name, registered_name=None, custom_objects=None, module=None):
    """The class a config names: custom objects (scope, registered, passed), then
    fastmask's own. Never imports `module`."""
    for key in (registered_name, class_name):
        found = _custom_lookup(key, custom_objects)
        if found is not None:
            return found
    found = builtin_class(class_name)
    if found is not None:
        return found
    where = f" (module '{_name(module)}')" if module else ""
    if registered_name and registered_name != class_name:
        where += f", registered as '{_name(registered_name)}'"
    raise ConfigTypeError(
        f"Could not locate class '{_name(class_name)}'{where}: fastmask does not support this "
        f"layer. Supported layers and models: {', '.join(supported_layer_names())}. A custom "
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

    No module named in `config` is ever imported (see the module docstring for
    where names are looked up).

    Args:
        config: the serialized dict.
        custom_objects: optional `{name: class or function}` for custom objects
            (looked up by registered name, then class name).
        safe_mode: refuse to rebuild Python lambdas from marshalled code. None
            means the enclosing `safe_mode_scope` (True by default).

    Raises:
        TypeError: a class or function found nowhere (named in the message).
        ValueError: not a serialized layer, nested deeper than
            `MAX_CONFIG_DEPTH`, or a Python lambda in safe mode.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Expected a serialized layer dict with a 'class_name' key. "
                         f"Received: config={_short(config)}")
    for key in ("class_name", "registered_name", "module"):
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigTypeError(f"The '{key}' of a serialized layer must be a string. "
                            f"Received: {key}={_short(value)}")
    inner = config.get("config", {})
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        raise ConfigTypeError(f"Expected 'config' to be a dict for {_name(config['class_name'])}. "
                        f"Received: config={_short(inner)}")
    nesting = getattr(_LOCAL, "nesting", 0)
    if nesting == 0 and getattr(_LOCAL, "checked", None) is not config:
        check_config_depth(config)
    safe_mode = resolve_safe_mode(safe_mode)
    cls = _lookup(config["class_name"], config.get("registered_name"), custom_objects,
                  config.get("module"))
    if not hasattr(cls, "from_config"):
        raise ConfigTypeError(f"Unable to reconstruct an instance of '{_name(config['class_name'])}' "
                        "because the class is missing a `from_config()` method.")
    kwargs = {}
    try:
        params = inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        params = {}
    if "custom_objects" in params:
        kwargs["custom_objects"] = custom_objects
    if "safe_mode" in params:
        kwargs["safe_mode"] = safe_mode
    _LOCAL.nesting = nesting + 1
    try:
        # Nested objects see Keras's merged scope (a registration beats the rest).
        with safe_mode_scope(safe_mode), \
                custom_object_scope(custom_objects_in_scope(custom_objects)):
            try:
                obj = cls.from_config(inner, **kwargs)
            except ConfigTypeError:
                raise   # a name found nowhere, a malformed entry: said as it is
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
    finally:
        _LOCAL.nesting = nesting
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
    """Keras's dict for a function: its marshalled code for a lambda, else its name.

    As Keras: `{"module": "builtins", "class_name": "function", "config": name,
    "registered_name": "function"}`, the name being `"package>name"` for a
    function registered with `register_keras_serializable`.
    """
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        closure = None
        if fn.__closure__:
            closure = tuple(c.cell_contents for c in fn.__closure__)
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    if callable(fn):
        name = _NAMES.get(fn) if _hashable(fn) else None
        return {"module": "builtins", "class_name": "function",
                "config": name or getattr(fn, "__name__", type(fn).__name__),
                "registered_name": "function"}
    raise ValueError(f"Invalid input type for serialization. Received: {fn} of type "
                     f"{type(fn)}.")


def _hashable(obj):
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def _function_namespace(module):
    """"activations" or "ops" for the Keras (or fastmask) module a function config names."""
    parts = module.split(".")
    if parts[0] not in ("keras", "fastmask"):
        return None
    parts = [p for p in parts[1:] if p != "src"]
    return parts[0] if parts and parts[0] in ("activations", "ops") else None


def _locate_function(name, module, config, custom_objects):
    """The function a `{"class_name": "function"}` config names (never imported)."""
    found = _custom_lookup(name, custom_objects)
    if found is not None:
        return found
    if module is None or module == "builtins":
        # How Keras saves every function: look in the built-in namespaces, then
        # for a custom object saved by bare name by Keras <= 3.6.
        found = builtin_function("activations", name)
        if found is not None:
            return found
        if ">" not in name:
            suffix = f">{name}"
            for key, obj in custom_objects_in_scope(custom_objects).items():
                if isinstance(key, str) and key.endswith(suffix):
                    return obj
    elif module == "keras" or module.startswith(("keras.", "fastmask.")):
        if f"{module}.{name}" in NON_MODELING_APIS:
            raise ValueError(
                f"Cannot deserialize `{_name(module)}.{_name(name)}` because it is not a "
                "modeling function. Non-modeling APIs are disallowed during deserialization "
                "for security. Model configuration should only contains operations, layers, "
                "metrics, losses, or registered custom objects and functions.")
        namespace = _function_namespace(module)
        found = builtin_function(namespace, name) if namespace else None
        if found is not None:
            return found
    raise ConfigTypeError(
        f"Could not locate function '{_name(name)}'. Make sure custom classes and functions "
        "are decorated with `@fastmask.saving.register_keras_serializable()`. If they are "
        "already decorated, make sure they are all imported so that the decorator is run "
        f"before trying to load them. Full object config: {_short(config)}")


LAMBDA_REFUSED = (
    "Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. "
    "This carries a potential risk of arbitrary code execution and thus it is disallowed by "
    "default. If you trust the source of the artifact, you can override this error by passing "
    "`safe_mode=False` to the loading function, or calling "
    "`keras.config.enable_unsafe_deserialization().")


def _load_lambda(inner):
    """A function from Keras's `{code, defaults, closure}` (marshalled bytecode)."""
    if not isinstance(inner, dict) or not isinstance(inner.get("code"), str):
        raise ValueError("A serialized Python lambda needs a 'code' string. "
                         f"Received: config={_short(inner)}")
    try:
        raw = base64.b64decode(inner["code"].encode("ascii"), validate=False)
        code = marshal.loads(raw)
    except (UnicodeEncodeError, binascii.Error, ValueError, EOFError, TypeError) as e:
        raise ValueError(f"The serialized Python lambda is not valid marshalled code ({e}).") \
            from None
    if not isinstance(code, types.CodeType):
        raise ValueError("The serialized Python lambda is not a code object. "
                         f"Received: {type(code).__name__}")
    defaults = inner.get("defaults")
    if defaults is not None and not isinstance(defaults, (list, tuple)):
        raise ValueError(f"A lambda's 'defaults' must be a list. Received: {_short(defaults)}")
    closure = inner.get("closure")
    if closure is not None:
        if not isinstance(closure, (list, tuple)) or len(closure) != len(code.co_freevars):
            raise ValueError("A lambda's 'closure' must list one value per free variable "
                             f"({len(code.co_freevars)}). Received: {_short(closure)}")
        closure = tuple(types.CellType(c) for c in closure)
    elif code.co_freevars:
        raise ValueError(f"The serialized Python lambda needs a closure of "
                         f"{len(code.co_freevars)} values. Received: closure=None")
    # Its own globals (builtins only): the code cannot reach into fastmask's modules.
    fn = types.FunctionType(code, {"__builtins__": __builtins__}, code.co_name,
                            tuple(defaults) if defaults else None, closure)
    fn._fastmask_from_bytecode = True
    return fn


def is_bytecode_function(fn):
    """True for a function rebuilt from marshalled bytecode (a Python lambda in a file)."""
    return getattr(fn, "_fastmask_from_bytecode", False) is True


def deserialize_function(config, custom_objects=None, safe_mode=None, fallback=None):
    """The function `serialize_function` described (a lambda only with `safe_mode=False`).

    Names are resolved as the module docstring says; no module is imported. A
    plain string is looked up the same way (as a "builtins" function), then
    with `fallback(name)` (e.g. `fastmask.activations.get`), if given.

    Args:
        safe_mode: refuse marshalled bytecode (Keras's ValueError). None means
            the enclosing `safe_mode_scope` (True by default).
    """
    safe_mode = resolve_safe_mode(safe_mode)
    if callable(config):
        return config
    if isinstance(config, dict) and config.get("class_name") == "__lambda__":
        if safe_mode:
            raise ValueError(LAMBDA_REFUSED)
        return _load_lambda(config.get("config"))
    if isinstance(config, dict) and config.get("class_name") == "function":
        name, module = config.get("config"), config.get("module")
        if not isinstance(name, str):
            raise ConfigTypeError("Expected 'config' to be a non-null str for a function "
                            f"classname. Received: config={_short(config)}")
        if module is not None and not isinstance(module, str):
            raise ConfigTypeError(f"The 'module' of a function config must be a string. "
                            f"Received: module={_short(module)}")
        return _locate_function(name, module, config, custom_objects)
    if isinstance(config, str):
        try:
            return _locate_function(config, "builtins", config, custom_objects)
        except TypeError:
            if fallback is None:
                raise
        return fallback(config)
    raise ValueError(f"Cannot deserialize a function from {_short(config)}: expected a "
                     "function name or Keras's {'class_name': 'function' or '__lambda__', ...}.")
