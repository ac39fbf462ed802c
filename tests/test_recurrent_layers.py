"""Recurrent layers (RNN, LSTM, GRU, SimpleRNN, cells, Bidirectional) vs Keras 3.15.1.

Keras runs on the NumPy backend with the same weights (`set_weights(keras.get_weights())`);
outputs within 1e-5 (float32), output masks exactly, configs equal.
"""
import itertools
import json

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, layers, with_mask
from np_reference import rnn_ref
from oracle import (SHAPES, assert_masks_equal, assert_outputs_close, compare_layer,
                    k_get_mask, k_set_mask, keras, random_mask)
from seeds import seed_on_failure, stable_rng

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

KINDS = ("post", "pre", "holes", "all_masked_row", "none")
CELLS = [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}), ("SimpleRNN", {})]


def _pair(name, *args, **kwargs):
    return getattr(keras().layers, name)(*args, **kwargs), getattr(layers, name)(*args, **kwargs)


def _x(rng, b, t, f=3):
    return rng.standard_normal((b, t, f)).astype(np.float32)


def _states(rng, name, b, units):
    n = 2 if name == "LSTM" else 1
    return [rng.standard_normal((b, units)).astype(np.float32) for _ in range(n)]


# ------------------------------------------------------------ layer conformance
@pytest.mark.parametrize("name,extra", CELLS)
@pytest.mark.parametrize("kind", KINDS)
def test_layers_match_keras_all_options(name, extra, kind):
    """Options product (each at least both ways) x mask kinds x corner shapes."""
    rng, seed = stable_rng("layers-all-options", name, extra, kind)
    options = list(itertools.product([False, True], repeat=3))  # rs, gb, zo
    for (b, t), (rs, gb, zo) in zip(itertools.cycle(SHAPES), options):
        for return_state, use_bias in [(rs, not gb), (not rs, gb)]:
            kw = dict(extra, return_sequences=rs, return_state=return_state, go_backwards=gb,
                      zero_output_for_mask=zo, use_bias=use_bias)
            k, f = _pair(name, 5, **kw)
            x = _x(rng, b, t)
            mask = random_mask(rng, b, t, kind)
            with seed_on_failure(seed):
                compare_layer(k, f, x, mask=mask)


@pytest.mark.parametrize("name,extra", CELLS)
def test_layers_match_keras_activations_unroll_initial_state(name, extra):
    rng = np.random.default_rng(1)
    b, t = 3, 4
    for act, ract, unroll in [("relu", "hard_sigmoid", False), (None, "tanh", True),
                              ("sigmoid", "sigmoid", False), ("softsign", "sigmoid", True)]:
        kw = dict(extra, return_sequences=True, return_state=True, activation=act,
                  unroll=unroll, zero_output_for_mask=unroll)
        if name != "SimpleRNN":
            kw["recurrent_activation"] = ract
        k, f = _pair(name, 4, **kw)
        x = _x(rng, b, t)
        mask = random_mask(rng, b, t, "holes")
        state = _states(rng, name, b, 4)
        # explicit mask= with initial_state: Keras uses the mask too
        compare_layer(k, f, x, mask=mask, call_kwargs={"initial_state": state})


def test_auto_mask_with_initial_state_is_used_deviation():
    """§15 case 17: Keras drops the input mask when initial_state is passed; fastmask keeps it."""
    emb_k = keras().layers.Embedding(3, 1, embeddings_initializer="ones", mask_zero=True)
    emb_f = layers.Embedding(3, 1, embeddings_initializer="ones", mask_zero=True)
    kw = dict(kernel_initializer="ones", recurrent_initializer="ones", bias_initializer="ones",
              activation=None, return_sequences=True)
    rnn_k, rnn_f = _pair("SimpleRNN", 1, **kw)
    ids = np.array([[1, 2, 0, 0]])
    np.testing.assert_allclose(np.asarray(rnn_k(emb_k(ids)))[0, :, 0], [2, 4, 4, 4])
    np.testing.assert_allclose(rnn_f(emb_f(ids))[0, :, 0], [2, 4, 4, 4])
    zeros = [np.zeros((1, 1), np.float32)]
    np.testing.assert_allclose(np.asarray(rnn_k(emb_k(ids), initial_state=zeros))[0, :, 0],
                               [2, 4, 6, 8])
    out = rnn_f(emb_f(ids), initial_state=zeros)
    np.testing.assert_allclose(out[0, :, 0], [2, 4, 4, 4])
    np.testing.assert_array_equal(get_mask(out), [[True, True, False, False]])


# ---------------------------------------------------------------- §15 cases
SEQ = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
M1 = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
M2 = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], bool)
C3 = dict(kernel_initializer=fastmask.initializers.Constant(0.01),
          recurrent_initializer=fastmask.initializers.Constant(0.02),
          bias_initializer=fastmask.initializers.Constant(0.03))


class MinimalRNNCell(layers.Layer):
    """h' = x @ 1 + h @ 1 (§15 case 6)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="ones")

    def call(self, inputs, states):
        out = inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value
        return out, [out]


def test_case6_custom_cell_generic_loop():
    out = layers.RNN(MinimalRNNCell(2), return_sequences=True)(SEQ, mask=M1)
    np.testing.assert_allclose(out[..., 0], [[3, 18, 57, 57], [39, 126, 126, 126]])
    for unroll in (False, True):
        last = layers.RNN(MinimalRNNCell(2), unroll=unroll)(SEQ, mask=M1)
        np.testing.assert_allclose(last[:, 0], [57, 126])
    back = layers.RNN(MinimalRNNCell(1), return_sequences=True, go_backwards=True)(SEQ, mask=M1)
    np.testing.assert_allclose(back[..., 0], [[0, 21, 33, 36], [0, 0, 48, 87]])


def test_cases_7_to_9():
    out = layers.LSTM(2, return_sequences=True, **C3)(SEQ, mask=M1)
    np.testing.assert_allclose(out[..., 0], [[.0158891, .0555205, .1175594, .1175594],
                                             [.141856, .2855621, .2855621, .2855621]], atol=1e-6)
    last = layers.LSTM(2, go_backwards=True, **C3)(SEQ, mask=np.array([[0, 1, 1, 1],
                                                                        [0, 0, 1, 1]], bool))
    np.testing.assert_allclose(last[:, 0], [.15341201, .3844719], atol=1e-6)
    out = layers.GRU(2, return_sequences=True, **C3)(SEQ, mask=M2)
    np.testing.assert_allclose(out[..., 0], [[.03606692, .09497581, .09497581, .19393763],
                                             [.16051409, .16051409, .16051409, .30818558]],
                               atol=1e-6)
    last = layers.GRU(2, reset_after=False, **C3)(SEQ, mask=M2)
    np.testing.assert_allclose(last[:, 0], [.18306306, .30484116], atol=1e-6)
    out = layers.SimpleRNN(2, return_sequences=True, **C3)(SEQ, mask=M2)
    np.testing.assert_allclose(out[..., 0], [[.0599281, .15122814, .15122814, .32394567],
                                             [.3969304, .3969304, .3969304, .608085]],
                               atol=1e-6)


def test_case10_bidirectional_gru():
    out = layers.Bidirectional(layers.GRU(2, **C3))(SEQ, mask=M2)
    np.testing.assert_allclose(out, [[.19393763] * 2 + [.11669192] * 2,
                                     [.30818558] * 2 + [.28380975] * 2], atol=1e-6)
    out = layers.Bidirectional(layers.GRU(2, return_sequences=True, **C3),
                               merge_mode="sum")(SEQ, mask=M2)
    np.testing.assert_allclose(out[0, :, 0], [.15275885, .24615747, 0, .33132496], atol=1e-6)
    np.testing.assert_array_equal(get_mask(out), M2)


# ----------------------------------------------------------------- cells / RNN
@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_rnn_with_cells_matches_keras(cell):
    rng = np.random.default_rng(2)
    x, mask = _x(rng, 3, 5), random_mask(rng, 3, 5, "holes")
    for rs, gb in [(True, False), (False, True)]:
        k = keras().layers.RNN(getattr(keras().layers, cell)(4), return_sequences=rs,
                               go_backwards=gb, return_state=True)
        f = layers.RNN(getattr(layers, cell)(4), return_sequences=rs, go_backwards=gb,
                       return_state=True)
        compare_layer(k, f, x, mask=mask)


def test_stacked_cells_and_cell_call_match_keras():
    rng = np.random.default_rng(3)
    x, mask = _x(rng, 3, 5), random_mask(rng, 3, 5, "pre")
    k = keras().layers.RNN([keras().layers.GRUCell(2), keras().layers.LSTMCell(3)],
                           return_sequences=True, return_state=True)
    f = layers.RNN([layers.GRUCell(2), layers.LSTMCell(3)], return_sequences=True,
                   return_state=True)
    compare_layer(k, f, x, mask=mask)
    for name in ("LSTMCell", "GRUCell", "SimpleRNNCell"):
        kc, fc = _pair(name, 3)
        xt = x[:, 0]
        states = [rng.standard_normal((3, 3)).astype(np.float32)
                  for _ in range(2 if name == "LSTMCell" else 1)]
        kout = kc(xt, states)
        fc(xt, states)
        fc.set_weights(kc.get_weights())
        assert_outputs_close(kout, fc(xt, states))


def test_cell_subclass_with_own_call_uses_generic_loop():
    class Doubling(layers.SimpleRNNCell):
        def call(self, sequence, states, training=False):
            out, new = super().call(sequence, states, training)
            return out * 2, [n * 2 for n in new]

    rng = np.random.default_rng(4)
    x, mask = _x(rng, 2, 3), random_mask(rng, 2, 3, "post")
    f = layers.RNN(Doubling(3), return_sequences=True)
    plain = layers.RNN(layers.SimpleRNNCell(3), return_sequences=True)
    f(x, mask=mask)
    plain(x, mask=mask)
    kernel, recurrent_kernel, bias = f.get_weights()
    # the generic loop runs the subclass's call: h_t = 2 tanh(x_t K + b + h_{t-1} R)
    want = rnn_ref("simple_rnn", x, kernel, recurrent_kernel, bias, mask,
                   activation=lambda v: 2 * np.tanh(v), return_sequences=True)[0]
    np.testing.assert_allclose(f(x, mask=mask), want, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ Bidirectional
@pytest.mark.parametrize("name,extra", [("LSTM", {}), ("GRU", {}), ("SimpleRNN", {})])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_matches_keras(name, extra, merge_mode):
    rng = np.random.default_rng(5)
    for (b, t), kind, rs, state in [((3, 5), "post", True, True), ((2, 4), "holes", False, True),
                                    ((1, 3), "pre", True, False), ((3, 1), "none", False, False)]:
        kk = getattr(keras().layers, name)(3, return_sequences=rs, return_state=state,
                                           zero_output_for_mask=not rs, **extra)
        ff = getattr(layers, name)(3, return_sequences=rs, return_state=state,
                                   zero_output_for_mask=not rs, **extra)
        k = keras().layers.Bidirectional(kk, merge_mode=merge_mode)
        f = layers.Bidirectional(ff, merge_mode=merge_mode)
        x, mask = _x(rng, b, t), random_mask(rng, b, t, kind)
        out, _ = compare_layer(k, f, x, mask=mask)
        if state:
            n_states = 2 * (2 if name == "LSTM" else 1)
            assert len(out) == (2 if merge_mode is None else 1) + n_states


def test_bidirectional_initial_state_split_and_config():
    rng = np.random.default_rng(6)
    x, mask = _x(rng, 2, 4), random_mask(rng, 2, 4, "holes")
    k = keras().layers.Bidirectional(keras().layers.LSTM(3, return_sequences=True))
    f = layers.Bidirectional(layers.LSTM(3, return_sequences=True))
    states = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    compare_layer(k, f, x, mask=mask, call_kwargs={"initial_state": states})
    kc, fc = k.get_config(), f.get_config()
    _same_config(kc, fc)
    g = layers.Bidirectional.from_config(fc)
    g(x, mask=mask)
    g.set_weights(f.get_weights())
    assert_outputs_close(f(x, mask=mask), g(x, mask=mask))
    with pytest.raises(ValueError, match="Invalid merge mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="Layer` instance"):
        layers.Bidirectional("lstm")


# ------------------------------------------------------------------------ stateful
@pytest.mark.parametrize("name,extra", CELLS)
def test_stateful_across_calls_and_reset(name, extra):
    rng = np.random.default_rng(7)
    k, f = _pair(name, 3, stateful=True, return_sequences=True, **extra)
    x1, x2 = _x(rng, 2, 4), _x(rng, 2, 4)
    m1, m2 = random_mask(rng, 2, 4, "post"), random_mask(rng, 2, 4, "holes")
    k(x1, mask=m1)
    f(x1, mask=m1)
    f.set_weights(k.get_weights())
    k.reset_states()
    f.reset_states()
    compare_layer(k, f, x1, mask=m1, copy_weights=False)
    compare_layer(k, f, x2, mask=m2, copy_weights=False)   # continues from the states
    for fs, ks in zip(f.states, k.states):                  # and keeps Keras's states
        np.testing.assert_allclose(np.asarray(fs), np.asarray(ks), rtol=0, atol=1e-5)
    f.reset_states()
    k.reset_states()
    np.testing.assert_array_equal(f.states[0], 0)
    compare_layer(k, f, x2, mask=m2, copy_weights=False)
    with pytest.raises(ValueError, match="batch size"):
        f(_x(rng, 3, 4))


# ----------------------------------------------------------------------- configs
def _same_config(kc, fc):
    def strip(c):
        c = json.loads(json.dumps(c, default=str))
        if isinstance(c, dict):
            c.pop("name", None)
            return {k: strip(v) for k, v in c.items()}
        if isinstance(c, list):
            return [strip(v) for v in c]
        return c
    assert strip(kc) == strip(fc)


@pytest.mark.parametrize("name,extra", CELLS + [("LSTMCell", {}), ("GRUCell", {}),
                                                ("SimpleRNNCell", {})])
def test_config_equals_keras_and_round_trips(name, extra):
    kw = dict(extra, dropout=0.25, seed=3)
    if not name.endswith("Cell"):
        kw.update(return_sequences=True, go_backwards=True, zero_output_for_mask=True)
    k, f = _pair(name, 3, **kw)
    _same_config(k.get_config(), f.get_config())
    g = type(f).from_config(f.get_config())
    _same_config(f.get_config(), g.get_config())
    # a Keras config loads into fastmask
    _same_config(k.get_config(), type(f).from_config(k.get_config()).get_config())


def test_rnn_cell_config_round_trip():
    f = layers.RNN(layers.GRUCell(2), return_state=True)
    _same_config(keras().layers.RNN(keras().layers.GRUCell(2), return_state=True).get_config(),
                 f.get_config())
    g = layers.RNN.from_config(f.get_config())
    assert isinstance(g.cell, layers.GRUCell) and g.return_state


# ------------------------------------------------------------- functional / misc
def test_functional_model_masks_and_values():
    k, fm = keras(), fastmask
    rng = np.random.default_rng(8)
    ids = rng.integers(1, 10, (4, 6))
    ids[0, 3:] = 0
    ids[2, :] = 0

    def build(lib):
        inp = lib.layers.Input((6,), dtype="int32")
        e = lib.layers.Embedding(10, 5, mask_zero=True)(inp)
        s = lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))(e)
        out = lib.layers.GRU(2)(s)
        return lib.Model(inp, [s, out])

    km, fmod = build(k), build(fm)
    fmod.set_weights(km.get_weights())
    assert_outputs_close(km(ids), fmod(ids))
    f_seq = fmod(ids)[0]
    np.testing.assert_array_equal(get_mask(f_seq), ids != 0)


def test_dropout_training_path_and_inference():
    """Inference ignores dropout; in training, masked steps still carry the previous
    state (the output repeats the last kept step's, 0 before the first; the returned
    state is the last kept output), whatever the dropout masks."""
    rng, seed = stable_rng("dropout-masked-steps")
    x = _x(rng, 6, 7)
    mask = random_mask(rng, 6, 7, "holes")
    mask[0] = [0, 0, 1, 1, 0, 1, 0]
    for name in ("LSTM", "GRU", "SimpleRNN"):
        f = getattr(layers, name)(4, dropout=0.5, recurrent_dropout=0.3, seed=1,
                                  return_sequences=True, return_state=True)
        ref = getattr(layers, name)(4, return_sequences=True, return_state=True)
        inf = f(x, mask=mask)
        ref(x, mask=mask)
        ref.set_weights(f.get_weights())
        assert_outputs_close(ref(x, mask=mask), inf)           # no dropout at inference
        tr, h = f(x, mask=mask, training=True)[:2]
        np.testing.assert_array_equal(get_mask(tr), mask)
        for b in range(x.shape[0]):
            prev = np.zeros(4, np.float32)
            for t in range(x.shape[1]):
                if not mask[b, t]:
                    np.testing.assert_array_equal(tr[b, t], prev, err_msg=f"{name} row {b} "
                                                  f"step {t} (seed={seed})")
                prev = tr[b, t]
            np.testing.assert_array_equal(h[b], prev, err_msg=f"{name} row {b} (seed={seed})")


def test_dropout_statistics_in_training():
    """SimpleRNN(activation=None, kernel=I, recurrent kernel 0, no bias) outputs
    x_t * d: the input dropout mask d itself. It is the same at every step of a
    call (Keras's DropoutRNNCell), drops a `rate` fraction of the entries
    (within 5 sigma of the binomial), scales the others by exactly 1 / (1 - rate),
    and is drawn afresh for each call. The same with recurrent_dropout on a zero
    kernel and an identity recurrent kernel: h_1 = h_0 * d_rec."""
    rng, seed = stable_rng("dropout-statistics")
    B, T, F, rate = 64, 5, 48, 0.3
    x = (rng.random((B, T, F)) + 0.5).astype(np.float32)       # no zeros in x
    f = layers.SimpleRNN(F, activation=None, use_bias=False, dropout=rate,
                         return_sequences=True)
    f(x)
    f.set_weights([np.eye(F, dtype=np.float32), np.zeros((F, F), np.float32)])
    mask = np.ones((B, T), bool)
    mask[:, 3] = False                                          # a masked step in the middle
    first = None
    for _ in range(2):
        d = np.asarray(f(x, mask=mask, training=True))[:, 0] / x[:, 0]
        dropped = d == 0
        n = dropped.size
        assert abs(dropped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n), (
            f"dropped fraction {dropped.mean():.3f} for rate {rate} (seed={seed})")
        np.testing.assert_allclose(d[~dropped], 1 / (1 - rate), rtol=1e-6)
        out = np.asarray(f(x, mask=mask, training=True))
        d = out[:, 0] / x[:, 0]                                 # a new call: a new mask
        for t in (1, 2, 4):
            np.testing.assert_allclose(out[:, t], x[:, t] * d, rtol=1e-6)   # same mask
        np.testing.assert_array_equal(out[:, 3], out[:, 2])     # masked step: carried
        first = d if first is None else first
    assert not np.array_equal(first, d)
    g = layers.SimpleRNN(F, activation=None, use_bias=False, recurrent_dropout=rate,
                         return_sequences=True)
    g(x)
    g.set_weights([np.zeros((F, F), np.float32), np.eye(F, dtype=np.float32)])
    h0 = np.ones((B, F), np.float32)
    d_rec = np.asarray(g(x[:, :1], initial_state=[h0], training=True))[:, 0]
    dropped = d_rec == 0
    assert abs(dropped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / dropped.size), seed
    np.testing.assert_allclose(d_rec[~dropped], 1 / (1 - rate), rtol=1e-6)


def test_float64_policy_matches_keras_and_reference():
    """dtype="float64": within 1e-10 of the independent float64 NumPy oracle; Keras's
    numpy backend computes float64 layers' matmuls in float32 (its `result_type`
    maps float64 to float32 for every backend but TensorFlow, as JAX does), so it
    is compared at 1e-6."""
    rng = np.random.default_rng(10)
    x, mask = rng.standard_normal((3, 5, 2)), random_mask(rng, 3, 5, "holes")
    for name, extra in CELLS:
        k, f = _pair(name, 4, return_sequences=True, dtype="float64", **extra)
        k(x, mask=mask)
        f(x, mask=mask)
        k.set_weights(f.get_weights())  # Keras's get_weights() rounds to float32
        out, _ = compare_layer(k, f, x, mask=mask, atol=1e-6, copy_weights=False)
        assert out.dtype == np.float64
        cell = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}[name]
        want = rnn_ref(cell, x, *f.get_weights(), mask, return_sequences=True,
                       reset_after=extra.get("reset_after", True))[0]
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-10)


def test_output_shapes_symbolic():
    inp = fastmask.Input((7, 3))
    out, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(inp)
    assert out.shape == (None, 7, 4) and h.shape == (None, 4) and c.shape == (None, 4)
    outs = layers.Bidirectional(layers.LSTM(4, return_state=True))(inp)
    assert [o.shape for o in outs] == [(None, 8)] + [(None, 4)] * 4
    outs = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode=None)(inp)
    assert [o.shape for o in outs] == [(None, 7, 4)] * 2


def test_bad_input():
    for name in ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell"):
        with pytest.raises(ValueError, match="expected a positive integer, got 0"):
            getattr(layers, name)(0)
        with pytest.raises(ValueError, match="expected a positive integer, got -2"):
            getattr(layers, name)(-2)
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.LSTM(2)(x[0])
    with pytest.raises(ValueError, match="mask"):
        layers.LSTM(2)(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="initial_state"):
        layers.LSTM(2)(x, initial_state=[np.zeros((2, 2), np.float32)])
    with pytest.raises(ValueError, match="initial_state"):
        layers.GRU(2)(x, initial_state=[np.zeros((3, 2), np.float32)])
    with pytest.raises(ValueError, match="use_cudnn"):
        layers.LSTM(2, use_cudnn="yes")
    with pytest.raises(ValueError, match="`call` method"):
        layers.RNN(object())


def test_mask_tensor_input_and_keras_mask_attached():
    rng = np.random.default_rng(11)
    x, mask = _x(rng, 2, 4), random_mask(rng, 2, 4, "pre")
    k, f = _pair("GRU", 3, return_sequences=True)
    compare_layer(k, f, x, input_mask=mask)
    out = f(with_mask(x, mask))
    np.testing.assert_array_equal(get_mask(out), mask)
    assert k_get_mask(k(k_set_mask(x, mask))) is not None
    assert_masks_equal([None], [get_mask(layers.GRU(3)(with_mask(x, mask)))])


def test_layers_run_the_compiled_kernel(monkeypatch):
    """LSTM/GRU/SimpleRNN/RNN(cell)/Bidirectional go through the masked kernel;
    custom cells and dropout in training use the generic loop."""
    from fastmask.kernels import _recurrent
    rng = np.random.default_rng(12)
    x, mask = _x(rng, 2, 4), random_mask(rng, 2, 4, "holes")
    for layer in (layers.LSTM(3), layers.GRU(3, reset_after=False), layers.SimpleRNN(3),
                  layers.RNN(layers.GRUCell(3)), layers.Bidirectional(layers.LSTM(3))):
        monkeypatch.setattr(_recurrent, "last_plan", None)
        layer(x, mask=mask)
        assert _recurrent.last_plan is not None, layer
    # Bidirectional: both directions in one kernel call
    assert _recurrent.last_plan.get("problems") == 2
    for layer, kw in ((layers.RNN(MinimalRNNCell(3)), {}),
                      (layers.LSTM(3, dropout=0.5), {"training": True})):
        monkeypatch.setattr(_recurrent, "last_plan", None)
        layer(x, mask=mask, **kw)
        assert _recurrent.last_plan is None, layer


def test_bidirectional_thread_count_invariance(monkeypatch):
    """Both directions in one team (1 part each, or batch parts): bit-identical."""
    from fastmask.kernels import _recurrent
    monkeypatch.setattr(_recurrent, "MIN_STEP_FLOPS_PER_THREAD", 0.0)
    monkeypatch.setattr(_recurrent, "MIN_PART_FLOPS", 0.0)
    rng = np.random.default_rng(13)
    x, mask = _x(rng, 40, 6, 4), random_mask(rng, 40, 6, "holes")
    for merge_mode in ("concat", "ave"):
        f = layers.Bidirectional(layers.GRU(5, return_sequences=True, return_state=True),
                                 merge_mode=merge_mode)
        res = []
        for n in (1, 2, 4):
            with fastmask.num_threads(n):
                res.append(f(x, mask=mask))
        for other in res[1:]:
            for a, b in zip(res[0], other):
                np.testing.assert_array_equal(a, b)
