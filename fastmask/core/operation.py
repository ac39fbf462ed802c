"""Operations and the graph they record: Operation, Node, KerasHistory, the call context.

Mirrors keras/src/ops/{operation,node}.py: each `Operation.__call__` on
`KerasTensor`s records a `Node` (`record_node`), and Functional models replay
the nodes on real arrays. Output shapes of symbolic calls come from
`shape_inference`. A shape-inference trace runs on KerasTensors that record no
history (`record_history=False`); calls on them record no node and give outputs
that record none either, so a trace leaves no graph behind (`record_node`).
"""
import collections
import threading

from .naming import auto_name
from .tensor import Dim, KerasTensor
from .tree import flatten, map_structure

__all__ = ["Node", "KerasHistory", "Operation", "CallContext", "CALL_CONTEXT",
           "will_record", "record_node", "detach"]


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
    """A function applied to symbolic tensors (a graph node): a `fastmask.ops` op, a NumPy
    ufunc or function, or an indexing; `fn` runs on arrays and on KerasTensors alike."""

    def __init__(self, fn, name):
        super().__init__(name=auto_name(name))
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


class CallContext(threading.local):
    """Per-thread stack info for nested layer calls (the `training` flag), whether
    shape inference is tracing (`tracing` > 0: `ops.shape` gives `Dim`s, operators on
    KerasTensors mean NumPy's), and the output buffer offered to the next call of one
    layer (`into`: (layer, array) or None; see `Layer._take_out`)."""

    def __init__(self):
        self.entry = None
        self.training = None
        self.tracing = 0
        self.into = None


CALL_CONTEXT = CallContext()


def will_record(call_args, call_kwargs=None):
    """Whether a symbolic call on these arguments records a graph node: not when a
    KerasTensor among them records no history (a shape-inference trace) or an unknown
    size (`Dim`, which exists only in traces) is among them."""
    for x in flatten((call_args, call_kwargs)):
        if isinstance(x, KerasTensor):
            if not x.record_history:
                return False
        elif isinstance(x, Dim):
            return False
    return True


def record_node(operation, call_args, call_kwargs, outputs):
    """Record `Node(operation, ...)` for a symbolic call, or (see `will_record`) mark its
    outputs as recording no history either: what a trace computes leaves no graph."""
    if will_record(call_args, call_kwargs):
        for x in flatten(outputs):
            if isinstance(x, KerasTensor):
                x.record_history = True
        return Node(operation, call_args, call_kwargs, outputs)
    detach(outputs)
    return None


def detach(outputs):
    """Mark the new KerasTensors among `outputs` as recording no graph history (one that
    already belongs to a graph, returned as it is, keeps recording)."""
    for x in flatten(outputs):
        if isinstance(x, KerasTensor) and "_keras_history" not in x.__dict__:
            x.record_history = False
