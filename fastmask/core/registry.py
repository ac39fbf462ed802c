"""Object registration: custom objects by name, and fastmask's own classes by class name.

Two tables, both filled by the objects themselves (layers register themselves,
saving looks them up), so that nothing here imports a layer or a model:

* custom objects: `register_keras_serializable(package, name)` stores a class or
  function under `"package>name"`; `custom_object_scope({...})` adds more for a
  block (this thread only); `safe_mode_scope` sets the default `safe_mode`.
* built-in classes: `Layer.__init_subclass__` registers every layer and model
  class defined in a `fastmask.` module (`register_builtin`); `register_base`
  records `Layer` itself (`is_layer`).
* built-in functions: `fastmask.activations` and `fastmask.ops` register their
  public functions by namespace (`register_builtin_functions`), so that a
  function a file names ("relu" from module "builtins", or
  "keras.activations.relu") is found without importing anything.

Nothing here imports a module by name: a name a file gives is looked up in
these tables only (see `core/serialization.py`).
"""
import contextlib
import inspect
import threading

__all__ = ["register_keras_serializable", "register_serializable", "get_custom_objects",
           "get_registered_name", "get_registered_object", "custom_object_scope",
           "CustomObjectScope", "safe_mode_scope", "in_safe_mode", "register_builtin",
           "register_alias", "builtin_class", "builtin_classes", "register_base", "is_layer",
           "register_builtin_functions", "builtin_function", "custom_objects_in_scope",
           "enable_unsafe_deserialization", "resolve_safe_mode"]

_REGISTRY = {}   # "package>Name" -> class or function
_NAMES = {}      # class or function -> "package>Name"
_LOCAL = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function as `"package>name"` (Keras's signature).

    A registered layer is found by `fastmask.models.load_model` and by
    `deserialize` without `custom_objects`, and is saved under its registered
    name (the name Keras looks up), so one class name can be shared by a
    Keras layer and its fastmask twin.

    Args:
        package: package part of the key (default "Custom").
        name: name part of the key (default: the object's `__name__`).
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"`package` must be a string without '>'. Received: package={package!r}")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"`name` must be a string or None. Received: name={name!r}")

    def decorator(arg):
        key = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _REGISTRY[key] = arg
        _NAMES[arg] = key
        return arg
    return decorator


register_serializable = register_keras_serializable


def get_custom_objects():
    """The live global registry `{"package>Name": object}` (Keras's `get_custom_objects`)."""
    return _REGISTRY


def get_registered_name(obj):
    """`"package>Name"` for a registered object, else its `__name__`."""
    return _NAMES.get(obj, getattr(obj, "__name__", None))


def _scopes():
    stack = getattr(_LOCAL, "scopes", None)
    if stack is None:
        stack = _LOCAL.scopes = []
    return stack


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or in scope / `custom_objects`) under `name`, else None."""
    for scope in reversed(_scopes()):
        if name in scope:
            return scope[name]
    if name in _REGISTRY:
        return _REGISTRY[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


class CustomObjectScope:
    """`with custom_object_scope({"Name": cls}):` makes objects findable by `deserialize`."""

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError("`custom_objects` must be a dict {name: class or function}. "
                            f"Received: custom_objects={custom_objects!r}")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _scopes().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes().pop()


custom_object_scope = CustomObjectScope


@contextlib.contextmanager
def safe_mode_scope(safe_mode=True):
    """Within the block, `deserialize` uses `safe_mode` when not given one explicitly."""
    previous = getattr(_LOCAL, "safe_mode", None)
    _LOCAL.safe_mode = safe_mode
    try:
        yield
    finally:
        _LOCAL.safe_mode = previous


_UNSAFE = [False]   # set by `enable_unsafe_deserialization()` (process-wide)


def enable_unsafe_deserialization():
    """Allow Python lambdas (marshalled bytecode) in every load from now on, in every
    thread, whatever `safe_mode` the loading function is given (Keras's
    `keras.config.enable_unsafe_deserialization`). Only for files you trust."""
    _UNSAFE[0] = True


def in_safe_mode():
    """False after `enable_unsafe_deserialization()`; else the safe mode of the innermost
    `safe_mode_scope` (True outside any)."""
    if _UNSAFE[0]:
        return False
    value = getattr(_LOCAL, "safe_mode", None)
    return True if value is None else bool(value)


def resolve_safe_mode(safe_mode):
    """The effective safe mode for a `safe_mode` argument (None: the enclosing scope's);
    `enable_unsafe_deserialization()` overrides it, as in Keras."""
    if _UNSAFE[0]:
        return False
    return in_safe_mode() if safe_mode is None else bool(safe_mode)


# ----------------------------------------------------------------------------- built-ins

_BUILTINS = {}   # class name -> fastmask's own layer or model class
_ALIASES = {}    # another exported name -> class (e.g. "GlobalAvgPool1D")
_BASES = []      # root classes (Layer): `is_layer`


def register_builtin(cls):
    """Record one of fastmask's own classes under its class name (the first one wins)."""
    _BUILTINS.setdefault(cls.__name__, cls)
    return cls


def register_alias(name, cls):
    """Record another name under which fastmask exports `cls` (found by `builtin_class`)."""
    _ALIASES.setdefault(name, cls)
    return cls


def builtin_class(name):
    """fastmask's own class called (or exported as) `name` ("Dense", "Sequential"), or None."""
    found = _BUILTINS.get(name)
    return found if found is not None else _ALIASES.get(name)


def builtin_classes():
    """{class name: class} of every fastmask layer and model class defined so far."""
    return dict(_BUILTINS)


def register_base(cls):
    """Record a root class (Layer), whose instances `is_layer` recognises."""
    if cls not in _BASES:
        _BASES.append(cls)
    return cls


def is_layer(obj):
    """True for an instance of a registered base class (a fastmask Layer)."""
    return any(isinstance(obj, base) for base in _BASES)


# ----------------------------------------------------------------------------- functions

_FUNCTIONS = {}   # namespace ("activations", "ops") -> {public name: function}


def register_builtin_functions(namespace, functions):
    """Record fastmask's public functions of `namespace` ("activations", "ops") by name."""
    _FUNCTIONS.setdefault(namespace, {}).update(functions)


def builtin_function(namespace, name):
    """fastmask's public function `name` of `namespace`, or None."""
    table = _FUNCTIONS.get(namespace)
    return None if table is None else table.get(name)


def custom_objects_in_scope(custom_objects=None):
    """Keras's merge for nested deserialization: `{**custom_objects, **scopes, **registered}`
    (later wins: a registration beats a `custom_object_scope`, which beats
    `custom_objects`)."""
    merged = dict(custom_objects or {})
    for scope in _scopes():
        merged.update(scope)
    merged.update(_REGISTRY)
    return merged
