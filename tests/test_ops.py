"""`fastmask.ops` vs `keras.ops` (NumPy backend): values, result dtypes, symbolic shapes."""
import os

import numpy as np
import pytest

import fastmask
from fastmask import KerasTensor, ops
from oracle import keras

RNG = np.random.default_rng(0)
F32 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
F64 = RNG.standard_normal((2, 3, 4))
I32 = RNG.integers(-3, 4, (2, 3, 4)).astype(np.int32)
I64 = RNG.integers(0, 5, (2, 3, 4))
B = RNG.random((2, 3, 4)) < 0.5
POS = np.abs(F32) + 0.1

# (name, args, kwargs): each runs as ops.<name>(*args, **kwargs) in both libraries.
CASES = [
    ("cast", (F32, "int32"), {}), ("cast", (I64, "float32"), {}), ("cast", (B, "float32"), {}),
    ("convert_to_tensor", ([1, 2],), {}), ("convert_to_tensor", ([1.0, 2],), {}),
    ("convert_to_tensor", (F64,), {}), ("convert_to_tensor", (I64,), {}),
    ("convert_to_tensor", (F32,), {"dtype": "float64"}),
    ("reshape", (F32, (6, 4)), {}), ("reshape", (F32, (-1,)), {}),
    ("transpose", (F32,), {}), ("transpose", (F32, (0, 2, 1)), {}),
    ("expand_dims", (F32, -1), {}), ("expand_dims", (I32, 0), {}),
    ("squeeze", (F32[:, :1],), {}), ("squeeze", (F32[:, :1],), {"axis": 1}),
    ("tile", (I32, [1, 2, 1]), {}), ("take", (F32, I64[0, 0] % 2), {"axis": 1}),
    ("take", (F32, np.array([[0, 1], [2, 0]])), {}),
    ("where", (B, F32, 0), {}), ("where", (B, F32, F64), {}), ("where", (B, I32, 1.5), {}),
    ("equal", (I32, 0), {}), ("not_equal", (F32, 0.0), {}), ("greater", (F32, F64), {}),
    ("greater_equal", (I32, 1), {}), ("less", (F32, 0.5), {}), ("less_equal", (I32, I64), {}),
    ("logical_and", (B, ~B), {}), ("logical_or", (B, F32 > 0), {}), ("logical_not", (B,), {}),
    ("any", (B,), {"axis": -1}), ("all", (B,), {"axis": 1, "keepdims": True}),
    ("sum", (F32,), {"axis": -1, "keepdims": True}), ("sum", (B,), {}), ("sum", (I32,), {}),
    ("mean", (F32,), {"axis": 1}), ("mean", (I32,), {}), ("max", (F32,), {"axis": 0}),
    ("min", (I32,), {"axis": -1, "keepdims": True}), ("exp", (F32,), {}), ("exp", (I32,), {}),
    ("exp", (F64,), {}), ("log", (POS,), {}), ("log", (I32 % 3 + 1,), {}),
    ("sqrt", (POS,), {}), ("sqrt", (I64,), {}), ("relu", (F32,), {}), ("sigmoid", (F32,), {}),
    ("tanh", (F32,), {}), ("tanh", (I32,), {}), ("softmax", (F32,), {}),
    ("softmax", (F32,), {"axis": 1}), ("matmul", (F32, F32.transpose(0, 2, 1)), {}),
    ("matmul", (I32[0], I32[0].T), {}), ("matmul", (F32[0], F64[0].T), {}),
    ("zeros_like", (F32,), {}), ("ones_like", (I32,), {"dtype": "float32"}),
    ("zeros_like", (B,), {"dtype": "bool"}), ("ones_like", (F32,), {"dtype": "bool"}),
    ("add", (F32, 1), {}), ("add", (I32, 1.5), {}), ("subtract", (I32, I64), {}),
    ("multiply", (F32, F64), {}), ("divide", (I32, 2), {}), ("maximum", (F32, 0.0), {}),
    ("minimum", (I32, F32), {}), ("square", (I32,), {}), ("abs", (F32,), {}),
    ("clip", (F32, -0.5, 0.5), {}), ("argmax", (F32,), {"axis": -1}),
    ("cumsum", (I32,), {"axis": 1}), ("log_softmax", (F32,), {}),
]


# The ops the keras-io examples need (issue 14), against Keras: top_k (no ties: Keras's NumPy
# backend orders ties by argsort), one_hot, unstack, rfft, real, fft2, segment_sum/max.
SEG_DATA = RNG.standard_normal((6, 3)).astype(np.float32)
SEG_IDS = np.array([0, 0, 2, 1, 1, -1])
CASES += [
    ("top_k", (F32, 2), {}), ("top_k", (F64[0], 4), {}), ("top_k", (np.arange(7)[::-1] % 5, 3),
                                                        {}),
    ("one_hot", (I64[0] % 3, 3), {}), ("one_hot", (I32[0, 0] % 4, 4), {"axis": 0}),
    ("one_hot", (np.array([0, -1, 2]), 3), {"dtype": "int32"}),
    ("unstack", (F32,), {}), ("unstack", (I32,), {"axis": 1}), ("unstack", (B,), {"axis": -1}),
    ("rfft", (F32,), {}), ("rfft", (F64[0],), {"fft_length": 8}), ("rfft", (F32[0, 0],),
                                                                    {"fft_length": 3}),
    ("real", (F32,), {}), ("real", (I64,), {}),
    ("fft2", ((F32, F32 * 0.5),), {}), ("fft2", ((F64[0], F64[1]),), {}),
    ("segment_sum", (SEG_DATA, SEG_IDS, 3), {}), ("segment_sum", (SEG_DATA, SEG_IDS), {}),
    ("segment_sum", (I32[0].T.copy(), SEG_IDS[:4] % 2), {"num_segments": 2}),
    ("segment_max", (SEG_DATA, SEG_IDS, 4), {}),
    ("segment_max", (I32[0].T.copy(), SEG_IDS[:4] % 2), {"num_segments": 3}),
]


def _same(k_val, f_val, name):
    k_vals = k_val if isinstance(k_val, (list, tuple)) else [k_val]
    f_vals = f_val if isinstance(f_val, (list, tuple)) else [f_val]
    assert len(k_vals) == len(f_vals), name
    for k, f in zip(k_vals, f_vals):
        k, f = np.asarray(k), np.asarray(f)
        assert type(f_val) is not fastmask.Tensor
        assert f.dtype == k.dtype, f"{name}: dtype {f.dtype} vs Keras {k.dtype}"
        assert f.shape == k.shape, f"{name}: shape {f.shape} vs Keras {k.shape}"
        np.testing.assert_allclose(f, k, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_ops_match_keras(name, args, kwargs):
    k_val = getattr(keras().ops, name)(*args, **kwargs)
    f_val = getattr(ops, name)(*args, **kwargs)
    _same(k_val, f_val, name)


@pytest.mark.parametrize("name,args,kwargs", [
    ("split", (F32, 3), {"axis": 1}), ("split", (F32, [1]), {"axis": -1}),
    ("concatenate", ([F32, F32],), {"axis": 1}), ("concatenate", ([I32, F32],), {}),
    ("stack", ([F32, F32],), {"axis": -1}), ("stack", ([I32, B],), {}),
    ("shape", (F32,), {})])
def test_list_ops_match_keras(name, args, kwargs):
    k_val = getattr(keras().ops, name)(*args, **kwargs)
    f_val = getattr(ops, name)(*args, **kwargs)
    if name == "shape":
        assert tuple(k_val) == f_val
        return
    _same(k_val, f_val, name)


@pytest.mark.parametrize("name,args,kwargs", [
    ("zeros", ((2, 3),), {}), ("ones", ((2,),), {"dtype": "int32"}), ("arange", (5,), {}),
    ("arange", (1, 7, 2), {}), ("arange", (0.5, 3.0), {}), ("arange", (4,), {"dtype": "float32"})])
def test_creation_ops_match_keras(name, args, kwargs):
    _same(getattr(keras().ops, name)(*args, **kwargs), getattr(ops, name)(*args, **kwargs), name)


def test_ops_accept_masked_arrays_and_return_plain_arrays():
    t = fastmask.with_mask(F32, np.ones((2, 3), bool))
    for out in (ops.relu(t), ops.sum(t, axis=-1), ops.split(t, 3, axis=1)[0],
                ops.cast(t, "float32"), ops.where(B, t, 0.0)):
        assert type(out) is np.ndarray and fastmask.get_mask(out) is None


@pytest.mark.parametrize("name,args,kwargs", [
    ("not_equal", (0,), {}), ("any", (), {"axis": -1}), ("expand_dims", (-1,), {}),
    ("cast", ("float32",), {}), ("sum", (), {"axis": 1, "keepdims": True}),
    ("tile", ([1, 2, 1],), {}), ("reshape", ((-1, 4),), {}), ("transpose", ((0, 2, 1),), {}),
    ("split", (2,), {"axis": 2}), ("exp", (), {}), ("mean", (), {"axis": 1}),
    ("squeeze", (), {})])
def test_symbolic_shapes_and_dtypes_match_keras(name, args, kwargs):
    shape, dtype = (None, None, 4), "int32"
    if name == "squeeze":
        shape = (None, 1, 4)
    k_x = keras().KerasTensor(shape, dtype=dtype)
    f_x = KerasTensor(shape, dtype=dtype)
    k_out = getattr(keras().ops, name)(k_x, *args, **kwargs)
    f_out = getattr(ops, name)(f_x, *args, **kwargs)
    k_outs = k_out if isinstance(k_out, list) else [k_out]
    f_outs = f_out if isinstance(f_out, list) else [f_out]
    assert [(tuple(k.shape), k.dtype) for k in k_outs] == \
        [(f.shape, f.dtype) for f in f_outs]
    assert all(isinstance(f, KerasTensor) and hasattr(f, "_keras_history") for f in f_outs)


def test_result_type_rules():
    from fastmask.ops import result_type
    cases = [(("int64", "float32"), "float32"), (("float64",), "float32"),
             (("int64",), "int32"), (("bool", int), "int32"), (("float16", float), "float16"),
             (("uint8",), "uint8"), (("int8", "uint8"), "int16"), ((float,), "float32"),
             (("bool",), "bool")]
    from keras.src.backend.common.dtypes import result_type as k_result_type
    keras()
    for args, expected in cases:
        assert result_type(*args) == expected == k_result_type(*args), args


# --------------------------------------------------------------------------- symbolic = eager
# The oracle of every op's shape rule is the op itself: on random shapes and dtypes, the
# symbolic result (KerasTensors, some dims unknown) has the eager result's rank, dtype and
# every known dim. Ops not covered say why in NOT_SYMBOLIC.

from fastmask.core.shape_inference import tracing  # noqa: E402
from fastmask.core.tensor import Dim  # noqa: E402

NOT_SYMBOLIC = {
    "convert_to_numpy": "a KerasTensor has no values (SymbolicValueError, tested in test_tensor)",
    "convert_to_tensor": "returns its KerasTensor argument itself",
    "is_tensor": "a predicate", "shape": "tested with Dims in test_symbolic",
    "dtype": "reads the dtype",
}
ALL_DTYPES = ("float32", "float64", "int32", "int64", "bool")
NUMERIC = ("float32", "float64", "int32", "int64")
FLOATS = ("float32", "float64")


class T:
    """A tensor argument: a random array eagerly, a KerasTensor (some dims None) symbolically."""

    def __init__(self, shape, dtype, low=-3, high=4, known=()):
        self.shape, self.dtype, self.low, self.high = tuple(shape), dtype, low, high
        self.known = set(known)

    def eager(self, rng):
        if self.dtype == "bool":
            return rng.random(self.shape) < 0.5
        if self.dtype.startswith("float"):
            return rng.uniform(self.low, self.high, self.shape).astype(self.dtype)
        return rng.integers(self.low, self.high, self.shape).astype(self.dtype)

    def symbolic(self, rng, p):
        shape = tuple(None if i not in self.known and rng.random() < p else d
                      for i, d in enumerate(self.shape))
        return KerasTensor(shape, self.dtype)


class D:
    """An unknown size: `v` eagerly, `Dim.N` symbolically (in a trace)."""

    def __init__(self, v):
        self.v = v


def _shape(rng, rank=None, lo=2, hi=5):
    rank = int(rng.integers(1, 4)) if rank is None else rank
    return tuple(int(d) for d in rng.integers(lo, hi + 1, rank))


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


def _axis(rng, rank, allow_none=True, allow_tuple=True):
    choice = rng.integers(3)
    if choice == 0 and allow_none:
        return None
    if choice == 1 and allow_tuple and rank > 1:
        return tuple(sorted(rng.choice(rank, 2, replace=False).tolist()))
    return int(rng.integers(-rank, rank))


def _unary(dtypes, low=-3, high=4):
    return lambda r: ((T(_shape(r), _pick(r, dtypes), low, high),), {})


def _binary(dtypes, low=-3, high=4, nonzero=False):
    def gen(r):
        s = _shape(r)
        other = _pick(r, ["tensor", "broadcast", "int", "float"])
        lo = 1 if nonzero else low
        x = T(s, _pick(r, dtypes), lo, high)
        if other == "int":
            return (x, int(r.integers(1, 3))), {}
        if other == "float":
            return (x, 0.5), {}
        s2 = s if other == "tensor" else (1,) * len(s[:-1]) + s[-1:]
        return (x, T(s2, _pick(r, dtypes), lo, high)), {}
    return gen


def _reduction(dtypes, keepdims=True, tuples=True):
    def gen(r):
        s = _shape(r)
        kw = {"axis": _axis(r, len(s), allow_tuple=tuples)}
        if keepdims:
            kw["keepdims"] = bool(r.integers(2))
        return (T(s, _pick(r, dtypes)),), kw
    return gen


def _reshape(r):
    s = _shape(r)
    target = _pick(r, [(-1,), (s[0], -1), tuple(reversed(s)), s + (1,)])
    return (T(s, _pick(r, ALL_DTYPES)), target), {}


def _squeeze(r):
    s = list(_shape(r, int(r.integers(2, 4))))
    one = int(r.integers(len(s)))
    s[one] = 1
    axis = _pick(r, [None, one, one - len(s)])
    return (T(s, _pick(r, ALL_DTYPES), known={one}),), {"axis": axis}


def _split(r):
    s = list(_shape(r, int(r.integers(1, 4))))
    a = int(r.integers(len(s)))
    if r.integers(2):
        s[a] = 6
        return (T(s, _pick(r, ALL_DTYPES), known={a}), _pick(r, [2, 3])), {"axis": a}
    return (T(s, _pick(r, ALL_DTYPES)), [1, 3]), {"axis": a}


def _concatenate(r):
    s = _shape(r)
    a = int(r.integers(len(s)))
    s2 = s[:a] + (int(r.integers(1, 4)),) + s[a + 1:]
    return ([T(s, _pick(r, ALL_DTYPES)), T(s2, _pick(r, ALL_DTYPES))],), {"axis": a}


def _broadcast_to(r):
    s = _shape(r)
    src = tuple(1 if r.random() < 0.5 else d for d in s)
    return (T(src, _pick(r, ALL_DTYPES), known={i for i, d in enumerate(src) if d == 1}),
            (2,) + s), {}


def _take(r):
    s = _shape(r)
    a = _pick(r, [None, int(r.integers(len(s)))])
    size = int(np.prod(s)) if a is None else s[a]
    return (T(s, _pick(r, ALL_DTYPES)), T(_shape(r, int(r.integers(1, 3))), "int32", 0, size)), \
        {"axis": a}


def _take_along_axis(r):
    s = _shape(r)
    a = int(r.integers(len(s)))
    idx = s[:a] + (int(r.integers(1, 4)),) + s[a + 1:]
    return (T(s, _pick(r, ALL_DTYPES)), T(idx, "int64", 0, s[a])), {"axis": a}


def _where(r):
    s = _shape(r)
    if r.random() < 0.25:
        return (T(s, "bool"),), {}
    return (T(s, "bool"), T(s[-1:], _pick(r, ALL_DTYPES)), _pick(r, [0, 1.5, T(s, "int32")])), {}


def _get_item(r):
    s = _shape(r, 3)
    key = _pick(r, [0, -1, slice(1, None), slice(None, None, -1), (Ellipsis, 0),
                    (slice(None), None, 1), (None, Ellipsis), (0, slice(None, 2), -1),
                    (slice(None), np.array([0, 1, 0]))])
    return (T(s, _pick(r, ALL_DTYPES)), key), {}


def _matmul(r):
    n, k, m = (int(d) for d in r.integers(2, 5, 3))
    a, b = _pick(r, [((n, k), (k, m)), ((2, n, k), (k, m)), ((k,), (2, k, m)), ((3, n, k), (k,)),
                     ((2, 1, n, k), (3, k, m))])
    return (T(a, _pick(r, NUMERIC)), T(b, _pick(r, NUMERIC))), {}


def _dot(r):
    n, k, m = (int(d) for d in r.integers(2, 5, 3))
    a, b = _pick(r, [((n, k), (k, m)), ((k,), (k,)), ((2, n, k), (k,)), ((2, n, k), (3, k, m))])
    return (T(a, _pick(r, NUMERIC)), T(b, _pick(r, NUMERIC))), {}


def _einsum(r):
    b, n, k, m = (int(d) for d in r.integers(2, 5, 4))
    sub, shapes = _pick(r, [("ij,jk->ik", [(n, k), (k, m)]), ("bij,bjk->bik", [(b, n, k), (b, k, m)]),
                            ("...ij,...jk", [(b, n, k), (b, k, m)]), ("ij,jk", [(n, k), (k, m)]),
                            ("bij->bj", [(b, n, k)])])
    return (sub, *[T(s, _pick(r, NUMERIC)) for s in shapes]), {}


def _creation(r):
    shape = (D(int(r.integers(2, 5))), int(r.integers(1, 4)))
    return (shape,), _pick(r, [{}, {"dtype": "int32"}])


def _arange(r):
    n = D(int(r.integers(3, 9)))
    return _pick(r, [((n,), {}), ((0, n, 2), {}), ((1, n), {"dtype": "float32"})])


def _one_hot(r):
    s = _shape(r, int(r.integers(1, 3)))
    return (T(s, "int32", -1, 5), 5), {"axis": _pick(r, [-1, 0, len(s)]),
                                      "dtype": _pick(r, [None, "int32"])}


def _masked(r, softmax=False):
    s = _shape(r, int(r.integers(2, 4)))
    x = T(s, _pick(r, FLOATS))
    if softmax:
        return (x, _pick(r, [None, T(s, "bool")])), {"axis": -1}
    a = int(r.integers(1, len(s)))
    return (x, _pick(r, [None, T((s[0], s[a]), "bool")])), {"axis": a,
                                                          "keepdims": bool(r.integers(2))}


def _segment(r):
    s = _shape(r)
    return (T(s, _pick(r, NUMERIC)), T(s[:1], "int32", 0, 3)), {"num_segments": 3}


GEN = {
    "cast": lambda r: ((T(_shape(r), _pick(r, ALL_DTYPES)), _pick(r, ALL_DTYPES)), {}),
    "reshape": _reshape,
    "transpose": lambda r: (lambda s: ((T(s, "float32"), _pick(r, [None, tuple(
        r.permutation(len(s)).tolist())])), {}))(_shape(r)),
    "expand_dims": lambda r: (lambda s: ((T(s, _pick(r, ALL_DTYPES)),
                                          int(r.integers(-len(s) - 1, len(s) + 1))), {}))(_shape(r)),
    "squeeze": _squeeze,
    "tile": lambda r: ((T(_shape(r), _pick(r, ALL_DTYPES)),
                        tuple(int(d) for d in r.integers(1, 3, int(r.integers(1, 4))))), {}),
    "repeat": lambda r: (lambda s: ((T(s, "int32"), _pick(r, [2, np.array([1, 2])[:1]])),
                                    {"axis": _pick(r, [None, int(r.integers(len(s)))])}))(_shape(r)),
    "split": _split, "concatenate": _concatenate,
    "stack": lambda r: (lambda s: (([T(s, "float32"), T(s, _pick(r, ALL_DTYPES))],),
                                   {"axis": int(r.integers(-len(s) - 1, len(s) + 1))}))(_shape(r)),
    "swapaxes": lambda r: (lambda s: ((T(s, "int32"), 0, -1), {}))(_shape(r)),
    "moveaxis": lambda r: (lambda s: ((T(s, "int32"), 0, -1), {}))(_shape(r)),
    "flip": lambda r: ((T(_shape(r), "float32"),), {"axis": _pick(r, [None, 0])}),
    "broadcast_to": _broadcast_to, "take": _take, "take_along_axis": _take_along_axis,
    "where": _where, "get_item": _get_item,
    **{n: _binary(ALL_DTYPES) for n in ("equal", "not_equal", "greater", "greater_equal", "less",
                                         "less_equal", "maximum", "minimum")},
    **{n: _binary(("bool",)) for n in ("logical_and", "logical_or", "logical_xor")},
    "logical_not": _unary(ALL_DTYPES),
    **{n: _reduction(ALL_DTYPES) for n in ("any", "all", "sum", "max", "min", "prod")},
    "mean": _reduction(NUMERIC),
    **{n: _reduction(NUMERIC, tuples=False) for n in ("argmax", "argmin")},
    "cumsum": _reduction(ALL_DTYPES, keepdims=False, tuples=False),
    "count_nonzero": _reduction(ALL_DTYPES, keepdims=False),
    "logsumexp": _reduction(NUMERIC),
    **{n: _unary(ALL_DTYPES) for n in ("exp", "tanh", "floor", "square", "abs", "absolute",
                                        "round", "real", "relu", "zeros_like", "ones_like")},
    **{n: _unary(NUMERIC, 0, 4) for n in ("log1p", "sqrt", "sign", "negative", "sigmoid",
                                           "silu")},
    "log": _unary(ALL_DTYPES, 1, 4),
    "clip": lambda r: ((T(_shape(r), _pick(r, ALL_DTYPES)), -1, _pick(r, [2, 2.5])), {}),
    **{n: _binary(NUMERIC) for n in ("add", "subtract", "multiply")},
    **{n: _binary(NUMERIC, nonzero=True) for n in ("divide", "true_divide", "divide_no_nan",
                                                    "floor_divide", "mod")},
    "power": _binary(NUMERIC, 0, 3),
    "matmul": _matmul, "dot": _dot, "einsum": _einsum,
    "softmax": lambda r: ((T(_shape(r), _pick(r, FLOATS)),), {"axis": _pick(r, [-1, 0])}),
    "log_softmax": lambda r: ((T(_shape(r), _pick(r, FLOATS)),), {"axis": -1}),
    "gelu": lambda r: ((T(_shape(r), _pick(r, FLOATS)),), {"approximate": bool(r.integers(2))}),
    "full_like": lambda r: ((T(_shape(r), _pick(r, ALL_DTYPES)), 2), {}),
    "zeros": _creation, "ones": _creation,
    "full": lambda r: ((_creation(r)[0][0], _pick(r, [1, 2.5, True])), {}),
    "arange": _arange, "one_hot": _one_hot,
    "masked_softmax": lambda r: _masked(r, softmax=True),
    **{n: _masked for n in ("masked_mean", "masked_sum", "masked_max", "masked_min")},
    "top_k": lambda r: (lambda s: ((T(s, _pick(r, NUMERIC), known={len(s) - 1}),
                                    int(r.integers(1, s[-1] + 1))), {}))(_shape(r)),
    "segment_sum": _segment, "segment_max": _segment,
    "rfft": lambda r: ((T(_shape(r), _pick(r, FLOATS)),), {"fft_length": _pick(r, [None, 8])}),
    "fft2": lambda r: (lambda s: (((T(s, "float32"), T(s, "float32")),), {}))(_shape(r, 3)),
    "cond": lambda r: ((T((), "bool"), "true", "false"), {}),
    "slice": lambda r: (lambda s: ((T(s, "float32"), (0,) * len(s), tuple(d - 1 for d in s)),
                                   {}))(_shape(r)),
    "unstack": lambda r: (lambda s: ((T(s, "int32", known={0}),), {"axis": 0}))(_shape(r)),
}


def _materialize(value, mode, rng, p):
    if isinstance(value, T):
        return value.eager(rng) if mode == "eager" else value.symbolic(rng, p)
    if isinstance(value, D):
        return value.v if mode == "eager" else Dim.N
    if isinstance(value, (list, tuple)) and not isinstance(value, np.ndarray):
        return type(value)(_materialize(v, mode, rng, p) for v in value)
    return value


def _run(name, args, kwargs, mode, rng, p):
    args = [_materialize(a, mode, rng, p) for a in args]
    kwargs = {k: _materialize(v, mode, rng, p) for k, v in kwargs.items()}
    fn = getattr(ops, name)
    if name == "cond":   # the branches give differently shaped results of one dtype
        x = np.zeros((2, 3), "float32")
        t = KerasTensor((None if p else 2, 3)) if mode != "eager" else x
        args = [args[0], lambda: ops.add(t, 1.0), lambda: ops.multiply(t, 2.0)]
    with tracing():   # Dims (unknown sizes) exist only while tracing
        return fn(*args, **kwargs)


def test_every_op_has_an_oracle_case():
    assert sorted(set(ops.__all__) - set(GEN) - set(NOT_SYMBOLIC)) == []


# Random shapes can give softmax a size-1 axis: Keras (and fastmask) warn, as intended.
@pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning")
@pytest.mark.parametrize("name", sorted(GEN))
@pytest.mark.parametrize("seed", range(int(os.environ.get("FM_ORACLE_SEEDS", 6))))
def test_symbolic_result_is_the_eager_result(name, seed):
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    args, kwargs = GEN[name](rng)
    p = 0.0 if seed == 0 else 0.5            # seed 0: every dim known, shapes must be equal
    eager = _run(name, args, kwargs, "eager", np.random.default_rng(seed), p)
    sym = _run(name, args, kwargs, "symbolic", np.random.default_rng(seed), p)
    e_flat = eager if isinstance(eager, (list, tuple)) else [eager]
    s_flat = sym if isinstance(sym, (list, tuple)) else [sym]
    assert len(e_flat) == len(s_flat), (name, args, kwargs)
    for e, s in zip(e_flat, s_flat):
        e = np.asarray(e)
        assert isinstance(s, KerasTensor), (name, s)
        assert s.dtype == e.dtype.name, f"{name}{args}{kwargs}: dtype {s.dtype} vs eager {e.dtype}"
        assert len(s.shape) == e.ndim, f"{name}{args}{kwargs}: shape {s.shape} vs eager {e.shape}"
        for sd, ed in zip(s.shape, e.shape):
            assert sd is None or sd == ed, f"{name}{args}{kwargs}: {s.shape} vs eager {e.shape}"
        if seed == 0 and not any(isinstance(a, D) for a in list(args) + list(kwargs.values())
                                 + [x for a in args if isinstance(a, tuple) for x in a]):
            assert s.shape == e.shape, f"{name}: all dims known: {s.shape} vs {e.shape}"


def test_new_ops_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="num_classes=3.*Received"):
        ops.one_hot(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match="integer class ids.*Received"):
        ops.one_hot(np.array([0.5]), 3)
    with pytest.raises(ValueError, match="`k`.*Received: k=9"):
        ops.top_k(F32, 9)
    with pytest.raises(ValueError, match="`k`.*Received: k=9"):
        ops.top_k(KerasTensor((None, 4)), 9)
    with pytest.raises(ValueError, match="segment_ids.*1-D"):
        ops.segment_sum(SEG_DATA, SEG_IDS[None])
    with pytest.raises(ValueError, match="same leading"):
        ops.segment_max(KerasTensor((5, 3)), KerasTensor((4,), "int32"))
    with pytest.raises(ValueError, match="real and imaginary"):
        ops.fft2(F32)
    with pytest.raises(ValueError, match="Cannot infer argument `num`.*Received"):
        ops.unstack(KerasTensor((None, 3)))
