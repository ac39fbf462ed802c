"""A cap on the weight bytes layers may allocate while a file's config builds a model.

`fastmask.models.load_model` builds the model from `config.json` before it
reads the weights: a config declaring `Embedding(input_dim=2**30, ...)` would
make `add_weight` allocate gigabytes. Inside `with weight_budget(n) as budget:`
(this thread only) `charge_weight` (called by `Layer.add_weight` before it
allocates) raises `WeightBudgetError` once the weights created in the block
would exceed `n` bytes, and `budget.exceeded` stays set so the loader can
report it even if a layer swallowed the error. Outside a budget block,
`charge_weight` costs one attribute lookup.
"""
import contextlib
import threading

__all__ = ["WeightBudgetError", "weight_budget", "charge_weight"]

_LOCAL = threading.local()


class WeightBudgetError(ValueError):
    """Building the model would allocate more weight bytes than its file justifies."""


class _Budget:
    def __init__(self, limit, what):
        self.limit, self.what = int(limit), what
        self.used = 0
        self.exceeded = None   # the message, once exceeded


@contextlib.contextmanager
def weight_budget(limit, what="the file"):
    """Within the block (this thread), layers may create at most `limit` bytes of weights."""
    previous = getattr(_LOCAL, "budget", None)
    budget = _LOCAL.budget = _Budget(limit, what)
    try:
        yield budget
    finally:
        _LOCAL.budget = previous


def charge_weight(shape, itemsize, where):
    """Count a new weight of `shape` x `itemsize` bytes against the active budget, if any."""
    budget = getattr(_LOCAL, "budget", None)
    if budget is None:
        return
    nbytes = int(itemsize)
    for d in shape:
        nbytes *= int(d)
    budget.used += nbytes
    if budget.used > budget.limit:
        budget.exceeded = (
            f"Building the model of {budget.what} would allocate more than {budget.limit:,} "
            f"bytes of weights (the limit its weights member justifies); {where} alone asks "
            f"for {nbytes:,} bytes. Refusing the config.")
        raise WeightBudgetError(budget.exceeded)
