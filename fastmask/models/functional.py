"""Functional models: a graph of layer calls on `KerasTensor`s, replayed on arrays.

Building (`Model(inputs, outputs)`) walks the recorded nodes back from the
outputs (Keras's `map_graph`: same depth ordering, same layer order, hence
the same `weights` order as Keras). Calling replays every node on real
arrays through `Layer.__call__`, so masks are re-derived at run time exactly
as in eager mode; a `mask=` given to the model is attached to its inputs.
"""
import collections
import functools
import inspect
import warnings

import numpy as np

from .. import ops
from ..core.naming import to_snake_case
from ..core.operation import (CALL_CONTEXT, KerasHistory, Node, Operation, _FunctionOp,
                              record_node)
from ..core.serialization import deserialize, serialize
from ..core.shape_inference import any_symbolic, detached, tracing
from ..core.tensor import KerasTensor, get_mask, plain, standardize_dtype, with_mask
from ..core.tree import flatten, map_structure, pack_as
from ..layers.core.input_layer import InputLayer
from ..layers.core.lambda_layer import Lambda
from ..layers.input_spec import InputSpec
from ..layers.layer import Layer
from ..layers.layer_weights import structure_epoch
from .attached import attached
from .execution_plan import PlanCache, compile_plan, record_input, run_node, signature_of
from .model import Model
from .predict_outputs import take_outputs_into


__all__ = ["Functional", "functional_from_config"]


class _KerasOp(Operation):
    """A `keras.ops` operation node found in a Keras Functional config (e.g. the
    `NotEqual` that Keras records when it passes an Embedding's mask explicitly),
    replayed with the `fastmask.ops` function of the same (snake_case) name."""

    def __init__(self, class_name, module, config):
        config = dict(config or {})
        super().__init__(name=config.pop("name", None))
        if not isinstance(class_name, str):
            raise TypeError(f"A Keras op's class_name must be a string. Received: "
                            f"{type(class_name).__name__}")
        # Only a public op: never another attribute of the module (e.g. `builtins`, `np`).
        op_name = to_snake_case(class_name)
        fn = getattr(ops, op_name) if op_name in ops.__all__ else None
        if fn is None:
            raise TypeError(f"Cannot load Keras op '{class_name}' (module {module}): fastmask.ops "
                            f"has no `{to_snake_case(class_name)}`.")
        self.class_name, self.module, self.config = class_name, module, config
        self.fn = functools.partial(fn, **config) if config else fn

    def __call__(self, *args, **kwargs):
        if any_symbolic(args, kwargs):
            # The op answers from its shape rule (on detached copies: this node is the record).
            outputs = self.fn(*map_structure(detached, args), **map_structure(detached, kwargs))
            record_node(self, args, kwargs, outputs)
            return outputs
        return self.fn(*args, **kwargs)

    def serialize(self):
        return {"module": self.module, "class_name": self.class_name,
                "config": {"name": self.name, **self.config}, "registered_name": None}


def _unpack_singleton(x):
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


def _map_graph(inputs, outputs, output_paths=None):
    """(nodes in execution order, operations in Keras's order) between inputs and outputs."""
    input_ids = {id(x) for x in inputs}
    finished, in_progress = set(), set()
    ordered = []
    op_indices = {}

    def visit(tensor):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            raise ValueError(f"Tensor {tensor} was not produced by a fastmask layer or op: "
                             "Functional model outputs must be built from `Input` tensors.")
        op, node_index, _ = history
        if op is None:
            return
        node = op._inbound_nodes[node_index]
        if node in finished:
            return
        if not node.is_input and id(tensor) in input_ids:
            finished.add(node)
            return
        if node in in_progress:
            raise ValueError(f"Tensor {tensor} from operation '{op.name}' is part of a cycle.")
        if op not in op_indices:
            op_indices[op] = len(op_indices)
        in_progress.add(node)
        if not node.is_input:
            for t in node.input_tensors:
                visit(t)
        finished.add(node)
        in_progress.remove(node)
        ordered.append(node)

    for out in outputs:
        visit(out)

    in_graph = set(ordered)
    node_depths, op_depths = {}, {}
    for node in reversed(ordered):
        depth = node_depths.setdefault(node, 0)
        depth = max(depth, op_depths.get(node.operation, 0))
        op_depths[node.operation] = depth
        node_depths[node] = depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                node_depths[parent] = max(depth + 1, node_depths.get(parent, 0))
    for t in inputs:
        op, node_index, _ = t._keras_history
        if op is not None and op not in op_depths:
            node = op._inbound_nodes[node_index]
            if node.is_input:
                op_depths[op] = 0
                op_indices[op] = -1
                node_depths[node] = 0

    nodes_by_depth = collections.defaultdict(list)
    for node, depth in node_depths.items():
        nodes_by_depth[depth].append(node)
    ops_by_depth = collections.defaultdict(list)
    for op, depth in op_depths.items():
        ops_by_depth[depth].append(op)
    operations = []
    for depth in sorted(ops_by_depth, reverse=True):
        operations.extend(sorted(ops_by_depth[depth], key=lambda o: op_indices[o]))

    computable = set(input_ids)
    plan = []
    seen_ops = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            for x in node.input_tensors:
                if id(x) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {x} at "
                        f"operation '{node.operation.name}'. The following previous "
                        f"operations were accessed without issue: {seen_ops}")
            seen_ops.append(node.operation.name)
            for x in node.outputs:
                computable.add(id(x))
            if not node.is_input:
                plan.append(node)
    known = set(input_ids)
    for node in plan:
        if all(id(x) in known for x in node.input_tensors):
            known.update(id(x) for x in node.outputs)
    for i, out in enumerate(outputs):
        if id(out) not in known:
            path = ".".join(str(p) for p in output_paths[i]) if output_paths else str(i)
            raise ValueError(f"Output with path `{path}` is not connected to `inputs`: it "
                             f"({out.name}) depends on tensors that are not among the model's "
                             "inputs.")
    names = [op.name for op in operations]
    for name in names:
        if names.count(name) != 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the '
                             "model. All operation names should be unique.")
    return plan, operations, set(map(id, ordered)) | {id(n) for n in node_depths}


class Functional(Model):
    """A model defined by `Model(inputs, outputs)` (see `fastmask.Model`)."""

    def __init__(self, inputs, outputs, name=None, **kwargs):
        trainable = kwargs.pop("trainable", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{self.__class__.__name__}: {kwargs}")
        flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        for what, values, struct in (("inputs", flat_inputs, inputs),
                                     ("outputs", flat_outputs, outputs)):
            if not values:
                raise ValueError(f"`{what}` argument cannot be empty. Received: "
                                 f"inputs={inputs}, outputs={outputs}")
            for x in values:
                if not isinstance(x, KerasTensor):
                    raise ValueError(f"All `{what}` values must be KerasTensors. Received: "
                                     f"{what}={struct} including invalid value {x} of type "
                                     f"{type(x)}")
        if not all(_is_input_tensor(x) for x in flat_inputs):
            # A model cut at intermediate tensors: new Inputs there, the nodes in between
            # recorded again on copies of the tensors (Keras's `clone_graph_nodes`).
            inputs, outputs = _clone_graph_nodes(inputs, outputs)
            flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        Layer.__init__(self, name=name)
        self._inputs_struct = map_structure(lambda x: x, inputs)
        self._outputs_struct = map_structure(lambda x: x, outputs)
        self._inputs = flat_inputs
        self._outputs = flat_outputs
        self._plan, self._operations, self._node_ids = _map_graph(
            flat_inputs, flat_outputs, _paths(outputs))
        self._input_np_dtypes = [np.dtype(x.dtype) for x in flat_inputs]
        # Per node: (node, operation, ids of its input tensors, single positional tensor id)
        self._steps = []
        for node in self._plan:
            single = (id(node.call_args[0]) if len(node.call_args) == 1
                      and _only_call_defaults(node) and isinstance(node.call_args[0], KerasTensor)
                      else None)
            out_id = id(node.outputs[0]) if len(node.outputs) == 1 else None
            self._steps.append((node, node.operation, tuple(id(x) for x in node.input_tensors),
                                single, out_id, isinstance(node.operation, Layer)))
        if trainable is not None:
            self.trainable = trainable
        self.build(None)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.output_names = [x._keras_history[0].name for x in self._outputs]
        self._input_spec = self._make_input_spec()

    # ------------------------------------------------------------------ structure

    @property
    def _layers(self):
        return [op for op in self._operations if isinstance(op, Layer)]

    @property
    def layers(self):
        return self._layers

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    @property
    def operations(self):
        return list(self._operations)

    @property
    def inputs(self):
        return self._inputs

    @property
    def outputs(self):
        return self._outputs

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = map_structure(lambda x: x.shape, self._inputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = map_structure(lambda x: x.shape, self._outputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    def build(self, input_shape):
        self.built = True

    def _lock_state(self):
        pass   # a Functional model stays mutable after build (as in Keras)

    def _obj_type(self):
        return "Functional"

    # ------------------------------------------------------------------ running

    def _make_input_spec(self):
        """Keras's `Functional.input_spec`: each Input's shape with the batch dim None,
        a trailing size-1 axis allowed to differ, named by its layer (or dict key)."""
        def spec(x, name=None):
            layer = x._keras_history[0]
            shape = tuple(x.shape)
            return InputSpec(shape=(None,) + shape[1:] if shape else shape,
                             allow_last_axis_squeeze=True,
                             name=layer.name if name is None else name,
                             optional=isinstance(layer, InputLayer) and layer.optional)

        struct = self._inputs_struct
        if isinstance(struct, dict):
            if all(isinstance(x, KerasTensor) for x in struct.values()):
                return [spec(struct[k], name=k) for k in sorted(struct)]
            return None   # deeply nested dict: no checks
        return [spec(x) for x in self._inputs]

    def _assert_input_compatibility(self, inputs):
        """Keras's: a None for an Input that is not optional is refused first."""
        specs = self._input_spec
        if isinstance(inputs, np.ndarray) and isinstance(specs, list) and len(specs) == 1 \
                and specs[0].shape is not None:
            ref = specs[0].shape   # common case: one array, the right rank and dims
            shape = inputs.shape
            if len(shape) == len(ref) and all(r is None or r == d
                                              for r, d in zip(ref[1:], shape[1:])):
                return
        for x, ref in zip(flatten(inputs), self._inputs):
            if x is None:
                layer = ref._keras_history[0]
                if isinstance(layer, InputLayer) and not layer.optional:
                    raise ValueError(f"The input '{ref.name}' is not optional, but None was "
                                     "passed. Please provide a valid tensor.")
        super()._assert_input_compatibility(inputs)

    def _maybe_warn_inputs_struct_mismatch(self, inputs, raise_exception=False):
        if _same_structure(_lists_to_tuples(inputs), _lists_to_tuples(self._inputs_struct)):
            return
        expected = map_structure(lambda x: "None" if x is None else x.name,
                                 self._inputs_struct)
        received = map_structure(
            lambda x: "None" if x is None else f"Tensor(shape={tuple(x.shape)})", inputs)
        msg = ("The structure of `inputs` doesn't match the expected structure.\n"
               f"Expected: {expected}\nReceived: inputs={received}")
        if raise_exception:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=3)

    def _standardize_inputs(self, inputs):
        """Keras's `_standardize_inputs`: the inputs as a flat list in `self.inputs`
        order (a dict matched by Input names, Keras's structure warning), converted to
        each Input's dtype, None only for optional Inputs, and the rank adjusted by a
        trailing size-1 axis. Non-batch dims are checked before, by `input_spec`."""
        struct = self._inputs_struct
        if isinstance(inputs, np.ndarray) and (isinstance(struct, KerasTensor) or (
                isinstance(struct, list) and len(struct) == 1
                and isinstance(struct[0], KerasTensor))):
            return self._adjust_input_rank(self._convert_inputs([inputs]))   # common case
        raise_exception = False
        if isinstance(struct, list) and len(struct) == 1 and _is_tensor(inputs):
            inputs = [inputs]
        elif isinstance(inputs, dict) and not isinstance(struct, dict):
            if isinstance(struct, (list, tuple)) and all(
                    isinstance(x, KerasTensor) for x in struct):
                if {x.name for x in struct}.issubset(inputs.keys()):
                    inputs = [inputs[x.name] for x in struct]
                else:
                    raise_exception = True
            elif isinstance(struct, KerasTensor):
                if struct.name in inputs:
                    inputs = [inputs[struct.name]]
                else:
                    raise_exception = True
            else:
                raise_exception = True
        if isinstance(struct, dict) and not isinstance(inputs, dict) \
                and list(struct.keys()) != sorted(struct.keys()):
            raise_exception = True
        self._maybe_warn_inputs_struct_mismatch(inputs, raise_exception=raise_exception)
        if isinstance(struct, dict) and isinstance(inputs, dict) \
                and set(struct).issubset(inputs) and set(struct) != set(inputs):
            # Extra keys are ignored (Keras: the warning above; fastmask also keeps the
            # keys' pairing when an extra key sorts before a model key).
            inputs = {k: inputs[k] for k in struct}
        flat = flatten(inputs)
        return self._adjust_input_rank(self._convert_inputs(flat))

    def _convert_inputs(self, flat):
        out = []
        for i, (x, ref) in enumerate(zip(flat, self._inputs)):
            if x is None:
                layer = getattr(ref, "_keras_history", (None,))[0]
                if isinstance(layer, InputLayer) and not layer.optional:
                    raise ValueError(f"The input '{ref.name}' is not optional, but None was "
                                     "passed. Please provide a valid tensor.")
                out.append(None)
                continue
            if isinstance(x, KerasTensor):
                out.append(x)
                continue
            mask = get_mask(x)
            arr = plain(x) if isinstance(x, np.ndarray) else np.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"Input {i} of model '{self.name}' must be numeric. Received "
                                f"an array of dtype {arr.dtype}")
            ref_dtype = self._input_np_dtypes[i]
            if arr.dtype != ref_dtype:
                arr = arr.astype(ref_dtype)
            out.append(with_mask(arr, mask) if mask is not None else arr)
        return out

    def _adjust_input_rank(self, flat):
        adjusted = []
        for i, x in enumerate(flat):
            if x is None:
                adjusted.append(x)
                continue
            ref_shape = self._inputs[i].shape
            x_rank, ref_rank = len(x.shape), len(ref_shape)
            if x_rank == ref_rank:
                adjusted.append(x)
                continue
            mask = get_mask(x)
            if x_rank == ref_rank + 1 and x.shape[-1] == 1:
                y = ops.squeeze(x, axis=-1)
            elif x_rank == ref_rank - 1 and ref_shape[-1] == 1:
                y = ops.expand_dims(x, axis=-1)
            else:
                path = ".".join(str(p) for p in _paths(self._inputs_struct)[i])
                raise ValueError(f"Invalid input shape for input {x} with name "
                                 f"'{self._inputs[i].name}' and path '{path}'. Expected "
                                 f"shape {ref_shape}, but input has incompatible shape "
                                 f"{tuple(x.shape)}")
            adjusted.append(with_mask(y, mask) if mask is not None else y)
        return adjusted

    def _output_targets(self, into):
        """{id of an output tensor: the array offered for it} from `into` (or None)."""
        if into is None:
            return None
        targets = {}
        for x, dest in zip(self._outputs, into):
            targets.setdefault(id(x), dest)
        return targets

    def _run_through_graph(self, flat_inputs, training=None, into=None, record=None):
        """Replay the nodes on arrays. `into`: None, or one array (or None) per model
        output that the layer producing it may write the output into (`predict`'s
        rows; only layers with `_writes_out` are offered one). `record`: None, or a
        dict that gets, for the plan compiler, "ran" (the indices of the steps that
        ran) and per step index with a single input what `record_input` says of it."""
        values = {id(x): v for x, v in zip(self._inputs, flat_inputs)}
        targets = self._output_targets(into)
        ran = None if record is None else record.setdefault("ran", set())
        for index, (node, op, input_ids, single, out_id, is_layer) in enumerate(self._steps):
            computable = True
            for i in input_ids:
                if i not in values:
                    computable = False
                    break
            if not computable:
                continue
            if ran is not None:
                ran.add(index)
                if single is not None:
                    record[index] = record_input(values[single])
            run_node(node, op, single, out_id, is_layer, values, training, targets)
        results = []
        for i, x in enumerate(self._outputs):
            if id(x) not in values:
                path = ".".join(str(p) for p in _paths(self._outputs_struct)[i])
                raise ValueError(f"Output with path `{path}` is not connected to `inputs`")
            results.append(values[id(x)])
        return pack_as(self._outputs_struct, results)

    def call(self, inputs, training=None, mask=None, **kwargs):
        flat = self._standardize_inputs(inputs)
        if mask is not None:
            masks = flatten(mask) if isinstance(mask, (list, tuple, dict)) else [mask]
            flat = [with_mask(x, m) if m is not None and x is not None else x
                    for x, m in zip(flat, masks)] + flat[len(masks):]
        into = take_outputs_into(self)
        ctx = CALL_CONTEXT
        if ctx.entry is not None and not ctx.tracing and self._plan_cache_size:
            # (Also inside a name scope, e.g. a Sequential called by a layer without a
            # `build`: a plan is made from one general run, in which anything built
            # lazily got its nested paths, and its fast steps run built layers only.)
            key = signature_of(flat, training)
            if key is not None:
                return self._run_planned(key, flat, training, into)
        return _unpack_singleton(self._run_through_graph(flat, training=training, into=into))

    # Plans kept per model (`models/execution_plan.py`); 0 turns plans off.
    _plan_cache_size = 8

    @property
    def _plans(self):
        """This model's `PlanCache` (made on first use)."""
        return attached(self, "_fm_plans", lambda: PlanCache(self._plan_cache_size))

    def _run_planned(self, key, flat, training, into):
        """Run the plan of this signature, compiling it first (from one general run)
        when there is none."""
        cache = self._plans
        plan = cache.get(key)
        if plan is not None:
            outputs = plan.run(flat, training, self._output_targets(into))
            return _unpack_singleton(pack_as(self._outputs_struct, outputs))
        epoch = structure_epoch()
        record = {}
        outputs = self._run_through_graph(flat, training=training, into=into, record=record)
        cache.put(key, compile_plan(self, record, epoch))
        return _unpack_singleton(outputs)

    def _plan_call(self, x, caller=None):
        """The planned call (`layers/planned_call.py`) of this model on one input like x:
        its execution plan for x's signature (made by the general call just before) run
        directly, without `call`'s input handling (x already has the Input's dtype and
        rank), or None. caller: the layer whose call this is (a Sequential whose graph
        this is; default this model): the call's entry and its output mask's source."""
        owner = self if caller is None else caller
        plans = self.__dict__.get("_fm_plans")
        struct = self._inputs_struct
        if (type(self).call is not Functional.call or plans is None or len(self._inputs) != 1
                or not (isinstance(struct, KerasTensor) or (
                    isinstance(struct, list) and len(struct) == 1))
                or x.dtype.kind not in "biuf" or x.ndim != len(self._inputs[0].shape)):
            return None
        dtype = self._input_np_dtypes[0]
        cast = x.dtype != dtype       # as `_convert_inputs` casts (one-hot bools)
        if cast:
            x = np.empty(x.shape, dtype)
        for training in (None, False):
            plan = plans.get(signature_of([x], training))
            if plan is not None:
                break
        else:
            return None
        outputs_struct, targets_of = self._outputs_struct, self._output_targets

        def finish(given, outputs):
            outputs = _unpack_singleton(pack_as(outputs_struct, outputs))
            if owner._supports_masking:
                outputs = owner._attach_output_mask(given, outputs, None)
            return outputs

        def run_plan(given, x, into):
            ctx = CALL_CONTEXT
            entry = ctx.entry is None
            if entry:
                ctx.entry, ctx.training = owner, None
            try:
                outputs = plan.run([x], training, targets_of(into))
            finally:
                if entry:
                    ctx.entry = ctx.training = None
            return finish(given, outputs)

        def run(given):
            if plan.epoch != structure_epoch():
                return None
            x = given.astype(dtype) if cast else given
            return run_plan(given, x, take_outputs_into(self))

        chain = plan.planned_chain()
        if chain is None:
            return run, ()
        links, weights = chain
        (input_id,), output_ids = plan.input_ids, plan.output_ids

        def run_chain(given):
            # Every step by its layer's planned call; their weights and the epochs are
            # this planned call's own (checked once by the caller).
            x = given.astype(dtype) if cast else given
            into = take_outputs_into(self)
            if into is not None:             # outputs offered: the plan writes them
                return run_plan(given, x, into)
            values = {input_id: x}
            for fn, i, o, frees in links:
                y = fn(values[i])
                if y is None or y is NotImplemented:   # a setting moved, a layout
                    return run_plan(given, x, None)
                values[o] = y
                for f in frees:
                    del values[f]
            return finish(given, [values[i] for i in output_ids])
        return run_chain, weights

    def clear_plans(self):
        """Drop this model's compiled execution plans (they are made again as needed)."""
        self._plans.clear()

    def compute_output_spec(self, inputs, training=None, mask=None):
        """Output KerasTensor(s) for symbolic `inputs`: the graph walked symbolically.

        Every node answers from shapes (layers through `__call__`, so masks follow;
        ops through their rules) and nothing is recorded. Inputs like the model's
        own give copies of its outputs (with their masks) without a walk.
        """
        flat = flatten(inputs)
        if len(flat) == len(self._inputs) and all(
                isinstance(x, KerasTensor) and x.shape == r.shape and x.dtype == r.dtype
                for x, r in zip(flat, self._inputs)) and mask is None:
            def fresh(t):
                out = KerasTensor(t.shape, dtype=t.dtype)
                inner = get_mask(t)
                if inner is not None:  # keep the inner mask visible symbolically
                    out._keras_mask = KerasTensor(inner.shape, dtype=inner.dtype)
                return out
            return _unpack_singleton(map_structure(fresh, self._outputs_struct))
        flat = [detached(x) for x in flat]   # the walk leaves no graph history
        if mask is not None:
            masks = flatten(mask) if isinstance(mask, (list, tuple, dict)) else [mask]
            flat = [with_mask(x, detached(m)) if m is not None else x
                    for x, m in zip(flat, masks)] + flat[len(masks):]
        with tracing():
            outputs = self._run_through_graph(flat, training=training)
        return _unpack_singleton(outputs)

    def compute_output_shape(self, input_shape):
        specs = map_structure(lambda s: KerasTensor(s), input_shape) \
            if not _is_shape(input_shape) else KerasTensor(input_shape)
        for x, ref in zip(flatten(specs), self._inputs):
            x._dtype = ref.dtype
        out = self.compute_output_spec(specs)
        return map_structure(lambda x: x.shape, out)

    # ------------------------------------------------------------------ config

    @staticmethod
    def _from_graph_config(cls, config, custom_objects=None):
        """`functional_from_config` (for `Model.from_config`, which cannot import it)."""
        return functional_from_config(cls, config, custom_objects)

    def get_config(self):
        """The graph (Keras's Functional config), if the class's `__init__` is
        `(inputs, outputs, name)`-like or takes `*args, **kwargs`; otherwise (a
        Functional subclass with its own constructor) the plain Layer config
        (Keras's rule: such subclasses must implement `get_config` themselves)."""
        if not _functional_like_constructor(type(self)):
            return Model.get_config(self)
        for op in self._operations:
            if isinstance(op, _FunctionOp) and not isinstance(op, _KerasOp):
                raise NotImplementedError(
                    f"Model '{self.name}' applies `fastmask.ops.{op.fn.__name__}` directly to "
                    "symbolic tensors; such graphs cannot be serialized. Wrap the op in a "
                    "`Lambda` layer or a custom layer instead.")
        # Keras's two numberings of an operation's nodes kept in this model: node
        # arguments count them from 0; `input_layers`/`output_layers` count a nested
        # Functional's from 1 (its revived copy is addressed as if it had a first node).
        rank = {}
        for op in self._operations:
            kept = 0
            for i, node in enumerate(op._inbound_nodes):
                if id(node) in self._node_ids:
                    rank[(id(op), i)] = kept
                    kept += 1

        def tensor_ref(t, io=False):
            op, node_index, tensor_index = t._keras_history
            index = rank[(id(op), node_index)]
            if io and isinstance(op, Functional):
                index += 1
            return [op.name, index, tensor_index]

        def ser_arg(x):
            if isinstance(x, KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": x.shape, "dtype": x.dtype,
                                   "keras_history": tensor_ref(x)}}
            return x

        layers = []
        for op in self._operations:
            nodes = []
            for i, node in enumerate(op._inbound_nodes):
                if id(node) in self._node_ids and node.input_tensors:
                    nodes.append({"args": map_structure(ser_arg, node.call_args),
                                  "kwargs": map_structure(ser_arg, node.call_kwargs)})
            entry = op.serialize() if isinstance(op, _KerasOp) else serialize(op)
            entry["name"] = op.name
            entry["inbound_nodes"] = nodes
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": map_structure(lambda t: tensor_ref(t, io=True),
                                              self._inputs_struct),
                "output_layers": map_structure(lambda t: tensor_ref(t, io=True),
                                               self._outputs_struct)}


def _is_input_tensor(x):
    """True for a tensor made by an `Input` (its node has no inputs)."""
    history = getattr(x, "_keras_history", None)
    if history is None or history[0] is None:
        return False
    return history[0]._inbound_nodes[history[1]].is_input


def _clone_graph_nodes(inputs, outputs):
    """(inputs, outputs) of a copy of the graph between them: an `Input` of the same
    shape and dtype in place of each intermediate input tensor, and each node in
    between recorded again (same operations) on copies of its tensors."""
    from ..layers.core.input_layer import Input
    plan, _, _ = _map_graph(flatten(inputs), flatten(outputs))
    copies = {}

    def copy_of(t):
        if id(t) not in copies:
            copies[id(t)] = KerasTensor(t.shape, dtype=t.dtype, name=f"{t.name}_clone")
        return copies[id(t)]

    new_inputs = []
    for x in flatten(inputs):
        if _is_input_tensor(x):
            copies[id(x)] = x
            new_inputs.append(x)
            continue
        op = x._keras_history[0]
        clone = Input(batch_shape=x.shape, dtype=x.dtype, name=f"{x.name}CLONE",
                      optional=isinstance(op, InputLayer) and op.optional)
        copies[id(x)] = clone
        new_inputs.append(clone)
    new_outputs = [copy_of(x) for x in flatten(outputs)]

    def swap(x):
        return copy_of(x) if isinstance(x, KerasTensor) else x

    for node in plan:
        Node(node.operation, map_structure(swap, node.call_args),
             map_structure(swap, node.call_kwargs), [copy_of(t) for t in node.outputs])
    return pack_as(inputs, new_inputs), pack_as(outputs, new_outputs)


def _only_call_defaults(node):
    """True when the node's keyword arguments change nothing in a replay `op(x)`: None
    masks (filled from the input anyway) and `training` at its `call` default."""
    op = node.operation
    info = getattr(op, "_call_info", None)
    for k, v in node.call_kwargs.items():
        if k.endswith("mask") and v is None:
            continue
        if k == "training" and info is not None and info.has_training \
                and v == info.defaults.get("training"):
            continue
        return False
    return True


def _is_tensor(x):
    return isinstance(x, (np.ndarray, np.generic, KerasTensor))


def _lists_to_tuples(x):
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return tuple(_lists_to_tuples(v) for v in x)
    if isinstance(x, dict):
        return {k: _lists_to_tuples(v) for k, v in x.items()}
    return x


def _same_structure(a, b):
    """Keras's `tree.assert_same_structure` as a predicate (leaves match anything)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
                and all(_same_structure(a[k], b[k]) for k in a))
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(_same_structure(x, y) for x, y in zip(a, b)))
    return True


def _paths(struct, prefix=()):
    """The path (tuple of keys/indices) of each leaf of `struct`, in `flatten` order."""
    if isinstance(struct, (list, tuple)):
        out = []
        for i, v in enumerate(struct):
            out.extend(_paths(v, prefix + (i,)))
        return out
    if isinstance(struct, dict):
        out = []
        for k in sorted(struct):
            out.extend(_paths(struct[k], prefix + (k,)))
        return out
    return [prefix]


def _functional_like_constructor(cls):
    spec = inspect.getfullargspec(cls.__init__)
    if spec.args[1:] == inspect.getfullargspec(Functional.__init__).args[1:]:
        return True
    return spec.varargs is not None and spec.varkw is not None


def _is_shape(s):
    return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)


def _give_lambdas_recorded_shapes(layers_config, created):
    """Hand each Lambda the output shapes the config recorded for it (the KerasTensors
    its consumers received), so that rebuilding the graph never runs its code."""
    recorded = {}   # (layer name, node index) -> {tensor index: (shape, dtype)}
    stack = [entry.get("inbound_nodes") for entry in layers_config if isinstance(entry, dict)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            inner = item.get("config")
            if item.get("class_name") == "__keras_tensor__" and isinstance(inner, dict):
                history = inner.get("keras_history")
                if isinstance(history, list) and len(history) == 3 \
                        and isinstance(history[0], str) and isinstance(created.get(history[0]),
                                                                       Lambda) \
                        and all(isinstance(i, int) for i in history[1:]):
                    recorded.setdefault((history[0], history[1]), {})[history[2]] = (
                        inner.get("shape"), inner.get("dtype"))
                continue
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    for (name, node_index), by_index in recorded.items():
        if sorted(by_index) == list(range(len(by_index))):
            created[name].set_recorded_outputs(node_index,
                                               [by_index[i] for i in range(len(by_index))])


def functional_from_config(cls, config, custom_objects=None):
    """Rebuild a Functional model from `get_config()` (Keras's format)."""
    config = dict(config)
    created = {}
    pending = collections.OrderedDict()
    for layer_data in config["layers"]:
        if str(layer_data.get("module", "")).startswith("keras.src.ops"):
            layer = _KerasOp(layer_data["class_name"], layer_data["module"],
                             layer_data.get("config"))
        else:
            layer = deserialize(layer_data, custom_objects=custom_objects)
        created[layer_data["name"]] = layer
        for node_data in layer_data.get("inbound_nodes", []):
            pending.setdefault(layer_data["name"], []).append(node_data)
    _give_lambdas_recorded_shapes(config["layers"], created)

    def get_tensor(name, node_index, tensor_index, io=False):
        """The tensor a reference names: node arguments count the nodes from 0,
        `input_layers`/`output_layers` a nested Functional's from 1 (Keras's rule)."""
        if name not in created:
            raise ValueError(f"Invalid Functional model configuration. Missing node: {name}")
        layer = created[name]
        if io and isinstance(layer, Functional):
            node_index -= 1
        if node_index >= len(layer._inbound_nodes):
            raise IndexError(name)
        return layer._inbound_nodes[node_index].outputs[tensor_index]

    def de_arg(x):
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            return get_tensor(*x["config"]["keras_history"])
        if isinstance(x, dict):
            return {k: de_arg(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int) \
                    and isinstance(x[2], int) and len(x) <= 4:
                return get_tensor(*x[:3])
            return type(x)(de_arg(v) for v in x)
        return x

    def process(node_data):
        if isinstance(node_data, dict):
            args, kwargs = de_arg(list(node_data.get("args", []))), de_arg(
                dict(node_data.get("kwargs", {})))
        else:  # legacy list format
            tensors = [get_tensor(*d[:3]) for d in node_data]
            args, kwargs = [_unpack_singleton(tensors)], {}
        return args, kwargs

    while pending:
        progressed = False
        for name in list(pending):
            nodes = pending[name]
            while nodes:
                try:
                    args, kwargs = process(nodes[0])
                except IndexError:
                    break
                created[name](*args, **kwargs)
                nodes.pop(0)
                progressed = True
            if not nodes:
                del pending[name]
        if not progressed:
            raise ValueError("Invalid Functional model configuration. The graph of the "
                             "Functional model either has loops or disconnected nodes. "
                             f"The following nodes failed to be resolved: {dict(pending)}")

    def refs(x):
        if isinstance(x, list) and len(x) == 3 and isinstance(x[0], str):
            return get_tensor(*x, io=True)
        if isinstance(x, dict):
            return {k: refs(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(refs(v) for v in x)
        return [refs(v) for v in x]

    inputs = refs(config.pop("input_layers"))
    outputs = refs(config.pop("output_layers"))
    config.pop("layers")
    name, trainable = config.pop("name", None), config.pop("trainable", None)
    # The rest of the config goes to the constructor (a subclass's own arguments).
    return cls(inputs=inputs, outputs=outputs, name=name, trainable=trainable, **config)
