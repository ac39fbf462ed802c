"""pad_sequences and pad_ragged: conformance with keras.utils.pad_sequences
(Keras 3.15.1, NumPy backend) and property tests against plain NumPy references.

Every comparison checks the dtype, the bytes of the result (bit-identical, so
NaN payloads and -0.0 count), the exception type and message, and the
warnings raised.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fastmask import utils
from fastmask.utils import pad_ragged, pad_sequences

keras_pad = pytest.importorskip("keras.utils").pad_sequences

SIDES = ("pre", "post")


# ----------------------------------------------------------------- helpers
def run(fn, *args, **kwargs):
    """(result, exception, warnings) of fn(*args, **kwargs); warnings as (category, text)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            out, exc = fn(*args, **kwargs), None
        except Exception as e:  # noqa: BLE001  (compared below)
            out, exc = None, e
    return out, exc, [(w.category, str(w.message)) for w in rec]


def assert_identical(got, expected):
    """Same dtype, shape and values; numeric results byte for byte."""
    assert isinstance(got, np.ndarray)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if expected.dtype.kind == "O":
        assert got.tolist() == expected.tolist() or _nan_equal(got, expected)
    else:
        if got.tobytes() != expected.tobytes():
            np.testing.assert_array_equal(got, expected)  # shows the difference
            raise AssertionError(f"same values, different bytes:\n{got!r}\n{expected!r}")


def _nan_equal(a, b):
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist()):
        if not (x == y or (isinstance(x, float) and isinstance(y, float)
                           and math.isnan(x) and math.isnan(y))):
            return False
    return True


def expected_mask(sequences, maxlen, padding):
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    t = int(lengths.max()) if maxlen is None else maxlen
    k = np.minimum(lengths, t)
    steps = np.arange(t)
    return steps >= (t - k)[:, None] if padding == "pre" else steps < k[:, None]


def check_like_keras(sequences, **kwargs):
    """fastmask == Keras on `sequences` (result, or exception type + message, and warnings)."""
    got, got_exc, got_warn = run(pad_sequences, sequences, **kwargs)
    exp, exp_exc, exp_warn = run(keras_pad, sequences, **kwargs)
    if exp_exc is not None:
        assert type(got_exc) is type(exp_exc), (got_exc, exp_exc)
        assert str(got_exc) == str(exp_exc)
    else:
        assert got_exc is None, got_exc
        assert_identical(got, exp)
    assert got_warn == exp_warn
    if exp_exc is None:  # and the mask: True exactly where a sequence element was written
        (padded, mask), exc, _ = run(pad_sequences, sequences, return_mask=True, **kwargs)
        assert exc is None
        assert_identical(padded, exp)
        assert mask.dtype == bool and mask.shape == exp.shape[:2]
        if exp.shape[1] and any(len(s) for s in sequences):
            np.testing.assert_array_equal(
                mask, expected_mask(sequences, kwargs.get("maxlen"), kwargs.get("padding", "pre")))
    return got


def compiled(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """True when the compiled path handles the call (it returns None to fall back)."""
    return utils._pad_sequences_compiled(sequences, maxlen, dtype, padding, truncating, value,
                                         False, 1) is not None


# ---------------------------------------------------- examples from Keras
def test_keras_docstring_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    assert check_like_keras(seqs).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert check_like_keras(seqs, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert check_like_keras(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert check_like_keras(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert compiled(seqs)


def test_return_mask_example():
    padded, mask = pad_sequences([[1], [2, 3], []], padding="post", return_mask=True)
    assert padded.tolist() == [[1, 0], [2, 3], [0, 0]]
    assert mask.tolist() == [[True, False], [True, True], [False, False]]
    padded, mask = pad_sequences([[1], [2, 3], []], return_mask=True)
    assert mask.tolist() == [[False, True], [True, True], [False, False]]


@pytest.mark.parametrize("padding", SIDES)
@pytest.mark.parametrize("truncating", SIDES)
@pytest.mark.parametrize("maxlen", [None, 1, 2, 3, 5])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64", "int8", "uint8",
                                   "int16", "uint16", "uint32", "uint64", "float16", "object",
                                   "<U3", str, bool])
def test_grid_small(padding, truncating, maxlen, dtype):
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8], [9.75, -2.5]]
    check_like_keras(seqs, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating)


def test_compiled_path_is_taken():
    """The fast path must really run for the inputs it claims (else the speed is a lie)."""
    ints = [[1, 2, 3], [4], [], (5, 6)]
    for dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float32", "float64", np.int32, float):
        assert compiled(ints, dtype=dtype), dtype
    assert compiled([[1.5, 2], [3.25]], dtype="float32")
    assert compiled([[1.9, -2.7]], dtype="int32")
    assert compiled([np.arange(3), np.arange(5.0), np.array([], np.int8)], maxlen=4)
    assert compiled(np.arange(12).reshape(3, 4), maxlen=3)
    assert compiled(tuple([[1], [2, 3]]), value=-1.5, padding="post", truncating="post")
    # handed to Keras's algorithm (not a failure: the result is Keras's)
    assert not compiled([[1, 2], [3]], dtype="object")
    assert not compiled([["a"], ["b"]], dtype="<U1")
    assert not compiled([[[1, 2]], [[3, 4]]])                   # vector samples
    assert not compiled([[True, 2]])                             # bool items
    assert not compiled([[np.int64(1)]])                         # numpy scalars
    assert not compiled([[1, 2]], padding="middle")
    assert not compiled([[float("nan")]])                        # NaN -> int: Keras raises
    assert not compiled([[300]], dtype="int8")                   # OverflowError
    assert not compiled([[1]], value=float("nan"))               # warning from np.full
    assert not compiled([[1]], maxlen=0)
    assert not compiled([])


def test_large_ints_and_float_rounding():
    big = 2 ** 60 + 2 ** 36 + 1   # NumPy rounds Python ints to float32 through a double
    for dtype in ("float32", "float64", "int64", "uint64"):
        check_like_keras([[big, -big, 2 ** 53 + 1, 1]], dtype=dtype)
    check_like_keras([[2 ** 64 - 1, 2 ** 63]], dtype="uint64")
    check_like_keras([[2 ** 64]], dtype="uint64")                # OverflowError
    check_like_keras([[2 ** 63]], dtype="int64")                 # OverflowError
    check_like_keras([[2 ** 70]], dtype="float64")
    check_like_keras([[2 ** 200]], dtype="float32")              # inf + overflow warning
    check_like_keras([[2 ** 1030]], dtype="float64")             # OverflowError
    check_like_keras([[1e300, -1e300, 3.4028235677973366e+38]], dtype="float32")
    check_like_keras([[3.4028234663852886e+38, 1e-50, -0.0]], dtype="float32")
    check_like_keras([[2.0 ** 63, 1.5e19, -0.5]], dtype="uint64")
    check_like_keras([[-0.5, 255.9]], dtype="uint8")
    check_like_keras([[-1.5]], dtype="uint8")                    # OverflowError
    check_like_keras([[2147483647.9, -2147483648.9]], dtype="int32")
    check_like_keras([[2147483648.0]], dtype="int32")            # OverflowError
    check_like_keras([[-9223372036854775808.0]], dtype="int64")
    check_like_keras([[9223372036854775808.0]], dtype="int64")   # OverflowError
    # the first non-empty sequence decides the sample shape: a huge int there
    # changes NumPy's dtype discovery even in its truncated part
    check_like_keras([[2 ** 1030, 1.5, 2]], maxlen=1)
    check_like_keras([[2 ** 70, 1]], maxlen=1)
    check_like_keras([[1, 2], [2 ** 70, 3]], maxlen=1)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64"])
def test_int_range_edges(dtype):
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    check_like_keras([[lo, hi, 0]], dtype=dtype)
    check_like_keras([[1], [hi + 1]], dtype=dtype)                  # OverflowError
    check_like_keras([[1], [lo - 1]], dtype=dtype)                  # OverflowError
    for x in (float(lo), float(hi), lo - 0.5, hi + 0.5, lo - 1.0, hi + 1.0, float(hi + 1)):
        check_like_keras([[x]], dtype=dtype)


def test_nan_inf():
    nan, inf = float("nan"), float("inf")
    for dtype in ("float32", "float64"):
        check_like_keras([[nan, inf, -inf, 1]], dtype=dtype)
        check_like_keras([[1, 2], [3]], dtype=dtype, value=nan)
    check_like_keras([[nan]], dtype="int32")                     # ValueError
    check_like_keras([[inf]], dtype="int32")                     # OverflowError
    check_like_keras([[1], [2, 3]], value=nan)                   # INT32_MIN + RuntimeWarning
    check_like_keras([[1], [2, 3]], value=inf, dtype="int8")
    check_like_keras([[1], [2, 3]], value=np.float64("nan"), dtype="int64")
    # NaN in the truncated-away part is never converted
    check_like_keras([[nan, 1, 2]], maxlen=2)
    check_like_keras([[1, 2], [3, nan]], maxlen=1, truncating="post")


def test_values():
    seqs = [[1, 2], [3]]
    for value in (1.7, -1.7, 0, -1, 2.5, True, np.int8(3), np.float32(1.5), 2 ** 31, -0.0):
        for dtype in ("int32", "float32", "float64", "uint8", "int8"):
            check_like_keras(seqs, value=value, dtype=dtype)
    check_like_keras(seqs, value=300, dtype="int8")              # OverflowError
    check_like_keras(seqs, value=-1, dtype="uint8")              # OverflowError
    check_like_keras(seqs, value="x")                            # ValueError (Keras's message)
    check_like_keras(seqs, value="x", dtype="float32")
    check_like_keras([["a", "bb"], ["c"]], value="pad", dtype=object)
    check_like_keras([["a", "bb"], ["c"]], value="pad", dtype="<U3")
    check_like_keras([["a", "bb"], ["c"]], value="pad", dtype=str)
    check_like_keras([["a", "bb"], ["c"]], dtype=object)          # pads with 0.0
    check_like_keras([[b"a", b"bb"], [b"c"]], value=b"-", dtype="S2")
    check_like_keras(seqs, value=None, dtype=object)
    check_like_keras(seqs, value=None)                           # TypeError from NumPy


def test_error_cases_match_keras():
    check_like_keras((x for x in [[1], [2]]))                     # generator
    check_like_keras([1, 2])                                      # non-iterables
    check_like_keras([[1], 2])
    check_like_keras(5)
    check_like_keras(None)
    check_like_keras([])                                          # zero-size maximum
    check_like_keras([], maxlen=3)
    check_like_keras([[]])
    check_like_keras([[], []], maxlen=2)
    check_like_keras([[]], padding="middle")                      # quirk: never checked
    check_like_keras([[], [1]], padding="middle")
    check_like_keras([[], [1]], truncating="middle")
    check_like_keras([[1]], padding=None)
    check_like_keras([[1]], padding=np.array(["pre", "post"]))  # ambiguous truth value
    check_like_keras([[]], padding=np.array(["pre", "post"]))
    check_like_keras([[1]], padding=np.str_("post"), truncating=np.str_("post"))
    check_like_keras([[1, 2]], maxlen=-1)
    check_like_keras([[1, 2]], maxlen=2.0)
    check_like_keras([[1, 2]], maxlen="2")
    check_like_keras([[1, 2]], maxlen=0)
    check_like_keras([[1]], maxlen=0)
    check_like_keras([[1, 2]], maxlen=0, truncating="post")
    check_like_keras([[1, 2]], maxlen=True)
    check_like_keras([[1, 2]], maxlen=np.int64(1))
    check_like_keras([[1, 2]], dtype=None)
    check_like_keras([[1, 2]], dtype="no such dtype")
    check_like_keras([[[1, 2], [3]]])                             # ragged nested lists
    check_like_keras([[1, 2], [[3, 4]]])
    check_like_keras([[[1, 2]], [[3]]])
    check_like_keras([[[1, 2]], [3]])
    check_like_keras([[1, "a"]])
    check_like_keras([[1, None]])
    check_like_keras([[1, 2], "ab"])
    check_like_keras([[1, 2], {"a": 1}])
    check_like_keras([np.zeros(()), [1]])
    check_like_keras(np.array(5))


def test_vector_samples():
    seqs = [[[1, 2], [3, 4]], [], [[5, 6]], [[7, 8], [9, 10], [11, 12]]]
    for padding in SIDES:
        for truncating in SIDES:
            for maxlen in (None, 1, 2, 4):
                check_like_keras(seqs, maxlen=maxlen, padding=padding, truncating=truncating,
                                 dtype="float32", value=-1)
    check_like_keras([np.ones((2, 3)), np.zeros((1, 3))])
    check_like_keras([np.ones((2, 3)), np.zeros((1, 2))])           # shape mismatch message


def test_array_rows():
    rng = np.random.default_rng(0)
    rows = [rng.integers(-5, 5, size=n) for n in (3, 0, 7, 1)]
    for dtype in ("int32", "int64", "float32", "int8", "uint16", "float16", "object"):
        for maxlen in (None, 2, 5):
            check_like_keras(rows, dtype=dtype, maxlen=maxlen)
    strided = [np.arange(20, dtype=np.int32)[::3], np.arange(10.0)[::-2]]
    check_like_keras(strided, padding="post")
    check_like_keras(strided, dtype="float32")
    check_like_keras([np.arange(4, dtype=">i4"), np.arange(3, dtype=">f8")], dtype="int64")
    check_like_keras([np.arange(4, dtype=np.float16), np.array([True, False])])
    check_like_keras([np.array([1.5, np.nan, np.inf]), np.array([3e9, -1.0])])  # warnings
    check_like_keras([np.array([1.5, np.nan]), np.array([1e300])], dtype="float32")
    check_like_keras([np.array([1 + 2j])])                          # complex: Keras path
    check_like_keras([np.array(["a", "b"])], dtype=object)
    check_like_keras([np.arange(3), [1.5, 2.5], (7,)], dtype="float64")  # mixed rows
    check_like_keras(np.arange(12).reshape(3, 4), maxlen=3)
    check_like_keras(np.arange(12.0).reshape(3, 4)[:, ::2], maxlen=3, dtype="int8")
    ragged = np.empty(3, dtype=object)
    ragged[:] = [[1, 2], [3], [4, 5, 6]]
    check_like_keras(ragged)
    assert compiled(ragged)
    ro = np.arange(5)
    ro.setflags(write=False)
    check_like_keras([ro, ro[:2]])


# ------------------------------------------------------------- hypothesis
ints = st.one_of(st.integers(-300, 300), st.integers(-2 ** 65, 2 ** 65))
floats = st.one_of(st.floats(-300, 300), st.floats(allow_nan=True, allow_infinity=True))
edges = [0, 1, -1, 0.5, -0.0, 127, 128, -129, 255, 256, 32768, 65536, 2 ** 31, 2 ** 32,
         -2 ** 31 - 1, 2 ** 63, 2 ** 64, 2.0 ** 31, 255.5, -0.9, 2 ** 24 + 1, 3.5e38]
items = st.one_of(ints, floats) | st.sampled_from(edges)
DTYPES = ["int32", "int64", "float32", "float64", "int8", "uint8", "uint64", "int16",
          "object", "<U4", str]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(seqs=st.lists(st.lists(items, max_size=7) | st.tuples(items), min_size=0, max_size=6),
       maxlen=st.none() | st.integers(-1, 9),
       dtype=st.sampled_from(DTYPES),
       padding=st.sampled_from(SIDES + ("middle",)),
       truncating=st.sampled_from(SIDES + ("middle",)),
       value=st.one_of(st.integers(-300, 300), st.floats(allow_nan=True),
                       st.sampled_from(["pad", "", 1.7, -0.0, 2 ** 40])))
def test_hypothesis_lists_match_keras(seqs, maxlen, dtype, padding, truncating, value):
    check_like_keras(seqs, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating,
                     value=value)


@st.composite
def int_lists(draw):
    """Mostly-valid int/float lists (the compiled path's inputs)."""
    small = st.integers(-100, 100) | st.floats(-100, 100, allow_nan=False)
    return draw(st.lists(st.lists(small, max_size=12), min_size=1, max_size=8))


@given(seqs=int_lists(), maxlen=st.none() | st.integers(1, 14),
       dtype=st.sampled_from(["int32", "int64", "float32", "float64", "int8", "uint32"]),
       padding=st.sampled_from(SIDES), truncating=st.sampled_from(SIDES),
       value=st.integers(-5, 5) | st.floats(-5, 5))
def test_hypothesis_valid_lists_match_keras(seqs, maxlen, dtype, padding, truncating, value):
    check_like_keras(seqs, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating,
                     value=value)


ARRAY_DTYPES = ["int8", "int32", "int64", "uint8", "uint64", "float16", "float32", "float64",
                "bool"]


@st.composite
def array_rows(draw):
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        dt = np.dtype(draw(st.sampled_from(ARRAY_DTYPES)))
        size = draw(st.integers(0, 8))
        if dt.kind == "f":
            vals = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64)
                                 | st.floats(-200, 200), min_size=size, max_size=size))
            with np.errstate(all="ignore"):
                a = np.array(vals, dtype=np.float64).astype(dt)
        elif dt.kind == "b":
            a = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), dtype=dt)
        else:
            info = np.iinfo(dt)
            a = np.array(draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=size,
                                       max_size=size)), dtype=dt)
        if draw(st.booleans()) and size:
            a = np.repeat(a, 2)[::2]  # non-contiguous view
        rows.append(a)
    return rows


@given(rows=array_rows(), maxlen=st.none() | st.integers(1, 9),
       dtype=st.sampled_from(["int32", "int64", "float32", "float64", "int8", "uint16",
                              "uint64"]),
       padding=st.sampled_from(SIDES), truncating=st.sampled_from(SIDES))
def test_hypothesis_array_rows_match_keras(rows, maxlen, dtype, padding, truncating):
    check_like_keras(rows, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating)


def test_array_rows_thread_count_bit_identical(monkeypatch):
    monkeypatch.setattr(utils, "_MIN_BYTES_PER_THREAD", 1)  # use 2 threads even on small input
    rng = np.random.default_rng(3)
    rows = [rng.standard_normal(int(n)).astype(np.float32) for n in rng.integers(0, 60, 500)]
    a = pad_sequences(rows, maxlen=40, dtype="float32", n_threads=1)
    b = pad_sequences(rows, maxlen=40, dtype="float32", n_threads=2)
    assert a.tobytes() == b.tobytes()


def test_bad_n_threads():
    with pytest.raises(TypeError, match="n_threads"):
        pad_sequences([[1]], n_threads="2")
    with pytest.raises(ValueError, match="n_threads"):
        pad_sequences([[1]], n_threads=0)


# -------------------------------------------------------------- pad_ragged
def ragged_reference(values, lengths, maxlen, dtype, padding, truncating, value):
    """Plain NumPy: pad each row (a slice of `values`) in a Python loop."""
    values = np.asarray(values)
    dtype = values.dtype if dtype is None else np.dtype(dtype)
    t = (int(max(lengths)) if len(lengths) else 0) if maxlen is None else maxlen
    out = np.full((len(lengths), t) + values.shape[1:], value, dtype=dtype)
    mask = np.zeros((len(lengths), t), dtype=bool)
    start = 0
    for i, n in enumerate(lengths):
        row = values[start:start + n]
        start += n
        k = min(n, t)
        kept = row[n - k:] if truncating == "pre" else row[:k]
        steps = slice(t - k, t) if padding == "pre" else slice(0, k)
        out[i, steps] = np.asarray(kept, dtype=dtype)
        mask[i, steps] = True
    return out, mask


@st.composite
def ragged_inputs(draw):
    lengths = draw(st.lists(st.integers(0, 9), max_size=7))
    sample = draw(st.sampled_from([(), (2,), (2, 3), (0,)]))
    dt = np.dtype(draw(st.sampled_from(["int32", "int64", "float32", "float64", "int8",
                                        "bool", "float16", "uint16"])))
    n = sum(lengths)
    size = n * int(np.prod(sample, dtype=np.int64))
    if dt.kind == "f":
        flat = draw(st.lists(st.floats(-1e3, 1e3) | st.sampled_from([np.nan, np.inf, 1e40]),
                             min_size=size, max_size=size))
        with np.errstate(all="ignore"):
            values = np.array(flat, dtype=np.float64).astype(dt)
    elif dt.kind == "b":
        values = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)), dt)
    else:
        info = np.iinfo(dt)
        values = np.array(draw(st.lists(st.integers(int(info.min), int(info.max)),
                                        min_size=size, max_size=size)), dtype=dt)
    values = values.reshape((n,) + sample)
    layout = draw(st.sampled_from(["c", "strided", "readonly", "fortran"]))
    if layout == "strided":
        values = np.repeat(values, 2, axis=0)[::2]
    elif layout == "readonly":
        values.setflags(write=False)
    elif layout == "fortran":
        values = np.asfortranarray(values)
    return values, lengths


@given(data=ragged_inputs(), maxlen=st.none() | st.integers(0, 11),
       dtype=st.sampled_from([None, "int32", "float32", "float64", "int8", "uint64", "bool"]),
       padding=st.sampled_from(SIDES), truncating=st.sampled_from(SIDES),
       value=st.sampled_from([0, -1, 1.5, 7]), use_offsets=st.booleans())
def test_hypothesis_pad_ragged_matches_reference(data, maxlen, dtype, padding, truncating,
                                                 value, use_offsets):
    values, lengths = data
    kw = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
    exp, exp_exc, exp_warn = run(ragged_reference, values, lengths, **kw)
    assume(exp_exc is None)
    split = dict(offsets=np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])) \
        if use_offsets else dict(lengths=lengths)
    (got, mask), exc, got_warn = run(pad_ragged, values, return_mask=True, **split, **kw)
    assert exc is None, exc
    assert_identical(got, exp[0])
    np.testing.assert_array_equal(mask, exp[1])
    if values.dtype != np.float16 or np.dtype(dtype or values.dtype) == values.dtype:
        assert got_warn == exp_warn  # (float16 is cast by one astype: one warning, not per row)
    assert_identical(pad_ragged(values, return_mask=False, **split, **kw), exp[0])


@given(lists=int_lists(), maxlen=st.none() | st.integers(1, 14),
       padding=st.sampled_from(SIDES), truncating=st.sampled_from(SIDES),
       dtype=st.sampled_from(["int32", "float32", "float64"]))
def test_hypothesis_pad_ragged_matches_pad_sequences(lists, maxlen, padding, truncating, dtype):
    lengths = [len(s) for s in lists]
    assume(max(lengths) > 0)
    flat = np.array([x for s in lists for x in s], dtype=np.float64)
    rows = [flat[a:b] for a, b in zip(np.cumsum([0] + lengths)[:-1], np.cumsum(lengths))]
    kw = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=-1)
    got, mask = pad_ragged(flat, lengths=lengths, return_mask=True, **kw)
    exp, exp_mask = pad_sequences(rows, return_mask=True, **kw)
    assert_identical(got, exp)
    np.testing.assert_array_equal(mask, exp_mask)
    assert_identical(got, keras_pad(rows, **kw))


def test_pad_ragged_examples():
    values = np.array([1, 2, 3, 4, 5, 6])
    assert pad_ragged(values, lengths=[1, 2, 3], dtype="int32").tolist() == \
        [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    got, mask = pad_ragged(values, offsets=[0, 1, 3, 6], maxlen=2, padding="post",
                           return_mask=True)
    assert got.dtype == values.dtype
    assert got.tolist() == [[1, 0], [2, 3], [5, 6]]
    assert mask.tolist() == [[True, False], [True, True], [True, True]]
    vec = np.arange(12.0).reshape(6, 2)
    got = pad_ragged(vec, lengths=[0, 4, 2], maxlen=3, truncating="post", value=-1)
    assert got.shape == (3, 3, 2)
    assert got[0].tolist() == [[-1, -1]] * 3
    assert got[1].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_pad_ragged_thread_count_bit_identical(monkeypatch):
    monkeypatch.setattr(utils, "_MIN_BYTES_PER_THREAD", 1)
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 80, size=2000)
    values = rng.standard_normal((int(lengths.sum()), 3)).astype(np.float32)
    for kw in (dict(), dict(padding="post", truncating="post"), dict(dtype="float64"),
               dict(dtype="int16", value=-7)):
        a = pad_ragged(values, lengths=lengths, maxlen=50, return_mask=True, n_threads=1, **kw)
        b = pad_ragged(values, lengths=lengths, maxlen=50, return_mask=True, n_threads=2, **kw)
        assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_pad_ragged_casts_like_numpy():
    values = np.array([1.5, np.nan, 2.5, 1e10, -3.9])
    with np.errstate(invalid="ignore"):      # the reference's own cast of NaN warns too
        exp, _ = ragged_reference(values, [2, 3], None, "int32", "post", "pre", 0)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        got = pad_ragged(values, lengths=[2, 3], dtype="int32", padding="post")
    assert_identical(got, exp)
    # float64 -> float32 overflow: NumPy's inf and warning
    with pytest.warns(RuntimeWarning, match="overflow"):
        got = pad_ragged(np.array([1e300, 1.0]), lengths=[1, 1], dtype="float32")
    assert got.tolist() == [[np.inf], [1.0]]
    got = pad_ragged(np.array([300, -1]), lengths=[2], dtype="int8")     # ints wrap like astype
    assert got.tolist() == [[44, -1]]
    got = pad_ragged(np.array(["ab", "c"]), lengths=[1, 1], value="-")  # other dtypes: memcpy
    assert got.dtype == np.dtype("<U2") and got.tolist() == [["ab"], ["c"]]
    got = pad_ragged(np.array([1.5, 2.5], np.float16), lengths=[2], dtype="U3", maxlen=3)
    assert got.tolist() == [["0.0", "1.5", "2.5"]]   # value=0.0 cast like np.full


def test_pad_ragged_empty_and_zero_size():
    got, mask = pad_ragged(np.zeros((0,)), lengths=[], return_mask=True)
    assert got.shape == (0, 0) and mask.shape == (0, 0)
    got, mask = pad_ragged(np.zeros((0, 3)), lengths=[0, 0], maxlen=2, return_mask=True)
    assert got.shape == (2, 2, 3) and got.tolist() == [[[0] * 3] * 2] * 2
    assert not mask.any()
    got, mask = pad_ragged(np.zeros((3, 0)), lengths=[1, 2], return_mask=True, padding="post")
    assert got.shape == (2, 2, 0) and mask.tolist() == [[True, False], [True, True]]
    got, mask = pad_ragged(np.arange(3), lengths=[1, 2], maxlen=0, return_mask=True)
    assert got.shape == (2, 0) and mask.shape == (2, 0)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(), ValueError, "exactly one of `lengths` and `offsets`"),
    (dict(lengths=[3], offsets=[0, 3]), ValueError, "exactly one"),
    (dict(lengths=[2, -1, 2]), ValueError, r"`lengths` must be >= 0.*lengths\[1\]=-1"),
    (dict(lengths=[1, 1]), ValueError, r"`lengths` must sum to values.shape\[0\]=3"),
    (dict(lengths=[4]), ValueError, "must sum to"),
    (dict(lengths=[2 ** 62, 2 ** 62, 1]), ValueError, "must sum to"),
    (dict(lengths=[[1, 2]]), ValueError, "`lengths` must be 1-D"),
    (dict(lengths=[1.0, 2.0]), TypeError, "`lengths` must be an array of integers"),
    (dict(lengths=[True, True, True]), TypeError, "`lengths`"),
    (dict(lengths=np.array([2 ** 64 - 1], np.uint64)), ValueError, "`lengths`"),
    (dict(offsets=[0, 2]), ValueError, r"`offsets` must start at 0 and end at values.shape\[0\]=3"),
    (dict(offsets=[1, 3]), ValueError, "must start at 0"),
    (dict(offsets=[0, 2, 1, 3]), ValueError, r"`offsets` must be non-decreasing.*offsets\[1\]=2"),
    (dict(offsets=[]), ValueError, "`offsets` must have B\\+1 >= 1 entries"),
    (dict(offsets=[0.0, 3.0]), TypeError, "`offsets`"),
    (dict(lengths=[3], maxlen=-1), ValueError, "`maxlen` must be >= 0"),
    (dict(lengths=[3], maxlen=2.0), TypeError, "`maxlen` must be an int"),
    (dict(lengths=[3], padding="middle"), ValueError, '`padding` must be "pre" or "post"'),
    (dict(lengths=[3], truncating=None), ValueError, '`truncating` must be "pre" or "post"'),
    (dict(lengths=[3], value="x"), ValueError, "`value` cannot be cast to int64"),
    (dict(lengths=[3], value=300, dtype="int8"), OverflowError, "`value`"),
    (dict(lengths=[3], dtype="nope"), TypeError, "`dtype`"),
    (dict(lengths=[3], dtype=object), TypeError, "`dtype`"),
    (dict(lengths=[3], n_threads=0), ValueError, "n_threads"),
])
def test_pad_ragged_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pad_ragged(np.arange(3), **kwargs)


def test_pad_ragged_bad_values():
    with pytest.raises(ValueError, match="`values` must have rank >= 1"):
        pad_ragged(np.float32(1), lengths=[1])
    with pytest.raises(TypeError, match="`values` must not have dtype object"):
        pad_ragged(np.array([1, "a"], dtype=object), lengths=[2])
    with pytest.raises(ValueError, match="must sum to"):
        pad_ragged(np.zeros((0, 2)), lengths=[1])


def test_pad_ragged_nan_value_into_int_warns_like_numpy():
    with pytest.warns(RuntimeWarning, match="invalid value"):
        got = pad_ragged(np.arange(3), lengths=[1, 2], value=np.nan, dtype="int32")
    assert got[0, 0] == np.iinfo(np.int32).min
