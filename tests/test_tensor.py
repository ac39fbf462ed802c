"""Mask-carrying arrays (`fastmask.Tensor`), `get_mask`, `KerasTensor`, `Variable`."""
import copy
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastmask
from fastmask import KerasTensor, Tensor, Variable, get_mask, ops, with_mask


@pytest.fixture
def masked():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    m = np.array([[True, False, True], [True, True, False]])
    return with_mask(x, m), x, m


# Every way a user might derive a new array from a masked output.
DERIVED = {
    "mul": lambda x: x * 1, "add_self": lambda x: x + x, "radd": lambda x: 1 + x,
    "neg": lambda x: -x, "abs": lambda x: abs(x), "pow": lambda x: x ** 2,
    "eq": lambda x: x == 1, "gt": lambda x: x > 1, "matmul": lambda x: x @ np.ones((4, 2)),
    "getitem0": lambda x: x[0], "slice": lambda x: x[:, 1:], "fancy": lambda x: x[[0, 1]],
    "boolidx": lambda x: x[x > 3], "ellipsis": lambda x: x[...],
    "np_sum": lambda x: np.sum(x, axis=0), "sum_all": lambda x: np.sum(x),
    "meth_sum": lambda x: x.sum(axis=1), "mean": lambda x: x.mean(), "max": lambda x: x.max(0),
    "astype": lambda x: x.astype(np.float64), "astype_same": lambda x: x.astype(np.float32),
    "copy": lambda x: x.copy(), "np_copy": lambda x: np.copy(x),
    "copy.copy": lambda x: copy.copy(x), "deepcopy": lambda x: copy.deepcopy(x),
    "pickle": lambda x: pickle.loads(pickle.dumps(x)),
    "concat": lambda x: np.concatenate([x]), "concat2": lambda x: np.concatenate([x, x], 1),
    "stack": lambda x: np.stack([x, x]), "where": lambda x: np.where(x > 2, x, 0),
    "split": lambda x: np.split(x, 3, axis=1)[0], "T": lambda x: x.T,
    "transpose": lambda x: x.transpose(1, 0, 2), "reshape": lambda x: x.reshape(6, 4),
    "np_reshape": lambda x: np.reshape(x, (-1,)), "ravel": lambda x: x.ravel(),
    "flatten": lambda x: x.flatten(), "squeeze": lambda x: x[:1].squeeze(0),
    "expand": lambda x: np.expand_dims(x, 0), "view": lambda x: x.view(),
    "view_dtype": lambda x: x.view(np.int32), "iter": lambda x: list(x)[0],
    "take": lambda x: np.take(x, [0], axis=1), "maximum": lambda x: np.maximum(x, 0),
    "clip": lambda x: x.clip(0, 3), "round": lambda x: x.round(), "real": lambda x: x.real,
    "flat": lambda x: x.flat[:3], "asarray": lambda x: np.asarray(x),
    "array": lambda x: np.array(x), "tile": lambda x: np.tile(x, 2),
    "ops.relu": lambda x: ops.relu(x), "ops.cast": lambda x: ops.cast(x, "float32"),
    "ops.exp": lambda x: ops.exp(x), "ops.split": lambda x: ops.split(x, 3, axis=1)[1],
    "ops.expand_dims": lambda x: ops.expand_dims(x, -1), "ops.sum": lambda x: ops.sum(x, 1),
}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_mask_never_leaks(masked, name):
    t, x, _ = masked
    out = DERIVED[name](t)
    ref = DERIVED[name](x)
    assert type(out) is type(ref), f"{name}: {type(out)} vs {type(ref)}"
    assert not isinstance(out, Tensor)
    assert get_mask(out) is None
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_in_place_ops_keep_the_object_and_its_mask(masked):
    t, _, m = masked
    before = id(t)
    t += 1
    t *= 2
    assert id(t) == before and type(t) is Tensor
    assert get_mask(t) is m
    np.testing.assert_array_equal(np.asarray(t)[0, 0], [2, 4, 6, 8])


def test_prints_and_reprs_like_numpy(masked):
    t, x, m = masked
    assert str(t) == str(x)
    assert repr(t) == repr(x)
    assert f"{t}" == f"{x}"
    assert str(t._keras_mask) == str(m)
    assert str(with_mask(np.zeros((2, 3), bool), m)._keras_mask) == (
        "[[ True False  True]\n [ True  True False]]")


def test_get_mask_on_anything():
    for obj in (None, 1, 2.5, "x", [1, 2], np.zeros(3), np.float32(1), object(),
                KerasTensor((None, 3))):
        assert get_mask(obj) is None
    with pytest.raises(AttributeError):
        np.zeros(3).view(Tensor)._keras_mask  # unmasked: AttributeError, as in Keras
    with pytest.raises(AttributeError):
        KerasTensor((2,))._keras_mask


def test_with_mask_does_not_touch_its_input():
    x = np.ones((2, 3), np.float32)
    m = np.ones((2, 3), bool)
    t = with_mask(x, m)
    assert type(x) is np.ndarray and t is not x and np.shares_memory(t, x)
    assert get_mask(t) is m
    t2 = with_mask(t, None)
    assert type(t2) is np.ndarray and get_mask(t) is m
    with pytest.raises(TypeError, match="Cannot attach a mask"):
        with_mask([1, 2], m)


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=4),
                  elements=st.floats(-5, 5, width=32)),
       st.sampled_from(["mul", "add_self", "getitem0", "np_sum", "astype", "concat", "T",
                        "where", "iter", "copy", "neg", "matmul2"]))
def test_derived_arrays_equal_plain_numpy_property(x, name):
    fns = dict(DERIVED, matmul2=lambda a: a @ np.ones((a.shape[-1], 2), np.float32))
    mask = np.ones(x.shape[:2], bool)
    out = fns[name](with_mask(x, mask))
    ref = fns[name](x)
    assert type(out) is type(ref) and get_mask(out) is None
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_keras_tensor_repr_and_counter():
    from fastmask.core.naming import auto_name
    a = KerasTensor((None, None), dtype="bool")
    n = int(a.name.rsplit("_", 1)[1]) if a.name != "keras_tensor" else 0
    b = KerasTensor((2, 3))
    assert b.name == f"keras_tensor_{n + 1}"
    assert repr(a) == (f"<KerasTensor shape=(None, None), dtype=bool, sparse=False, "
                       f"ragged=False, name={a.name}>")
    assert b.shape == (2, 3) and b.dtype == "float32" and b.ndim == 2
    assert auto_name("KerasTensor") == f"keras_tensor_{n + 2}"


def test_keras_tensor_is_symbolic_only():
    x = KerasTensor((None, 4))
    with pytest.raises(ValueError, match="symbolic"):
        np.asarray(x)
    with pytest.raises(TypeError):
        bool(x)
    with pytest.raises(NotImplementedError):
        iter(x)


def test_keras_tensor_operators_give_symbolic_results():
    x = KerasTensor((None, 5), dtype="float32")
    i = KerasTensor((None, 5), dtype="int32")
    for out, shape, dtype in ((x + 1, (None, 5), "float32"), (x * x, (None, 5), "float32"),
                              (x != 0, (None, 5), "bool"), (i > 2, (None, 5), "bool"),
                              (-x, (None, 5), "float32"), (x[:, 0], (None,), "float32"),
                              (x @ np.ones((5, 3), np.float32), (None, 3), "float32"),
                              (~(i > 0), (None, 5), "bool")):
        assert isinstance(out, KerasTensor)
        assert (out.shape, out.dtype) == (shape, dtype)


def test_variable_behaves_like_a_weight():
    v = Variable.create(np.zeros((2, 3), np.float32), name="kernel", path="dense/kernel")
    assert v.shape == (2, 3) and v.trainable and v.path == "dense/kernel"
    v.assign(np.ones((2, 3)))
    assert v.dtype == np.float32 and np.all(np.asarray(v) == 1)
    out = v * 2
    assert type(out) is np.ndarray
    c = v.numpy()
    c[0, 0] = 5
    assert np.asarray(v)[0, 0] == 1
    with pytest.raises(ValueError, match="shape"):
        v.assign(np.ones(3))


def test_fastmask_exports_keras_names():
    for name in ("Input", "Model", "Sequential", "layers", "ops", "models", "initializers",
                 "activations", "get_mask", "utils", "preprocessing"):
        assert hasattr(fastmask, name), name
    assert fastmask.preprocessing.sequence.pad_sequences is fastmask.utils.pad_sequences
