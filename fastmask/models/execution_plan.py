"""Execution plans: a Functional model's inference calls, compiled per input signature.

`Functional._run_through_graph` replays every node through `Layer.__call__`,
which re-derives on each call what cannot change between two calls with the
same inputs' shapes and dtypes: argument binding, dtype checks and casts,
`input_spec` checks, symbolic checks, where `training` and `mask` come from.
At batch 1 that is most of a small model's time.

A plan is made for one *signature*: the `training` argument (None or False:
plans are for inference only) and, per flat model input, None or (shape,
dtype, mask: None or (shape, dtype)). The first call with a new signature runs
the general path once, recording each node's single input (type, shape,
dtype, mask); `compile_plan` turns that into a flat tuple of steps:

* a *fast* step calls `layer.call(x, **kwargs)` directly: the cast to the
  layer's compute dtype (if any) decided in advance, `training` resolved as
  `Layer.__call__` resolves it, `mask` filled from the input, the output mask
  set as `__call__` sets it. It is taken only for a node with one tensor
  argument and default keyword arguments, of a built layer whose `__call__` is
  `Layer.__call__`, that supports a mask it receives (a layer that calls in its
  name scope, `_scope_calls`, still does). At run time a guard checks
  that the input has the recorded type, shape, dtype and mask presence; if not
  (a value-dependent shape) the step runs the general call.
* a *general* step calls the node as `_run_through_graph` does (layers with
  several tensor arguments, ops, anything not proven above).

Each step lists the tensors whose last use it is (not model outputs); they are
dropped from the run's values after it, so intermediates die early. Results
and masks are the general path's, bit for bit (`tests/test_execution_plan.py`).

A plan is immutable; a run keeps its state in locals, so any number of threads
may run one plan. `PlanCache` (one per model) keeps the plans of the last few
signatures (LRU) and drops them all when the layer structure epoch moves
(`layers/layer_weights.structure_epoch`: a layer built or rebuilt, its dtype
policy, `trainable`, masking, `input_spec` or `call` changed, weights or
sublayers added).
"""
import collections
import threading

import numpy as np

from ..core.operation import CALL_CONTEXT
from ..core.tensor import Tensor, get_mask, with_mask
from ..core.tree import flatten
from ..layers.layer import Layer
from ..layers.layer_weights import structure_epoch
from ..layers.name_scope import any_scope_open, layer_scope
from ..layers import planned_call
from ..layers.planned_call import MISS, make_planned, run_planned

__all__ = ["ExecutionPlan", "PlanCache", "signature_of", "compile_plan", "run_node"]

_LAYER_CALL = Layer.__call__
_ARRAY_TYPES = (np.ndarray, Tensor)
_FAST, _GENERAL = 0, 1


def signature_of(flat_inputs, training):
    """The plan key of a call, or None when no plan applies (not inference, or an
    input that is not an array: a KerasTensor, a nested structure, a mask that is
    not an ndarray)."""
    if training is not None and training is not False:
        return None
    key = [training]
    for x in flat_inputs:
        if x is None:
            key.append(None)
            continue
        t = type(x)
        if t is np.ndarray:
            key.append((x.shape, x.dtype, None))
        elif t is Tensor:
            m = get_mask(x)
            if m is None:
                key.append((x.shape, x.dtype, None))
            elif type(m) is np.ndarray:
                key.append((x.shape, x.dtype, (m.shape, m.dtype)))
            else:
                return None
        else:
            return None
    return tuple(key)


def record_input(x):
    """What a plan's guard checks of a node's single input: (type, shape, dtype,
    mask dtype or None), or None for something no fast step takes."""
    t = type(x)
    if t is np.ndarray:
        return (t, x.shape, x.dtype, None)
    if t is Tensor:
        m = get_mask(x)
        if m is None:
            return (t, x.shape, x.dtype, None)
        if type(m) is np.ndarray:
            return (t, x.shape, x.dtype, m.dtype)
    return None


def _fast_step(op, node, single, out_id, seen):
    """The fast step of a node whose single input was recorded as `seen`, or None."""
    if seen is None or not isinstance(op, Layer) or not op.built:
        return None
    if type(op).__call__ is not _LAYER_CALL:
        return None
    info = op.__dict__.get("_call_info")
    if info is None or not info.single:
        return None
    if any(isinstance(v, np.ndarray) for v in info.defaults.values()):
        return None
    if info.has_mask and not info.mask_default_none:
        return None
    _, shape, dtype, mask_dtype = seen
    if mask_dtype is not None and not op._supports_masking:
        return None        # the general call warns that the mask is dropped
    if dtype.kind in "SUOVMm":
        return None        # the general call refuses it
    cast_to = None
    if op._convert_input_args and dtype.kind == "f" and op.autocast:
        target = np.dtype(op.input_dtype)
        if dtype != target:
            cast_to = target
    return (_FAST, op, single, out_id, shape, dtype, mask_dtype is not None, cast_to,
            info.has_training, info.training_default, info.has_mask, op._supports_masking,
            op._scope_calls, node)


class ExecutionPlan:
    """The compiled steps of one model for one input signature (immutable)."""

    __slots__ = ("steps", "input_ids", "output_ids", "epoch", "n_fast")

    def __init__(self, steps, input_ids, output_ids, epoch):
        self.steps = steps
        self.input_ids = input_ids
        self.output_ids = output_ids
        self.epoch = epoch
        self.n_fast = sum(1 for s in steps if s[0] == _FAST)

    def planned_chain(self):
        """(links, weights): the plan's steps as the planned calls of their layers
        (`layers/planned_call.py`), each link (run, input id, output id, ids to drop
        after it), and the weights they were made from; or None when a step has no
        valid planned call for its recorded input (a general step, a mask, a cast).
        A model whose steps all have one runs them back to back
        (`Functional._plan_call`): no per-step guards, one validity check."""
        links, weights = [], []
        for step in self.steps:
            if step[0] != _FAST:
                return None
            (_, layer, in_id, out_id, shape, dtype, masked, cast_to, _, _, _, _, _, _,
             frees) = step
            if masked or cast_to is not None:
                return None
            cache = layer.__dict__.get("_weight_cache")
            planned = None if cache is None else cache.planned.get(shape)
            if (planned is None or planned.run is None or planned.dtype != dtype
                    or planned.training_default not in (None, False) or not planned.valid()):
                return None
            links.append([planned.run, in_id, out_id, frees])
            weights.extend(planned.variables)
        self._fuse_repeats(links, weights)
        return tuple(tuple(link) for link in links if link is not None), weights

    def _fuse_repeats(self, links, weights):
        """Fuse a producer that repeats its input along the time axis (RepeatVector:
        `_repeats_input`) into the one step consuming it when that layer plans a call
        on the unrepeated input (`_plan_repeated_call`: a recurrent layer computes each
        row's input projections once); the repeated array is then never made. Links
        are edited in place (a fused producer's link becomes None)."""
        uses = collections.Counter(step[2] for step in self.steps)
        outputs = set(self.output_ids)
        for i, step in enumerate(self.steps):
            if not getattr(step[1], "_repeats_input", False):
                continue
            repeated = step[3]
            if uses[repeated] != 1 or repeated in outputs:
                continue
            j = next(k for k in range(i + 1, len(self.steps)) if self.steps[k][2] == repeated)
            consumer = self.steps[j]
            plan_repeated = getattr(consumer[1], "_plan_repeated_call", None)
            made = None if plan_repeated is None else plan_repeated(
                np.empty(consumer[4], consumer[5]))
            if made is None:
                continue
            run, extra = made
            frees = tuple(f for f in dict.fromkeys(links[i][3] + links[j][3]) if f != repeated)
            links[j] = [run, links[i][1], links[j][2], frees]
            links[i] = None
            weights.extend(v for v in extra if v is not None)

    def run(self, flat_inputs, training, targets):
        """The model's flat outputs for `flat_inputs` (of this plan's signature).

        `targets`: None, or {id of an output tensor: array} offered to the layer
        producing it (`Layer._writes_out`; predict's rows)."""
        values = dict(zip(self.input_ids, flat_inputs))
        ctx = CALL_CONTEXT
        for step in self.steps:
            if step[0] == _FAST:
                (_, layer, in_id, out_id, shape, dtype, masked, cast_to, has_training,
                 training_default, has_mask, masking, scoped, node, frees) = step
                x = values[in_id]
                t = type(x)
                if (t is np.ndarray or t is Tensor) and x.shape == shape and x.dtype == dtype \
                        and type(layer).__call__ is _LAYER_CALL:
                    m = None if t is np.ndarray else get_mask(x)
                    if (m is not None) == masked and (m is None or type(m) is np.ndarray):
                        values[out_id] = _run_fast(layer, x, m, training, ctx, cast_to,
                                                   has_training, training_default, has_mask,
                                                   masking, scoped, targets, out_id)
                        for i in frees:
                            del values[i]
                        continue
                run_node(node, layer, in_id, out_id, True, values, training, targets)
            else:
                _, node, op, input_ids, single, out_id, is_layer, frees = step
                run_node(node, op, single, out_id, is_layer, values, training, targets)
            for i in frees:
                del values[i]
        return [values[i] for i in self.output_ids]


def _run_fast(layer, x, m, training, ctx, cast_to, has_training, training_default, has_mask,
              masking, scoped, targets, out_id):
    """One fast step: what `Layer.__call__` does for this input, minus what the plan's
    signature already proved (see the module docstring)."""
    value = training
    if value is None:
        value = ctx.training
        if value is None:
            value = training_default
    dest = None
    if targets is not None and layer._writes_out:
        dest = targets.get(out_id)
    plan = (m is None and cast_to is None and dest is None and type(x) is np.ndarray
            and layer._plan_call is not None and planned_call.ENABLED)
    if plan:   # the layer's planned call for this shape (layers/planned_call.py)
        y = run_planned(layer, x, value, x.shape)
        if y is not MISS:
            return y
    if cast_to is not None:
        x = x.astype(cast_to)
        if m is not None:
            x = with_mask(x, m)
    if m is not None and m.dtype != bool:
        layer._check_mask_values(m)
    layer.__dict__["_called"] = True
    ctx.training = value
    kwargs = {}
    if has_training and value is not None:
        kwargs["training"] = value
    if has_mask:
        kwargs["mask"] = m
    if dest is not None:
        ctx.into = (layer, dest)
    try:
        if scoped:    # sublayers built in `call` get paths under this layer (as __call__)
            with layer_scope(layer):
                out = layer.call(x, **kwargs)
        else:
            out = layer.call(x, **kwargs)
    finally:
        if dest is not None:
            ctx.into = None
    if masking:
        out = layer._attach_output_mask(x, out, m)
    if plan:
        make_planned(layer, x, value, x.shape, layer._plan_call)
    return out


def run_node(node, op, single, out_id, is_layer, values, training, targets):
    """Run one graph node through its `__call__` (the general path: what
    `Functional._run_through_graph` does for every node, and a plan's general
    steps): reads its inputs from `values` ({id(symbolic tensor): array}), writes
    its outputs there. `targets`: None or {out_id: array} rows a layer with
    `_writes_out` writes its output into (predict's preallocated outputs)."""
    dest = None
    if targets is not None and is_layer and op._writes_out:
        dest = targets.get(out_id)
    if dest is not None:
        if single is not None:
            args, kwargs = (values[single],), {}
        else:
            args, kwargs = node.fill_in(values)
        if training is not None:
            kwargs["training"] = training
        outputs = op._call_into(dest, *args, **kwargs)
    elif single is not None:
        if training is not None and is_layer:
            outputs = op(values[single], training=training)
        else:
            outputs = op(values[single])
    else:
        args, kwargs = node.fill_in(values)
        if training is not None and is_layer:
            kwargs["training"] = training
        outputs = op(*args, **kwargs)
    if out_id is not None and not isinstance(outputs, (list, tuple, dict)):
        values[out_id] = outputs
    else:
        for x, y in zip(node.outputs, flatten(outputs)):
            values[id(x)] = y


def compile_plan(model, recorded, epoch):
    """The plan of `model` (a Functional) from one general run's `recorded` inputs:
    {step index: `record_input(x)`} for the steps with a single input, and "ran":
    the indices of the steps that ran (the others, cut off by an optional input
    left out, stay out of the plan: its signature has the same inputs missing)."""
    ran = recorded["ran"]
    steps = [s for index, s in enumerate(model._steps) if index in ran]
    recorded = {steps_index: recorded.get(index) for steps_index, index
                in enumerate(sorted(ran))}
    output_ids = tuple(id(x) for x in model._outputs)
    keep = set(output_ids)
    # Liveness: the last step reading each tensor.
    last_use = {}
    for index, (node, _, input_ids, _, _, _) in enumerate(steps):
        for i in input_ids:
            last_use[i] = index
    frees_at = collections.defaultdict(list)
    for i, index in last_use.items():
        if i not in keep:
            frees_at[index].append(i)
    compiled = []
    for index, (node, op, input_ids, single, out_id, is_layer) in enumerate(steps):
        frees = tuple(dict.fromkeys(frees_at.get(index, ())))
        fast = None
        if single is not None and out_id is not None and is_layer:
            fast = _fast_step(op, node, single, out_id, recorded.get(index))
        if fast is not None:
            compiled.append(fast + (frees,))
        else:
            compiled.append((_GENERAL, node, op, input_ids, single, out_id, is_layer, frees))
    input_ids = tuple(id(x) for x in model._inputs)
    return ExecutionPlan(tuple(compiled), input_ids, output_ids, epoch)


class PlanCache:
    """A model's plans by signature: the `size` most recently used (LRU), all dropped
    when the structure epoch moves. Thread-safe."""

    def __init__(self, size=8):
        self.size = size
        self._plans = collections.OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0       # plans made so far (tests and benchmarks read it)

    def get(self, key):
        """The plan for `key` made at the current epoch, or None."""
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                return None
            if plan.epoch != structure_epoch():
                self._plans.clear()
                return None
            self._plans.move_to_end(key)
            return plan

    def put(self, key, plan):
        with self._lock:
            self.compiled += 1
            if plan.epoch != structure_epoch():
                return
            self._plans[key] = plan
            self._plans.move_to_end(key)
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)

    def clear(self):
        with self._lock:
            self._plans.clear()

    def __len__(self):
        return len(self._plans)

    def keys(self):
        with self._lock:
            return list(self._plans)
