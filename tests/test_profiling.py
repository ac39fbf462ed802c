"""fastmask.profile: per-layer times of `predict` (fastmask/profiling.py).

Oracles: the model's own layer lists (every layer appears), arithmetic (shares add
up to the total; FLOPs of Dense and masked LSTM layers from their shapes), and
`time.sleep` (a layer that sleeps has at least that much self time, and its owner
does not count it as its own). No wall-clock upper bounds.
"""
import threading
import time

import numpy as np
import pytest

import fastmask
from fastmask import layers
from fastmask import profiling
from fastmask.layers.layer import Layer

SLEEP = 0.02


class Sleepy(layers.Layer):
    """Identity that sleeps SLEEP seconds per call."""

    def call(self, x):
        time.sleep(SLEEP)
        return x


class Block(layers.Layer):
    """A custom layer owning two sublayers."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)
        self.sleepy = Sleepy()

    def call(self, x):
        return self.sleepy(self.dense(x))


class Subclassed(fastmask.Model):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = layers.Dense(2)

    def call(self, x):
        return self.head(self.block(x))


def _sequential():
    return fastmask.Sequential([fastmask.Input((5,)), layers.Dense(4, activation="relu"),
                                layers.Dense(2)])


def _nested_functional():
    inner = fastmask.Sequential([layers.Dense(3, activation="relu"), layers.Dense(3)],
                                name="inner")
    inp = fastmask.Input((5,))
    x = inner(inp)
    out = layers.Add()([x, layers.Dense(3)(inp)])
    return fastmask.Model(inp, layers.Dense(1)(out))


def _subclassed():
    m = Subclassed()
    m(np.zeros((1, 5), np.float32))
    return m


def _all_layers(model):
    return [layer for layer in model._flatten_layers(include_self=True, recursive=True)
            if type(layer).__name__ != "InputLayer"]


X = np.random.default_rng(0).random((10, 5), dtype=np.float32)


@pytest.mark.parametrize("build", [_sequential, _nested_functional, _subclassed],
                         ids=["sequential", "functional-nested", "subclassed"])
def test_lists_every_layer_and_shares_add_up(build):
    model = build()
    prof = fastmask.profile(model, X, batch_size=4, bounds=False, print_fn=None)
    names = [r.name for r in prof.rows]
    assert names[-1] == "(predict)"
    assert sorted(names[:-1]) == sorted(layer.name for layer in _all_layers(model))
    assert prof.rows[0].name == model.name and prof.rows[0].depth == 0
    assert sum(r.share for r in prof.rows) == pytest.approx(1.0, abs=1e-9)
    assert sum(r.self_time for r in prof.rows) == pytest.approx(prof.total, rel=1e-9)
    assert prof.rows[0].calls == 3                  # 10 rows in batches of 4
    for r in prof.rows:
        assert r.self_time >= 0 and r.total_time >= r.self_time - 1e-12
    text = str(prof)
    assert all(name in text for name in names)


def test_nested_rows_sit_below_their_owner():
    model = _nested_functional()
    prof = fastmask.profile(model, X, batch_size=10, bounds=False, print_fn=None)
    rows = {r.name: r for r in prof.rows}
    inner = rows["inner"]
    assert inner.depth == 1 and inner.calls == 1 and inner.class_name == "Sequential"
    children = [r for r in prof.rows if r.depth == 2]
    assert len(children) == 2 and all(r.calls == 1 for r in children)
    assert inner.total_time == pytest.approx(inner.self_time + sum(r.total_time for r in children))


def test_self_time_excludes_the_layers_called_inside():
    model = _subclassed()
    prof = fastmask.profile(model, X, batch_size=5, bounds=False, print_fn=None)   # 2 batches
    rows = {r.class_name: r for r in prof.rows}
    sleepy, block = rows["Sleepy"], rows["Block"]
    assert sleepy.calls == 2 and sleepy.self_time >= 2 * SLEEP
    assert block.total_time >= 2 * SLEEP
    assert block.self_time < block.total_time - 2 * SLEEP + 1e-9
    assert sleepy.share >= 2 * SLEEP / prof.total - 1e-9


def test_work_of_dense_and_masked_lstm():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 50, size=(6, 9)).astype("int32")
    ids[1, 4:] = 0
    ids[3, 2:] = 0
    inp = fastmask.Input((None,), dtype="int32")
    x = layers.Embedding(50, 8, mask_zero=True)(inp)
    x = layers.LSTM(7)(x)
    model = fastmask.Model(inp, layers.Dense(3)(x))
    prof = fastmask.profile(model, ids, batch_size=6, print_fn=None)
    rows = {r.class_name: r for r in prof.rows}
    steps = int((ids != 0).sum())                      # masked steps are not computed
    assert rows["LSTM"].flops == 2 * steps * (8 + 7) * 4 * 7
    assert rows["Dense"].flops == 2 * 6 * 7 * 3
    assert rows["Embedding"].bytes == ids.nbytes + 2 * 6 * 9 * 8 * 4
    for name in ("LSTM", "Dense", "Embedding"):
        assert rows[name].pct_bound is not None and rows[name].pct_bound > 0
    assert rows["LSTM"].bound == "gemm" and rows["Embedding"].bound == "copy"
    assert prof.bounds["gemm"] > 0 and prof.bounds["copy"] > 0


def test_prints_the_table_and_returns_dicts():
    seen = []
    prof = fastmask.profile(_sequential(), X, print_fn=seen.append, bounds=False)
    assert seen == [str(prof)]
    assert "share" in seen[0] and "(predict)" in seen[0]
    dicts = prof.as_dicts()
    assert [d["name"] for d in dicts] == [r.name for r in prof.rows]


def test_normal_calls_are_untouched_after_profiling():
    original = Layer.__dict__["__call__"]
    model = _subclassed()
    fastmask.profile(model, X, bounds=False, print_fn=None)
    assert Layer.__dict__["__call__"] is original
    assert profiling._PATCHED == {}
    assert not getattr(Layer.__call__, "_fm_profiling", False)


def test_restores_after_an_error():
    class Boom(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.armed = False

        def call(self, x):
            if self.armed:
                raise RuntimeError("boom")
            return x

    boom = Boom()
    model = fastmask.Sequential([fastmask.Input((5,)), boom])
    original = Layer.__dict__["__call__"]
    model.predict(X, verbose=0)
    boom.armed = True
    with pytest.raises(RuntimeError, match="boom"):
        fastmask.profile(model, X, warmup=False, bounds=False, print_fn=None)
    assert Layer.__dict__["__call__"] is original and profiling._PATCHED == {}


def test_other_threads_are_not_timed():
    model = _sequential()
    other = _sequential()
    other.predict(X, verbose=0)
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            model.predict(X, verbose=0)     # the same layers, from another thread

    t = threading.Thread(target=hammer)
    t.start()
    try:
        prof = fastmask.profile(model, X, batch_size=4, bounds=False, print_fn=None)
    finally:
        stop.set()
        t.join()
    assert prof.rows[0].calls == 3


@pytest.mark.parametrize("model", [None, "model", layers.Dense(2)])
def test_bad_model(model):
    with pytest.raises(TypeError, match="Received: model="):
        fastmask.profile(model, X)


def test_bad_print_fn():
    with pytest.raises(TypeError, match="Received: print_fn="):
        fastmask.profile(_sequential(), X, print_fn="stdout")
