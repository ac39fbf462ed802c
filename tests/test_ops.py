"""`fastmask.ops` vs `keras.ops` (NumPy backend): values, result dtypes, symbolic shapes."""
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
