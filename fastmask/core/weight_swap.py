"""Weights replaced while other threads run the model: one consistent snapshot per call.

A process-wide readers-writer lock, phase-fair:

* readers are calls: the outermost `Layer.__call__` of a thread holds a read
  for the whole call, so every layer of that call sees the same weights
  (`Model.predict` makes one call per batch);
* writers are weight replacements: `Variable.assign`, `Layer.set_weights`
  and `load_weights` prepare the new values first (checked, cast, read from
  the file), then copy them in under the write lock, in one step.

So a call gives the output of the old weights or of the new ones, never a
mix. A waiting writer holds back calls that start after it; when it is done,
the calls that waited run before the next writer (neither side starves).
Reads nest (a thread inside a call calls more layers freely); a write from a
thread that is inside a call (a stateful layer updating its state) proceeds
without waiting (it cannot wait for itself). The state is reset in a forked
child (no lock inherited in a locked state).

Loaders that let each layer assign its own weights (`load_own_variables`)
run it inside `staging()`: `Variable.assign` then records the prepared value
instead of writing it, and the loader copies everything in at the end with
one write (or drops it all when the file does not fit).
"""
import contextlib
import os
import threading
import weakref

__all__ = ["begin_read", "end_read", "reading", "writing", "staging", "stage"]


class _Slot:
    """One thread's state: `busy` = depth of its calls in progress, `writing` = depth of
    its writes."""

    __slots__ = ("busy", "writing", "__weakref__")

    def __init__(self):
        self.busy = 0
        self.writing = 0


class _State:
    def __init__(self):
        self.cond = threading.Condition(threading.Lock())
        self.local = threading.local()  # .slot: this thread's _Slot
        self.slots = weakref.WeakSet()  # every live thread's slot (a slot dies with its thread)
        self.pending = False            # a writer waits or writes: new calls take the slow path
        self.writer = None              # the slot of the thread writing
        self.waiting_writers = 0
        self.waiting_readers = 0
        self.admit = False              # the calls that waited for a writer go first


_S = _State()


def _reset_after_fork():
    global _S
    _S = _State()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _new_slot(s):
    slot = s.local.slot = _Slot()
    with s.cond:
        s.slots.add(slot)
    return slot


def begin_read():
    """Enter a call (re-entrant per thread); pair with `end_read()`.

    Without a writer this costs a few attribute accesses and no lock: the
    thread marks its slot busy, then checks `pending` (a writer sets
    `pending`, then waits for busy slots to clear: one of the two always sees
    the other).
    """
    s = _S
    try:
        slot = s.local.slot
    except AttributeError:
        slot = _new_slot(s)
    depth = slot.busy
    slot.busy = depth + 1
    if depth or slot.writing or not s.pending:
        return
    slot.busy = 0                    # a writer waits or writes: queue behind it
    with s.cond:
        s.cond.notify_all()
        s.waiting_readers += 1
        try:
            while s.pending and not s.admit:
                s.cond.wait()
            slot.busy = 1
        finally:
            s.waiting_readers -= 1
            if not s.waiting_readers and s.admit:
                s.admit = False
                s.cond.notify_all()


def end_read():
    """Leave a call entered with `begin_read()`."""
    s = _S
    slot = getattr(s.local, "slot", None)
    if slot is None or not slot.busy:   # entered before a fork: the child starts afresh
        return
    slot.busy -= 1
    if not slot.busy and s.pending:
        with s.cond:
            s.cond.notify_all()


@contextlib.contextmanager
def reading():
    """`with reading():` the block is one call (sees one set of weights)."""
    begin_read()
    try:
        yield
    finally:
        end_read()


def _calls_running(s, mine):
    return any(slot.busy for slot in s.slots if slot is not mine)


@contextlib.contextmanager
def writing():
    """`with writing():` no call runs during the block (re-entrant per thread)."""
    s = _S
    try:
        slot = s.local.slot
    except AttributeError:
        slot = _new_slot(s)
    if slot.busy or slot.writing:
        # Inside a call of this thread (e.g. a stateful layer's update), or nested.
        slot.writing += 1
        try:
            yield
        finally:
            slot.writing -= 1
        return
    with s.cond:
        s.waiting_writers += 1
        s.pending = True
        try:
            while s.writer is not None or s.admit or _calls_running(s, slot):
                s.cond.wait()
        except BaseException:
            s.waiting_writers -= 1
            s.pending = bool(s.waiting_writers) or s.writer is not None
            s.cond.notify_all()
            raise
        s.waiting_writers -= 1
        s.writer = slot
    slot.writing = 1
    try:
        yield
    finally:
        slot.writing = 0
        with s.cond:
            s.writer = None
            s.pending = bool(s.waiting_writers)
            s.admit = s.pending and s.waiting_readers > 0
            s.cond.notify_all()


_STAGE = threading.local()   # .writes: {id(variable): (variable, value)} while staging


@contextlib.contextmanager
def staging():
    """`with staging() as writes:` this thread's `Variable.assign`s inside the block are
    recorded in `writes` ({id(variable): (variable, prepared value)}), not applied."""
    previous = getattr(_STAGE, "writes", None)
    writes = _STAGE.writes = {}
    try:
        yield writes
    finally:
        _STAGE.writes = previous


def stage():
    """The dict `Variable.assign` records into in this thread (inside `staging()`), or None."""
    return getattr(_STAGE, "writes", None)
