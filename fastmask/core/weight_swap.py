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
"""
import contextlib
import os
import threading

__all__ = ["begin_read", "end_read", "reading", "writing"]


class _State:
    def __init__(self):
        self.cond = threading.Condition(threading.Lock())
        self.readers = 0            # calls in progress
        self.writer = False         # a write in progress
        self.waiting_writers = 0
        self.waiting_readers = 0
        self.admit = False          # the readers that waited for a writer go first
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
        if s.writer or (s.waiting_writers and not s.admit):
            s.waiting_readers += 1
            try:
                while s.writer or (s.waiting_writers and not s.admit):
                    s.cond.wait()
            finally:
                s.waiting_readers -= 1
                if not s.waiting_readers and s.admit:
                    s.admit = False
                    s.cond.notify_all()
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
    with s.cond:
        s.waiting_writers += 1
        try:
            while s.writer or s.readers or s.admit:
                s.cond.wait()
        finally:
            s.waiting_writers -= 1
            if not s.waiting_writers:
                s.cond.notify_all()   # readers held back for writers may go
        s.writer = True
    local.writing = 1
    try:
        yield
    finally:
        local.writing = 0
        with s.cond:
            s.writer = False
            s.admit = s.waiting_readers > 0
            s.cond.notify_all()
