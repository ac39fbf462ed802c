"""fastmask.kernels.masking_mask / masking / embedding.

Oracles: Keras 3.15.1's Masking and Embedding layers on the NumPy backend
(conformance), and plain NumPy expressions (hypothesis properties). Float
outputs are compared bit for bit (`_same_bits`): -0.0 vs +0.0 and NaN payloads
matter.
"""
import importlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from fastmask.kernels import _masking
from fastmask.kernels import embedding, masking, masking_mask
from isa_variants import isa_fixture, using
from oracle import keras

masking_module = importlib.import_module("fastmask.kernels.masking")

FLOATS = (np.float32, np.float64)
THREADS = (1, 2, 3, 4)


def _same_bits(a, b):
    """Equal shape, dtype and bytes (so -0.0 != 0.0 and NaN payloads count)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _ref_masking(x, mask_value=0.0):
    """Keras's Masking.call body in plain NumPy (x's dtype kept)."""
    with np.errstate(over="ignore"):  # huge Python ints become inf, as NumPy does
        keep = np.any(np.not_equal(x, mask_value), axis=-1, keepdims=True)
    out = np.where(keep, x, np.zeros((), x.dtype))
    return out, np.squeeze(keep, axis=-1)


def _special_data(rng, shape, dtype, mask_value=0.0, p_masked=0.4):
    """Random data with masked rows (all mask_value, or +-0.0 for 0), NaN, inf, -0.0."""
    x = rng.standard_normal(shape).astype(dtype)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0], dtype)
    pick = rng.random(shape) < 0.15
    x[pick] = rng.choice(specials, size=int(pick.sum()))
    rows = rng.random(shape[:-1]) < p_masked
    x[rows] = mask_value
    if mask_value == 0.0:  # rows of mixed +0.0 / -0.0 are masked too
        signs = rng.random(shape) < 0.5
        x[rows[..., None] & signs] = -0.0
    return x


@pytest.fixture(autouse=True)
def _threads_even_for_tiny_inputs(monkeypatch):
    """The wrappers use 1 thread below 256 KiB of work per thread; the tests'
    small inputs must still run the multi-threaded paths."""
    monkeypatch.setattr(masking_module, "_BYTES_PER_THREAD", 1)


def test_tiny_inputs_run_on_one_thread(monkeypatch):
    monkeypatch.setattr(masking_module, "_BYTES_PER_THREAD", 256 * 2 ** 10)
    assert masking_module._threads_for(1000, 4) == 1
    assert masking_module._threads_for(2 ** 20, 4) == 4
    assert masking_module._threads_for(2 ** 19, 4) == 2


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# The Masking row kernels' tests take `isa`: each runs under every variant
# (generic = SSE2, AVX2; AVX-512 is a skip: masking has no such variant).
isa = isa_fixture(_masking, autouse=False)


# ------------------------------------------------------------ Masking vs Keras
@pytest.mark.parametrize("shape", [(7,), (4, 9), (3, 5, 40), (2, 3, 4, 33), (2, 6, 1)])
@pytest.mark.parametrize("mask_value", [0.0, 1.0, -0.0, 0.5])
def test_masking_matches_keras_layer_float32(rng, isa, shape, mask_value):
    layer = keras().layers.Masking(mask_value=mask_value)
    x = _special_data(rng, shape, np.float32, mask_value)
    out, mask = masking(x, mask_value)
    k_out = layer(x)
    assert _same_bits(out, k_out)
    assert _same_bits(mask, layer.compute_mask(x))
    assert _same_bits(masking_mask(x, mask_value), mask)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 9), (3, 5, 40), (2, 3, 4, 33)])
def test_masking_matches_keras_call_body(rng, isa, dtype, shape):
    # Masking.call on the raw array: Keras computes in the input dtype, then its
    # where(..., 0) returns float32 even for float64 (a result_type quirk of the
    # numpy backend); fastmask keeps float64, so float64 is compared through
    # Keras's ops in float64 and the mask, and float32 bit for bit.
    layer = keras().layers.Masking()
    x = _special_data(rng, shape, dtype)
    out, mask = masking(x)
    assert out.dtype == dtype
    assert _same_bits(mask, layer.compute_mask(x))
    if dtype == np.float32:
        assert _same_bits(out, layer.call(x))
    else:
        ops = keras().ops
        keep = ops.any(ops.not_equal(x, 0.0), axis=-1, keepdims=True)
        assert _same_bits(out, np.where(keep, x, np.float64(0)))
        assert _same_bits(out.astype(np.float32), layer.call(x))


def test_masking_nan_mask_value_never_masks(rng):
    x = _special_data(rng, (3, 4, 5), np.float32)
    x[0, 0] = np.nan
    out, mask = masking(x, np.nan)
    assert mask.all()
    assert _same_bits(out, x)
    k = keras().layers.Masking(mask_value=np.nan)
    assert _same_bits(mask, k.compute_mask(x))
    assert _same_bits(out, k(x))


def test_masking_signed_zero_and_nan_rows():
    x = np.array([[[-0.0, 0.0], [-0.0, 1.0], [np.nan, 0.0], [0.0, 0.0]]], np.float32)
    out, mask = masking(x)
    assert mask.tolist() == [[False, True, True, False]]
    assert np.signbit(out[0, 0]).tolist() == [False, False]     # masked row -> +0.0
    assert np.signbit(out[0, 1]).tolist() == [True, False]      # kept row copied as is
    assert np.isnan(out[0, 2, 0])
    assert _same_bits(out, keras().layers.Masking()(x))


def test_masking_nan_payload_is_copied():
    bits = np.array([0x7FC00001, 0xFFC12345, 0, 0], np.uint32)
    x = bits.view(np.float32).reshape(1, 2, 2)
    out, mask = masking(x)
    assert mask.tolist() == [[True, False]]
    assert out.view(np.uint32).reshape(-1).tolist() == [0x7FC00001, 0xFFC12345, 0, 0]


@pytest.mark.parametrize("mask_value", [0.1, np.float64(0.1), np.float32(0.1), np.float16(0.1),
                                        1 + 0j, 0.1 + 1j, 10 ** 40, 10 ** 38, 2 ** 200, 1e300,
                                        True, np.int64(2 ** 60), np.longdouble(0.1),
                                        float("inf"), np.array(0.1), np.array(np.float32(0.1)),
                                        3, -7, 2 ** 24 + 1, 2 ** 53 + 1, 1e-46, -0.0, 3.4e38,
                                        float("nan")])
def test_mask_value_promotion_follows_numpy(mask_value):
    # Python scalars are "weak" (compared in x's dtype), NumPy scalars promote.
    vals = np.array([0.1, np.float32(0.1), 1.0, np.inf, 1e38, 0.0, np.float16(0.1), 2 ** 60,
                     3.0, -7.0, 2 ** 24, 2 ** 53, 3.4e38, np.nan], np.float32)
    for dtype in FLOATS:
        x = np.repeat(vals.astype(dtype)[:, None], 3, axis=1)
        out, mask = masking(x, mask_value)
        ref_out, ref_mask = _ref_masking(x, mask_value)
        assert _same_bits(mask, ref_mask), (dtype, mask_value)
        assert _same_bits(out, ref_out), (dtype, mask_value)


def test_array_mask_value_broadcasts_like_keras(rng):
    x = _special_data(rng, (2, 5, 3), np.float32)
    x[0, 1] = [1.0, 2.0, 3.0]
    mv = np.array([1.0, 2.0, 3.0], np.float32)
    out, mask = masking(x, mv)
    layer = keras().layers.Masking(mask_value=mv)
    assert not mask[0, 1]
    assert _same_bits(mask, layer.compute_mask(x))
    assert _same_bits(out, layer(x))
    assert _same_bits(masking_mask(x, mv), mask)
    # float16 data is compared after Keras's cast to float32, array mask_value too
    x16 = np.array([[0.1, 0.1]], np.float16)
    mv32 = np.array([np.float32(np.float16(0.1)), 0.1], np.float32)
    assert masking_mask(x16, mv32).tolist() == masking(x16, mv32)[1].tolist() == [True]


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.uint32, np.int64, np.uint64, np.float16])
def test_masking_other_dtypes(rng, dtype):
    # Mask as Keras computes it (ints compared raw, float16 after its cast to
    # float32); the output is float32.
    x = rng.integers(0, 3, (3, 4, 2)).astype(dtype)
    x[0, 0] = 0
    out, mask = masking(x, 1.0)
    raw = x.astype(np.float32) if dtype == np.float16 else x
    ref_out, ref_mask = _ref_masking(raw, 1.0)
    assert out.dtype == np.float32
    assert _same_bits(mask, ref_mask)
    assert _same_bits(out, ref_out.astype(np.float32))
    assert _same_bits(masking_mask(x, 1.0), ref_mask)


def test_masking_wide_ints_mask_is_exact():
    # 2**24 + 1 is not a float32: the mask must still see it differ from 2**24.
    x = np.array([[2 ** 24 + 1], [2 ** 24]], np.int32)
    assert masking_mask(x, float(2 ** 24)).tolist() == [True, False]
    out, mask = masking(x, 2 ** 24)
    assert mask.tolist() == [True, False] and out.dtype == np.float32
    assert keras().layers.Masking(mask_value=2 ** 24).compute_mask(x).tolist() == [True, False]


# ---------------------------------------------------------- layouts and sizes
def _layouts(x):
    """(name, array) views of x with the same values in other memory layouts."""
    yield "c", x
    yield "fortran", np.asfortranarray(x)
    yield "negative stride", np.ascontiguousarray(x[::-1])[::-1]
    yield "sliced rows", np.repeat(x, 2, axis=-2)[..., ::2, :]
    big = np.zeros(x.shape[:-1] + (x.shape[-1] + 5,), x.dtype)
    big[..., 2:2 + x.shape[-1]] = x
    yield "padded last axis", big[..., 2:2 + x.shape[-1]]
    yield "strided last axis", np.repeat(x, 2, axis=-1)[..., ::2]
    ro = x.copy()
    ro.flags.writeable = False
    yield "read-only", ro
    yield "big-endian", x.astype(x.dtype.newbyteorder(">"))
    yield "misaligned", _misaligned(x)


def _misaligned(a):
    """A copy of `a` whose data pointer is off by one byte (flags.aligned False)."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", FLOATS)
def test_masking_any_layout(rng, dtype):
    x = _special_data(rng, (3, 6, 37), dtype)
    ref_out, ref_mask = masking(x)
    for name, view in _layouts(x):
        assert np.array_equal(view, x, equal_nan=True), name
        out, mask = masking(view)
        assert _same_bits(out, ref_out), name
        assert _same_bits(mask, ref_mask), name
        assert _same_bits(masking_mask(view), ref_mask), name
        assert out.flags.c_contiguous


def test_broadcast_input_zero_strides():
    row = np.array([0.0, 0.0, 1.0], np.float32)
    x = np.broadcast_to(row, (4, 5, 3))
    out, mask = masking(x)
    assert mask.all() and _same_bits(out, np.ascontiguousarray(x))
    x = np.broadcast_to(np.float32(0.0), (4, 5, 3))
    out, mask = masking(x)
    assert not mask.any() and not out.any()


def test_no_copy_for_strided_rows():
    x = np.zeros((4, 10, 8), np.float32)[:, ::2, 1:7]
    rows = masking_module._as_rows(x)
    assert np.shares_memory(rows, x)
    rows = masking_module._as_rows(np.asfortranarray(np.zeros((4, 6), np.float32)))
    assert rows.flags.c_contiguous


@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0,), (3, 0), (0, 0, 0)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_masking_zero_size(shape, dtype):
    x = np.zeros(shape, dtype)
    out, mask = masking(x)
    assert out.shape == shape and out.dtype == dtype
    assert mask.shape == shape[:-1] and mask.dtype == bool and not mask.any()
    assert _same_bits(masking_mask(x), mask)
    assert _same_bits(mask, np.any(x != 0, axis=-1))


@pytest.mark.parametrize("dtype", FLOATS)
def test_masking_bit_identical_for_any_thread_count(rng, isa, dtype):
    x = _special_data(rng, (5, 301, 67), dtype)
    ref_out, ref_mask = masking(x, n_threads=1)
    for t in THREADS[1:]:
        out, mask = masking(x, n_threads=t)
        assert _same_bits(out, ref_out) and _same_bits(mask, ref_mask), t
        assert _same_bits(masking_mask(x, n_threads=t), ref_mask), t


def test_masking_large_output_uses_zeroed_path(rng, monkeypatch):
    # Outputs from _ZEROED_OUT_BYTES on skip writing masked rows: same result.
    x = _special_data(rng, (4, 50, 16), np.float32)
    ref = masking(x)
    monkeypatch.setattr(masking_module, "_ZEROED_OUT_BYTES", 0)
    out, mask = masking(x)
    assert _same_bits(out, ref[0]) and _same_bits(mask, ref[1])


def test_isa_variants_agree(rng):
    x = _special_data(rng, (3, 40, 131), np.float64)
    with using("generic", [_masking]):
        base = masking(x), masking_mask(x.astype(np.float32))
    with using("avx2", [_masking]):
        fast = masking(x), masking_mask(x.astype(np.float32))
    assert _same_bits(base[0][0], fast[0][0]) and _same_bits(base[0][1], fast[0][1])
    assert _same_bits(base[1], fast[1])


# ------------------------------------------------------------ hypothesis
_VALUES = st.sampled_from([0.0, -0.0, 1.0, -2.5, np.nan, np.inf, -np.inf,
                           float(np.float32(3e38)), float(np.float32(1e-45))])


@st.composite
def _masking_inputs(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=7))
    base = draw(hnp.arrays(dtype, shape, elements=_VALUES))
    # mostly-masked rows: many rows made entirely of one value
    rows = draw(hnp.arrays(np.bool_, shape[:-1])) if len(shape) > 1 else np.bool_(False)
    fill = draw(_VALUES)
    base = np.where(np.asarray(rows)[..., None], np.asarray(fill, dtype), base)
    order = draw(st.sampled_from(["c", "f", "rev"]))
    if order == "f":
        base = np.asfortranarray(base)
    elif order == "rev" and base.ndim > 1:
        base = np.ascontiguousarray(base[::-1])[::-1]
    mask_value = draw(st.one_of(_VALUES, st.floats(allow_nan=True, width=32)))
    return base, mask_value


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_masking_inputs(), st.integers(1, 3))
def test_property_masking_matches_numpy(isa, data, n_threads):
    x, mask_value = data
    out, mask = masking(x, mask_value, n_threads=n_threads)
    ref_out, ref_mask = _ref_masking(x, mask_value)
    assert _same_bits(mask, ref_mask)
    assert _same_bits(out, ref_out)
    assert _same_bits(masking_mask(x, mask_value, n_threads=n_threads), ref_mask)


# ------------------------------------------------------- Masking bad input
@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), np.array([[1 + 2j]]),
                                 np.array([[object()]], dtype=object), "abc"])
def test_masking_bad_x_dtype(bad):
    for fn in (masking, masking_mask):
        with pytest.raises(TypeError, match="`x`"):
            fn(bad)


def test_masking_bad_x_rank():
    for fn in (masking, masking_mask):
        with pytest.raises(ValueError, match=r"`x` must have rank >= 1.*Received: x.shape=\(\)"):
            fn(np.float32(1.0))


@pytest.mark.parametrize("bad", ["0", None, [0.0], object(), np.array(["a"])])
def test_masking_bad_mask_value(bad):
    x = np.zeros((2, 3), np.float32)
    for fn in (masking, masking_mask):
        with pytest.raises(TypeError, match="`mask_value`"):
            fn(x, bad)


def test_masking_mask_value_beyond_float():
    with pytest.raises(ValueError, match="`mask_value`.*Received: mask_value=1000"):
        masking(np.zeros((2, 3), np.float32), 10 ** 400)


@pytest.mark.parametrize("bad", [0, 1.5, "2"])
def test_masking_bad_threads(bad):
    with pytest.raises((TypeError, ValueError), match="n_threads"):
        masking(np.zeros((2, 3), np.float32), n_threads=bad)


# ----------------------------------------------------------- Embedding
def _keras_embedding(table, mask_zero=True):
    layer = keras().layers.Embedding(table.shape[0], table.shape[1], mask_zero=mask_zero,
                                     dtype=str(table.dtype))
    layer.build()
    layer.set_weights([table])
    return layer


def _keras_lookup(layer, ids):
    from keras.src import backend
    out = layer(ids)
    return out, backend.get_keras_mask(out)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (7,), (3, 9), (2, 3, 4)])
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_embedding_matches_keras(rng, dtype, shape, id_dtype):
    table = rng.standard_normal((11, 5)).astype(dtype)
    ids = rng.integers(-11, 11, shape).astype(id_dtype)
    layer = _keras_embedding(table)
    out, mask = embedding(ids, table, mask_zero=True)
    k_out, k_mask = _keras_lookup(layer, ids)
    assert _same_bits(out, k_out)
    assert _same_bits(mask, k_mask)
    out2, none = embedding(ids, table)
    assert none is None and _same_bits(out2, out)


@pytest.mark.parametrize("ids", [
    np.array([[0.2, 1.7, -0.0, -1.5, 2.999, 0.0]]),
    np.array([[0.2, 1.7, 0.0]], np.float32),
    np.array([[0.5, 3.0]], np.float16),
    np.array([[True, False, True]]),
    np.array([[1, 0, 4]], np.int8),
    np.array([[1, 0, 4, 65535 % 7]], np.uint16),
    np.array([[1, 0, 4]], np.uint64),
    [[1, 0, 2]],
])
def test_embedding_id_dtypes_like_keras(rng, ids):
    table = rng.standard_normal((7, 3)).astype(np.float32)
    layer = _keras_embedding(table)
    out, mask = embedding(ids, table, mask_zero=True)
    k_out, k_mask = _keras_lookup(layer, np.asarray(ids))
    assert _same_bits(out, k_out)
    assert _same_bits(mask, k_mask)


def test_embedding_float_id_mask_on_raw_values():
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    out, mask = embedding(np.array([0.2, 0.0, -0.0, -0.7]), table, mask_zero=True)
    assert out.tolist() == [[0, 1]] * 4            # all truncate to row 0
    assert mask.tolist() == [True, False, False, True]


def test_embedding_padding_rows_are_not_zeroed():
    table = np.array([[5.0, -0.0], [1.0, 2.0]], np.float32)
    out, mask = embedding(np.array([[1, 0]]), table, mask_zero=True)
    assert _same_bits(out[0, 1], table[0]) and mask.tolist() == [[True, False]]


@pytest.mark.parametrize("ids,bad_id,pos", [
    (np.array([[1, 2, 10]]), "10", "(0, 2)"),
    (np.array([[1, -11, 10]]), "-11", "(0, 1)"),
    (np.array([[[3], [2 ** 40]]], np.int64), str(2 ** 40), "(0, 1, 0)"),
    (np.array([-2 ** 31], np.int32), str(-2 ** 31), "(0,)"),
    (np.array(12), "12", "()"),
])
def test_embedding_out_of_range_ids(ids, bad_id, pos):
    table = np.ones((10, 4), np.float32)
    for t in THREADS:
        with pytest.raises(IndexError,
                           match=rf"id {bad_id} at position {re.escape(pos)}.*input_dim=10"):
            embedding(ids, table, mask_zero=True, n_threads=t)


def test_embedding_first_bad_id_whatever_the_threads(rng):
    table = np.ones((50, 3), np.float64)
    ids = rng.integers(0, 50, (40, 25))
    ids[31, 4], ids[7, 20], ids[39, 24] = 50, -51, 99
    for t in THREADS:
        with pytest.raises(IndexError, match=r"id -51 at position \(7, 20\)"):
            embedding(ids, table, n_threads=t)
    with pytest.raises(IndexError, match=r"input_dim=0"):
        embedding(np.array([0]), np.zeros((0, 3), np.float32))


def test_embedding_float_ids_out_of_range():
    table = np.ones((10, 2), np.float32)
    with pytest.raises(IndexError, match=r"id 10 \(from 10\.5\) at position \(1,\)"):
        embedding(np.array([1.0, 10.5]), table)
    with pytest.raises(IndexError, match=r"id 10000000000\.0 at position \(0, 1\)"):
        embedding(np.array([[1.0, 1e10]]), table)
    with pytest.raises(ValueError, match="`ids`.*NaN"):
        embedding(np.array([1.0, np.nan]), table)


@pytest.mark.parametrize("id_dtype", [np.float16, np.float32, np.float64])
def test_embedding_float_ids_truncate_like_int_ids(rng, id_dtype):
    """In-range float ids (checked by their min and max) look up the rows of their
    truncation toward zero, in any layout; the mask is on the raw values."""
    table = rng.standard_normal((40, 3)).astype(np.float32)
    raw = (rng.uniform(-39.9, 39.9, (6, 9)) * (rng.random((6, 9)) < 0.8)).astype(id_dtype)
    for ids in (raw, raw.T, raw[:, ::2], raw[0]):
        out, mask = embedding(ids, table, mask_zero=True)
        want, _ = embedding(np.trunc(ids.astype(np.float64)).astype(np.int64), table)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(mask, ids != 0)
    # Beside the int32 range: truncated to an int32 id (out of this table), or refused.
    with pytest.raises(IndexError, match=r"id -2147483648 \(from -2147483648\.5\)"):
        embedding(np.array([1.0, -2147483648.5]), table)
    with pytest.raises(IndexError, match=r"id 2147483648\.0 at position \(0,\)"):
        embedding(np.array([2.0 ** 31, 1.0]), table)
    with pytest.raises(ValueError, match="NaN"):
        embedding(np.array([np.inf, 1.0], np.float32), table)


@pytest.mark.parametrize("dtype", FLOATS)
def test_embedding_layouts(rng, dtype):
    big = rng.standard_normal((20, 11)).astype(dtype)
    table = np.ascontiguousarray(big[:, :6])
    ids = rng.integers(-20, 20, (6, 8))
    ref_out, ref_mask = embedding(ids, table, True)
    assert _same_bits(ref_out, np.take(table, ids, axis=0))
    tables = {"row-strided": big[:, :6], "fortran": np.asfortranarray(table),
              "reversed": table[::-1].copy()[::-1], "col-strided": np.repeat(table, 2, 1)[:, ::2],
              "big-endian": table.astype(table.dtype.newbyteorder(">"))}
    ro = table.copy()
    ro.flags.writeable = False
    tables["read-only"] = ro
    tables["misaligned"] = _misaligned(table)
    id_views = {"fortran": np.asfortranarray(ids), "transposed": ids.T.copy().T,
                "strided": np.repeat(ids, 2, 1)[:, ::2], "misaligned": _misaligned(ids)}
    for name, tb in tables.items():
        out, mask = embedding(ids, tb, True)
        assert _same_bits(out, ref_out) and _same_bits(mask, ref_mask), name
    for name, iv in id_views.items():
        out, mask = embedding(iv, table, True)
        assert _same_bits(out, ref_out) and _same_bits(mask, ref_mask), name
    assert np.shares_memory(masking_module._as_rows(big[:, :6]), big)


@pytest.mark.parametrize("ids_shape,table_shape", [((0,), (5, 3)), ((2, 0), (5, 3)),
                                                    ((3, 4), (5, 0)), ((0,), (0, 2))])
def test_embedding_zero_size(ids_shape, table_shape):
    ids = np.zeros(ids_shape, np.int64)
    table = np.zeros(table_shape, np.float32)
    out, mask = embedding(ids, table, mask_zero=True)
    assert out.shape == ids_shape + table_shape[1:] and out.dtype == np.float32
    assert mask.shape == ids_shape and not mask.any()
    with pytest.raises(IndexError, match="id 7"):
        embedding(np.full((3, 4), 7), np.zeros((5, 0), np.float32))


@pytest.mark.parametrize("dtype", FLOATS)
def test_embedding_bit_identical_for_any_thread_count(rng, dtype):
    table = rng.standard_normal((300, 17)).astype(dtype)
    ids = rng.integers(-300, 300, (13, 101))
    ref = embedding(ids, table, True, n_threads=1)
    for t in THREADS[1:]:
        out, mask = embedding(ids, table, True, n_threads=t)
        assert _same_bits(out, ref[0]) and _same_bits(mask, ref[1]), t


@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
                  elements=st.integers(-8, 7)),
       st.integers(1, 5), st.sampled_from(FLOATS), st.integers(1, 3))
def test_property_embedding_matches_numpy(ids, dim, dtype, n_threads):
    input_dim = 6
    table = np.arange(input_dim * dim, dtype=dtype).reshape(input_dim, dim) - 3.5
    bad = (ids < -input_dim) | (ids >= input_dim)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad.reshape(-1))), ids.shape)
        where = re.escape(str(tuple(map(int, first))))
        with pytest.raises(IndexError, match=rf"id {ids[first]} at position {where}"):
            embedding(ids, table, True, n_threads=n_threads)
        return
    out, mask = embedding(ids, table, True, n_threads=n_threads)
    assert _same_bits(out, np.take(table, ids, axis=0))
    assert _same_bits(mask, ids != 0)


# -------------------------------------------------------- Embedding bad input
@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([1 + 0j]),
                                 np.array([object()], dtype=object), "1"])
def test_embedding_bad_ids(bad):
    with pytest.raises(TypeError, match="`ids`"):
        embedding(bad, np.ones((3, 2), np.float32))


@pytest.mark.parametrize("bad", [np.array([["a"]]), np.array([[1 + 0j]]),
                                 np.array([[object()]], dtype=object)])
def test_embedding_bad_table_dtype(bad):
    with pytest.raises(TypeError, match="`embeddings`"):
        embedding(np.array([0]), bad)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_embedding_bad_table_rank(shape):
    with pytest.raises(ValueError, match=r"`embeddings` must have rank 2.*Received"):
        embedding(np.array([0]), np.ones(shape, np.float32))


@pytest.mark.parametrize("bad", ["yes", None, 1.0])
def test_embedding_bad_mask_zero(bad):
    with pytest.raises(TypeError, match="`mask_zero`"):
        embedding(np.array([0]), np.ones((3, 2), np.float32), mask_zero=bad)


def test_embedding_int_table_becomes_float32():
    out, _ = embedding(np.array([1]), np.array([[1, 2], [3, 4]], np.int64))
    assert out.dtype == np.float32 and out.tolist() == [[3.0, 4.0]]


def test_docstring_examples():
    import doctest
    result = doctest.testmod(masking_module, extraglobs={"np": np})
    assert result.attempted >= 6 and result.failed == 0
