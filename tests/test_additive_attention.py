"""AdditiveAttention vs Keras 3.15.1 (NumPy backend): scores, masks (query mask out, value
mask with score - 1e9), causal, return_attention_scores, dtypes, configs, files."""
import numpy as np
import pytest

import fastmask
from fastmask import layers
from layer_conformance import randomize
from oracle import (SHAPES, assert_masks_equal, assert_outputs_close, compare_layer, fm_masks,
                    k_get_mask, keras, random_mask)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _pair(**kwargs):
    return keras().layers.AdditiveAttention(**kwargs), layers.AdditiveAttention(**kwargs)


def _inputs(b, tq, tv, dim=4, seed=0, key=False):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b, tq, dim)).astype(np.float32)
    v = rng.standard_normal((b, tv, dim)).astype(np.float32)
    out = [q, v]
    if key:
        out.append(rng.standard_normal((b, tv, dim)).astype(np.float32))
    return out


@pytest.mark.parametrize("b,t", SHAPES)
@pytest.mark.parametrize("kind", ["none", "post", "pre", "holes", "all_masked_row"])
@pytest.mark.parametrize("kwargs,call", [({}, {}), ({"use_scale": False}, {}),
                                         ({}, {"use_causal_mask": True}),
                                         ({}, {"return_attention_scores": True})],
                         ids=["scale", "no-scale", "causal", "scores"])
def test_matches_keras_with_masks(kwargs, call, kind, b, t):
    rng = np.random.default_rng(b * 11 + t)
    xs = _inputs(b, t, t + 1, seed=b + t, key=bool(t % 2))
    k, f = _pair(**kwargs)
    k(xs)
    randomize(k, rng)
    q_mask = random_mask(rng, b, t, kind)
    v_mask = random_mask(rng, b, t + 1, kind)
    masks = None if kind == "none" else [q_mask, v_mask]
    fm_out, k_out = compare_layer(k, f, xs, call_kwargs={**call, **({"mask": masks} if masks
                                                                   else {})})
    if masks is not None and not call.get("return_attention_scores"):
        np.testing.assert_array_equal(fastmask.get_mask(fm_out), q_mask)
    # The automatic path: masks attached to the inputs.
    if masks is not None:
        compare_layer(k, f, xs, input_mask=masks + ([None] if len(xs) == 3 else []),
                      call_kwargs=call)


def test_keras_correctness_cases():
    # keras additive_attention_test.py::test_attention_correctness / test_attention_with_mask
    q = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    k = np.array([[[0.0, 1.0], [1.0, 0.0]]])
    v = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    out, scores = layers.AdditiveAttention(use_scale=False)([q, v, k],
                                                           return_attention_scores=True)
    np.testing.assert_allclose(out, [[[1.727, 2.727], [2.272, 3.272]]], atol=1e-3)
    np.testing.assert_allclose(scores, [[[0.636, 0.363], [0.363, 0.636]]], atol=1e-3)
    out, scores = layers.AdditiveAttention(use_scale=False)(
        [q, np.ones((1, 2, 2))], mask=[np.array([[True, False]]), np.array([[True, False]])],
        return_attention_scores=True)
    np.testing.assert_allclose(out, [[[1.0, 1.0], [0.0, 0.0]]])
    np.testing.assert_allclose(scores, [[[1.0, 0.0], [1.0, 0.0]]])


def test_fully_masked_values_give_uniform_weights_as_keras():
    q, v = _inputs(1, 2, 3, seed=5)
    k_layer, f_layer = _pair()
    mask = [None, np.zeros((1, 3), bool)]
    fm_out, k_out = compare_layer(k_layer, f_layer, [q, v],
                                  call_kwargs={"mask": mask, "return_attention_scores": True})
    np.testing.assert_allclose(fm_out[1], 1 / 3, rtol=1e-6)


def test_weights_config_dtypes_and_symbolic():
    f = layers.AdditiveAttention()
    f([np.ones((1, 2, 5)), np.ones((1, 3, 5))])
    assert [(w.name, w.shape) for w in f.weights] == [("scale", (5,))]
    assert layers.AdditiveAttention(use_scale=False).get_config()["use_scale"] is False
    k = keras().layers.AdditiveAttention(dropout=0.2, seed=3)
    g = layers.AdditiveAttention(dropout=0.2, seed=3)
    kc, gc = k.get_config(), g.get_config()
    kc.pop("name"), gc.pop("name")
    assert gc == kc and "score_mode" not in gc
    again = layers.AdditiveAttention.from_config(g.get_config())
    assert again.get_config() == g.get_config() and isinstance(again, layers.Attention)
    q, v = _inputs(2, 3, 4, seed=6)
    k64, f64 = keras().layers.AdditiveAttention(dtype="float64"), \
        layers.AdditiveAttention(dtype="float64")
    compare_layer(k64, f64, [q.astype(np.float64), v.astype(np.float64)])
    assert f64([q, v]).dtype == np.float64
    sym = layers.AdditiveAttention()([fastmask.KerasTensor((None, 3, 4)),
                                      fastmask.KerasTensor((None, None, 4))],
                                     return_attention_scores=True)
    assert [s.shape for s in sym] == [(None, 3, 4), (None, 3, None)]


def test_dropout_in_training_returns_dropped_scores():
    q, v = _inputs(2, 3, 4, seed=7)
    f = layers.AdditiveAttention(dropout=0.5, seed=0)
    out, scores = f([q, v], training=True, return_attention_scores=True)
    np.testing.assert_allclose(out, scores @ v, rtol=1e-5, atol=1e-6)
    assert np.any(scores == 0)
    inference = f([q, v], return_attention_scores=True)[1]
    np.testing.assert_allclose(inference.sum(-1), 1, rtol=1e-6)


def test_long_sequences_use_blocks(monkeypatch):
    import fastmask.layers.attention.additive_attention as mod
    q, v = _inputs(2, 9, 5, seed=8)
    f = layers.AdditiveAttention()
    want = f([q, v])
    monkeypatch.setattr(mod, "_BLOCK_ELEMENTS", 7)
    np.testing.assert_allclose(f([q, v]), want, rtol=1e-6, atol=1e-7)


def test_errors_like_keras():
    # keras additive_attention_test.py::test_attention_errors
    layer = layers.AdditiveAttention()
    t = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(ValueError, match="must be called on a list"):
        layer(t)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([t, t, t, t])
    with pytest.raises(ValueError, match="layer mask must be a list"):
        layer([t, t], mask=t)
    with pytest.raises(ValueError, match="length 2 or 3"):
        layer([t, t], mask=[t])


def test_seq2seq_attention_model_loads_from_keras(tmp_path):
    def build(M):
        L = M.layers
        src = M.Input((None,), dtype="int32")
        tgt = M.Input((None,), dtype="int32")
        se = L.Embedding(20, 6, mask_zero=True)(src)
        te = L.Embedding(20, 6, mask_zero=True)(tgt)
        enc = L.LSTM(6, return_sequences=True)(se)
        dec = L.LSTM(6, return_sequences=True)(te)
        ctx = L.AdditiveAttention()([dec, enc])
        x = L.Concatenate()([dec, ctx])
        return M.Model([src, tgt], L.Dense(3)(x))
    rng = np.random.default_rng(9)
    src = rng.integers(1, 20, (3, 7)).astype(np.int32)
    tgt = rng.integers(1, 20, (3, 5)).astype(np.int32)
    src[0, 4:] = 0
    src[1, :] = 0
    tgt[2, 3:] = 0
    k_model = build(keras())
    for layer in k_model.layers:
        randomize(layer, rng)
    k_model.save(tmp_path / "m.keras")
    f_model = fastmask.models.load_model(tmp_path / "m.keras")
    k_out, f_out = k_model([src, tgt]), f_model([src, tgt])
    assert_outputs_close(k_out, f_out)
    assert_masks_equal([k_get_mask(k_out)], fm_masks(f_out))
