"""Planned calls (`fastmask/layers/planned_call.py`): a built-in layer's inference call
worked out once per input shape and dtype must give the general path's result bit for
bit (same dtype, type and mask), be used on the next calls, and be dropped or bypassed
whenever the general path would compute something else: a weight written, an attribute
set (on the layer or its cell), a module setting changed, `training=True`, an output
buffer offered, a mask, another layout.

Oracle: the general path (`planned_call.ENABLED = False`); Keras conformance of these
layers is in their family's tests, which run through the planned calls too.
"""
import threading

import numpy as np
import pytest

import fastmask
import keras_io
from fastmask import get_mask, layers, with_mask
from fastmask.layers import planned_call
from fastmask.layers.weight_cache import weight_cache

pytestmark = [
    pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
    pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning"),
    pytest.mark.filterwarnings("ignore:Argument `alpha` is deprecated:UserWarning"),
]


def _general(fn):
    """fn() with planned calls off."""
    saved = planned_call.ENABLED
    planned_call.ENABLED = False
    try:
        return fn()
    finally:
        planned_call.ENABLED = saved


class _Runs:
    """Counts the runs of a layer's planned call for one shape."""

    def __init__(self, layer, shape):
        self.plan = weight_cache(layer).planned[shape]
        assert self.plan.run is not None, "no planned call was made"
        self.count = 0
        run = self.plan.run

        def counted(x):
            self.count += 1
            return run(x)
        self.plan.run = counted


def assert_same(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b, strict=True)
    ma, mb = get_mask(a), get_mask(b)
    assert (ma is None) == (mb is None)
    if ma is not None:
        np.testing.assert_array_equal(ma, mb, strict=True)


rng = np.random.default_rng(7)


def _floats(shape, dtype="float32"):
    return rng.standard_normal(shape).astype(dtype)


CASES = {
    "dense_relu_3d": (lambda: layers.Dense(24, activation="relu"), (2, 5, 16), "float32"),
    "dense_softmax_2d": (lambda: layers.Dense(10, activation="softmax"), (3, 16), "float32"),
    "dense_linear_f64": (lambda: layers.Dense(8, dtype="float64"), (4, 7), "float64"),
    "dense_no_bias": (lambda: layers.Dense(8, use_bias=False, activation="tanh"), (1, 6, 5),
                      "float32"),
    "layer_norm": (lambda: layers.LayerNormalization(epsilon=1e-6), (2, 9, 32), "float32"),
    "layer_norm_rms": (lambda: layers.LayerNormalization(rms_scaling=True), (3, 16), "float32"),
    "layer_norm_f64": (lambda: layers.LayerNormalization(dtype="float64"), (2, 5, 8),
                       "float64"),
    "embedding": (lambda: layers.Embedding(50, 8), (2, 11), "int64"),
    "embedding_mask_zero": (lambda: layers.Embedding(50, 8, mask_zero=True), (2, 11), "int32"),
    "embedding_float_ids": (lambda: layers.Embedding(50, 8), (2, 11), "float32ids"),
    "dropout": (lambda: layers.Dropout(0.5), (2, 4, 3), "float32"),
    "global_average_pooling": (lambda: layers.GlobalAveragePooling1D(), (2, 5, 4), "float32"),
    "global_average_pooling_first": (
        lambda: layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True),
        (2, 5, 4), "float32"),
    "repeat_vector": (lambda: layers.RepeatVector(3), (2, 5), "float32"),
    "lstm": (lambda: layers.LSTM(12), (2, 7, 5), "float32"),
    "lstm_sequences_backwards": (lambda: layers.LSTM(12, return_sequences=True,
                                                     go_backwards=True), (1, 6, 4), "float32"),
    "lstm_bool_inputs": (lambda: layers.LSTM(16), (3, 7, 12), "bool"),
    "gru": (lambda: layers.GRU(9, return_sequences=True), (2, 5, 3), "float32"),
    "gru_f64": (lambda: layers.GRU(6, dtype="float64"), (2, 4, 3), "float64"),
    "simple_rnn": (lambda: layers.SimpleRNN(7), (1, 8, 2), "float32"),
}


def _input(shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.3
    if dtype == "float32ids":        # (a float Input feeding an Embedding, as in keras-io)
        return rng.integers(0, 50, size=shape).astype("float32") + 0.5
    if dtype.startswith("int"):
        x = rng.integers(0, 50, size=shape).astype(dtype)
        x[..., -2:] = 0         # padding ids (Embedding's mask_zero)
        return x
    return _floats(shape, dtype)


@pytest.mark.parametrize("case", sorted(CASES))
def test_planned_call_gives_the_general_paths_result(case):
    make, shape, dtype = CASES[case]
    layer = make()
    x = _input(shape, dtype)
    first = layer(x)                     # builds the layer (general path)
    assert_same(layer(x), first)         # general path; plans the call
    runs = _Runs(layer, x.shape)
    planned = layer(x)
    assert runs.count == 1
    assert_same(planned, _general(lambda: layer(x)))
    assert_same(planned, first)
    # Another array of the same shape: the planned call, the general path's numbers.
    y = _input(shape, dtype)
    assert_same(layer(y), _general(lambda: layer(y)))
    assert runs.count == 2
    # training=False given explicitly takes it too.
    assert_same(layer(y, training=False), _general(lambda: layer(y)))
    assert runs.count == 3


@pytest.mark.parametrize("case", ["dense_relu_3d", "layer_norm", "lstm", "gru", "embedding"])
def test_a_written_weight_drops_the_planned_call(case):
    make, shape, dtype = CASES[case]
    layer = make()
    x = _input(shape, dtype)
    layer(x)
    layer(x)
    before = layer(x)
    for v in layer.weights:
        v.assign(_floats(v.shape, v.dtype))
    after = layer(x)                     # general path again; plans anew
    assert not np.array_equal(after, before)
    assert_same(after, _general(lambda: layer(x)))
    # Planned again for the new weights, and used.
    runs = _Runs(layer, x.shape)
    assert_same(layer(x), after)
    assert runs.count == 1


def test_set_weights_and_an_attribute_set_drop_it():
    layer = layers.Dense(6, activation="relu")
    x = _floats((2, 5))
    layer(x)
    layer(x)
    layer.set_weights([w * 2 for w in layer.get_weights()])
    assert_same(layer(x), _general(lambda: layer(x)))
    layer.activation = fastmask.activations.get("sigmoid")
    out = layer(x)
    assert out.min() > 0 and out.max() < 1            # sigmoid, not relu
    assert_same(out, _general(lambda: layer(x)))


def test_a_cell_attribute_set_drops_the_rnns_planned_call():
    layer = layers.LSTM(5, return_sequences=True)
    x = _floats((2, 4, 3))
    layer(x)
    layer(x)
    layer.cell.activation = fastmask.activations.get("relu")
    out = layer(x)
    assert_same(out, _general(lambda: layer(x)))
    layer.go_backwards = True
    assert_same(layer(x), _general(lambda: layer(x)))


def test_dropout_in_training_is_not_planned_away():
    layer = layers.Dropout(0.5, seed=3)
    x = np.ones((4, 64), "float32")
    layer(x)
    assert layer(x) is x
    out = layer(x, training=True)
    assert (out == 0).any() and (out == 2).any()
    # Inside a model called with training=True the inner call resolves to training.
    model = fastmask.Sequential([fastmask.Input((64,)), layer])
    model(x)
    out = model(x, training=True)
    assert (out == 0).any()


def test_masked_noncontiguous_and_other_shapes_take_the_general_path():
    layer = layers.Dense(4)
    x = _floats((3, 6, 8))
    layer(x)
    layer(x)
    runs = _Runs(layer, x.shape)
    mask = np.array([[True] * 6, [True] * 3 + [False] * 3, [False] * 6])
    masked = layer(with_mask(x, mask))
    assert runs.count == 0
    np.testing.assert_array_equal(get_mask(masked), mask)
    strided = _floats((3, 6, 16))[..., ::2]
    assert_same(layer(strided), _general(lambda: layer(strided)))
    assert runs.count == 1           # the planned call declined that layout
    other = _floats((2, 6, 8))
    assert_same(layer(other), _general(lambda: layer(other)))
    assert runs.count == 1
    cast = x.astype("float64")        # cast to the compute dtype first: general path
    assert_same(layer(cast), _general(lambda: layer(cast)))
    assert runs.count == 1


def test_a_module_setting_change_is_seen():
    from fastmask.kernels import dense as dense_kernels
    import importlib
    dk = importlib.import_module("fastmask.kernels.dense")
    layer = layers.Dense(16)
    x = _floats((4, 32))
    layer(x)
    layer(x)
    assert dk.last_path == "small"
    saved = dk.FORCE_PATH
    dk.FORCE_PATH = "blas"
    try:
        out = layer(x)
        assert dk.last_path == "blas"
        assert_same(out, _general(lambda: layer(x)))
    finally:
        dk.FORCE_PATH = saved
    del dense_kernels


def test_a_model_of_planned_layers_chains_their_planned_calls(monkeypatch):
    from fastmask.models import execution_plan
    inputs = fastmask.Input((7, 12))
    h = layers.LSTM(16)(inputs)
    h = layers.RepeatVector(4)(h)
    h = layers.LSTM(16, return_sequences=True)(h)
    out = layers.Dense(12, activation="softmax")(h)
    model = fastmask.Model(inputs, out)
    x = (rng.random((5, 7, 12)) < 0.3)             # bool one-hot: cast to the Input's dtype
    reference = _general(lambda: model.predict(x, batch_size=2, verbose=0))
    model.predict(x, batch_size=2, verbose=0)
    model.predict(x, batch_size=2, verbose=0)
    plan_runs = [0]
    real_run = execution_plan.ExecutionPlan.run

    def counting(plan, *args):
        plan_runs[0] += 1
        return real_run(plan, *args)
    monkeypatch.setattr(execution_plan.ExecutionPlan, "run", counting)
    runs = _Runs(model, (2, 7, 12))
    got = model.predict(x, batch_size=2, verbose=0)
    np.testing.assert_array_equal(got, reference, strict=True)
    # Batches 2 and 3 chain the layers' planned calls (the first writes nothing into
    # predict's rows; from the second on the rows are offered: the plan writes them).
    assert runs.count == 2
    for _ in range(3):
        np.testing.assert_array_equal(model(x[:2]), reference[:2], strict=True)
    assert runs.count == 5
    chained_before = plan_runs[0]
    model(x[:2])
    assert plan_runs[0] == chained_before            # no execution plan: the chain
    # A layer's weight written: the model's planned call is stale, the general path runs.
    dense = model.layers[-1]
    dense.kernel.assign(dense.kernel.value * 2)
    np.testing.assert_array_equal(model(x[:2]), _general(lambda: model(x[:2])), strict=True)
    # A link that declines its input (another layout) makes the chain run the plan.
    small = fastmask.Sequential([fastmask.Input((5, 3)), layers.LSTM(4), layers.Dense(2)])
    y = _floats((2, 5, 3))
    for _ in range(3):
        small(y)
    strided = _floats((2, 5, 6))[..., ::2]
    before = plan_runs[0]
    got = small(strided)
    assert plan_runs[0] == before + 1
    np.testing.assert_array_equal(got, _general(lambda: small(strided)), strict=True)
    before = plan_runs[0]
    small(y)
    assert plan_runs[0] == before


def test_many_threads_share_planned_calls():
    layer = layers.GRU(8, return_sequences=True)
    xs = [_floats((2, 6, 5)) for _ in range(8)]
    expected = [_general(lambda x=x: layer(x)) for x in xs]
    layer(xs[0])
    _Runs(layer, xs[0].shape)
    errors = []

    def work():
        try:
            for _ in range(20):
                for x, e in zip(xs, expected):
                    np.testing.assert_array_equal(layer(x), e, strict=True)
        except Exception as exc:   # pragma: no cover (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_planned_calls_are_not_state():
    import copy
    import pickle
    layer = layers.Dense(3)
    x = _floats((2, 4))
    layer(x)
    layer(x)
    assert weight_cache(layer).planned
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert not weight_cache(clone).planned
        assert_same(clone(x), layer(x))
    assert "planned" not in str(layer.get_config())


def test_planned_shapes_are_bounded():
    layer = layers.Dense(2)
    for n in range(1, 3 * planned_call.MAX_PLANS):
        layer(_floats((n, 3)))
    assert 0 < len(weight_cache(layer).planned) <= planned_call.MAX_PLANS


def test_self_attention_is_planned_for_x_x_only():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=8)
    x = _floats((2, 6, 16))
    layer(x, x)
    first = layer(x, x)
    plan = weight_cache(layer).planned[planned_call.self_key(x)]
    assert plan.run is not None
    count = [0]
    run = plan.run

    def counted(x):
        count[0] += 1
        return run(x)
    plan.run = counted
    assert_same(layer(x, x), first)
    assert_same(layer(x, x), _general(lambda: layer(x, x)))
    assert count[0] == 2
    other = x.copy()                               # value is not query: general path
    assert_same(layer(x, other), _general(lambda: layer(x, other)))
    causal = layer(x, x, use_causal_mask=True)     # a keyword: general path
    assert_same(causal, _general(lambda: layer(x, x, use_causal_mask=True)))
    masked = with_mask(x, np.arange(6)[None, :] < np.array([[6], [3]]))
    assert_same(layer(masked, masked), _general(lambda: layer(masked, masked)))
    assert count[0] == 2
    layer._query_dense.kernel.assign(_floats(layer._query_dense.kernel.shape))
    assert_same(layer(x, x), _general(lambda: layer(x, x)))
    assert not np.array_equal(layer(x, x), first)


def _masked_model():
    inputs = fastmask.Input((None,), dtype="int32")
    h = layers.Embedding(30, 8, mask_zero=True)(inputs)
    h = layers.LSTM(6, return_sequences=True)(h)
    h = layers.Dropout(0.2)(h)
    return fastmask.Model(inputs, layers.Dense(3)(h))


def test_models_plan_their_calls_with_masks_and_outputs_as_the_general_path():
    model = _masked_model()
    x = rng.integers(1, 30, size=(3, 7)).astype("int32")
    x[1, 4:] = 0
    x[2, :] = 0                                      # all-masked row
    reference = _general(lambda: model(x))
    model(x)
    model(x)
    runs = _Runs(model, x.shape)
    for _ in range(2):
        assert_same(model(x), reference)
    assert runs.count == 2
    got = model.predict(x, verbose=0)                # training=False, output pool
    np.testing.assert_array_equal(got, _general(lambda: model.predict(x, verbose=0)))
    # Nested: a Sequential called inside a custom layer's call.
    ffn = fastmask.Sequential([layers.Dense(5, activation="relu"), layers.Dense(4)])

    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.ffn = ffn
            self.drop = layers.Dropout(0.5)

        def call(self, x, training=False):
            return self.drop(self.ffn(x), training=training) + x[..., :4]

    block = Block()
    y = _floats((2, 3, 6))
    expected = _general(lambda: block(y))
    block(y)
    block(y)
    runs = _Runs(ffn, y.shape)
    assert_same(block(y), expected)
    assert runs.count == 1
    trained = block(y, training=True)                 # the Dropout inside sees training
    assert not np.array_equal(trained, expected)


@pytest.mark.parametrize("shape", [(2, 11), (64, 300)])     # NumPy's take; the kernel
def test_planned_embedding_wraps_negative_ids_and_reports_bad_ones(shape):
    layer = layers.Embedding(50, 8, mask_zero=True)
    ids = rng.integers(-50, 50, size=shape).astype("int32")
    layer(ids)
    layer(ids)
    runs = _Runs(layer, ids.shape)
    assert_same(layer(ids), _general(lambda: layer(ids)))
    bad = ids.copy()
    bad[1, 3] = 50
    with pytest.raises(IndexError, match=r"id 50 at position \(1, 3\), out of range"):
        layer(bad)
    assert runs.count == 2


@pytest.mark.parametrize("decoder,threads,batch,dtype", [
    (lambda d: layers.LSTM(16, return_sequences=True, dtype=d), 1, 5, "float32"),
    (lambda d: layers.LSTM(16, return_sequences=True, dtype=d), 2, 64, "float32"),
    (lambda d: layers.GRU(8, go_backwards=True, dtype=d), 2, 3, "float32"),
    (lambda d: layers.GRU(8, return_sequences=True, reset_after=False, dtype=d), 1, 2,
     "float32"),
    (lambda d: layers.SimpleRNN(6, return_sequences=True, dtype=d), 2, 33, "float32"),
    (lambda d: layers.LSTM(16, return_sequences=True, dtype=d), 1, 4, "float64"),
])
def test_a_repeated_vector_feeds_the_recurrence_without_being_made(
        monkeypatch, decoder, threads, batch, dtype):
    from fastmask.kernels import recurrent as kr
    model = fastmask.Sequential([fastmask.Input((7, 12), dtype=dtype),
                                 layers.LSTM(16, dtype=dtype), layers.RepeatVector(4, dtype=dtype),
                                 decoder(dtype), layers.Dense(5, dtype=dtype)])
    x = (rng.random((batch, 7, 12)) < 0.3)
    saved = fastmask.get_num_threads()
    fastmask.set_num_threads(threads)
    try:
        reference = _general(lambda: model.predict(x, verbose=0))
        for _ in range(3):
            model.predict(x, verbose=0)
        calls = [0]
        real = kr.run_repeated

        def counting(*args, **kwargs):
            calls[0] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(kr, "run_repeated", counting)
        got = model.predict(x, verbose=0)
    finally:
        fastmask.set_num_threads(saved)
    assert calls[0] == 1                     # the decoder ran on the unrepeated vector
    np.testing.assert_array_equal(got, reference, strict=True)   # bit for bit


def test_a_repeated_vector_also_used_elsewhere_is_made():
    inputs = fastmask.Input((7, 3))
    v = layers.LSTM(4)(inputs)
    r = layers.RepeatVector(2)(v)
    out = layers.LSTM(4, return_sequences=True)(r)
    model = fastmask.Model(inputs, [out, r])       # the repeat is an output too
    x = _floats((2, 7, 3))
    reference = _general(lambda: model(x))
    for _ in range(3):
        got = model(x)
    for a, b in zip(got, reference):
        np.testing.assert_array_equal(a, b, strict=True)


@pytest.mark.parametrize("case", list(keras_io.CASES))
def test_keras_io_models_keep_their_planned_calls_in_a_steady_loop(case):
    """Nothing in an inference call sets a layer attribute or writes a weight (which
    would make every planned call stale, and each call plan again), and the planned
    calls give the general path's numbers."""
    from fastmask.layers import layer_weights
    rng = np.random.default_rng(0)
    model = keras_io.example(case, fastmask).build()
    x = keras_io.inputs(case, 3, rng)
    reference = _general(lambda: model.predict(x, verbose=0))
    for _ in range(3):
        model.predict(x, verbose=0)
        model(x)
    made = []
    real_init = planned_call.PlannedCall.__init__

    def counting(self, *args, **kwargs):
        made.append(args)
        real_init(self, *args, **kwargs)
    epochs = (layer_weights._epoch[0], layer_weights._attribute_epoch[0])
    planned_call.PlannedCall.__init__ = counting
    try:
        for _ in range(3):
            got = model.predict(x, verbose=0)
            model(x)
    finally:
        planned_call.PlannedCall.__init__ = real_init
    assert not made
    assert (layer_weights._epoch[0], layer_weights._attribute_epoch[0]) == epochs
    for a, b in zip(flatten_outputs(got), flatten_outputs(reference)):
        np.testing.assert_array_equal(a, b, strict=True)


def flatten_outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]
