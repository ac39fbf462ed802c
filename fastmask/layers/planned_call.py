"""Planned calls: a built-in layer's inference call for one input shape and dtype,
worked out once.

At batch 1 a Dense call spent ~14 us of its ~18 in Python around a ~4 us GEMM:
`Layer.__call__`'s checks, `call`'s dispatch, the weight cache lookup, the prepared
kernel's checks. What they decide depends only on the input's shape and dtype, the
layer's weights and attributes, and the module settings, so a layer that offers it
(`Layer._plan_call(x)`, None by default) works it out once for inputs like x and
keeps a `PlannedCall`: the kernel call with its arguments resolved (`run`), and what
it was made from.

`Layer.__call__` and an execution plan's fast steps take the planned call for a
plain ndarray (no mask) of the planned shape and dtype when `training` resolves to
None or False and no output buffer is offered to the layer (`Layer._call_into`);
otherwise, and whenever the planned call is stale, they take the general path, which
makes a new one. A planned call is stale when one of its weights was written (their
`_version`s), an attribute of any layer was set or deleted (`_attribute_epoch`: the
layer's or its cell's `activation`, `go_backwards`, ...), the structure epoch moved
or another ISA variant was selected (`kernels._isa.set_isa`); its `run` returns None
when a module setting it depends on (GEMM paths, ...) changed. It gives what the general path gives, bit for bit, with no mask
(`tests/test_planned_calls.py`).

The same holds for `layer(x, x)` of a layer that plans it (`_plan_self_call`:
MultiHeadAttention's self-attention without masks), kept under `self_key(x)`.

Planned calls live in the layer's `WeightCache` (`planned`: {key: PlannedCall}),
so they are not state: not pickled, copied or configured.
"""
import numpy as np

from ..core.operation import CALL_CONTEXT
from ..core.tensor import LAST_VERSION
from ..core.weight_swap import begin_read, end_read
from ..kernels._isa import active as active_isa
from .layer_weights import _attribute_epoch, _epoch
from .weight_cache import weight_cache

__all__ = ["PlannedCall", "call_planned", "run_planned", "make_planned", "self_key", "MISS",
           "ENABLED"]

# Planned calls on/off (tests compare both paths; benchmarks measure the gain).
ENABLED = True

# Shapes planned per layer; more drop them all (a model fed ever new shapes).
MAX_PLANS = 8

MISS = object()      # run_planned's answer when the general path must run


class PlannedCall:
    """`run(x)`: the layer's output for x of the planned shape and `dtype` (a plain
    ndarray), None when a setting it was planned under changed, NotImplemented for an
    x it does not take (its memory layout); valid while `variables` keep
    their `versions` and the epochs stand."""

    __slots__ = ("dtype", "run", "variables", "versions", "epochs", "last_version",
                 "training_default")

    def __init__(self, dtype, run, variables, training_default=None):
        self.dtype = dtype
        self.run = run
        self.training_default = training_default
        self.last_version = LAST_VERSION[0]       # read before the versions
        self.variables = tuple(v for v in variables if v is not None)
        self.versions = tuple(v._version for v in self.variables)
        self.epochs = (_epoch[0], _attribute_epoch[0], active_isa())

    def valid(self):
        epochs = self.epochs
        if epochs[0] != _epoch[0] or epochs[1] != _attribute_epoch[0] or (
                epochs[2] != active_isa()):
            return False
        if self.last_version == LAST_VERSION[0]:   # no Variable written since
            return True
        for v, n in zip(self.variables, self.versions):
            if v._version != n:
                return False
        return True


_NONE = PlannedCall(None, None, ())   # "this layer plans no call for this shape"


def call_planned(layer, x, kwargs, key):
    """`layer(x, **kwargs)` (or `layer(x, x, **kwargs)`, as `key` says) by its planned
    call (x a plain ndarray), or MISS: what `Layer.__call__` tries first. kwargs: the
    call's; only none or `training=` None/False take a planned call."""
    cache = layer.__dict__.get("_weight_cache")
    if cache is None:
        return MISS
    plan = cache.planned.get(key)
    if plan is None or plan.run is None or plan.dtype != x.dtype or not ENABLED:
        return MISS
    ctx = CALL_CONTEXT
    if kwargs:
        if len(kwargs) != 1:
            return MISS
        training = kwargs.get("training", True)
        if training is not None and training is not False:
            return MISS
    else:
        training = ctx.training
    if ctx.tracing:
        return MISS
    return _run(layer, cache, plan, x, training, key, ctx)


def run_planned(layer, x, training, key):
    """The layer's output for x (a plain ndarray) by its planned call under `key`
    (x.shape for `layer(x)`, `self_key(x)` for `layer(x, x)`), or MISS. training: the
    call's resolved `training` value."""
    cache = layer.__dict__.get("_weight_cache")
    if cache is None:
        return MISS
    plan = cache.planned.get(key)
    if plan is None or plan.run is None or plan.dtype != x.dtype:
        return MISS
    return _run(layer, cache, plan, x, training, key, CALL_CONTEXT)


def _run(layer, cache, plan, x, training, key, ctx):
    if training is None:
        training = plan.training_default
    if training is not None and training is not False:
        return MISS
    into = ctx.into
    if into is not None and into[0] is layer:
        return MISS
    entry = ctx.entry is None
    if entry:
        begin_read()    # the whole call sees one set of weights (core/weight_swap.py)
    try:
        epochs = plan.epochs     # `plan.valid()`, its common case inline
        if not (epochs[0] == _epoch[0] and epochs[1] == _attribute_epoch[0]
                and plan.last_version == LAST_VERSION[0] and epochs[2] == active_isa()
                ) and not plan.valid():
            cache.planned.pop(key, None)
            return MISS
        y = plan.run(x)
    finally:
        if entry:
            end_read()
    if y is None:
        cache.planned.pop(key, None)
        return MISS
    if y is NotImplemented:      # this x only (its layout): the general path takes it
        return MISS
    return y


def self_key(x):
    """The planned-call key of `layer(x, x)` (self-attention)."""
    return ("x, x",) + x.shape


def make_planned(layer, x, training, key, plan_call):
    """After a general call of `layer` on x (a plain ndarray; `layer(x)` or
    `layer(x, x)`, as `key` says) with `training` resolved to `training`: plan the call
    for x's shape and dtype with `plan_call(x)` (the layer's `_plan_call` or
    `_plan_self_call`), or remember that the layer plans none."""
    if not ENABLED or (training is not None and training is not False):
        return
    into = CALL_CONTEXT.into
    if into is not None and into[0] is layer:
        return
    cache = weight_cache(layer)
    planned = cache.planned
    if key in planned:
        return
    made = plan_call(x)
    if len(planned) >= MAX_PLANS:
        planned = cache.planned = {}
    info = layer.__dict__.get("_call_info")
    planned[key] = _NONE if made is None else PlannedCall(
        x.dtype, *made, None if info is None else info.training_default)
