"""Arrays that carry a Keras mask, symbolic tensors, and mask accessors.

Keras attaches a layer's output mask to the output tensor as `_keras_mask`.
A plain `np.ndarray` refuses new attributes, so fastmask returns instances of
`Tensor`, an ndarray subclass that accepts `_keras_mask` and is a plain ndarray
everywhere else:

* every NumPy operation on it (`x * 1`, `x[0]`, `np.sum(x)`, `x.astype(...)`,
  `np.concatenate([x])`, iteration, copy, pickle...) returns a plain
  `np.ndarray` *without* the mask, as in Keras where ops never propagate masks;
* it prints like a plain ndarray.

Masks themselves are plain bool ndarrays of shape `(batch, time)` (True = keep),
or `KerasTensor`s (bool, e.g. shape `(None, None)`) during a symbolic
(Functional API) build.

`get_mask(x)` reads a mask from anything (None when there is none);
`with_mask(x, mask)` returns `x` carrying `mask` (a new `Tensor` view of the
same data for ndarrays; symbolic tensors are updated in place, as in Keras).

`KerasTensor` is the symbolic tensor of the Functional API: shape (with None
for unknown dims), dtype, name from a global counter, and `_keras_mask` once a
mask-producing layer ran. Its repr is Keras's, byte for byte. NumPy's ufuncs on
it (`np.tanh(x)`) are answered by `core/shape_inference.py`; its operators
(`x + y`, `x[i]`, ...), its `reshape`/`squeeze`/`astype` methods and NumPy's
functions (`np.sum(x)`) by `fastmask.ops`.

`Dim` is the size of an unknown dimension during symbolic shape inference
(`ops.shape(x)[1]` inside a traced `call`), and `SymbolicValueError` is what
asking a symbolic value for a number raises (`np.asarray(x)`, `int(dim)`).
"""
import contextlib
import itertools
import threading

import numpy as np

from .naming import auto_name
from .weight_swap import stage, writing

__all__ = ["Tensor", "Variable", "KerasTensor", "Dim", "SymbolicValueError", "scratch_tensors",
           "get_mask", "with_mask", "is_tensor", "is_symbolic", "standardize_dtype",
           "standardize_shape", "plain"]


def plain(x):
    """`x` as a plain `np.ndarray` view when it is an ndarray subclass of ours."""
    if isinstance(x, _PlainResultArray):
        return np.ndarray.view(x, np.ndarray)
    return x


def _unwrap(obj):
    """Plain views of our arrays inside (nested) lists/tuples; other objects as-is."""
    if isinstance(obj, _PlainResultArray):
        return np.ndarray.view(obj, np.ndarray)
    if type(obj) is list or type(obj) is tuple:
        if any(isinstance(o, (_PlainResultArray, list, tuple)) for o in obj):
            return type(obj)(_unwrap(o) for o in obj)
    return obj


def _method(name):
    base = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        return _unwrap(base(np.ndarray.view(self, np.ndarray), *args, **kwargs))

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


def _prop(name):
    base = getattr(np.ndarray, name)

    def getter(self):
        return _unwrap(base.__get__(np.ndarray.view(self, np.ndarray)))

    return property(getter, doc=base.__doc__)


# ndarray methods whose results must not be instances of our subclasses.
_WRAPPED_METHODS = (
    "all", "any", "argmax", "argmin", "argpartition", "argsort", "astype",
    "byteswap", "choose", "clip", "compress", "conj", "conjugate", "copy",
    "cumprod", "cumsum", "diagonal", "dot", "flatten", "getfield", "max",
    "mean", "min", "nonzero", "prod", "ravel", "repeat", "reshape", "round",
    "searchsorted", "squeeze", "std", "sum", "swapaxes", "take", "trace",
    "transpose", "var", "to_device", "__copy__", "__deepcopy__",
    "__reduce__", "__reduce_ex__", "__iter__", "__repr__", "__format__",
)
_WRAPPED_PROPERTIES = ("T", "mT", "real", "imag", "flat")


class _PlainResultArray(np.ndarray):
    """ndarray subclass whose every derived array is a plain `np.ndarray`."""

    __array_priority__ = -1.0

    def __array_finalize__(self, obj):  # views never inherit attributes
        pass

    def __getitem__(self, key):
        out = np.ndarray.__getitem__(np.ndarray.view(self, np.ndarray), key)
        return out

    def view(self, *args, **kwargs):
        """Like `ndarray.view`; without an explicit `type` the view is plain."""
        if "type" in kwargs or (args and isinstance(args[0], type)
                                and issubclass(args[0], np.ndarray)) or len(args) > 1:
            return np.ndarray.view(self, *args, **kwargs)
        return np.ndarray.view(np.ndarray.view(self, np.ndarray), *args, **kwargs)

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        arr = np.ndarray.view(arr, np.ndarray) if isinstance(arr, np.ndarray) else arr
        if return_scalar and isinstance(arr, np.ndarray) and arr.ndim == 0:
            return arr[()]
        return arr

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(_unwrap(x) for x in inputs)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o) for o in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            # In-place operations (`x += 1`) keep returning the caller's objects.
            return out[0] if len(out) == 1 else out
        return result

    def __array_function__(self, func, types, args, kwargs):
        args = _unwrap(args)
        out = kwargs.get("out")
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        result = func(*args, **kwargs)
        if out is not None and result is kwargs.get("out"):
            return out
        if isinstance(result, (list, tuple)):
            return _unwrap(result)
        return plain(result)

    def __str__(self):
        return np.ndarray.__str__(np.ndarray.view(self, np.ndarray))


for _name in _WRAPPED_METHODS:
    setattr(_PlainResultArray, _name, _method(_name))
for _name in _WRAPPED_PROPERTIES:
    setattr(_PlainResultArray, _name, _prop(_name))
del _name


class Tensor(_PlainResultArray):
    """A layer output: a NumPy array that may carry a Keras mask as `_keras_mask`.

    Behaves as a plain `np.ndarray` for every operation; only the object a
    layer returned carries the mask (reading `_keras_mask` on an unmasked one
    raises AttributeError, like Keras's tensors). Use `fastmask.get_mask(x)`
    to read a mask from any object.
    """


_VERSIONS = itertools.count(1)   # `Variable._version` numbers, never reused
# The last number given out, set after the variable's `_version`: equal values mean
# no Variable was made or written in between (planned calls check their weights with
# one read: layers/planned_call.py).
LAST_VERSION = [0]


def _set_new_version(var):
    v = next(_VERSIONS)
    var._version = v
    LAST_VERSION[0] = v
_WRITE_LOCK = threading.Lock()


class Variable(_PlainResultArray):
    """A layer weight: an ndarray with `name`, `path`, `trainable`, `assign()`, `numpy()`.

    The data is updated in place by `assign` / `assign_add` / `assign_sub` /
    `Layer.set_weights` / weight loading, so code holding `layer.kernel` sees
    new values. Outside those writes the data is read-only: `var[0] = 1` raises
    TypeError (as Keras's variables), and NumPy writes into it or into its views
    (`np.copyto(var, ...)`, `var.value[0] = 1`, `var += 1`) raise ValueError.
    Every write moves `_version` on to a number no variable has had before, so
    arrays derived from weights (`layers/weight_cache.py`) know when to be made
    again. Arithmetic on it returns plain ndarrays; `value` is a plain
    (read-only) view.
    """

    # `fastmask.initializers` installs its `get` here (core imports no upper room), so
    # that `Variable("ones", shape=...)` resolves initializer names.
    _initializer_get = None

    def __new__(cls, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                aggregation="none", synchronization="auto", name=None, **kwargs):
        """`fastmask.Variable(initializer, shape=None, dtype=None, trainable=True, ...,
        name=None)`: Keras's `keras.Variable` constructor.

        `initializer` is an array-like (its own dtype unless `dtype` is given) or an
        initializer (name, object or callable `(shape, dtype) -> array`, then `shape`
        is required).
        """
        name = name or auto_name(cls.__name__)
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        if aggregation not in (None, "none", "mean", "sum", "only_first_replica"):
            raise ValueError("Invalid value for argument `aggregation`. Expected one of "
                             "`None`, `'none'`, `'mean'`, `'sum'`, `'only_first_replica'`. "
                             f"Received: aggregation={aggregation}")
        if synchronization not in (None, "none", "on_read", "on_write", "auto"):
            raise ValueError("Invalid value for argument `synchronization`. Expected one of "
                             "`None`, `'none'`, `'on_read'`, `'on_write'`, `'auto'`. "
                             f"Received: synchronization={synchronization}")
        if isinstance(initializer, str):
            if cls._initializer_get is None:
                raise ValueError(f"Unknown initializer: {initializer!r}")
            initializer = cls._initializer_get(initializer)
        if callable(initializer):
            if shape is None:
                raise ValueError("When creating a Variable from an initializer, the `shape` "
                                 f"argument should be specified. Received: "
                                 f"initializer={initializer} and shape={shape}")
            shape = standardize_shape(shape)
            dtype = standardize_dtype(dtype)
            value = np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
            if value.shape != shape:
                value = np.broadcast_to(value, shape)
        else:
            value = np.asarray(initializer.value if isinstance(initializer, Variable)
                               else initializer)
            if dtype is not None:
                value = value.astype(standardize_dtype(dtype))
            elif value.dtype in (np.float64, np.int64):
                # As Keras: 64-bit values become float32 / int32 unless `dtype` says so.
                value = value.astype(np.float32 if value.dtype == np.float64 else np.int32)
            if shape is not None and tuple(standardize_shape(shape)) != value.shape:
                raise ValueError("Initial value shape does not match the `shape` argument. "
                                 f"Received: value.shape={value.shape}, shape={shape}")
        var = cls.create(value, name=name, trainable=trainable, path=name)
        var.autocast = bool(autocast)
        var.aggregation = aggregation or "none"
        var.synchronization = synchronization or "none"
        return var

    @classmethod
    def create(cls, value, name=None, trainable=True, path=None):
        data = np.array(value, order="C")   # owns the memory; writeable only inside `_write`
        var = np.ndarray.view(data, cls)
        var.name = name
        var.trainable = bool(trainable)
        var.path = path
        var._data = data
        _set_new_version(var)
        data.flags.writeable = False
        var.flags.writeable = False
        var.value = np.ndarray.view(var, np.ndarray)
        return var

    def _write(self, value):
        """Copy `value` (this shape, cast unsafely to this dtype) into the data, then move
        `_version` on. The caller holds `weight_swap.writing()` (or stages the write)."""
        data = self._data
        with _WRITE_LOCK:   # the writeable flag is shared: one write at a time
            data.flags.writeable = True
            try:
                np.copyto(data, value, casting="unsafe")
            finally:
                data.flags.writeable = False
                # After the copy: a reader that sees the new number sees the new data.
                _set_new_version(self)

    def __setitem__(self, key, value):
        raise TypeError("'Variable' object does not support item assignment. Use "
                        "`variable.assign(value)` to change a weight. Received: "
                        f"variable[{key!r}] = ...")

    def assign(self, value):
        """Copy `value` (same shape, cast to this dtype) into the variable.

        The copy happens while no layer call runs (`core/weight_swap.py`): a
        call sees the old value or the new one, never a mix.
        """
        arr = np.asarray(value)
        if arr.shape != self.shape:
            raise ValueError(
                "The shape of the target variable and the shape of the target value in "
                "`variable.assign(value)` must match. "
                f"variable.shape={self.shape}, Received: value.shape={arr.shape}. "
                f"Target variable: {self!r}")
        staged = stage()
        if staged is not None:   # a loader collects the values, then writes them at once
            staged[id(self)] = (self, np.array(arr, dtype=self.dtype, copy=True))
            return self
        if arr.dtype != self.dtype:
            arr = arr.astype(self.dtype, casting="unsafe")
        with writing():
            self._write(arr)
        return self

    def assign_add(self, value):
        """`assign(self + value)`."""
        return self.assign(self.value + np.asarray(value))

    def assign_sub(self, value):
        """`assign(self - value)`."""
        return self.assign(self.value - np.asarray(value))

    def numpy(self):
        """A plain copy of the value."""
        return self.value.copy()

    def __repr__(self):
        return (f"<Variable path={self.path or self.name}, shape={self.shape}, "
                f"dtype={self.dtype.name}, value={np.ndarray.__repr__(self.value)}>")


_DTYPE_NAMES = {}   # str / np.dtype / type -> name: symbolic shape inference asks often


def standardize_dtype(dtype):
    """Keras-style dtype name string ('float32', 'int32', 'bool', ...)."""
    if isinstance(dtype, (str, np.dtype, type)):
        name = _DTYPE_NAMES.get(dtype)
        if name is None:
            name = _DTYPE_NAMES[dtype] = _standardize_dtype(dtype)
        return name
    return _standardize_dtype(dtype)


def _standardize_dtype(dtype):
    if dtype is None:
        return "float32"
    if dtype is float:
        return "float32"
    if dtype is int:
        return "int64"
    if dtype is bool:
        return "bool"
    if isinstance(dtype, str) and dtype in ("string", "str"):
        return "string"
    if hasattr(dtype, "name") and isinstance(getattr(dtype, "name"), str) \
            and not isinstance(dtype, (np.dtype, type)):
        dtype = dtype.name  # e.g. a DTypePolicy-like object
    if isinstance(dtype, str) and dtype == "bfloat16":
        _register_bfloat16()
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}") from None


def _register_bfloat16():
    """Give NumPy its `bfloat16` (from ml_dtypes, as Keras does) on first use."""
    try:
        import ml_dtypes  # noqa: F401  (registers np.dtype("bfloat16"))
    except ImportError:
        raise ValueError("dtype 'bfloat16' needs the ml_dtypes package (pip install "
                         "ml-dtypes), which gives NumPy its bfloat16. Received: "
                         "dtype='bfloat16'") from None


def standardize_shape(shape):
    """Tuple of ints/None; rejects negative or non-integer entries."""
    if shape is None:
        raise ValueError("Undefined shapes are not supported.")
    if not hasattr(shape, "__iter__"):
        raise ValueError(f"Cannot convert '{shape}' to a shape.")
    out = []
    for d in shape:
        if d is None or isinstance(d, Dim):
            out.append(None)
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ValueError(
                f"Cannot convert '{tuple(shape)}' to a shape. Found invalid entry '{d}' "
                f"of type '{type(d)}'. ")
        if d < 0:
            raise ValueError(f"Cannot convert '{tuple(shape)}' to a shape. Negative "
                             "dimensions are not allowed.")
        out.append(int(d))
    return tuple(out)


class KerasTensor:
    """Symbolic tensor of the Functional API: a shape, a dtype and a name.

    `shape` may contain None (unknown size). After a mask-producing layer, the
    tensor carries a symbolic bool mask as `_keras_mask`. Operators (`x + y`,
    `x * 2`, `x != 0`, ...) and `fastmask.ops` functions work on it and record
    graph nodes, so they can be used inside Functional models.
    """

    def __init__(self, shape, dtype="float32", sparse=False, ragged=False,
                 record_history=True, name=None):
        self._shape = standardize_shape(shape)
        self._dtype = standardize_dtype(dtype)
        self._sparse = bool(sparse)
        self._ragged = bool(ragged)
        if self._sparse or self._ragged:
            raise ValueError("fastmask does not support sparse or ragged tensors.")
        self.name = name or ("keras_tensor" if _SCRATCH.depth else auto_name("KerasTensor"))
        self.record_history = record_history

    shape = property(lambda self: self._shape)
    dtype = property(lambda self: self._dtype)
    sparse = property(lambda self: self._sparse)
    ragged = property(lambda self: self._ragged)
    ndim = property(lambda self: len(self._shape))

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"sparse={self.sparse}, ragged={self.ragged}, name={self.name}>")

    def __array__(self, *args, **kwargs):
        raise SymbolicValueError(
            "A KerasTensor is symbolic: it's a placeholder for a shape and a dtype. "
            "It doesn't have any actual numerical value. You cannot convert it to "
            "a NumPy array. Use `fastmask.ops` functions or layers on it instead.")

    def __iter__(self):
        raise SymbolicIterationError(
            "Iterating over a symbolic KerasTensor is not supported.")

    def __bool__(self):
        raise SymbolicTypeError("A symbolic KerasTensor cannot be used as a boolean.")

    def __len__(self):
        raise SymbolicTypeError("A symbolic KerasTensor has no len(); use `.shape`.")

    def __int__(self):
        raise SymbolicValueError("A KerasTensor is symbolic: it has no numerical value.")

    __float__ = __int__
    __index__ = __int__

    __hash__ = object.__hash__


class _Scratch(threading.local):
    depth = 0


_SCRATCH = _Scratch()


@contextlib.contextmanager
def scratch_tensors():
    """KerasTensors made inside are scratch values of a shape-inference trace: they take no
    number from the `keras_tensor_N` counter (Keras makes none while tracing), so the names
    of the tensors a model shows stay Keras's."""
    _SCRATCH.depth += 1
    try:
        yield
    finally:
        _SCRATCH.depth -= 1


class SymbolicValueError(ValueError):
    """A symbolic value (`KerasTensor`, `Dim`) was asked for a number.

    Raised by `np.asarray(keras_tensor)`, NumPy functions fastmask has no shape
    rule for, `int(dim)` and comparisons of unknown sizes that cannot be decided.
    Layer shape inference catches it to fall back to a dry run of `call`.
    """


class SymbolicTypeError(SymbolicValueError, TypeError):
    """`SymbolicValueError` where Python expects a TypeError (`bool(x)`, `len(x)`)."""


class SymbolicIterationError(SymbolicValueError, NotImplementedError):
    """`SymbolicValueError` raised by iterating over a KerasTensor (Keras: NotImplementedError)."""


class Dim:
    """The size of an unknown dimension during symbolic shape inference.

    As in Keras's JAX backend, all unknown dims are one symbol `n`; a `Dim` is
    an integer expression of `n`, held as its values at n=83 and n=89 (the
    sizes Keras's NumPy backend runs with). Arithmetic with ints or Dims gives
    a Dim, or a plain int when both values agree (`n - n` is 0). A comparison
    that holds at both points is a bool; one that does not (`n > 85`) raises
    `SymbolicValueError`, as does `int(dim)` or using it as an index.
    In shapes, a Dim stands for None (`KerasTensor((Dim.N, 3))` has shape (None, 3)).
    """

    __slots__ = ("values",)
    SIZES = (83, 89)
    N = None   # the symbol itself, set below

    def __init__(self, values):
        self.values = tuple(values)

    @classmethod
    def make(cls, values):
        """A Dim of `values` (one per sample size), or the int when they agree."""
        values = tuple(values)
        if all(v == values[0] for v in values[1:]):
            return values[0]
        return cls(values)

    @staticmethod
    def at(x, i):
        """`x` evaluated at sample size `i` (`x` itself when it is no Dim)."""
        return x.values[i] if isinstance(x, Dim) else x

    def _binary(self, other, fn):
        if isinstance(other, (Dim, int, np.integer)) and not isinstance(other, (bool, np.bool_)):
            return Dim.make(fn(self.values[i], Dim.at(other, i)) for i in range(len(self.values)))
        if isinstance(other, float):
            raise SymbolicValueError(f"Cannot combine the unknown size {self!r} with the float "
                                     f"{other!r}. Received: {other!r}")
        return NotImplemented

    def _compare(self, other, fn):
        if not isinstance(other, (Dim, int, np.integer)):
            return NotImplemented
        results = {bool(fn(self.values[i], Dim.at(other, i))) for i in range(len(self.values))}
        if len(results) > 1:
            raise SymbolicValueError(
                f"Cannot decide a comparison of the unknown size {self!r} with {other!r} while "
                "inferring shapes symbolically: it depends on the actual size. Received: "
                f"{other!r}")
        return results.pop()

    def __add__(self, o): return self._binary(o, lambda a, b: a + b)
    def __radd__(self, o): return self._binary(o, lambda a, b: b + a)
    def __sub__(self, o): return self._binary(o, lambda a, b: a - b)
    def __rsub__(self, o): return self._binary(o, lambda a, b: b - a)
    def __mul__(self, o): return self._binary(o, lambda a, b: a * b)
    def __rmul__(self, o): return self._binary(o, lambda a, b: b * a)
    def __floordiv__(self, o): return self._binary(o, lambda a, b: a // b)
    def __rfloordiv__(self, o): return self._binary(o, lambda a, b: b // a)
    def __mod__(self, o): return self._binary(o, lambda a, b: a % b)
    def __rmod__(self, o): return self._binary(o, lambda a, b: b % a)
    def __pow__(self, o): return self._binary(o, lambda a, b: a ** b)
    def __rpow__(self, o): return self._binary(o, lambda a, b: b ** a)
    def __truediv__(self, o): return self._no_value()   # a float: no size
    __rtruediv__ = __truediv__
    def __neg__(self): return Dim.make(-v for v in self.values)
    def __pos__(self): return self
    def __abs__(self): return Dim.make(abs(v) for v in self.values)
    def __eq__(self, o): return self._compare(o, lambda a, b: a == b)
    def __ne__(self, o): return self._compare(o, lambda a, b: a != b)
    def __lt__(self, o): return self._compare(o, lambda a, b: a < b)
    def __le__(self, o): return self._compare(o, lambda a, b: a <= b)
    def __gt__(self, o): return self._compare(o, lambda a, b: a > b)
    def __ge__(self, o): return self._compare(o, lambda a, b: a >= b)

    def __hash__(self):
        return hash(("Dim", self.values))

    def _no_value(self, *args):
        raise SymbolicValueError(
            f"{self!r} is the size of an unknown dimension: it has no numerical value while "
            "shapes are inferred symbolically. Use it with `fastmask.ops` functions "
            "(`ops.arange`, `ops.reshape`, `ops.zeros`, ...) instead of Python or NumPy.")

    __index__ = __int__ = __float__ = _no_value

    def __bool__(self):
        raise SymbolicTypeError(f"{self!r} is the size of an unknown dimension: it cannot be "
                                "used as a boolean while shapes are inferred symbolically.")

    def __repr__(self):
        return "Dim(n)" if self.values == Dim.SIZES else f"Dim({self.values[0]} at n=83)"


Dim.N = Dim(Dim.SIZES)


def is_symbolic(x):
    """True for a `KerasTensor`."""
    return isinstance(x, KerasTensor)


def is_tensor(x, allow_none=False):
    """True for an ndarray (or NumPy scalar) or a `KerasTensor`."""
    if allow_none and x is None:
        return True
    return isinstance(x, (np.ndarray, np.generic, KerasTensor))


def get_mask(x):
    """The Keras mask carried by `x` (`x._keras_mask`), or None.

    Works for any object: layer outputs, symbolic tensors, plain arrays,
    Python values (always None for the latter two).
    """
    if type(x) is np.ndarray:
        return None
    try:
        return x._keras_mask
    except Exception:
        return None


def with_mask(x, mask):
    """`x` carrying `mask` as `_keras_mask`.

    For an ndarray this is a new `Tensor` view of the same data (the input
    object is not modified); `mask=None` gives a plain view without a mask.
    A `KerasTensor` is updated in place (Keras semantics) and returned.
    """
    if isinstance(x, KerasTensor):
        if mask is None:
            x.__dict__.pop("_keras_mask", None)
        else:
            x._keras_mask = mask
        return x
    if isinstance(x, np.ndarray):
        if mask is None:
            return np.ndarray.view(x, np.ndarray)
        out = np.ndarray.view(x, Tensor)
        out._keras_mask = mask
        return out
    if isinstance(x, np.generic):
        return with_mask(np.asarray(x), mask)
    raise TypeError(f"Cannot attach a mask to {type(x).__name__} objects. "
                    f"Received: x={x!r}")
