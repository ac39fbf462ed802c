"""Arrays a layer derives from its weights (packed for a kernel, joined), kept until a
weight changes.

A recurrent layer packs its kernels into the panels its C kernel reads, and
MultiHeadAttention joins its Q|K|V projection kernels into one GEMM operand;
doing it on every call costs about half of a batch-1 LSTM(128) call. The
layer keeps the result in a `WeightCache` instead, under a key made of the
`_version`s of the weights it was made from (each write to a `Variable` gives
it a number no variable had before, after the data is written) and the
parameters it was made for (dtype, ISA, cell, ...).

Thread safety: the key is read before the array is made and stored with it;
a reader uses an entry only when its key equals the key it reads now. A write
racing the making of an entry leaves that entry under the old numbers, which
no later reader matches. Weights are read-only outside their writes
(`Variable`), so no write goes around the numbers.

The cache is not state: it pickles and copies as an empty cache, and is not
part of any config.
"""

__all__ = ["WeightCache", "weight_cache"]


class WeightCache:
    """{slot: (key, array)} of one layer; see the module docstring."""

    __slots__ = ("_entries", "planned")

    def __init__(self):
        self._entries = {}
        self.planned = {}     # {key: PlannedCall} (`layers/planned_call.py`)

    def get(self, slot, weights, params, make):
        """The array `make()` gives for `weights` (Variables or None) and the hashable
        `params`, made again only when a weight was written or `params` differ.
        Weights that are not `Variable`s (no `_version`) are never cached."""
        versions = []
        for w in weights:
            if w is None:
                versions.append(None)
                continue
            v = getattr(w, "_version", None)
            if v is None:
                return make()
            versions.append(v)
        key = (tuple(versions), params)
        entry = self._entries.get(slot)
        if entry is not None and entry[0] == key:
            return entry[1]
        value = make()
        self._entries[slot] = (key, value)
        return value

    def clear(self):
        """Forget every entry (the next call makes them again)."""
        self._entries = {}
        self.planned = {}

    def __len__(self):
        return len(self._entries)

    def __reduce__(self):    # pickle, copy, deepcopy: an empty cache
        return (WeightCache, ())

    def __repr__(self):
        return f"<WeightCache slots={sorted(self._entries)}>"


def weight_cache(layer):
    """`layer`'s `WeightCache` (made on first use, as `layer._weight_cache`)."""
    cache = layer.__dict__.get("_weight_cache")
    if cache is None:
        cache = WeightCache()
        object.__setattr__(layer, "_weight_cache", cache)
    return cache
