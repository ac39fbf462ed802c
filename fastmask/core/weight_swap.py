"""Weights replaced while other threads run the model: one consistent snapshot per call.

A process-wide readers-writer lock, preferring writers:

* readers are calls: the outermost `Layer.__call__` of a thread (and
  `Model.predict`, for all its batches) holds a read for the whole call, so
  every layer of that call sees the same weights;
* writers are weight replacements: `Variable.assign`, `Layer.set_weights`
  and `load_weights` prepare the new values first (checked, cast, read from
  the file), then copy them in under the write lock, in one step.

So a call gives the output of the old weights or of the new ones, never a mix.
Reads nest (a thread inside a call calls more layers freely); a write from a
thread that is inside a call (a stateful layer updating its state) proceeds
without waiting (it cannot wait for itself). A writer waits for the calls in
progress; calls starting after it wait for the (short) copy. The state is
reset in a forked child (no lock inherited in a locked state).
"""
import contextlib
import os
import threading

__all__ = ["begin_read", "end_read", "reading", "writing"]


class _State:
    def __init__(self):
        self.cond = threading.Condition(threading.Lock())
        self.readers = 0            # threads inside a call
        self.writer = None          # ident of the thread writing
        self.waiting_writers = 0
        self.local = threading.local()


_S = _State()


def _reset_after_fork():
    global _S
    _S = _State()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def begin_read():
    """Enter a call (re-entrant per thread); pair with `end_read()`."""
    s = _S
    local = s.local
    depth = getattr(local, "depth", 0)
    if depth:
        local.depth = depth + 1
        return
    if getattr(local, "writing", 0):
        local.depth, local.counted = 1, False   # the writer calls a layer: no wait
        return
    with s.cond:
        while s.writer is not None or s.waiting_writers:
            s.cond.wait()
        s.readers += 1
    local.depth, local.counted = 1, True


def end_read():
    """Leave a call entered with `begin_read()`."""
    s = _S
    local = s.local
    depth = getattr(local, "depth", 0)
    if not depth:   # entered before a fork: the child's state starts afresh
        return
    local.depth = depth - 1
    if local.depth or not local.counted:
        return
    with s.cond:
        s.readers -= 1
        if not s.readers:
            s.cond.notify_all()


@contextlib.contextmanager
def reading():
    """`with reading():` the block is one call (sees one set of weights)."""
    begin_read()
    try:
        yield
    finally:
        end_read()


@contextlib.contextmanager
def writing():
    """`with writing():` no call runs during the block (re-entrant per thread)."""
    s = _S
    local = s.local
    if getattr(local, "depth", 0) or getattr(local, "writing", 0):
        # Inside a call of this thread (e.g. a stateful layer's update), or nested.
        local.writing = getattr(local, "writing", 0) + 1
        try:
            yield
        finally:
            local.writing -= 1
        return
    me = threading.get_ident()
    with s.cond:
        s.waiting_writers += 1
        try:
            while s.writer is not None or s.readers:
                s.cond.wait()
        finally:
            s.waiting_writers -= 1
            if s.writer is not None or s.readers:   # interrupted: let the readers go on
                s.cond.notify_all()
        s.writer = me
    local.writing = 1
    try:
        yield
    finally:
        local.writing = 0
        with s.cond:
            s.writer = None
            s.cond.notify_all()
