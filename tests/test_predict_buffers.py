"""`Model.predict` into preallocated outputs (issue 16, spec F2 items 1, 3, 4).

Oracles: Keras 3.15.1 `predict` (numpy backend) for the numbers; the behaviour
before the preallocated outputs (`np.concatenate` of the per-batch
`model(batch)` results) bit for bit; masks from the inputs by NumPy.
Also: no copy for one batch, no result aliasing another call's memory, the
`out=` protocol of Dense/LayerNormalization/MultiHeadAttention, peak memory
(tracemalloc) and threads.
"""
import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import fastmask
from fastmask.layers.layer import Layer
from oracle import keras

ATOL = 1e-5


def _copy_weights(k_model, f_model):
    f_model.set_weights(k_model.get_weights())


def transformer(M, V=50, T=12, E=16, units=40):
    """Embedding + causal MHA block + LayerNormalization + Dense to `units`, two outputs
    (the shape of keras-io's mini-GPT)."""
    L = M.layers
    ids = M.Input((T,), dtype="int32")
    x = L.Embedding(V, E)(ids)
    att = L.MultiHeadAttention(2, 8)(x, x, use_causal_mask=True)
    att = L.Dropout(0.1)(att)
    h = L.LayerNormalization(epsilon=1e-6)(L.Add()([x, att]))
    f = L.Dense(E, activation="relu")(h)
    f = L.Dropout(0.1)(L.Dense(E)(f))
    block = L.LayerNormalization(epsilon=1e-6)(L.Add()([h, f]))
    logits = L.Dense(units)(block)
    return M.Model(ids, [logits, block])


def masked_lstm(M, V=30, T=9):
    L = M.layers
    ids = M.Input((T,), dtype="int32")
    x = L.Embedding(V, 8, mask_zero=True)(ids)
    y = L.LSTM(6, return_sequences=True)(x)
    y = L.Dense(5, activation="tanh")(y)
    return M.Model(ids, y)


def dict_model(M, F=7):
    L = M.layers
    a = M.Input((F,), name="a")
    b = M.Input((3, F), name="b")
    h = L.Dense(6, activation="relu")(a)
    s = L.LayerNormalization()(L.Dense(4)(b))
    return M.Model({"a": a, "b": b}, {"head": L.Dense(2)(h), "seq": s})


def _pair(build, seed=0):
    k = build(keras())
    f = build(fastmask)
    rng = np.random.default_rng(seed)
    k.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.3
                   for w in k.get_weights()])
    _copy_weights(k, f)
    return k, f


def _ids(rng, n, T, V, pad=False):
    ids = rng.integers(1, V, size=(n, T)).astype("int32")
    if pad:
        lengths = rng.integers(1, T + 1, size=n)
        ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return ids


def _by_batches(model, x, batch_size):
    """The behaviour before: each batch through `model(...)`, then np.concatenate."""
    n = len(fastmask.core.tree.flatten(x)[0])
    chunks = []
    for s in range(0, n, batch_size):
        part = {k: v[s:s + batch_size] for k, v in x.items()} if isinstance(x, dict) else \
            x[s:s + batch_size]
        chunks.append(fastmask.core.tree.flatten(model(part, training=False)))
    return [np.concatenate([np.asarray(c[i]) for c in chunks]) for i in range(len(chunks[0]))]


@pytest.mark.parametrize("n,batch_size", [(8, 8), (8, 32), (32, 8), (29, 8), (17, 4)],
                         ids=["one-full", "one-partial", "four", "ragged-last", "five"])
def test_two_outputs_match_keras_and_before(n, batch_size):
    k, f = _pair(transformer)
    x = _ids(np.random.default_rng(1), n, 12, 50)
    got = f.predict(x, batch_size=batch_size, verbose=0)
    want = k.predict(x, batch_size=batch_size, verbose=0)
    assert isinstance(got, list) and len(got) == 2
    for g, w, b in zip(got, want, _by_batches(f, x, batch_size)):
        assert g.shape == w.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, w, atol=ATOL, rtol=1e-5)
        np.testing.assert_array_equal(g, b)


@pytest.mark.parametrize("n,batch_size", [(6, 16), (23, 5)])
def test_dict_inputs_and_outputs(n, batch_size):
    k, f = _pair(dict_model)
    rng = np.random.default_rng(2)
    x = {"a": rng.standard_normal((n, 7)).astype("float32"),
         "b": rng.standard_normal((n, 3, 7)).astype("float32")}
    got = f.predict(x, batch_size=batch_size, verbose=0)
    want = k.predict(x, batch_size=batch_size, verbose=0)
    assert isinstance(got, dict) and sorted(got) == sorted(want) == ["head", "seq"]
    before = dict(zip(sorted(want), _by_batches(f, x, batch_size)))
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=ATOL, rtol=1e-5)
        np.testing.assert_array_equal(got[key], before[key])


@pytest.mark.parametrize("n,batch_size", [(5, 8), (21, 4)])
def test_output_mask_covers_all_samples(n, batch_size):
    k, f = _pair(masked_lstm)
    x = _ids(np.random.default_rng(3), n, 9, 30, pad=True)
    got = f.predict(x, batch_size=batch_size, verbose=0)
    np.testing.assert_allclose(got, k.predict(x, batch_size=batch_size, verbose=0),
                               atol=ATOL, rtol=1e-5)
    np.testing.assert_array_equal(got, _by_batches(f, x, batch_size)[0])
    np.testing.assert_array_equal(fastmask.get_mask(got), x != 0)


def test_mask_kept_only_when_every_batch_has_one():
    """As before: an output carries a mask when all its batches carried one."""

    class MaskEveryOther(Layer):
        calls = 0

        def call(self, x):
            return x * 2.0

        def compute_mask(self, x, mask=None):
            if not isinstance(x, np.ndarray):   # the symbolic call
                return None
            MaskEveryOther.calls += 1
            return None if MaskEveryOther.calls == 2 else np.ones(x.shape[:2], bool)

    inp = fastmask.Input((3, 2))
    layer = MaskEveryOther()
    layer.supports_masking = True
    model = fastmask.Model(inp, layer(inp))
    x = np.arange(36, dtype="float32").reshape(6, 3, 2)
    MaskEveryOther.calls = 0
    got = model.predict(x, batch_size=2, verbose=0)
    np.testing.assert_array_equal(got, x * 2.0)
    assert fastmask.get_mask(got) is None
    MaskEveryOther.calls = 10
    got = model.predict(x, batch_size=2, verbose=0)
    np.testing.assert_array_equal(fastmask.get_mask(got), np.ones((6, 3), bool))


def test_outputs_that_do_not_fit_fall_back_to_concatenating():
    """Batches whose outputs change trailing shape (a dynamic-length model: here the
    time axis cut at the batch's longest sequence) or dtype go back to the old way,
    np.concatenate of the parts (Keras's numpy backend concatenates too): its error
    for shapes that differ, its dtype promotion otherwise."""

    class Trim(Layer):
        def call(self, x):
            keep = int(np.max(np.nonzero(np.any(x != 0, axis=0))[0], initial=0)) + 1
            return x[:, :keep] * 1.0

        def compute_output_shape(self, s):
            return (s[0], None)

    inp = fastmask.Input((None,))
    model = fastmask.Model(inp, Trim()(inp))
    for first, second in ((5, 3), (2, 4)):
        x = np.zeros((6, 5), "float32")
        x[:2, :first] = 1
        x[2:, :second] = 2
        with pytest.raises(ValueError, match="dimension"):
            model.predict(x, batch_size=2, verbose=0)
    z = np.ones((7, 5), "float32")
    np.testing.assert_array_equal(model.predict(z, batch_size=2, verbose=0), z)

    class Widen(Layer):
        def call(self, x):
            return x.astype("float64") if x[0, 0] > 1 else x * 1.0

    inp = fastmask.Input((3,))
    model = fastmask.Model(inp, Widen()(inp))
    x = np.ones((6, 3), "float32")
    x[2:, 0] = 2.5
    got = model.predict(x, batch_size=2, verbose=0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, x)


def test_one_batch_is_not_copied():
    """One batch: the layer's own output array is returned (no copy of it)."""
    seen = []

    class Spy(Layer):
        def call(self, x):
            y = x * 2.0
            seen.append(y)
            return y

    inp = fastmask.Input((4,))
    model = fastmask.Model(inp, Spy()(inp))
    x = np.ones((3, 4), "float32")
    out = model.predict(x, verbose=0)
    assert np.shares_memory(out, seen[-1])


def test_one_batch_of_plain_arrays_takes_the_short_path(monkeypatch, capsys):
    """One batch of unmasked arrays (all samples <= batch_size, no `steps` cut) runs
    `Model._predict_one`, with Keras's numbers, the arrays themselves as the batch and
    the progress bar of one step; `steps` cutting the samples, several batches or a
    masked input take the general path."""
    from fastmask.models.model import Model
    k, f = _pair(dict_model)
    rng = np.random.default_rng(3)
    x = {"a": rng.standard_normal((5, 7)).astype("float32"),
         "b": rng.standard_normal((5, 3, 7)).astype("float32")}
    taken, batches = [], []
    real_one, real_call = Model._predict_one, type(f).__call__
    monkeypatch.setattr(Model, "_predict_one",
                        lambda self, *a: taken.append(1) or real_one(self, *a))
    monkeypatch.setattr(type(f), "__call__",
                        lambda self, inp, **kw: batches.append(inp) or real_call(self, inp, **kw))
    want = k.predict(x, batch_size=5, verbose=0)
    for bs in (5, 32):
        got = f.predict(x, batch_size=bs, verbose=0)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], atol=ATOL, rtol=1e-5)
    assert taken == [1, 1] and all(b["a"] is x["a"] and b["b"] is x["b"] for b in batches)
    f.predict(x, batch_size=5, verbose=1)
    out = capsys.readouterr().out
    assert "1/1" in out and "/step" in out
    f.predict(x, batch_size=5, verbose=2)
    assert capsys.readouterr().out.count("\n") == 1
    f.predict(x, batch_size=5)
    assert capsys.readouterr().out == "" and len(taken) == 5
    got = f.predict(x, batch_size=3, steps=1, verbose=0)       # 3 of 5 samples
    assert got["head"].shape == (3, 2) and len(taken) == 5
    np.testing.assert_allclose(got["head"], want["head"][:3], atol=ATOL, rtol=1e-5)
    f.predict(x, batch_size=2, verbose=0)
    xm = {key: fastmask.with_mask(v, np.ones(v.shape[:2], bool)) for key, v in x.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the model drops the masks (it says so)
        f.predict(xm, batch_size=5, verbose=0)
    assert len(taken) == 5


def test_outputs_never_alias_inputs_or_each_other():
    """One batch whose output is the input itself (Identity) or the same tensor
    twice: the caller still gets arrays of its own."""
    inp = fastmask.Input((4,))
    model = fastmask.Model(inp, fastmask.layers.Identity()(inp))
    x = np.arange(8, dtype="float32").reshape(2, 4)
    out = model.predict(x, verbose=0)
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(out, x)
    d = fastmask.layers.Dense(3)(inp)
    twice = fastmask.Model(inp, [d, d])
    a, b = twice.predict(x, verbose=0)
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)
    a, b = twice.predict(np.ones((9, 4), "float32"), batch_size=2, verbose=0)
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("build", [transformer, masked_lstm])
@pytest.mark.parametrize("batch_size", [4, 64])
def test_a_result_is_not_changed_by_later_calls(build, batch_size):
    k, f = _pair(build)
    rng = np.random.default_rng(4)
    x1 = _ids(rng, 10, 12 if build is transformer else 9, 30, pad=build is masked_lstm)
    x2 = _ids(rng, 10, x1.shape[1], 30, pad=build is masked_lstm)
    first = f.predict(x1, batch_size=batch_size, verbose=0)
    kept = [np.array(a, copy=True) for a in fastmask.core.tree.flatten(first)]
    called = [np.array(a, copy=True) for a in fastmask.core.tree.flatten(f(x1))]
    f.predict(x2, batch_size=batch_size, verbose=0)
    f(x2)
    for a, b in zip(fastmask.core.tree.flatten(first), kept):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(fastmask.core.tree.flatten(f(x1)), called):
        np.testing.assert_array_equal(a, b)


def test_sequential_and_subclassed_models():
    k = keras().Sequential([keras().Input((5,)), keras().layers.Dense(7, activation="relu"),
                            keras().layers.Dropout(0.5), keras().layers.Dense(3)])
    f = fastmask.Sequential([fastmask.layers.Dense(7, activation="relu"),
                             fastmask.layers.Dropout(0.5), fastmask.layers.Dense(3)])
    x = np.random.default_rng(5).standard_normal((19, 5)).astype("float32")
    f.predict(x[:2], verbose=0)       # builds the deferred graph
    _copy_weights(k, f)
    np.testing.assert_allclose(f.predict(x, batch_size=4, verbose=0),
                               k.predict(x, batch_size=4, verbose=0), atol=ATOL, rtol=1e-5)

    class Sub(fastmask.Model):
        def __init__(self):
            super().__init__()
            self.d = fastmask.layers.Dense(3)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    got = sub.predict(x, batch_size=4, verbose=0)
    np.testing.assert_allclose(got, x @ sub.d.kernel.numpy() + sub.d.bias.numpy(), atol=ATOL)


def test_steps_limits_the_samples():
    k, f = _pair(dict_model)
    rng = np.random.default_rng(6)
    x = {"a": rng.standard_normal((10, 7)).astype("float32"),
         "b": rng.standard_normal((10, 3, 7)).astype("float32")}
    got = f.predict(x, batch_size=3, steps=2, verbose=0)
    want = k.predict({key: v[:6] for key, v in x.items()}, batch_size=3, verbose=0)
    for key in want:
        assert got[key].shape[0] == 6
        np.testing.assert_allclose(got[key], want[key], atol=ATOL, rtol=1e-5)


# -- the out= protocol of the layers


def _offered(layer, out, *args, **kwargs):
    res = layer._call_into(out, *args, **kwargs)
    return res, np.shares_memory(res, out)


def test_layers_write_into_an_offered_array():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 5, 8)).astype("float32")
    dense = fastmask.layers.Dense(4, activation="relu")
    want = dense(x)
    out = np.full((3, 5, 4), np.nan, "float32")
    res, written = _offered(dense, out, x)
    assert written
    np.testing.assert_array_equal(out, want)

    ln = fastmask.layers.LayerNormalization()
    want = ln(x)
    out = np.empty_like(x)
    res, written = _offered(ln, out, x)
    assert written
    np.testing.assert_array_equal(out, want)

    mha = fastmask.layers.MultiHeadAttention(2, 4)
    want = mha(x, x, use_causal_mask=True)
    out = np.empty((3, 5, 8), "float32")
    res, written = _offered(mha, out, x, x, use_causal_mask=True)
    assert written
    np.testing.assert_allclose(out, want, atol=1e-6)


def test_identity_like_layers_pass_their_input_through_at_inference():
    x = np.random.default_rng(11).standard_normal((2, 3, 4)).astype("float32")
    for layer in (fastmask.layers.Dropout(0.5), fastmask.layers.Identity(),
                  fastmask.layers.Activation("linear")):
        assert np.shares_memory(layer(x), x)
        assert np.shares_memory(layer(x, training=False), x)
    inp = fastmask.Input((3, 4))
    model = fastmask.Model(inp, fastmask.layers.Dropout(0.5)(fastmask.layers.Dense(4)(inp)))
    got = model.predict(x, batch_size=1, verbose=0)
    np.testing.assert_allclose(got, model(x), atol=1e-6)


def test_an_unusable_offer_is_ignored():
    x = np.ones((2, 6), "float32")
    dense = fastmask.layers.Dense(3)
    want = dense(x)
    for bad in (np.empty((2, 4), "float32"), np.empty((2, 3), "float64"),
                np.empty((3, 2), "float32").T, np.empty((2, 3), "float32")[::1, :]):
        res, written = _offered(dense, bad if bad.shape == (2, 3) else bad, x)
        if bad.dtype != np.float32 or bad.shape != (2, 3) or not bad.flags.c_contiguous:
            assert not written
        np.testing.assert_array_equal(res, want)
    overlapping = np.ones((2, 6), "float32")
    ln = fastmask.layers.LayerNormalization()
    want = ln(overlapping)
    res, written = _offered(ln, overlapping, overlapping)   # the input itself: not used
    assert not written
    np.testing.assert_array_equal(res, want)
    # The offer is for that layer's call only: a nested or later call sees nothing.
    inner = fastmask.layers.Dense(3)
    inner(x)
    out = np.empty((2, 3), "float32")
    fastmask.layers.Identity()._call_into(out, x)
    assert inner._take_out() is None


def test_last_dense_writes_into_predicts_rows():
    """From the second batch on, the Dense producing the output writes into the
    rows of predict's output (no copy): counted through the kernel."""
    import importlib
    prepared = importlib.import_module("fastmask.kernels.dense").PreparedDense
    calls = []
    real = prepared.__call__

    def counting(self, x, out=None, n_threads=None):
        res = real(self, x, out=out, n_threads=n_threads)
        if self.w.shape[1] == 5:     # the output Dense (the first may run planned)
            calls.append(out is not None)
        return res

    inp = fastmask.Input((6,))
    model = fastmask.Model(inp, fastmask.layers.Dense(5)(fastmask.layers.Dense(4)(inp)))
    x = np.random.default_rng(8).standard_normal((10, 6)).astype("float32")
    want = model(x)
    prepared.__call__ = counting
    try:
        got = model.predict(x, batch_size=3, verbose=0)
    finally:
        prepared.__call__ = real
    np.testing.assert_allclose(got, want, atol=1e-6)
    # 4 batches: the first batch allocates; batches 2-4 write their output.
    assert calls == [False, True, True, True]


# -- memory and threads


def test_multi_batch_peak_memory_is_about_the_output():
    """No concatenate doubling: predict's peak traced memory over a multi-batch run
    stays within 1.2x the output (before: the batch results plus their concatenation,
    about 2x)."""
    inp = fastmask.Input((8,))
    model = fastmask.Model(inp, fastmask.layers.Dense(2000)(inp))
    x = np.random.default_rng(9).standard_normal((400, 8)).astype("float32")
    model.predict(x[:4], verbose=0)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = model.predict(x, batch_size=16, verbose=0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert out.nbytes == 400 * 2000 * 4
    assert peak <= 1.2 * out.nbytes, (peak, out.nbytes)


def test_threads_predicting_on_one_model():
    k, f = _pair(transformer)
    rng = np.random.default_rng(10)
    inputs = [_ids(rng, n, 12, 50) for n in (7, 13, 21, 30)]
    want = [[np.array(a) for a in f.predict(x, batch_size=4, verbose=0)] for x in inputs]
    got = [None] * 4
    errors = []

    def work(i):
        try:
            for _ in range(3):
                got[i] = f.predict(inputs[i], batch_size=4 + (i % 2), verbose=0)
                for a, b in zip(got[i], want[i]):
                    np.testing.assert_allclose(a, b, atol=1e-6)
        except Exception as e:   # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, x in enumerate(inputs):
        for a, b in zip(got[i], k.predict(x, verbose=0)):
            np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)


# -- recycled one-batch outputs (OutputPool)


def _vocab_model(units=4096, E=16):
    inp = fastmask.Input((E,))
    return fastmask.Model(inp, fastmask.layers.Dense(units)(inp))


def _address(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("batch_size", [100, 32])
def test_a_dropped_output_is_written_again(batch_size):
    """A predict (one batch, or several) whose large output nobody holds any more
    writes the next output of that shape into its memory (no fresh pages), with the
    new values."""
    model = _vocab_model()
    rng = np.random.default_rng(20)
    x1, x2 = (rng.standard_normal((100, 16)).astype("float32") for _ in range(2))
    first = model.predict(x1, batch_size=batch_size, verbose=0)
    where = _address(first)
    del first
    second = model.predict(x2, batch_size=batch_size, verbose=0)
    assert _address(second) == where
    np.testing.assert_allclose(second, model(x2), rtol=1e-6, atol=1e-6)  # x2's, not x1's
    assert second.flags.owndata and second.flags.writeable


def test_a_held_output_or_view_is_never_written_again():
    """The caller's result, or any view of it, keeps its memory out of the pool: later
    predicts return other memory and the held values do not change."""
    model = _vocab_model()
    rng = np.random.default_rng(21)
    xs = [rng.standard_normal((100, 16)).astype("float32") for _ in range(4)]
    held = model.predict(xs[0], batch_size=100, verbose=0)
    kept = held.copy()
    view = model.predict(xs[1], batch_size=100, verbose=0)[3:5, ::7]     # only a view of the 2nd result
    kept_view = view.copy()
    for x in xs[2:]:
        y = model.predict(x, batch_size=100, verbose=0)
        assert not np.shares_memory(y, held) and not np.shares_memory(y, view)
    np.testing.assert_array_equal(held, kept)
    np.testing.assert_array_equal(view, kept_view)


def test_a_predict_loop_alternates_two_buffers():
    """`y = model.predict(x)` in a loop: the previous result is still bound while the
    next is computed, so two buffers alternate; every result is right."""
    model = _vocab_model()
    rng = np.random.default_rng(22)
    addresses = set()
    y = None
    for _ in range(6):
        x = rng.standard_normal((100, 16)).astype("float32")
        y = model.predict(x, batch_size=100, verbose=0)
        np.testing.assert_array_equal(y, model(x))
        addresses.add(_address(y))
    assert len(addresses) == 2
    assert len(fastmask.models.predict_outputs.output_pool(model)) <= 2


def test_pool_keeps_only_large_plain_outputs_and_is_not_state():
    """Small outputs are not kept (malloc reuses them anyway); the pool is emptied by
    pickling and copying, and is freed with the model."""
    import copy
    import gc
    import pickle
    import weakref
    small = _vocab_model(units=8)
    small.predict(np.ones((4, 16), "float32"), verbose=0)
    assert len(fastmask.models.predict_outputs.output_pool(small)) == 0
    model = _vocab_model()
    y = model.predict(np.ones((100, 16), "float32"), batch_size=100, verbose=0)
    assert len(fastmask.models.predict_outputs.output_pool(model)) == 1
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        pool = clone.__dict__.get("_fm_output_pool")
        assert pool is None or len(pool) == 0
        np.testing.assert_allclose(clone.predict(np.ones((100, 16), "float32"), batch_size=100,
                                                 verbose=0), y,
                                   rtol=1e-6, atol=1e-6)
    gone = weakref.ref(y)
    del y, model
    gc.collect()
    assert gone() is None


def test_pack_as_leaves_no_reference_cycle():
    """pack_as frees its leaves as soon as its result is dropped (no cyclic GC needed):
    a recursive closure used to keep them alive until the collector ran."""
    import gc
    import weakref
    from fastmask.core.tree import pack_as
    leaf = np.ones(3)
    gone = weakref.ref(leaf)
    gc.disable()
    try:
        out = pack_as([(0, {"a": 0})], [np.zeros(1), leaf])
        assert out[0][1]["a"] is leaf
        del out, leaf
        assert gone() is None
    finally:
        gc.enable()
