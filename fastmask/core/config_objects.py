"""Keras's `get`/`serialize`/`deserialize` for families of small config objects.

`fastmask.constraints` and `fastmask.regularizers` (and the name lookups of
`fastmask.initializers` and `fastmask.activations`) answer these the same way:
built-in classes by class name or snake_case name, the user's objects through
`core/registry.py` (`custom_object_scope`, `register_keras_serializable`,
`custom_objects`), and nothing else: no module a config names is ever imported.
`kind` ("constraint", "regularizer") names the family in error messages.
"""
import inspect

from .naming import to_snake_case
from .registry import get_registered_name, get_registered_object

__all__ = ["builtin_table", "lookup_custom", "serialize_object", "deserialize_object",
           "get_object"]


def builtin_table(classes):
    """{name: class} of `classes` under their class names and snake_case names."""
    table = {c.__name__: c for c in classes}
    table.update({to_snake_case(c.__name__): c for c in classes})
    return table


def lookup_custom(keys, custom_objects=None):
    """The user's object (scope, registration, `custom_objects`: Keras's order) under
    the first of `keys` that names one; None if none does. Non-strings are skipped."""
    for key in keys:
        if isinstance(key, str) and key:
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    return None


def serialize_object(obj, kind, module, builtin_classes):
    """Keras's dict of `obj` (None stays None): a built-in class under `module`, a
    user's object with `get_config` under its own module and registered name, a
    function by (registered) name."""
    if obj is None:
        return None
    if type(obj) in builtin_classes:
        return {"module": module, "class_name": type(obj).__name__,
                "config": obj.get_config(), "registered_name": None}
    if hasattr(obj, "get_config"):
        cls = type(obj)
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": obj.get_config(), "registered_name": get_registered_name(cls)}
    if callable(obj):
        return {"module": getattr(obj, "__module__", None) or "builtins",
                "class_name": "function", "config": get_registered_name(obj),
                "registered_name": "function"}
    raise ValueError(f"Cannot serialize {kind} {obj!r}.")


def deserialize_object(config, kind, builtins, custom_objects=None):
    """The object a Keras config dict describes: a function (class_name "function")
    found by name, or an instance of the class it names (`from_config`)."""
    class_name = config.get("class_name")
    registered_name = config.get("registered_name")
    inner = config.get("config") or {}
    if class_name == "function":
        name = inner if isinstance(inner, str) else registered_name
        found = lookup_custom((registered_name, name), custom_objects)
    else:
        found = lookup_custom((registered_name, class_name), custom_objects)
        if found is None:
            found = builtins.get(class_name)
        if inspect.isclass(found):
            return found.from_config(inner)
    if found is None:
        raise ValueError(f"Could not interpret {kind} identifier: {config}")
    return found


def get_object(identifier, kind, builtins, deserialize):
    """An object of the family from None, a name, a config dict (`deserialize`), a
    class (instantiated), an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = builtins.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {kind} identifier: {identifier}")
