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
    it = iter(flat)

    def rebuild(s):
        if isinstance(s, (list, tuple)):
            items = [rebuild(x) for x in s]
            if isinstance(s, tuple):
                return type(s)(*items) if hasattr(s, "_fields") else tuple(items)
            return items
        if isinstance(s, dict):
            vals = {k: rebuild(s[k]) for k in sorted(s)}
            return {k: vals[k] for k in s}
        return next(it)

    return rebuild(struct)
