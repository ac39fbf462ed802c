"""Helper objects a model makes on first use and keeps in its `__dict__` (its execution
plans, its predict output pool): made once, also when threads race to make them."""
import threading

__all__ = ["attached"]

_LOCK = threading.Lock()


def attached(owner, attr, make):
    """`owner.__dict__[attr]`, set to `make()` on first use (under a lock, checked twice)."""
    value = owner.__dict__.get(attr)
    if value is None:
        with _LOCK:
            value = owner.__dict__.get(attr)
            if value is None:
                value = owner.__dict__[attr] = make()
    return value
