"""What `Layer.__call__` needs to know about a layer's `call` (or `build`) signature.

`_signature_of(cls.call)` is computed once per function and cached: parameter
names, defaults, whether `call` takes `mask`/`training`, and a fast `bind`.
`_default` marks the base class's overridable methods so that `Layer` can tell
whether a subclass overrides them (`_is_default`).
"""
import inspect

import numpy as np

from ..core.tensor import KerasTensor

__all__ = []


class _Signature:
    """What `__call__` needs to know about a `call` (or `build`) function, computed once."""

    def __init__(self, fn):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]  # drop self
        self.signature = sig.replace(parameters=params)
        self.names = [p.name for p in params
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.all_names = set(sig.parameters) - {next(iter(sig.parameters))}
        self.positional = [p.name for p in params
                           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}
        self.required = [p.name for p in params if p.default is p.empty
                         and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.var_positional = next((p.name for p in params
                                    if p.kind == p.VAR_POSITIONAL), None)
        self.var_keyword = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)
        self.has_mask = "mask" in self.names
        self.has_training = "training" in self.names
        # Names in the order `signature.bind(...).arguments` (with defaults) lists them.
        self.order = [p.name for p in params]
        self.simple = (self.var_positional is None
                       and all(p.kind == p.POSITIONAL_OR_KEYWORD or p.kind == p.VAR_KEYWORD
                               for p in params))
        # Fast path of __call__: `layer(x)` with one array and nothing else.
        self.single = (self.simple and len(self.positional) >= 1
                       and len(self.required) <= 1
                       and (not self.required or self.required[0] == self.positional[0]))
        self.first = self.positional[0] if self.positional else None
        # Positional arguments a call must give for every required parameter to be
        # bound (simple signatures: all required parameters are positional).
        self.n_leading_required = max((self.positional.index(n) + 1 for n in self.required
                                       if n in self.positional), default=0)
        self.mask_default_none = self.defaults.get("mask", None) is None
        self.training_default = self.defaults.get("training")

    def bind(self, args, kwargs):
        """(arguments with defaults applied in signature order, user arguments)."""
        if self.simple and len(args) <= len(self.positional):
            given = dict(zip(self.positional, args))
            extra = None
            for k, v in kwargs.items():
                if k in given:
                    raise TypeError(f"multiple values for argument '{k}'")
                if k not in self.all_names:
                    if self.var_keyword is None:
                        raise TypeError(f"got an unexpected keyword argument '{k}'")
                    if extra is None:
                        extra = {}
                    extra[k] = v
                    continue
                given[k] = v
            arguments = {}
            for name in self.order:
                if name in given:
                    arguments[name] = given[name]
                elif name == self.var_keyword:
                    arguments[name] = extra or {}
                elif name in self.defaults:
                    arguments[name] = self.defaults[name]
                else:
                    raise TypeError(f"missing a required argument: '{name}'")
            if extra:
                given[self.var_keyword] = extra
            return arguments, given
        bound = self.signature.bind(*args, **kwargs)
        given = dict(bound.arguments)
        bound.apply_defaults()
        return dict(bound.arguments), given


_SIGNATURES = {}


def _signature_of(fn):
    """Cached `_Signature` of a plain function (class attribute, not bound method)."""
    try:
        return _SIGNATURES[fn]
    except KeyError:
        info = _SIGNATURES[fn] = _Signature(fn)
        return info
    except TypeError:  # unhashable callable
        return _Signature(fn)


def _is_tensor_arg(x):
    return isinstance(x, (np.ndarray, np.generic, KerasTensor))


def _shape_of(x):
    return None if x is None else tuple(x.shape)


def _default(method):
    method._is_default = True
    return method


def _is_default(method):
    return getattr(method, "_is_default", False)
