"""Dtype policies: a layer's compute and variable dtypes ("float32", "mixed_float16", ...).

`get_policy(dtype)` accepts None, a dtype name or object, a policy or its
serialized dict, and returns one shared `DTypePolicy` per name.
"""
import numpy as np

from .tensor import standardize_dtype

__all__ = ["DTypePolicy", "get_policy", "global_policy", "set_global_policy"]


class DTypePolicy:
    """A layer's compute and variable dtypes ("float32", "mixed_float16", ...)."""

    def __init__(self, name=None):
        name = "float32" if name is None else name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. "
                            f"Received: name={name} (of type {type(name)})")
        if name.startswith("mixed_"):
            compute = name[len("mixed_"):]
            variable = "float32"
        else:
            compute = variable = name
        try:
            compute, variable = standardize_dtype(compute), standardize_dtype(variable)
        except (ValueError, TypeError):
            raise ValueError(f"Cannot convert '{name}' to a mixed precision or dtype "
                             "policy; NumPy has no such dtype.") from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable
        self._compute_np = np.dtype(compute)

    name = property(lambda self: self._name)
    compute_dtype = property(lambda self: self._compute_dtype)
    variable_dtype = property(lambda self: self._variable_dtype)
    quantization_mode = None

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def get_config(self):
        return {"name": self._name}

    def serialize(self):
        """Keras's serialized form (what `Layer.get_config()["dtype"]` holds)."""
        return {"module": "keras", "class_name": "DTypePolicy",
                "config": {"name": self._name}, "registered_name": None}


_POLICIES = {}
_GLOBAL = [None]   # the policy of layers created with dtype=None (None: "float32")


def global_policy():
    """The DTypePolicy that layers created with `dtype=None` get (Keras's global policy)."""
    return _GLOBAL[0] if _GLOBAL[0] is not None else get_policy("float32")


def set_global_policy(policy):
    """Set the global policy from a name ("mixed_float16"), a policy or its dict."""
    if policy is not None and not isinstance(policy, (str, dict, DTypePolicy)):
        raise ValueError("Invalid `policy` argument. Expected the string name of a policy "
                         "(such as 'mixed_float16') or a `DTypePolicy` instance. "
                         f"Received: policy={policy} (of type {type(policy)})")
    _GLOBAL[0] = None if policy is None else get_policy(policy)


def _policy_name_from_config(config):
    """The policy name in Keras's serialized DTypePolicy dict (or `{"name": ...}`).

    Any other dict (another class, such as a quantized policy, or no name) is a
    ValueError naming it, never the float32 default.
    """
    if "class_name" in config:
        inner = config.get("config")
        if config["class_name"] in ("DTypePolicy", "FloatDTypePolicy") \
                and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    elif set(config) == {"name"} and isinstance(config["name"], str):
        return config["name"]
    raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance "
                     "of DTypePolicy (fastmask supports DTypePolicy and FloatDTypePolicy "
                     f"configs). Received: dtype={config}")


def get_policy(dtype):
    """DTypePolicy from None, a dtype name/object, a policy, or its serialized dict."""
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        dtype = _policy_name_from_config(dtype)
    elif dtype is not None and not isinstance(dtype, str):
        name = getattr(dtype, "name", None)  # e.g. a Keras DTypePolicy
        if isinstance(name, str) and not isinstance(dtype, np.dtype):
            dtype = name
        else:
            dtype = standardize_dtype(dtype)
    if dtype is None and _GLOBAL[0] is not None:
        return _GLOBAL[0]
    key = "float32" if dtype is None else dtype
    policy = _POLICIES.get(key)
    if policy is None:
        policy = _POLICIES[key] = DTypePolicy(key)
    return policy
