"""Nested structures (lists, tuples, namedtuples, dicts) of tensors: flatten, rebuild, map.

Dicts flatten in sorted-key order, as Keras's `tree` does.
"""

__all__ = ["flatten", "map_structure", "pack_as"]


def flatten(struct):
    """Leaves of nested lists/tuples/dicts (dicts in sorted-key order, like Keras's tree)."""
    if isinstance(struct, (list, tuple)):
        out = []
        for s in struct:
            if isinstance(s, (list, tuple, dict)):
                out.extend(flatten(s))
            else:
                out.append(s)
        return out
    if isinstance(struct, dict):
        return flatten([struct[k] for k in sorted(struct)])
    return [struct]


def map_structure(fn, struct):
    if type(struct) is list:
        return [map_structure(fn, s) for s in struct]
    if isinstance(struct, tuple):
        mapped = [map_structure(fn, s) for s in struct]
        return type(struct)(*mapped) if hasattr(struct, "_fields") else tuple(mapped)
    if isinstance(struct, dict):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    if isinstance(struct, list):
        return [map_structure(fn, s) for s in struct]
    return fn(struct)


def pack_as(struct, flat):
    """Inverse of `flatten`: rebuild `struct`'s nesting from the leaves `flat`."""
    return _rebuild(struct, iter(flat))


def _rebuild(s, it):
    # A module-level function, not a recursive closure: a closure that calls itself is
    # a reference cycle (function -> cell -> function) that kept `flat` and the
    # arrays in it alive until the cyclic GC ran (a predict's 205 MB of logits).
    if isinstance(s, (list, tuple)):
        items = [_rebuild(x, it) for x in s]
        if isinstance(s, tuple):
            return type(s)(*items) if hasattr(s, "_fields") else tuple(items)
        return items
    if isinstance(s, dict):
        vals = {k: _rebuild(s[k], it) for k in sorted(s)}
        return {k: vals[k] for k in s}
    return next(it)
