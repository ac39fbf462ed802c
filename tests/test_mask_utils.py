"""mask_from_lengths and lengths_from_mask against plain NumPy references."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmask.utils
from fastmask.utils import lengths_from_mask, mask_from_lengths, pad_sequences


def reference_mask(lengths, maxlen, padding):
    lengths = np.asarray(lengths, dtype=np.int64)
    t = (int(lengths.max()) if lengths.size else 0) if maxlen is None else maxlen
    steps = np.arange(t)
    k = np.minimum(lengths, t)[..., None]
    return steps >= t - k if padding == "pre" else steps < k


def test_examples():
    assert mask_from_lengths([1, 3], maxlen=3).tolist() == [[True, False, False], [True] * 3]
    assert mask_from_lengths([1, 3], maxlen=3, padding="pre").tolist() == \
        [[False, False, True], [True] * 3]
    assert mask_from_lengths([0, 2]).tolist() == [[False, False], [True, True]]
    assert lengths_from_mask([[True, True, False], [False, True, True]]).tolist() == [2, 2]
    assert lengths_from_mask([[True, False, True]]).tolist() == [2]  # holes are counted


@given(lengths=st.lists(st.integers(0, 40), max_size=30),
       maxlen=st.none() | st.integers(0, 45), padding=st.sampled_from(["pre", "post"]))
def test_mask_from_lengths_matches_numpy(lengths, maxlen, padding):
    got = mask_from_lengths(np.array(lengths, dtype=np.int64), maxlen, padding)
    exp = reference_mask(lengths, maxlen, padding)
    assert got.dtype == bool and got.shape == exp.shape
    np.testing.assert_array_equal(got, exp)
    # round trip: the count of kept steps is the clipped length
    np.testing.assert_array_equal(lengths_from_mask(got),
                                  np.minimum(lengths, got.shape[1]).astype(np.int64))


def test_mask_from_lengths_clips_and_shapes():
    np.testing.assert_array_equal(mask_from_lengths([5, 1], maxlen=3), [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(mask_from_lengths([5, 1], maxlen=3, padding="pre"),
                                  [[1, 1, 1], [0, 0, 1]])
    got = mask_from_lengths(np.array([[1, 2], [0, 3]], dtype=np.int32), maxlen=4)
    assert got.shape == (2, 2, 4)
    np.testing.assert_array_equal(got, reference_mask([[1, 2], [0, 3]], 4, "post"))
    assert mask_from_lengths(np.uint8(2), maxlen=3).tolist() == [True, True, False]
    assert mask_from_lengths([], maxlen=2).shape == (0, 2)
    assert mask_from_lengths([]).shape == (0, 0)
    assert mask_from_lengths([3, 1], maxlen=0).shape == (2, 0)
    assert mask_from_lengths([1, 2], maxlen=np.int64(2)).tolist() == [[True, False], [True] * 2]
    lengths = np.arange(10)[::3]          # non-contiguous, read-only
    lengths.setflags(write=False)
    np.testing.assert_array_equal(mask_from_lengths(lengths), reference_mask(lengths, None, "post"))


def test_mask_from_lengths_matches_pad_sequences_mask():
    seqs = [[1, 2, 3], [], [4], [5, 6, 7, 8, 9]]
    lengths = [len(s) for s in seqs]
    for padding in ("pre", "post"):
        _, mask = pad_sequences(seqs, maxlen=4, padding=padding, return_mask=True)
        np.testing.assert_array_equal(mask, mask_from_lengths(lengths, 4, padding))


def test_threads_bit_identical(monkeypatch):
    monkeypatch.setattr(fastmask.utils, "_MIN_BYTES_PER_THREAD", 1)  # 2 threads on small input
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 300, size=5000)
    for padding in ("pre", "post"):
        a = mask_from_lengths(lengths, 256, padding, n_threads=1)
        b = mask_from_lengths(lengths, 256, padding, n_threads=2)
        assert a.tobytes() == b.tobytes()
    assert lengths_from_mask(a, n_threads=1).tolist() == lengths_from_mask(a, n_threads=2).tolist()


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(lengths=[1, -2]), ValueError, r"`lengths` must be >= 0.*lengths.flat\[1\]=-2"),
    (dict(lengths=[1.0, 2.0]), TypeError, "`lengths` must be an array of integers"),
    (dict(lengths=[True]), TypeError, "`lengths`"),
    (dict(lengths=["a"]), TypeError, "`lengths`"),
    (dict(lengths=[1], maxlen=-1), ValueError, "`maxlen` must be >= 0"),
    (dict(lengths=[1], maxlen=1.5), TypeError, "`maxlen` must be an int"),
    (dict(lengths=[1], padding="middle"), ValueError, '`padding` must be "pre" or "post"'),
    (dict(lengths=[1], n_threads=0), ValueError, "n_threads"),
])
def test_mask_from_lengths_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        mask_from_lengths(**kwargs)


@given(mask=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), max_size=12))
def test_lengths_from_mask_matches_numpy(mask):
    m = np.array(mask, dtype=bool).reshape(len(mask), 5)
    got = lengths_from_mask(m)
    assert got.dtype == np.int64 and got.shape == (len(mask),)
    np.testing.assert_array_equal(got, m.sum(axis=1))


def test_lengths_from_mask_layouts_and_dtypes():
    rng = np.random.default_rng(1)
    m = rng.random((7, 300)) < 0.3
    exp = m.sum(axis=1)
    np.testing.assert_array_equal(lengths_from_mask(m), exp)
    np.testing.assert_array_equal(lengths_from_mask(np.asfortranarray(m)), exp)
    np.testing.assert_array_equal(lengths_from_mask(m[:, ::2]), m[:, ::2].sum(axis=1))
    ro = m.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(lengths_from_mask(ro), exp)
    np.testing.assert_array_equal(lengths_from_mask(m.astype(np.float32) * 2.5), exp)
    np.testing.assert_array_equal(lengths_from_mask(m.astype(np.int8) * -3), exp)
    # a bool array whose bytes are not 0/1 (a uint8 view) still counts nonzero bytes
    np.testing.assert_array_equal(lengths_from_mask((m.astype(np.uint8) * 7).view(bool)), exp)
    m3 = rng.random((2, 3, 4)) < 0.5
    np.testing.assert_array_equal(lengths_from_mask(m3), m3.sum(axis=-1))
    assert lengths_from_mask([True, False, True]).shape == ()
    assert int(lengths_from_mask([True, False, True])) == 2
    assert lengths_from_mask(np.zeros((0, 4), bool)).shape == (0,)
    np.testing.assert_array_equal(lengths_from_mask(np.zeros((3, 0), bool)), [0, 0, 0])
    assert lengths_from_mask(np.zeros((0, 0), bool)).shape == (0,)
    big = np.ones((2, 70000), bool)     # counts above one block of the C helper
    np.testing.assert_array_equal(lengths_from_mask(big), [70000, 70000])


@pytest.mark.parametrize("mask,exc,match", [
    (np.bool_(True), ValueError, "`mask` must have rank >= 1"),
    (np.array([["a"]]), TypeError, "`mask` must be a boolean"),
    (np.array([[1.0, np.nan]]), ValueError, "`mask` contains NaN"),
    (np.array([[None]]), TypeError, "`mask`"),
])
def test_lengths_from_mask_bad_input(mask, exc, match):
    with pytest.raises(exc, match=match):
        lengths_from_mask(mask)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(fastmask.utils, extraglobs={"np": np},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0
