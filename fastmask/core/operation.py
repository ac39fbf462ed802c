"""Symbolic graph machinery: names, nodes, and shape inference by dry runs.

Mirrors keras/src/ops/{operation,node}.py and the numpy backend's
`compute_output_spec`: a symbolic call runs the eager function on dummy
arrays (unknown dims filled with 83, then 89) and reads the output shapes
and dtypes; each `Operation.__call__` on `KerasTensor`s records a `Node`, and
Functional models replay the nodes on real arrays.
"""
import collections
import re
import threading

import numpy as np

from ._tensor import KerasTensor, standardize_dtype

__all__ = ["auto_name", "reset_uids", "Node", "KerasHistory", "Operation",
           "compute_output_spec", "symbolic_apply", "any_symbolic", "flatten",
           "pack_as", "map_structure"]

_UIDS = collections.defaultdict(int)


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


# --- nested structures (lists, tuples, dicts) --------------------------------

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


def any_symbolic(args, kwargs=None):
    for x in flatten(args):
        if isinstance(x, KerasTensor):
            return True
    if kwargs:
        for x in flatten(kwargs):
            if isinstance(x, KerasTensor):
                return True
    return False


# --- graph ---------------------------------------------------------------------

class KerasHistory(collections.namedtuple("KerasHistory",
                                          ["operation", "node_index", "tensor_index"])):
    """Which operation call (node) produced a KerasTensor, and which output it is."""
    __slots__ = ()


class Node:
    """One `operation.__call__` event on symbolic tensors (see Keras's ops/node.py)."""

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        call_kwargs = call_kwargs or {}
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs)
        self.outputs = [] if outputs is None else flatten(outputs)
        for x in self.outputs:
            if not isinstance(x, KerasTensor):
                raise ValueError(
                    "All operation outputs must be tensors. "
                    f"Operation {operation} returned a non-tensor. "
                    f"Non-tensor received: {x}")
        self.input_tensors = [x for x in flatten((self.call_args, self.call_kwargs))
                              if isinstance(x, KerasTensor)]
        zero_history = any(not x.record_history for x in self.input_tensors)
        if not zero_history:
            for t in self.input_tensors:
                if not hasattr(t, "_keras_history"):
                    t._keras_history = KerasHistory(None, 0, 0)
        operation._inbound_nodes.append(self)
        for t in self.input_tensors:
            op = t._keras_history.operation if hasattr(t, "_keras_history") else None
            if op is not None:
                op._outbound_nodes.append(self)
        if not zero_history:
            node_index = len(operation._inbound_nodes) - 1
            for i, t in enumerate(self.outputs):
                t._keras_history = KerasHistory(operation, node_index, i)
        self.is_input = not self.input_tensors

    @property
    def output_tensors(self):
        return self.outputs

    @property
    def parent_nodes(self):
        deps = []
        for t in self.input_tensors:
            op, idx, _ = t._keras_history
            if op is not None:
                deps.append(op._inbound_nodes[idx])
        return deps

    def fill_in(self, values):
        """Call arguments with each KerasTensor replaced by `values[id(tensor)]`."""
        def switch(x):
            return values.get(id(x)) if isinstance(x, KerasTensor) else x
        return map_structure(switch, self.call_args), map_structure(switch, self.call_kwargs)

    def __repr__(self):
        return f"<Node operation={self.operation.name}, id={id(self)}>"


class Operation:
    """Something callable on tensors that records graph nodes on symbolic input."""

    def __init__(self, name=None):
        if name is None:
            name = auto_name(self.__class__.__name__)
        if not isinstance(name, str) or "/" in name:
            raise ValueError(
                "Argument `name` must be a string and cannot contain character `/`. "
                f"Received: name={name} (of type {type(name)})")
        self.name = name
        self._inbound_nodes = []
        self._outbound_nodes = []

    def _node_attribute(self, attr, attr_name):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called "
                                 f"and thus has no defined {attr_name}.")
        values = getattr(self._inbound_nodes[0], attr)
        if isinstance(values, list) and len(values) == 1:
            return values[0]
        return values

    @property
    def input(self):
        """Input tensor(s) of the first symbolic call."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """Output tensor(s) of the first symbolic call."""
        return self._node_attribute("outputs", "output")


class _FunctionOp(Operation):
    """A `fastmask.ops` function applied to symbolic tensors (a graph node)."""

    def __init__(self, fn, name):
        super().__init__(name=auto_name(name))
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _dummy(x, fill):
    if isinstance(x, KerasTensor):
        shape = tuple(fill if d is None else d for d in x.shape)
        if x.dtype == "bool":
            return np.ones(shape, dtype=bool)
        return np.zeros(shape, dtype=x.dtype)
    return x


def compute_output_spec(fn, *args, **kwargs):
    """Output KerasTensor(s) of `fn` on symbolic args, found by dry runs on dummies.

    Unknown dims are filled with 83, then (if any) 89; output dims that differ
    between the runs are unknown (None). Non-array outputs pass through.
    """
    from ._tensor import plain
    none_in_shape = any(isinstance(x, KerasTensor) and None in x.shape
                        for x in flatten((args, kwargs)))
    with np.errstate(all="ignore"):
        a1, k1 = map_structure(lambda x: _dummy(x, 83), (args, kwargs))
        out1 = fn(*a1, **k1)
        flat1 = flatten(out1)
        if none_in_shape:
            a2, k2 = map_structure(lambda x: _dummy(x, 89), (args, kwargs))
            flat2 = flatten(fn(*a2, **k2))
        else:
            flat2 = flat1
    specs = []
    for o1, o2 in zip(flat1, flat2):
        if isinstance(o1, (np.ndarray, np.generic)):
            o1, o2 = np.asarray(plain(o1)), np.asarray(plain(o2))
            shape = [d1 if d1 == d2 else None for d1, d2 in zip(o1.shape, o2.shape)]
            specs.append(KerasTensor(shape, standardize_dtype(o1.dtype)))
        elif isinstance(o1, KerasTensor):
            specs.append(KerasTensor(o1.shape, o1.dtype))
        else:
            specs.append(o1)
    return pack_as(out1, specs)


def symbolic_apply(fn, args, kwargs, name):
    """Apply a NumPy-level function to symbolic args: output spec + graph node."""
    op = _FunctionOp(fn, name)
    outputs = compute_output_spec(fn, *args, **kwargs)
    Node(op, args, kwargs, outputs)
    return outputs


class CallContext(threading.local):
    """Per-thread stack info for nested layer calls (the `training` flag)."""

    def __init__(self):
        self.entry = None
        self.training = None


CALL_CONTEXT = CallContext()
