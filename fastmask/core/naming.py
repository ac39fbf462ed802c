"""Names of layers, operations and symbolic tensors: snake_case + one global counter per name.

`auto_name("Dense")` gives "dense", then "dense_1", "dense_2", ... as Keras does;
`reset_uids()` restarts every counter.
"""
import collections
import functools
import re

__all__ = ["to_snake_case", "uniquify", "auto_name", "reset_uids"]

_UIDS = collections.defaultdict(int)


@functools.lru_cache(maxsize=1024)
def to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(name):
    """`name`, then `name_1`, `name_2`, ... (one global counter per name, as Keras)."""
    unique = f"{name}_{_UIDS[name]}" if name in _UIDS else name
    _UIDS[name] += 1
    return unique


def auto_name(prefix):
    return uniquify(to_snake_case(prefix))


def reset_uids():
    """Restart the name counters (layer names and `keras_tensor_N`)."""
    _UIDS.clear()
