"""Pickling of layers/models, and `fastmask.dask.predict` (threads and a 2-process cluster)."""
import pickle

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, layers

cloudpickle = pytest.importorskip("cloudpickle")
da = pytest.importorskip("dask.array")
import fastmask.dask  # noqa: E402  (optional module: imported explicitly)

VOCAB = 40


def _ids(rng, n=50, t=11):
    lengths = rng.integers(0, t + 1, size=n)
    keep = np.arange(t)[None, :] < lengths[:, None]
    keep[::3] = keep[::3, ::-1]                    # some rows pre-padded
    keep[1::7, 2] = False                          # holes
    return np.where(keep, rng.integers(1, VOCAB, size=(n, t)), 0).astype("int32")


class ScaleMasked(layers.Layer):
    """An unregistered custom layer (pickles with the model)."""

    def __init__(self, factor=1.5, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.supports_masking = True

    def call(self, x):
        return self.factor * x

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def bilstm(seed=0, extra_outputs=False):
    inp = fastmask.Input((None,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(inp)
    x = ScaleMasked()(x)
    seq = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(x)
    x = layers.GlobalAveragePooling1D()(seq)
    out = layers.Dense(3)(x)
    model = fastmask.Model(inp, [out, seq] if extra_outputs else out)
    rng = np.random.default_rng(seed)
    model.set_weights([0.4 * rng.standard_normal(w.shape).astype("float32")
                       for w in model.weights])
    return model


def two_inputs():
    a = fastmask.Input((None,), dtype="int32")
    b = fastmask.Input((None, 3))
    xa = layers.Embedding(VOCAB, 3, mask_zero=True)(a)
    xb = layers.Masking()(b)
    x = layers.Concatenate(axis=1)([xa, xb])
    return fastmask.Model([a, b], layers.GRU(4, return_sequences=True)(x))


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- pickling

@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_models_pickle(dumps):
    rng = np.random.default_rng(1)
    ids = _ids(rng)
    model = bilstm()
    clone = pickle.loads(dumps(model))
    assert clone is not model and clone.name == model.name
    assert type(clone.layers[2]) is ScaleMasked and clone.layers[2].supports_masking
    _close(model.predict(ids, verbose=0), clone.predict(ids, verbose=0))
    two = two_inputs()
    feats = rng.standard_normal((50, 4, 3)).astype("float32")
    feats[:, -1] = 0
    x = [ids, feats]
    clone = pickle.loads(dumps(two))
    _close(two(x), clone(x))
    np.testing.assert_array_equal(get_mask(two(x)), get_mask(clone(x)))
    seq = fastmask.Sequential([layers.Embedding(VOCAB, 4, mask_zero=True), layers.SimpleRNN(3)])
    seq(ids)                                       # built on its first call
    _close(seq(ids), pickle.loads(dumps(seq))(ids))


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(3), lambda: layers.LSTM(4, return_sequences=True),
    lambda: layers.Bidirectional(layers.GRU(2)), lambda: layers.TimeDistributed(layers.Dense(2)),
    lambda: layers.MultiHeadAttention(2, 3), lambda: layers.LayerNormalization()],
    ids=["Dense", "LSTM", "Bidirectional", "TimeDistributed", "MultiHeadAttention",
         "LayerNormalization"])
def test_layers_pickle(make):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 5)).astype("float32")
    mask = rng.random((4, 6)) < 0.7

    def run(layer):
        if isinstance(layer, layers.MultiHeadAttention):
            return layer(x, x, query_mask=mask, value_mask=mask)
        return layer(fastmask.with_mask(x, mask))

    layer = make()
    out = run(layer)
    clone = pickle.loads(pickle.dumps(layer))
    _close(out, run(clone))
    # Weights come back as fastmask Variables, shared where they were.
    assert all(type(w).__name__ == "Variable" for w in clone.weights)
    assert [w.path for w in clone.weights] == [w.path for w in layer.weights]
    if clone.weights:
        clone.weights[0].assign(np.zeros(clone.weights[0].shape))
        assert not np.any(clone.weights[0])
        assert np.any(layer.weights[0])


def test_lambda_layer_pickles_with_cloudpickle():
    layer = layers.Lambda(lambda t: t * 2 + 1)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    _close(layer(x), cloudpickle.loads(cloudpickle.dumps(layer))(x))


# --------------------------------------------------------------------------- dask

# The explicit mask below reaches the Functional model itself, which does not support
# masking: it warns that it drops that mask, as Keras does (not what this test checks).
@pytest.mark.filterwarnings("ignore:Layer '.*' \\(of type Functional\\) was passed an input "
                            "with a mask:UserWarning")
def test_dask_predict_matches_predict():
    rng = np.random.default_rng(3)
    ids = _ids(rng, n=70)
    model = bilstm(extra_outputs=True)
    ref = model.predict(ids, verbose=0)
    chunked = da.from_array(ids, chunks=(16, 4))       # chunked on time too: rechunked
    (out, seq), (out_mask, seq_mask) = fastmask.dask.predict(model, chunked, return_mask=True,
                                                             batch_size=5)
    assert out.chunks[0] == (16, 16, 16, 16, 6) and len(seq.chunks[1]) == 1
    assert out_mask is None
    _close(out.compute(), ref[0])
    _close(seq.compute(), ref[1])
    np.testing.assert_array_equal(seq_mask.compute(), get_mask(ref[1]))
    # NumPy input, explicit mask, n_threads.
    mask = ids != 0
    mask[:, 0] = False
    ref2 = model.predict(fastmask.with_mask(ids, mask), verbose=0)
    got = fastmask.dask.predict(model, ids, mask=mask, rows_per_block=32, n_threads=1)
    _close(got[0].compute(), ref2[0])


def test_dask_predict_multi_input_and_errors():
    rng = np.random.default_rng(4)
    ids = _ids(rng, n=30, t=5)
    feats = rng.standard_normal((30, 4, 3)).astype("float32")
    model = two_inputs()
    ref = model([ids, feats])
    out, mask = fastmask.dask.predict(
        model, [da.from_array(ids, chunks=(7, 5)), da.from_array(feats, chunks=(10, 2, 3))],
        return_mask=True)
    _close(out.compute(), ref)
    np.testing.assert_array_equal(mask.compute(), get_mask(ref))
    with pytest.raises(ValueError, match="same number of rows"):
        fastmask.dask.predict(model, [ids, feats[:5]])
    with pytest.raises(ValueError, match="batch_size"):
        fastmask.dask.predict(model, [ids, feats], batch_size=0)
    with pytest.raises(TypeError, match="fastmask model"):
        fastmask.dask.predict(object(), ids)
    with pytest.raises(ValueError, match="does not match"):
        fastmask.dask.predict(bilstm(), ids, mask=np.ones((30, 2), bool))


def test_dask_distributed_cluster_matches_local_predict():
    distributed = pytest.importorskip("dask.distributed")
    rng = np.random.default_rng(5)
    ids = _ids(rng, n=300, t=20)
    model = bilstm()
    ref = model.predict(ids, verbose=0)
    lazy = fastmask.dask.predict(model, da.from_array(ids, chunks=(64, 20)))
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        got = client.compute(lazy).result(timeout=60)
        workers = {w for w in client.run(lambda: 1)}
    assert len(workers) == 2
    _close(got, ref)
