"""Int and float masks are read as Keras 3.15.1 reads them, layer by layer (issue 13, point 5).

Keras accepts numeric masks and each layer reads them its own way: Softmax keeps
`mask > 0.5`; Attention, MultiHeadAttention, GlobalAveragePooling1D, the RNN
layers and the merge layers cast to bool (nonzero keeps, so 0.3 and -1 keep).
Each case runs the Keras layer (numpy backend) and the fastmask layer on the same
numeric mask (passed as `mask=` and attached to the input) and compares outputs.
What Keras cannot read as a mask (str, complex, object) and NaN are rejected by
fastmask (tests/test_bad_inputs.py, the `maskvalue-*` cases).
"""
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import kernels as K, layers as L
from oracle import compare_layer, k_get_mask, k_set_mask, keras

B, T = 3, 6


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def numeric_masks(rng, b=B, t=T):
    """{name: mask}: the values that tell the two readings apart (0.3 keeps when cast to
    bool, not for Softmax; -1 keeps when cast, not for Softmax; inf keeps in both)."""
    pick = rng.integers(0, 4, (b, t))
    pick[:, 0] = 3                                   # every row keeps at least one step
    ints = np.array([0, -1, 2, 1], np.int64)[pick]
    floats = np.array([0.0, 0.3, 0.7, np.inf], np.float32)[pick]
    f64 = np.array([0.0, -2.5, 0.5, 1.0], np.float64)[pick]
    return {"int64": ints, "int8": ints.astype(np.int8), "uint8": (ints != 0).astype(np.uint8) * 7,
            "float32": floats, "float64": f64}


@pytest.fixture
def rng():
    return np.random.default_rng(20240613)


def _mask_names():
    return list(numeric_masks(np.random.default_rng(0)))


@pytest.mark.parametrize("mname", _mask_names())
def test_softmax_keeps_greater_than_half(rng, mname):
    x = rng.standard_normal((B, T)).astype(np.float32)
    m = numeric_masks(rng)[mname]
    compare_layer(keras().layers.Softmax(), L.Softmax(), x, mask=m, check_mask=False)
    keep = m > (0.5 if m.dtype.kind == "f" else 0)
    np.testing.assert_array_equal(K.masked_softmax(x, m), K.masked_softmax(x, keep))


@pytest.mark.parametrize("mname", _mask_names())
@pytest.mark.parametrize("layer", ["GlobalAveragePooling1D", "LSTM", "GRU", "SimpleRNN",
                                   "Bidirectional", "TimeDistributed"])
def test_cast_to_bool_layers(rng, mname, layer):
    x = rng.standard_normal((B, T, 4)).astype(np.float32)
    m = numeric_masks(rng)[mname]
    make = {
        "GlobalAveragePooling1D": lambda lib: lib.layers.GlobalAveragePooling1D(),
        "LSTM": lambda lib: lib.layers.LSTM(3, return_sequences=True),
        "GRU": lambda lib: lib.layers.GRU(3),
        "SimpleRNN": lambda lib: lib.layers.SimpleRNN(3, return_sequences=True),
        "Bidirectional": lambda lib: lib.layers.Bidirectional(lib.layers.LSTM(2)),
        "TimeDistributed": lambda lib: lib.layers.TimeDistributed(lib.layers.Dense(2)),
    }[layer]
    for how in ("mask", "input_mask"):
        k, f = quiet(make, keras()), make(fastmask)
        fout, kout = quiet(compare_layer, k, f, x, check_mask=False, **{how: m})
        # Same numbers as with the bool mask `m != 0` (Keras's cast).
        k2, f2 = quiet(make, keras()), make(fastmask)
        quiet(compare_layer, k2, f2, x, check_mask=False, **{how: m != 0})
        f2.set_weights(f.get_weights())
        np.testing.assert_allclose(np.asarray(f2(x, mask=m != 0)), np.asarray(fout),
                                   rtol=1e-6, atol=1e-7)
        km, fm = k_get_mask(kout), fastmask.get_mask(fout)
        assert (km is None) == (fm is None), (km, fm)
        if km is not None:   # a passed-through mask: the same keep/drop as Keras's
            np.testing.assert_array_equal(np.asarray(fm) != 0, np.asarray(km) != 0)


@pytest.mark.parametrize("mname", _mask_names())
@pytest.mark.parametrize("causal", [False, True])
def test_attention_casts_to_bool(rng, mname, causal):
    q = rng.standard_normal((B, T, 4)).astype(np.float32)
    v = rng.standard_normal((B, T + 1, 4)).astype(np.float32)
    qm = numeric_masks(rng)[mname]
    vm = numeric_masks(rng, B, T + 1)[mname]
    kw = dict(use_causal_mask=causal)
    compare_layer(keras().layers.Attention(), L.Attention(), [q, v], mask=[qm, vm],
                  call_kwargs=kw, check_mask=False)
    compare_layer(keras().layers.Attention(), L.Attention(), [q, v], input_mask=[qm, vm],
                  call_kwargs=kw, check_mask=False)


@pytest.mark.parametrize("mname", _mask_names())
def test_multi_head_attention_casts_to_bool(rng, mname):
    q = rng.standard_normal((B, T, 8)).astype(np.float32)
    v = rng.standard_normal((B, T + 2, 6)).astype(np.float32)
    qm = numeric_masks(rng)[mname]
    vm = numeric_masks(rng, B, T + 2)[mname]
    am = numeric_masks(rng, B * T, T + 2)[mname].reshape(B, T, T + 2)
    am[:, :, 0] = 1
    k = quiet(keras().layers.MultiHeadAttention, num_heads=2, key_dim=4)
    f = L.MultiHeadAttention(num_heads=2, key_dim=4)
    kout = quiet(k, k_set_mask(q, qm), k_set_mask(v, vm), attention_mask=am)
    f(q, v)
    f.set_weights(k.get_weights())
    fout = f(fastmask.with_mask(q, qm), fastmask.with_mask(v, vm), attention_mask=am)
    np.testing.assert_allclose(np.asarray(fout), np.asarray(kout), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mname", _mask_names())
@pytest.mark.parametrize("merge", ["Add", "Maximum", "Multiply", "Concatenate"])
def test_merge_layers(rng, mname, merge):
    a = rng.standard_normal((B, T, 4)).astype(np.float32)
    b = rng.standard_normal((B, T, 4)).astype(np.float32)
    ma, mb = numeric_masks(rng)[mname], numeric_masks(rng)[mname]
    k, f = getattr(keras().layers, merge)(), getattr(L, merge)()
    fout, kout = quiet(compare_layer, k, f, [a, b], input_mask=[ma, mb], check_mask=False)
    km, fm = k_get_mask(kout), fastmask.get_mask(fout)
    assert (km is None) == (fm is None)
    if km is not None:
        np.testing.assert_array_equal(np.asarray(fm) != 0, np.asarray(km) != 0)
