"""Execution plans (`fastmask/models/execution_plan.py`): a Functional model's inference
calls compiled per input signature must give the general path's results and masks bit
for bit, be reused per signature, bounded (LRU), dropped when a layer changes, safe
with many threads, and never used for training=True.

Oracles: the general path (`Functional._plan_cache_size = 0` turns plans off: the
plan must reproduce it exactly) and, for the masked models built here, Keras 3.15.1
on its numpy backend (`oracle.keras()`).
"""
import threading
import warnings

import numpy as np
import pytest

import fastmask
import keras_io
from fastmask import get_mask, with_mask
from fastmask.layers import planned_call
from fastmask.models import execution_plan
from fastmask.models.functional import Functional
from oracle import assert_masks_equal, assert_outputs_close, k_get_mask, keras

pytestmark = [
    pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
    pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning"),
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


# ------------------------------------------------------------------ helpers

class _PlanRuns:
    """Counts `ExecutionPlan.run` calls while active."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = execution_plan.ExecutionPlan.run

        def run(plan, *args, **kwargs):
            self.count += 1
            return original(plan, *args, **kwargs)
        monkeypatch.setattr(execution_plan.ExecutionPlan, "run", run)


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else list(x.values()) \
        if isinstance(x, dict) else [x]


def _assert_identical(got, want):
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert type(g) is type(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        gm, wm = get_mask(g), get_mask(w)
        assert (gm is None) == (wm is None)
        if wm is not None:
            assert gm.dtype == wm.dtype
            np.testing.assert_array_equal(gm, wm)


def _general(fn, monkeypatch):
    """fn() with plans turned off (the general path)."""
    with monkeypatch.context() as m:
        m.setattr(Functional, "_plan_cache_size", 0)
        return fn()


def _graphs(model):
    """The Functional graphs in `model` (itself, a Sequential's, nested ones)."""
    found = []
    for layer in model._flatten_layers():
        graph = layer if isinstance(layer, Functional) else layer.__dict__.get("_functional")
        if isinstance(graph, Functional) and graph not in found:
            found.append(graph)
    return found


def _check_plan_matches_general(model, x, monkeypatch, **call_kwargs):
    """model(x) and predict(x) through the plan equal the general path's, bit for bit;
    returns the planned call's output."""
    want = _general(lambda: model(x, **call_kwargs), monkeypatch)
    want_p = _general(lambda: model.predict(x, verbose=0), monkeypatch)
    runs = _PlanRuns(monkeypatch)
    model(x, **call_kwargs)             # compiles (general path, recorded)
    got = model(x, **call_kwargs)       # runs the plan
    _assert_identical(got, want)
    model.predict(x, verbose=0)
    _assert_identical(model.predict(x, verbose=0), want_p)
    if _graphs(model):
        assert runs.count >= 1
    return got


# ------------------------------------------------------------------ keras-io models

def _keras_io_inputs(case, rng, batch=3):
    x = keras_io.inputs(case, batch, rng)
    masked = keras_io.module(case).MASKED
    return x, (keras_io.masked_inputs(case, rng) if masked else None)


@pytest.mark.parametrize("case", list(keras_io.CASES))
def test_keras_io_models_plan_equals_general_path(case, monkeypatch):
    rng = np.random.default_rng(0)
    model = keras_io.example(case, fastmask).build()
    x, padded = _keras_io_inputs(case, rng)
    _check_plan_matches_general(model, x, monkeypatch)
    if padded is not None:
        _check_plan_matches_general(model, padded, monkeypatch)
    compiled = [graph._plans.compiled for graph in _graphs(model)]
    for graph in _graphs(model):
        assert 1 <= len(graph._plans) <= graph._plan_cache_size
    model(x)
    model.predict(x, verbose=0)     # nothing in a call moves the structure epoch
    assert [graph._plans.compiled for graph in _graphs(model)] == compiled


# ------------------------------------------------------------------ masked models

def _ids(rng, b=4, t=7, vocab=9):
    ids = rng.integers(1, vocab, (b, t))
    ids[0, 4:] = 0           # post-padding
    ids[1, :3] = 0           # pre-padding
    ids[2, 2] = 0            # a hole
    ids[3, :] = 0            # a fully padded row
    return ids.astype("int32")


def _masked_rnn_stack(M):
    inp = M.Input((None,), dtype="int32")
    x = M.layers.Embedding(9, 6, mask_zero=True)(inp)
    x = M.layers.LSTM(5, return_sequences=True)(x)
    x = M.layers.GRU(4, return_sequences=True)(x)
    x = M.layers.Bidirectional(M.layers.LSTM(3, return_sequences=True))(x)
    x = M.layers.Dense(2)(x)
    return M.Model(inp, x)


def _masking_stack(M):
    return M.Sequential([M.Input((None, 3)), M.layers.Masking(0.0),
                         M.layers.LSTM(4, return_sequences=True), M.layers.Dropout(0.5),
                         M.layers.GRU(3), M.layers.Dense(2, activation="softmax")])


def _mha_model(M):
    inp = M.Input((None,), dtype="int32")
    x = M.layers.Embedding(9, 8, mask_zero=True)(inp)
    a = M.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    x = M.layers.LayerNormalization()(M.layers.Add()([x, a]))
    x = M.layers.GlobalAveragePooling1D()(x)
    return M.Model(inp, M.layers.Dense(3)(x))


def _multi_io_shared(M):
    a = M.Input((None,), dtype="int32", name="a")
    b = M.Input((None,), dtype="int32", name="b")
    emb = M.layers.Embedding(9, 4, mask_zero=True)
    shared = M.layers.Dense(4, activation="tanh")
    xa, xb = shared(emb(a)), shared(emb(b))
    ya = M.layers.LSTM(3)(xa)
    yb = M.layers.Dense(2)(M.layers.Concatenate()([xa, xb]))
    return M.Model([a, b], [ya, yb])


def _nested(M):
    inner = M.Sequential([M.layers.Dense(4), M.layers.Dense(3)])
    inner_in = M.Input((None, 3))
    inner_f = M.Model(inner_in, M.layers.Dense(2)(inner_in))
    inp = M.Input((None, 5))
    return M.Model(inp, inner_f(inner(inp)))


MODELS = {"masked_rnn": (_masked_rnn_stack, "ids"), "masking": (_masking_stack, "floats"),
          "mha": (_mha_model, "ids"), "multi_io_shared": (_multi_io_shared, "two_ids"),
          "nested": (_nested, "floats5")}


def _data(kind, rng):
    if kind == "ids":
        return _ids(rng)
    if kind == "two_ids":
        return [_ids(rng), _ids(rng)[:, ::-1].copy()]
    x = rng.standard_normal((4, 6, 3 if kind == "floats" else 5)).astype("float32")
    if kind == "floats":
        x[0, 3:] = 0.0
        x[1, :2] = 0.0
        x[3] = 0.0
    return x


@pytest.mark.parametrize("name", list(MODELS))
def test_masked_models_plan_equals_general_and_keras(name, monkeypatch):
    build, kind = MODELS[name]
    rng = np.random.default_rng(3)
    x = _data(kind, rng)
    km, fm = build(keras()), build(fastmask)
    fm.set_weights(km.get_weights())
    got = _check_plan_matches_general(fm, x, monkeypatch)
    k_out = km(x)
    assert_outputs_close(k_out, got)
    assert_masks_equal([k_get_mask(o) for o in _flat(k_out)], [get_mask(o) for o in _flat(got)])


@pytest.mark.filterwarnings("ignore:Layer 'sequential")   # Keras's: a model drops a mask
def test_mask_given_to_the_model_is_part_of_the_signature(monkeypatch):
    rng = np.random.default_rng(5)
    model = _masking_stack(fastmask)
    x = rng.standard_normal((3, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool)
    graph = model._functional
    for _ in range(2):
        _assert_identical(model(with_mask(x, mask)),
                          _general(lambda: model(with_mask(x, mask)), monkeypatch))
        _assert_identical(model(x, mask=mask), _general(lambda: model(x, mask=mask),
                                                        monkeypatch))
        _assert_identical(model(x), _general(lambda: model(x), monkeypatch))
    assert len(graph._plans) == 2       # with and without a mask (same shapes)
    assert graph._plans.compiled == 2


# ------------------------------------------------------------------ the cache

def test_a_plan_is_reused_per_signature_and_made_per_batch_size(monkeypatch):
    # The plan cache itself: the model's planned call (layers/planned_call.py) would
    # take the plan it holds for any inference signature of that shape.
    monkeypatch.setattr(planned_call, "ENABLED", False)
    rng = np.random.default_rng(1)
    model = _masked_rnn_stack(fastmask)
    ids = _ids(rng)
    runs = _PlanRuns(monkeypatch)
    for _ in range(4):
        model(ids)
    assert model._plans.compiled == 1 and len(model._plans) == 1 and runs.count == 3
    model(ids[:2])
    model(ids[:2])
    assert model._plans.compiled == 2 and len(model._plans) == 2 and runs.count == 4
    model(ids, training=False)          # training=False is another signature than None
    assert model._plans.compiled == 3
    model.predict(ids, verbose=0)       # predict calls with training=False: same plan
    assert model._plans.compiled == 3 and runs.count == 5


def test_signature_keys_shape_dtype_and_mask_presence():
    x32 = np.zeros((2, 3), np.float32)
    x64 = np.zeros((2, 3), np.float64)
    key = execution_plan.signature_of
    assert key([x32], None) != key([x64], None)
    assert key([x32], None) != key([x32[:1]], None)
    assert key([x32], None) != key([with_mask(x32, np.ones((2,), bool))], None)
    assert key([x32], None) != key([x32], False)
    assert key([x32, None], None) != key([x32, x32], None)
    assert key([x32], True) is None                       # training: no plan
    assert key([fastmask.KerasTensor((2, 3))], None) is None


def test_the_cache_is_an_lru_of_a_few_signatures(monkeypatch):
    monkeypatch.setattr(planned_call, "ENABLED", False)    # (as above)
    monkeypatch.setattr(Functional, "_plan_cache_size", 2)
    model = _nested(fastmask)
    x = np.ones((5, 2, 5), np.float32)
    for b in (1, 2, 3):
        model(x[:b])
    keys = model._plans.keys()
    assert len(keys) == 2
    assert [k[1][0][0] for k in keys] == [2, 3]     # batch 1 was the least recent
    model(x[:2])                                    # batch 2 becomes the most recent
    model(x[:4])
    assert [k[1][0][0] for k in model._plans.keys()] == [2, 4]
    model.clear_plans()
    assert len(model._plans) == 0


def test_a_changed_layer_drops_the_plans(monkeypatch):
    rng = np.random.default_rng(2)
    model = _nested(fastmask)
    x = rng.standard_normal((3, 4, 5)).astype("float32")
    model(x)
    model(x)
    assert len(model._plans) == 1
    dense = model.layers[-1].layers[-1]             # inner_f's Dense: the output layer
    dense.dtype_policy = "float64"                  # the plan cast inputs to float32
    got = model(x)
    want = _general(lambda: model(x), monkeypatch)
    assert got.dtype == np.float64
    _assert_identical(got, want)
    assert model._plans.compiled == 2
    model(x)
    _assert_identical(model(x), want)
    # trainable, a rebuilt layer: the plans are made again.
    before = model._plans.compiled
    dense.trainable = False
    model(x)
    model.layers[-1].build((None, None, 3))
    model(x)
    assert model._plans.compiled == before + 2


def test_predict_into_rows_with_several_batches(monkeypatch):
    rng = np.random.default_rng(4)
    model = _mha_model(fastmask)
    ids = np.concatenate([_ids(rng) for _ in range(3)])
    runs = _PlanRuns(monkeypatch)
    for batch_size in (4, 5):
        want = _general(lambda: model.predict(ids, batch_size=batch_size, verbose=0),
                        monkeypatch)
        for _ in range(2):
            _assert_identical(model.predict(ids, batch_size=batch_size, verbose=0), want)
    assert runs.count >= 6


def test_training_true_does_not_use_a_plan(monkeypatch):
    model = _masking_stack(fastmask)
    x = np.ones((2, 5, 3), np.float32)
    runs = _PlanRuns(monkeypatch)
    for _ in range(3):
        model(x, training=True)
    assert runs.count == 0 and len(model._functional._plans) == 0


def test_profile_still_times_every_layer():
    model = _masked_rnn_stack(fastmask)
    ids = _ids(np.random.default_rng(0))
    model.predict(ids, verbose=0)
    model.predict(ids, verbose=0)               # a plan exists for this signature
    prof = fastmask.profile(model, ids, print_fn=lambda *a: None)
    calls = {row.name: row.calls for row in prof.rows}
    assert all(calls[layer.name] == 1 for layer in model.layers[1:])


def test_eight_threads_with_different_batch_sizes(monkeypatch):
    rng = np.random.default_rng(6)
    model = _mha_model(fastmask)
    ids = np.concatenate([_ids(rng) for _ in range(2)])      # 8 rows
    want = {b: _general(lambda b=b: model(ids[:b]), monkeypatch) for b in range(1, 9)}
    errors = []
    start = threading.Barrier(8)

    def work(b):
        try:
            start.wait()
            for i in range(15):
                got = model(ids[:b]) if i % 2 else model.predict(ids[:b], verbose=0)
                _assert_identical(got, want[b])
        except Exception as e:      # noqa: BLE001  (reported below)
            errors.append(e)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=work, args=(b,)) for b in range(1, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:1]
    assert 1 <= len(model._plans) <= model._plan_cache_size
