"""Name scopes: the paths of weights (`"outer/inner/kernel"`), as Keras's `name_scope`.

A layer opens its scope while it builds, during its calls until it is built
and during any call made inside another layer's scope (a parent's first call:
inference calls of built models open none), and
`add_weight` opens it around the variable's creation, so a weight created by a
sublayer built inside its parent's `build` or `call` gets the parent's name in
its path. The first time a layer opens its scope, the enclosing path is
recorded (`_parent_path`) and used ever after (Keras's `override_parent`); a
scope re-opened by the same layer right inside its own is not repeated.
"""
import threading
from contextlib import contextmanager

__all__ = ["current_path", "layer_scope", "any_scope_open"]

_LOCAL = threading.local()


def _stack():
    stack = getattr(_LOCAL, "stack", None)
    if stack is None:
        stack = _LOCAL.stack = []
    return stack


def any_scope_open():
    """True inside some layer's build or first call (cheap: the hot path asks it)."""
    return bool(getattr(_LOCAL, "stack", None))


def current_path():
    """The path of the open scopes ("" outside any), e.g. "model/dense"."""
    parts = []
    for name, _, override_parent in _stack():
        if override_parent is not None:
            parts = [p for p in override_parent.split("/") if p]
        parts.append(name)
    return "/".join(parts)


@contextmanager
def layer_scope(layer):
    """Open `layer`'s scope (recording its parent path the first time)."""
    d = layer.__dict__
    if d.get("_parent_path") is None:
        d["_parent_path"] = current_path()
    stack = _stack()
    if stack and stack[-1][1] is layer:
        yield
        return
    stack.append((layer.name, layer, d["_parent_path"]))
    try:
        yield
    finally:
        stack.pop()
