"""Weights derived once, not on every call (issue 16): read-only `Variable`s with a write
version, and the per-layer `WeightCache` of packed recurrent kernels and joined Q|K|V
projections.

The oracle is Keras 3.15.1 on its numpy backend with the same weights; "packed once"
is counted by wrapping the packing functions (`_recurrent.pack`,
`attention.join_projections`), never timed.
"""
import copy
import pickle
import threading

import numpy as np
import pytest

import fastmask
from fastmask import layers
from fastmask.core import weight_swap
from fastmask.kernels import _isa, _recurrent
from fastmask.kernels import attention as _att
from fastmask.layers.weight_cache import WeightCache
from oracle import assert_outputs_close, keras
from seeds import stable_rng

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

RNNS = [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}), ("SimpleRNN", {})]


def _count_calls(monkeypatch, module, name, arg):
    """Replace module.name by a wrapper recording its positional argument `arg` of every
    call in the list returned."""
    calls = []
    real = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args[arg])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.fixture
def packs(monkeypatch):
    """Counts `_recurrent.pack` calls (the packing every recurrent call did before)."""
    return _count_calls(monkeypatch, _recurrent, "pack", 0)


@pytest.fixture
def joins(monkeypatch):
    """Counts `attention.join_projections` calls (MHA's Q|K|V join)."""
    calls = []
    real = _att.join_projections

    def counting(w, names, dtype):
        calls.append(names)
        return real(w, names, dtype)

    monkeypatch.setattr(_att, "join_projections", counting)
    return calls


def _pair(name, *args, **kwargs):
    return getattr(keras().layers, name)(*args, **kwargs), getattr(layers, name)(*args, **kwargs)


def _randomized(weights, rng, scale=0.5):
    return [(rng.standard_normal(w.shape) * scale).astype(w.dtype) for w in weights]


# ----------------------------------------------------------------- Variable writes
def test_variable_data_is_read_only_outside_writes():
    layer = layers.Dense(3)
    layer.build((None, 4))
    kernel = layer.kernel
    before = kernel.numpy()
    # Keras 3.15.1's variables: `layer.kernel[0] = 1` is a TypeError (no item assignment).
    with pytest.raises(TypeError, match="does not support item assignment"):
        kernel[0] = 1
    for write in (lambda: np.copyto(kernel, 0.0), lambda: kernel.value.__setitem__(0, 1.0),
                  lambda: np.asarray(kernel).__setitem__(0, 1.0),
                  lambda: np.add(kernel, 1, out=kernel),
                  lambda: kernel.value.fill(2.0)):
        with pytest.raises(ValueError, match="read-only"):
            write()
    np.testing.assert_array_equal(kernel.numpy(), before)
    assert not kernel.value.flags.writeable and not np.asarray(kernel).flags.writeable
    # Copies handed out stay the user's to write.
    got = layer.get_weights()[0]
    got[0] = 7.0
    assert kernel.numpy()[0, 0] != 7.0 or before[0, 0] == 7.0
    assert kernel.numpy().flags.writeable


def test_every_write_moves_the_version_on():
    rng, _ = stable_rng("versions")
    layer = layers.Dense(3)
    layer.build((None, 4))
    k = layer.kernel
    seen = [k._version, layer.bias._version]
    assert len(set(seen)) == 2          # two variables never share a number

    def moved():
        v = k._version
        assert v not in seen
        seen.append(v)

    value = rng.standard_normal((4, 3)).astype(np.float32)
    k.assign(value)
    moved()
    np.testing.assert_array_equal(k.numpy(), value)
    k.assign_add(np.ones((4, 3)))
    moved()
    np.testing.assert_allclose(k.numpy(), value + 1, rtol=1e-6)
    k.assign_sub(np.full((4, 3), 2.0))
    moved()
    np.testing.assert_allclose(k.numpy(), value - 1, rtol=1e-6)
    layer.set_weights([value * 3, np.zeros(3, np.float32)])
    moved()
    np.testing.assert_array_equal(k.numpy(), value * 3)
    fresh = fastmask.Variable(np.zeros((2,), np.float32))
    assert fresh._version not in seen and not fresh.value.flags.writeable


def test_keras_assign_add_sub_agree():
    kv = keras().Variable(np.arange(4.0, dtype=np.float32))
    fv = fastmask.Variable(np.arange(4.0, dtype=np.float32))
    kv.assign_add(np.full(4, 1.5, np.float32))
    fv.assign_add(np.full(4, 1.5, np.float32))
    kv.assign_sub(np.full(4, 0.25, np.float32))
    fv.assign_sub(np.full(4, 0.25, np.float32))
    np.testing.assert_array_equal(np.asarray(kv.numpy()), fv.numpy())


# ----------------------------------------------------------------- recurrent layers
@pytest.mark.parametrize("name,extra", RNNS)
def test_recurrent_layer_packs_once_and_follows_every_write(name, extra, packs, tmp_path):
    rng, _ = stable_rng("rnn-cache", name, extra)
    k, f = _pair(name, 6, return_sequences=True, **extra)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]], bool)
    k(x)
    f(x)
    f.set_weights(k.get_weights())
    packs.clear()
    for _ in range(5):
        assert_outputs_close(k(x, mask=mask), f(x, mask=mask))
    assert len(packs) == 1, packs

    # set_weights: a new pack, then reused.
    k.set_weights(_randomized(k.get_weights(), rng))
    f.set_weights(k.get_weights())
    for _ in range(3):
        assert_outputs_close(k(x, mask=mask), f(x, mask=mask))
    assert len(packs) == 2, packs

    # assign on the recurrent kernel alone.
    value = _randomized([k.cell.recurrent_kernel.numpy()], rng)[0]
    k.cell.recurrent_kernel.assign(value)
    f.cell.recurrent_kernel.assign(value)
    for _ in range(3):
        assert_outputs_close(k(x, mask=mask), f(x, mask=mask))
    assert len(packs) == 3, packs

    # A bias write changes no packed kernel (the bias is not packed) but the result.
    if f.cell.bias is not None:
        bias = _randomized([k.cell.bias.numpy()], rng)[0]
        k.cell.bias.assign(bias)
        f.cell.bias.assign(bias)
        assert_outputs_close(k(x, mask=mask), f(x, mask=mask))

    # Weights loaded from a file Keras wrote.
    km = keras().Sequential([keras().Input((5, 4)), k])
    fm = fastmask.Sequential([fastmask.Input((5, 4)), f])
    k.set_weights(_randomized(k.get_weights(), rng))
    km.save_weights(tmp_path / "k.weights.h5")
    n = len(packs)
    fm.load_weights(tmp_path / "k.weights.h5")
    for _ in range(3):
        assert_outputs_close(km.predict(x, verbose=0), fm.predict(x, verbose=0))
    assert len(packs) == n + 1, packs


def test_recurrent_cache_keyed_by_isa(packs):
    supported = [n for n in _isa.cpu_supported() if n in _recurrent.compiled_isas()]
    if len(supported) < 2:
        pytest.skip(f"one ISA variant runs here ({supported})")
    rng, _ = stable_rng("rnn-cache-isa")
    k, f = _pair("LSTM", 8)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    k(x)
    f(x)
    f.set_weights(k.get_weights())
    previous = _isa.set_isa(supported[0])
    try:
        packs.clear()
        assert_outputs_close(k(x), f(x))
        assert_outputs_close(k(x), f(x))
        assert len(packs) == 1
        _isa.set_isa(supported[-1])
        assert_outputs_close(k(x), f(x))
        assert_outputs_close(k(x), f(x))
        assert len(packs) == 2
    finally:
        _isa.set_isa(previous)


def test_float64_layer_packs_its_own_dtype(packs):
    rng, _ = stable_rng("rnn-cache-f64")
    k, f = _pair("GRU", 5, dtype="float64")
    x = rng.standard_normal((2, 4, 3))
    k(x)
    f(x)
    f.set_weights(k.get_weights())
    packs.clear()
    for _ in range(3):
        y = f(x)
        assert y.dtype == np.float64
        assert_outputs_close(k(x), y)
    assert len(packs) == 1
    assert f.cell._weight_cache._entries["packed"][1].dtype == np.float64


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_bidirectional_packs_each_half_once(name, packs):
    rng, _ = stable_rng("birnn-cache", name)
    kb = keras().layers.Bidirectional(getattr(keras().layers, name)(5, return_sequences=True))
    fb = layers.Bidirectional(getattr(layers, name)(5, return_sequences=True))
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3, [0] + [1] * 4 + [0]], bool)
    kb(x)
    fb(x)
    fb.set_weights(kb.get_weights())
    packs.clear()
    for _ in range(4):
        assert_outputs_close(kb(x, mask=mask), fb(x, mask=mask))
    assert len(packs) == 2, packs          # one per direction, then reused
    # A write to the backward half repacks that half only.
    value = _randomized([kb.backward_layer.cell.kernel.numpy()], rng)[0]
    kb.backward_layer.cell.kernel.assign(value)
    fb.backward_layer.cell.kernel.assign(value)
    for _ in range(3):
        assert_outputs_close(kb(x, mask=mask), fb(x, mask=mask))
    assert len(packs) == 3, packs
    kb.set_weights(_randomized(kb.get_weights(), rng))
    fb.set_weights(kb.get_weights())
    assert_outputs_close(kb(x, mask=mask), fb(x, mask=mask))
    assert len(packs) == 5, packs


# ----------------------------------------------------------------- MultiHeadAttention
def _mha_pair(rng, **kw):
    km = keras().layers.MultiHeadAttention(2, 4, **kw)
    fm = layers.MultiHeadAttention(2, 4, **kw)
    q = rng.standard_normal((2, 5, 6)).astype(np.float32)
    v = rng.standard_normal((2, 7, 6)).astype(np.float32)
    km(q, v)
    fm(q, v)
    fm.set_weights(km.get_weights())
    return km, fm, q, v


def _write_kernel(km, fm, projection, rng):
    """The same new random values into projection `projection`'s kernel of both layers."""
    value = _randomized([getattr(km, projection).kernel.numpy()], rng)[0]
    getattr(km, projection).kernel.assign(value)
    getattr(fm, projection).kernel.assign(value)


@pytest.mark.parametrize("use_bias", [True, False])
def test_mha_joins_projections_once(use_bias, joins):
    rng, _ = stable_rng("mha-cache", use_bias)
    km, fm, q, v = _mha_pair(rng, use_bias=use_bias)
    vmask = np.array([[1] * 7, [1] * 4 + [0] * 3], bool)
    joins.clear()
    for _ in range(4):
        assert_outputs_close(km(q, q), fm(q, q))                   # one Q|K|V GEMM
        assert_outputs_close(km(q, v), fm(q, v))                   # Q, then K|V
        assert_outputs_close(km(q, v, value_mask=vmask), fm(q, v, value_mask=vmask))
    assert sorted(set(joins)) == [("key", "value"), ("query",), ("query", "key", "value")]
    assert len(joins) == 3, joins
    # A write to the key kernel: the joins holding it are made again, ("query",) is not.
    _write_kernel(km, fm, "_key_dense", rng)
    joins.clear()
    for _ in range(3):
        assert_outputs_close(km(q, q), fm(q, q))
        assert_outputs_close(km(q, v), fm(q, v))
    assert sorted(joins) == [("key", "value"), ("query", "key", "value")], joins
    km.set_weights(_randomized(km.get_weights(), rng))
    fm.set_weights(km.get_weights())
    assert_outputs_close(km(q, q), fm(q, q))


def test_mha_packs_its_projections_once(monkeypatch):
    """The small-GEMM packs of the joined Q|K|V kernel and of the output kernel are
    made once, and again only for the kernels written (the output kernel here)."""
    import fastmask.layers.attention.multi_head_attention as mha_module
    packs = []
    real = mha_module.pack_kernel

    def counting(kernel, dtype=None):
        packs.append(kernel.shape)
        return real(kernel, dtype)

    monkeypatch.setattr(mha_module, "pack_kernel", counting)
    rng, _ = stable_rng("mha-pack-cache")
    km, fm, q, _ = _mha_pair(rng)
    qmask = np.array([[1] * 5, [1] * 3 + [0] * 2], bool)      # padding skipped (compact)
    packs.clear()
    for _ in range(3):
        assert_outputs_close(km(q, q), fm(q, q))
        assert_outputs_close(km(q, q, value_mask=qmask), fm(q, q, value_mask=qmask))
    # Q|K|V (E, 3*H*D) and (H*D, E); the compact path gathers the kept queries and the
    # kept keys apart: Q (E, H*D) and K|V (E, 2*H*D). Each packed once.
    assert sorted(packs) == [(6, 8), (6, 16), (6, 24), (8, 6)], packs
    _write_kernel(km, fm, "_output_dense", rng)
    packs.clear()
    for _ in range(3):
        assert_outputs_close(km(q, q), fm(q, q))
    assert packs == [(8, 6)], packs


def test_mha_after_loading_weights(tmp_path, joins):
    rng, _ = stable_rng("mha-cache-load")
    km, fm, q, _ = _mha_pair(rng)
    kq = keras().Input((5, 6))
    kmodel = keras().Model(kq, km(kq, kq))
    fq = fastmask.Input((5, 6))
    fmodel = fastmask.Model(fq, fm(fq, fq))
    assert_outputs_close(kmodel.predict(q, verbose=0), fmodel.predict(q, verbose=0))
    kmodel.set_weights(_randomized(kmodel.get_weights(), rng))
    kmodel.save_weights(tmp_path / "m.weights.h5")
    fmodel.load_weights(tmp_path / "m.weights.h5")
    joins.clear()
    for _ in range(3):
        assert_outputs_close(kmodel.predict(q, verbose=0), fmodel.predict(q, verbose=0))
    assert len(joins) == 1


# ----------------------------------------------------------------- Dense
def _write_and_compare(k, f, x, rng, names):
    """set_weights, then an assign to each weight in `names`, in the Keras layer k and
    the fastmask layer f alike: after each, their outputs on x must agree."""
    k.set_weights(_randomized(k.get_weights(), rng))
    f.set_weights(k.get_weights())
    assert_outputs_close(k(x), f(x))
    for name in names:
        value = _randomized([getattr(k, name).numpy()], rng)[0]
        getattr(k, name).assign(value)
        getattr(f, name).assign(value)
        assert_outputs_close(k(x), f(x))


@pytest.fixture
def dense_preps(monkeypatch):
    """Counts `prepare_dense` calls made by Dense layers (weights resolved once),
    recording the activation of each."""
    import fastmask.layers.core.dense as dense_layer
    return _count_calls(monkeypatch, dense_layer, "prepare_dense", 2)


def test_dense_prepares_once_and_follows_every_write(dense_preps):
    rng, _ = stable_rng("dense-cache")
    k, f = _pair("Dense", 6, activation="relu")
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    k(x)
    f(x)
    f.set_weights(k.get_weights())
    dense_preps.clear()
    for _ in range(3):
        assert_outputs_close(k(x), f(x))
    assert len(dense_preps) == 1
    _write_and_compare(k, f, x, rng, ["bias", "kernel"])
    assert len(dense_preps) == 4, dense_preps
    # the activation set after construction (Keras allows it) is the one applied
    k.activation = keras().activations.tanh
    f.activation = fastmask.activations.tanh
    assert_outputs_close(k(x), f(x))
    assert dense_preps[-1] is fastmask.activations.tanh


def test_layer_norm_follows_every_write_and_setting():
    rng, _ = stable_rng("ln-cache")
    k, f = _pair("LayerNormalization", epsilon=1e-6)
    x = (rng.standard_normal((3, 5, 8)) * 2 + 1).astype(np.float32)
    k(x)
    f(x)
    _write_and_compare(k, f, x, rng, ["beta", "gamma"])
    k.epsilon = f.epsilon = 0.5          # a setting changed after the first calls
    assert_outputs_close(k(x), f(x))


@pytest.mark.parametrize("make", [
    lambda: (layers.MultiHeadAttention(2, 4), 2), lambda: (layers.Dense(3), 1),
    lambda: (layers.LayerNormalization(), 1), lambda: (layers.LSTM(3), 1)])
def test_weight_caches_make_no_reference_cycle(make):
    """A layer with filled weight caches is freed as soon as it is dropped, without the
    cyclic GC (the MHA's cached weights dict reaches the cache through a weak reference)."""
    import gc
    import weakref
    x = np.ones((2, 5, 6), np.float32)
    gc.collect()
    gc.disable()
    try:
        layer, n_inputs = make()
        for _ in range(2):
            layer(*([x] * n_inputs))
        assert len(layer._weight_cache if n_inputs == 2 or not hasattr(layer, "cell")
                   else layer.cell._weight_cache) > 0
        ref = weakref.ref(layer)
        del layer
        assert ref() is None
    finally:
        gc.enable()


# ----------------------------------------------------------------- threads
def _race(layer, call, weight_sets, expected, n_calls=60):
    """A writer alternates `weight_sets` with `set_weights` while this thread calls
    `call()`; each result must be the one of the weights in force during that call."""
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set():
                i = (i + 1) % len(weight_sets)
                layer.set_weights(weight_sets[i])
        except Exception as e:   # pragma: no cover - reported below
            errors.append(e)

    first = layer.weights[0]
    marks = [w[0].reshape(-1)[0] for w in weight_sets]
    t = threading.Thread(target=writer)
    t.start()
    seen = set()
    try:
        for _ in range(n_calls):
            with weight_swap.reading():   # the weights cannot change inside this block
                which = marks.index(first.value.reshape(-1)[0])
                y = call()
            seen.add(which)
            np.testing.assert_array_equal(y, expected[which])
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    return seen


def test_dense_calls_racing_set_weights_never_see_stale_weights():
    rng, _ = stable_rng("race-dense")
    k, f = keras().layers.Dense(5), layers.Dense(5)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    k(x)
    f(x)
    sets = [_randomized(k.get_weights(), rng) for _ in range(3)]
    expected = []
    for ws in sets:
        fresh = layers.Dense(5)
        fresh(x)
        fresh.set_weights(ws)
        expected.append(np.asarray(fresh(x)))
    assert _race(f, lambda: np.asarray(f(x)), sets, expected), "no call ran"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_calls_racing_set_weights_never_see_a_stale_pack(bidirectional):
    rng, _ = stable_rng("race-rnn", bidirectional)
    make = lambda lib: (lib.layers.Bidirectional(lib.layers.LSTM(6)) if bidirectional
                        else lib.layers.LSTM(6))
    k, f = make(keras()), make(fastmask)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    k(x)
    f(x)
    sets = [_randomized(k.get_weights(), rng) for _ in range(3)]
    expected = []
    for ws in sets:   # fresh layers: nothing cached from another set
        fresh = make(fastmask)
        fresh(x)
        fresh.set_weights(ws)
        expected.append(np.asarray(fresh(x)))
        k.set_weights(ws)
        assert_outputs_close(k(x), expected[-1])
    seen = _race(f, lambda: np.asarray(f(x)), sets, expected)
    assert seen, "no call ran"


def test_mha_calls_racing_set_weights_never_see_a_stale_join():
    rng, _ = stable_rng("race-mha")
    km, fm, q, _ = _mha_pair(rng)
    sets = [_randomized(km.get_weights(), rng) for _ in range(3)]
    expected = []
    for ws in sets:
        fresh = layers.MultiHeadAttention(2, 4)
        fresh(q, q)
        fresh.set_weights(ws)
        expected.append(np.asarray(fresh(q, q)))
        km.set_weights(ws)
        assert_outputs_close(km(q, q), expected[-1])
    _race(fm, lambda: np.asarray(fm(q, q)), sets, expected)


def test_cache_entry_made_during_a_write_is_not_reused():
    """A pack made while a write is under way is stored under the numbers read before it,
    so the first read after the write makes a new one."""
    var = fastmask.Variable(np.zeros(3, np.float32))
    cache = WeightCache()
    made = []

    def make():
        made.append(var.numpy())
        var.assign(np.ones(3))            # the write lands while this entry is made
        return made[-1]

    assert cache.get("s", [var], None, make)[0] == 0.0
    assert cache.get("s", [var], None, lambda: var.numpy())[0] == 1.0


# ----------------------------------------------------------------- not state
def test_cache_is_not_pickled_copied_or_configured():
    rng, _ = stable_rng("cache-not-state")
    f = layers.LSTM(4)
    m = layers.MultiHeadAttention(2, 3)
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    y, ym = f(x), m(x, x)
    assert sorted(f.cell._weight_cache._entries) == ["packed", "recurrence"]
    assert sorted(map(str, m._weight_cache._entries)) == sorted(map(str, [
        # the weights dict, the Q|K|V join, 2 packs, 2 prepared projections, the
        # prepared self-attention of x's shape
        "weights_dict", ("join", "query", "key", "value"), ("pack", "query", "key", "value"),
        ("pack", "output"), ("prepared", "query", "key", "value"), ("prepared", "output"),
        "self_attention"]))
    assert "_weight_cache" not in f.get_config() and "_weight_cache" not in m.get_config()
    for clone in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
        cache = clone.cell.__dict__.get("_weight_cache")
        assert cache is None or len(cache) == 0
        np.testing.assert_array_equal(clone(x), y)
    clone = pickle.loads(pickle.dumps(m))
    assert "_weight_cache" not in clone.__dict__
    np.testing.assert_array_equal(clone(x, x), ym)
    assert [w.shape for w in f.get_weights()] == [w.shape for w in f.weights]
