"""`predict`'s outputs: one array per model output for all samples, filled batch by batch.

`Model.predict` runs its batches through `PredictOutputs`:

* one batch: the model's own output is returned as it is (no copy), unless it
  shares memory with an input array or with another output (then that output
  is copied, so the caller owns every array it gets);
* several batches: the first batch's outputs give each output's trailing
  shape and dtype; each output (and its mask, when the first batch carries
  one) is allocated once for all samples and every batch is written into its
  rows. From the second batch on, `offer(model)` offers the rows to the model's
  graph (`take_outputs_into`): a layer producing an output that can write into
  a caller's array (`Layer._writes_out`) writes there, and nothing is copied.
* a batch whose output does not fit the arrays (another trailing shape, e.g.
  a dynamic-length model, or another dtype or mask layout) switches to the
  old way: the parts are kept and concatenated at the end.

The arrays are allocated from the first batch's results because the output
shapes for the real batch/time dims are not known before; once symbolic
shape inference gives them (`_allocate`'s one caller), the first batch can
write into its rows too.

Recycled outputs (`OutputPool`, one per graph model): a predict's large outputs
(a one-batch predict's own, or the all-samples arrays of several batches) are
kept by the model, and reused by a later predict (offered to the graph, or as
the all-samples arrays when their shapes match) once nothing outside the pool
refers to them any more (the caller dropped them and every view of them). Fresh memory costs page faults, and the kernel zeroes
each page: 0.3 s for the mini-GPT's 205 MB of logits on the development
machine (THP pages zeroed at ~0.7 GB/s), a third of its whole predict. With
`y = model.predict(x)` in a loop two entries alternate (the previous result is
still bound to `y` while the next one is computed).
"""
import sys
import threading

import numpy as np

from ..core.tensor import get_mask, plain, with_mask
from ..core.tree import flatten, map_structure, pack_as
from .attached import attached

__all__ = ["OutputPool", "PredictOutputs", "output_pool", "take_outputs_into"]


class _OutputsInto(threading.local):
    """Per thread: (model, flat list of arrays) the next run of `model`'s graph may
    write its outputs into, or None."""

    def __init__(self):
        self.target = None


_OUTPUTS_INTO = _OutputsInto()


def take_outputs_into(model):
    """The arrays offered to `model`'s next run (a flat list, one per output, in
    `model.outputs` order), or None. Taking them withdraws the offer, so nested
    models never see it."""
    target = _OUTPUTS_INTO.target
    if target is None or target[0] is not model:
        return None
    _OUTPUTS_INTO.target = None
    return target[1]


def _same_memory(a, b):
    """a and b are the same view of the same memory (shape, strides, address)."""
    return (a.shape == b.shape and a.dtype == b.dtype and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _owned(outputs, inputs):
    """`outputs` (a model's result) with each ndarray that shares memory with an
    input array or with an earlier output replaced by a copy (its mask kept)."""
    flat = flatten(outputs)
    fixed, changed = [], False
    for i, a in enumerate(flat):
        if isinstance(a, np.ndarray) and a.size and (
                any(np.may_share_memory(a, x) for x in inputs)
                or any(isinstance(o, np.ndarray) and np.may_share_memory(a, o)
                       for o in flat[:i])):
            m = get_mask(a)
            a = plain(a).copy()
            a = with_mask(a, m) if m is not None else a
            changed = True
        fixed.append(a)
    return pack_as(outputs, fixed) if changed else outputs


class OutputPool:
    """Outputs of earlier predicts of one model, used again once free.

    An entry is the flat list of one call's output arrays (plain, C-contiguous,
    owning their memory, together at least MIN_BYTES); at most MAX_ENTRIES are
    kept (the oldest goes). An entry is free when the pool's list holds the only
    reference to each of its arrays: a caller's reference, or a view (whose
    `base` is the array), keeps it out of use. Not state: pickles and copies as
    an empty pool.
    """

    MIN_BYTES = 1 << 20
    MAX_ENTRIES = 2

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def take(self, like=None):
        """A free entry (removed from the pool until `give` returns it), or None.
        like: None, or a list of (shape, dtype) the entry's arrays must have."""
        with self._lock:
            for i, entry in enumerate(self._entries):
                if like is not None and (len(like) != len(entry) or any(
                        a.shape != shape or a.dtype != dtype
                        for a, (shape, dtype) in zip(entry, like))):
                    continue
                # 2 references: the entry's list slot and getrefcount's argument.
                if all(sys.getrefcount(entry[j]) == 2 for j in range(len(entry))):
                    return self._entries.pop(i)
        return None

    def give(self, entry):
        """Keep `entry` (a flat list of output arrays) when it qualifies."""
        if not entry or sum(a.nbytes for a in entry) < self.MIN_BYTES or not all(
                type(a) is np.ndarray and a.base is None and a.flags.c_contiguous
                and a.flags.writeable for a in entry):
            return
        with self._lock:
            self._entries = [e for e in self._entries
                             if not any(x is y for x, y in zip(e, entry))]
            self._entries.append(list(entry))
            del self._entries[:-self.MAX_ENTRIES]

    def clear(self):
        with self._lock:
            self._entries = []

    def __len__(self):
        return len(self._entries)

    def __reduce__(self):    # pickle, copy, deepcopy: an empty pool
        return (OutputPool, ())


def output_pool(model):
    """`model`'s `OutputPool` (made on first use, as `model._fm_output_pool`)."""
    return attached(model, "_fm_output_pool", OutputPool)


class PredictOutputs:
    """The outputs of `n_batches` batches covering `n_samples` samples.

    `add(out, rows)` records a batch's model output (`rows`: its slice of the
    samples); `result()` returns the whole outputs with the structure of the
    first batch's. `offer(model, rows)` offers the model its output rows for
    the next call (after the first batch); `withdraw()` ends the offer.
    """

    def __init__(self, n_samples, n_batches, inputs=(), pool=None):
        self.n_samples = n_samples
        self.n_batches = n_batches
        self.inputs = [plain(x) for x in inputs if isinstance(x, np.ndarray)]
        self.first = None       # the first batch's output (its structure)
        self.started = False
        self.arrays = None      # one array per flat output, for all samples
        self.masks = None       # one mask array (or None) per flat output
        self.filled = 0         # samples written into `arrays`
        self.parts = None       # the concatenate fallback: per output, its parts
        self.pool = pool        # the model's OutputPool (or None), and the entry
        self.recycled = None    # taken from it for this one-batch call (or None)

    # -- offering the rows to the model

    def offer(self, model, rows):
        """Offer `model` (its graph runs `take_outputs_into`) the rows `rows` of
        every output array for its next call."""
        if self.arrays is not None and model is not None:
            _OUTPUTS_INTO.target = (model, [a[rows] for a in self.arrays])

    def offer_recycled(self, model):
        """One batch: offer `model` a free entry of the pool (the outputs of an earlier
        predict nothing refers to any more) to write its outputs into. (No graph:
        nothing could take the offer, so nothing is kept either.)"""
        if model is None or self.pool is None:
            self.pool = None
            return
        self.recycled = self.pool.take()
        if self.recycled is not None:
            _OUTPUTS_INTO.target = (model, list(self.recycled))

    @staticmethod
    def withdraw():
        _OUTPUTS_INTO.target = None

    # -- collecting

    def add(self, out, rows):
        if not self.started:
            self.started = True
            self.first = out
            if self.n_batches == 1:
                return
            flat = flatten(out)
            if self._fits_first(flat, rows):
                self._allocate(flat)
            else:
                self.parts = [[] for _ in flat]
            # Keep the structure only: the batch's arrays are freed once written.
            self.first = map_structure(lambda a: None, out)
        flat = flatten(out)
        if self.parts is None and not self._fits(flat, rows):
            self._to_parts()
        if self.parts is not None:
            if len(flat) != len(self.parts):
                raise ValueError(f"The model returned {len(flat)} outputs for one batch and "
                                 f"{len(self.parts)} for the first one.")
            for parts, a in zip(self.parts, flat):
                parts.append(a)
            return
        for i, a in enumerate(flat):
            dest = self.arrays[i][rows]
            src = plain(a)
            if not _same_memory(src, dest):
                np.copyto(dest, src)
            if self.masks[i] is not None:
                m = get_mask(a)
                if m is None:   # as before: only outputs whose batches all carry a mask
                    self.masks[i] = None
                else:
                    self.masks[i][rows] = m
        self.filled = rows.stop

    @staticmethod
    def _fits_first(flat, rows):
        """Every output is an array of the batch's rows (and so is its mask, if any)."""
        n = rows.stop - rows.start
        for a in flat:
            if not (isinstance(a, np.ndarray) and a.ndim and a.shape[0] == n):
                return False
            m = get_mask(a)
            if m is not None and not (isinstance(m, np.ndarray) and m.ndim
                                      and m.shape[0] == n):
                return False
        return True

    def _allocate(self, flat):
        """One array per output (and per output mask) for all the samples: a free
        pool entry of these shapes when there is one (outputs without masks)."""
        self.arrays, self.masks = [], []
        like = [((self.n_samples,) + a.shape[1:], a.dtype) for a in flat]
        reuse = None
        if self.pool is not None and all(get_mask(a) is None for a in flat):
            reuse = self.pool.take(like)
        for i, a in enumerate(flat):
            self.arrays.append(reuse[i] if reuse is not None else np.empty(*like[i]))
            m = get_mask(a)
            self.masks.append(None if m is None else
                              np.empty((self.n_samples,) + m.shape[1:], m.dtype))

    def _fits(self, flat, rows):
        """The batch's outputs (and masks) fit the arrays; else concatenate as before."""
        if len(flat) != len(self.arrays):
            return False
        n = rows.stop - rows.start
        for a, arr, marr in zip(flat, self.arrays, self.masks):
            if not (isinstance(a, np.ndarray) and a.shape[:1] == (n,)
                    and a.shape[1:] == arr.shape[1:] and a.dtype == arr.dtype):
                return False
            m = get_mask(a) if marr is not None else None
            if m is not None and not (isinstance(m, np.ndarray)
                                      and m.shape == (n,) + marr.shape[1:]
                                      and m.dtype == marr.dtype):
                return False
        return True

    def _to_parts(self):
        """Keep what was written as the first part of each output, then concatenate
        at the end (the behaviour before the arrays: for outputs whose shape varies)."""
        self.parts = []
        for arr, marr in zip(self.arrays, self.masks):
            done = arr[:self.filled]
            self.parts.append([with_mask(done, marr[:self.filled]) if marr is not None
                               else done])
        self.arrays = self.masks = None

    def _recycle(self, flat):
        """After a one-batch call: the pool keeps this call's outputs (the recycled
        entry, when the model wrote into it, or the new arrays); an entry taken but
        not written into goes back."""
        entry = self.recycled
        if entry is not None and not (len(entry) == len(flat) and all(
                _same_memory(a, b) for a, b in zip(flat, entry))):
            self.pool.give(entry)
        self.recycled = None
        self.pool.give(flat)

    # -- the result

    def result(self):
        if self.n_batches == 1:
            flat = flatten(self.first)
            if all(isinstance(a, np.ndarray) and a.ndim for a in flat):
                out = _owned(self.first, self.inputs)
                if self.pool is not None:
                    self._recycle(flatten(out))
                return out
            self.parts = [[a] for a in flat]   # (np.concatenate's errors, as before)
        if self.parts is None:
            if self.pool is not None and all(m is None for m in self.masks):
                self.pool.give(self.arrays)
            merged = [with_mask(a, m) if m is not None else a
                      for a, m in zip(self.arrays, self.masks)]
            return pack_as(self.first, merged)
        merged = []
        for parts in self.parts:
            arr = np.concatenate([np.asarray(plain(p)) for p in parts], axis=0)
            part_masks = [get_mask(p) for p in parts]
            if all(m is not None for m in part_masks):
                arr = with_mask(arr, np.concatenate([np.asarray(m) for m in part_masks]))
            merged.append(arr)
        return pack_as(self.first, merged)
