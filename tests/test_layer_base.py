"""`Layer.__call__` semantics against Keras 3.15.1 (keras-semantics §3, §12, §15 case 16)."""
import re
import warnings

import numpy as np
import pytest

import fastmask
from fastmask import get_mask, ops, with_mask
from fastmask.core.tensor import Tensor
from fastmask.layers import InputSpec, Layer
from oracle import (assert_masks_equal, assert_outputs_close, k_get_mask, k_set_mask, keras,
                    keras_symbolic_masks, mask_cases, random_mask)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

WARNING = ("Layer '{name}' (of type {cls}) was passed an input with a mask attached to it. "
           "However, this layer does not support masking and will therefore destroy the mask "
           "information. Downstream layers will not see the mask.")


def custom_layers(K, ops):
    """The same custom layers written against Keras or fastmask (module K, ops)."""

    class ComputesMask(K.layers.Layer):   # overrides compute_mask -> supports masking
        def call(self, inputs):
            return inputs[:, ::2] * 2.0

        def compute_mask(self, inputs, mask=None):
            if mask is None:
                return None
            return mask[:, ::2]

    class OptsIn(K.layers.Layer):         # supports_masking = True, default compute_mask
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs) + 1.0

    class Neither(K.layers.Layer):        # neither: the mask is dropped with a warning
        def call(self, inputs):
            return inputs * 3.0

    class Consumer(K.layers.Layer):       # consumes the mask in call
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is None:
                return inputs
            return inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)

    return ComputesMask, OptsIn, Neither, Consumer


@pytest.fixture(scope="module")
def both():
    return custom_layers(keras(), keras().ops), custom_layers(fastmask, ops)


def _x(rng, b=3, t=6, f=4):
    return rng.standard_normal((b, t, f)).astype(np.float32)


def test_supports_masking_defaults(both):
    (kc, ko, kn, kcons), (fc, fo, fn, fcons) = both
    for k_cls, f_cls in ((kc, fc), (ko, fo), (kn, fn), (kcons, fcons)):
        assert k_cls().supports_masking == f_cls().supports_masking
    assert fc().supports_masking and not fn().supports_masking


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_custom_layers_eager_match_keras(both, which):
    rng = np.random.default_rng(which)
    k_cls, f_cls = both[0][which], both[1][which]
    x = _x(rng)
    for kind, mask in mask_cases(rng, 3, 6):
        k_in, f_in = k_set_mask(x, mask), (with_mask(x, mask) if mask is not None else x)
        with warnings.catch_warnings(record=True) as kw:
            warnings.simplefilter("always")
            k_layer = k_cls(name="custom")
            k_out = k_layer(k_in)
        with warnings.catch_warnings(record=True) as fw:
            warnings.simplefilter("always")
            f_layer = f_cls(name="custom")
            f_out = f_layer(f_in)
        assert_outputs_close(k_out, f_out)
        assert_masks_equal([k_get_mask(k_out)], [get_mask(f_out)], what=kind)
        k_msgs = [str(w.message) for w in kw if "mask" in str(w.message)]
        f_msgs = [str(w.message) for w in fw if "mask" in str(w.message)]
        assert k_msgs == f_msgs


@pytest.mark.parametrize("which", [0, 1, 2, 3])
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_custom_layers_symbolic_match_keras(both, which):
    rng = np.random.default_rng(10 + which)
    K = keras()
    k_cls, f_cls = both[0][which], both[1][which]
    ids = rng.integers(0, 5, size=(3, 6))
    ids[:, 0] = 1
    k_in = K.Input((None,), dtype="int32")
    k_emb = K.layers.Embedding(5, 4, mask_zero=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_out = k_cls()(k_emb(k_in))
    (k_val,), (k_mask,) = keras_symbolic_masks(k_in, [k_out], ids)
    f_in = fastmask.Input((None,), dtype="int32")
    f_emb = fastmask.layers.Embedding(5, 4, mask_zero=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_model = fastmask.Model(f_in, f_cls()(f_emb(f_in)))
    f_emb.set_weights(k_emb.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_out = f_model(ids)
    assert_outputs_close(k_val, f_out)
    assert_masks_equal([k_mask], [get_mask(f_out)])
    sym = f_model.outputs[0]
    assert (getattr(sym, "_keras_mask", None) is None) == (k_mask is None)


def test_destroy_warning_text_is_keras(both):
    _, (_, _, fn, _) = both
    layer = fn(name="plain_layer")
    x = with_mask(np.ones((2, 3, 1), np.float32), np.ones((2, 3), bool))
    with pytest.warns(UserWarning) as rec:
        out = layer(x)
    assert get_mask(out) is None
    assert str(rec[0].message) == WARNING.format(name="plain_layer", cls="Neither")


def test_no_warning_without_mask(both):
    _, (_, _, fn, _) = both
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn()(np.ones((2, 3, 1), np.float32))


def test_explicit_mask_on_supporting_layer_case16(both):
    """§15 case 16: `layer(x, mask=m)` on an unmasked x gives output mask m (Keras)."""
    (_, _, _, k_cons), (_, _, _, f_cons) = both
    m = np.array([[True, False, True], [False, True, True]])
    x = np.ones((2, 3, 2), np.float32)
    k_out = k_cons()(x, mask=m)
    f_out = f_cons()(x, mask=m)
    assert_outputs_close(k_out, f_out)
    assert_masks_equal([k_get_mask(k_out)], [get_mask(f_out)])
    np.testing.assert_array_equal(get_mask(f_out), m)
    with pytest.raises(TypeError):   # Dense.call has no `mask`: a TypeError, as in Keras
        fastmask.layers.Dense(2)(x, mask=m)
    # ... and a non-supporting layer on a masked input drops it, with the warning.
    with pytest.warns(UserWarning, match="destroy the mask"):
        out = fastmask.layers.Flatten()(with_mask(x, m))
    assert get_mask(out) is None


@pytest.mark.filterwarnings("ignore:Layer 'spy")
def test_auto_mask_rule_single_tensor_argument():
    seen = {}

    class Spy(Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs

    m = np.array([[True, False]])
    x = with_mask(np.ones((1, 2, 3), np.float32), m)
    Spy()(x)
    assert seen["mask"] is m
    Spy()(x, mask=None)             # explicit None is auto-filled too (Keras)
    assert seen["mask"] is m
    m2 = np.array([[False, True]])
    Spy()(x, mask=m2)               # explicit mask wins
    assert seen["mask"] is m2
    Spy()([x, np.ones((1, 2, 3), np.float32)])   # a list input gives the list of masks
    assert seen["mask"][0] is m and seen["mask"][1] is None


def test_auto_mask_rule_several_tensor_arguments():
    seen = {}

    class Two(Layer):
        def call(self, query, value, mask=None, value_mask=None, query_mask=None):
            seen.update(mask=mask, value_mask=value_mask, query_mask=query_mask)
            return query * 1.0

    mq, mv = np.array([[True, False]]), np.array([[False, True]])
    q = with_mask(np.ones((1, 2, 3), np.float32), mq)
    v = with_mask(np.ones((1, 2, 3), np.float32), mv)
    with pytest.warns(UserWarning, match="destroy the mask"):
        out = Two()(q, v)
    assert seen["mask"] is None and seen["value_mask"] is mv and seen["query_mask"] is mq
    assert get_mask(out) is None  # non-supporting: query's mask dropped (with a warning)

    class RNNLike(Two):
        _mask_from_first_arg = True  # the documented RNN/initial_state deviation

    with pytest.warns(UserWarning):
        RNNLike()(q, v)
    assert seen["mask"] is mq


def test_previous_mask_is_first_argument_mask_and_call_mask_wins():
    class SetsOwn(Layer):
        def call(self, inputs):
            return with_mask(inputs * 1.0, np.zeros(inputs.shape[:2], bool))

        def compute_mask(self, inputs, mask=None):
            return mask

    class TwoOutputs(Layer):
        def call(self, inputs):
            return (with_mask(inputs + 0.0, np.zeros(inputs.shape[:2], bool)), inputs + 1.0)

        def compute_mask(self, inputs, mask=None):
            return (mask, mask)

    m = np.array([[True, True, False]])
    x = with_mask(np.ones((1, 3, 2), np.float32), m)
    out = SetsOwn()(x)
    assert not get_mask(out).any()            # the mask set in call wins
    a, b = TwoOutputs()(x)
    assert not get_mask(a).any() and get_mask(b) is m


def test_identity_returning_layer_keeps_mask_even_without_support():
    class Ident(Layer):
        def call(self, inputs):
            return inputs

    m = np.array([[True, False]])
    x = with_mask(np.ones((1, 2, 1), np.float32), m)
    with pytest.warns(UserWarning):
        out = Ident()(x)
    assert out is x and get_mask(out) is m


def test_non_supporting_layer_with_mask_param_still_receives_mask():
    seen = {}

    class Takes(Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs * 2

    m = np.array([[True, False]])
    with pytest.warns(UserWarning):
        out = Takes()(with_mask(np.ones((1, 2, 1), np.float32), m))
    assert seen["mask"] is m and get_mask(out) is None


def test_input_casting_rules():
    seen = {}

    class Spy(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            seen["dtype"] = inputs.dtype
            seen["mask"] = get_mask(inputs)
            return inputs

    m = np.array([[True, False]])
    Spy()(with_mask(np.ones((1, 2), np.float64), m))
    assert seen["dtype"] == np.float32 and seen["mask"] is m   # cast keeps the mask
    Spy()(np.ones((1, 2), np.int64))
    assert seen["dtype"] == np.int64
    Spy()(np.ones((1, 2), bool))
    assert seen["dtype"] == np.bool_
    Spy(dtype="float64")(np.ones((1, 2), np.float32))
    assert seen["dtype"] == np.float64
    Spy(autocast=False)(np.ones((1, 2), np.float16))
    assert seen["dtype"] == np.float16
    layer = Spy(dtype="mixed_float16")
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"


def test_build_once_with_input_shape_and_weights_in_keras_order():
    calls = []

    class W(Layer):
        def build(self, input_shape):
            calls.append(input_shape)
            self.a = self.add_weight(shape=(input_shape[-1], 2), initializer="ones", name="a")
            self.s = self.add_weight(shape=(), initializer="zeros", trainable=False, name="s")
            self.b = self.add_weight(shape=(2,), initializer="zeros", name="b")

        def call(self, inputs):
            return inputs @ self.a + self.b

    layer = W(name="w")
    assert not layer.built
    layer(np.ones((4, 3), np.float32))
    layer(np.ones((5, 3), np.float32))
    assert calls == [(4, 3)] and layer.built
    assert [w.path for w in layer.weights] == ["w/a", "w/b", "w/s"]
    assert [w.path for w in layer.trainable_weights] == ["w/a", "w/b"]
    assert layer.count_params() == 9


def test_set_weights_errors_name_the_layer():
    layer = fastmask.layers.Dense(2, name="d")
    layer(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="layer 'd' with a weight list of length 1, but the "
                                         "layer was expecting 2 weights"):
        layer.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"Layer d weight shape \(3, 2\) is not compatible "
                                         r"with provided weight shape \(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.ones(2)])
    with pytest.raises(TypeError, match="Layer d"):
        layer.set_weights([np.array([["a"] * 2] * 3), np.ones(2)])
    before = layer.get_weights()
    with pytest.raises(ValueError):
        layer.set_weights([np.ones((3, 2)) * 7, np.ones(5)])   # nothing half-assigned
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])


def test_bad_masks_and_inputs_give_clear_errors(both):
    (_, _, _, _), (_, _, _, f_cons) = both
    d = f_cons(name="dd")
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"Layer 'dd'.*`mask`.*mask.shape=\(2, 5\)"):
        d(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"mask.shape=\(3, 3\)"):
        d(x, mask=np.ones((3, 3), bool))
    with pytest.raises(TypeError, match=r"Layer 'dd'.*`mask` must be a boolean mask.*"
                                        r"Received: mask=array of shape \(2, 3\) and dtype <U1"):
        d(x, mask=np.array([["a", "b", "c"]] * 2))
    with pytest.raises(ValueError, match=r"Layer 'dd'.*`mask` contains NaN.*Received: mask="):
        d(x, mask=np.full((2, 3), np.nan))
    d = fastmask.layers.Dense(2, name="dd")
    with pytest.raises(ValueError, match=r"Input 0 with name 'None' of layer 'dd' is incompatible.*"
                                         r"expected min_ndim=2, found ndim=1"):
        d(np.ones(4, np.float32))
    d(x)
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 4"):
        d(np.ones((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        d([[1.0, 2.0, 3.0, 4.0]])

    class Rank3(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = InputSpec(ndim=3)

        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="layer 'r3'.*expected ndim=3, found ndim=2"):
        Rank3(name="r3")(np.ones((2, 3), np.float32))


def test_forgetting_super_init_is_a_clear_error():
    class Bad(Layer):
        def __init__(self):
            pass

        def call(self, inputs):
            return inputs

    with pytest.raises(RuntimeError, match=re.escape("forgot to call `super().__init__()`")):
        Bad()(np.ones(2))


def test_unknown_constructor_kwargs_rejected():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        fastmask.layers.Dense(2, foo=1)


def test_training_flag_propagates_from_outer_call():
    seen = []

    class Inner(Layer):
        def call(self, inputs, training=None):
            seen.append(training)
            return inputs

    class Outer(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Inner()

        def call(self, inputs):
            return self.inner(inputs)

    x = np.ones((1, 2), np.float32)
    outer = Outer()
    outer(x)          # first call also traces call() to build the sublayer (as Keras)
    seen.clear()
    outer(x, training=True)
    outer(x)
    outer(x, training=False)
    assert seen == [True, None, False]


def test_auto_config_round_trip_for_custom_layers():
    class Custom(Layer):
        def __init__(self, units=3, flag=False, **kwargs):
            super().__init__(**kwargs)
            self.units, self.flag = units, flag

        def call(self, inputs):
            return inputs

    layer = Custom(5, flag=True, name="c")
    config = layer.get_config()
    assert config["units"] == 5 and config["flag"] is True and config["name"] == "c"
    assert config["dtype"]["config"]["name"] == "float32"
    clone = Custom.from_config(config)
    assert (clone.units, clone.flag, clone.name) == (5, True, "c")


def test_auto_mask_on_symbolic_call_keeps_the_same_mask_object():
    inp = fastmask.Input((None,), dtype="int32")
    x = fastmask.layers.Embedding(10, 3, mask_zero=True)(inp)
    y = fastmask.layers.Dense(2)(x)
    z = fastmask.layers.Activation("relu")(y)
    assert y._keras_mask is x._keras_mask is z._keras_mask
    assert x._keras_mask.shape == (None, None) and x._keras_mask.dtype == "bool"
    with pytest.warns(UserWarning):
        f = fastmask.layers.Flatten()(fastmask.layers.Dense(2)(
            fastmask.layers.Embedding(10, 3, mask_zero=True)(fastmask.Input((4,)))))
    assert not hasattr(f, "_keras_mask")


def test_random_mask_kinds_are_well_formed():
    rng = np.random.default_rng(0)
    for b, t in ((3, 5), (1, 1), (2, 1)):
        assert random_mask(rng, b, t, "none") is None
        for kind in ("post", "pre", "holes"):
            m = random_mask(rng, b, t, kind)
            assert m.shape == (b, t) and m.dtype == bool and m.any(axis=1).all()
        assert not random_mask(rng, b, t, "all_masked_row")[0].any()


def test_global_dtype_policy_as_keras():
    """`fastmask.config.set_dtype_policy` gives layers created with dtype=None Keras's policy,
    dtypes and config (issue 14); explicit dtypes win; resetting restores float32."""
    K = keras()
    x = np.ones((2, 4), np.float32)
    original, k_original = fastmask.config.dtype_policy(), K.config.dtype_policy()
    try:
        fastmask.config.set_dtype_policy("mixed_float16")
        K.config.set_dtype_policy("mixed_float16")
        f, k = fastmask.layers.Dense(3), K.layers.Dense(3)
        assert f.get_config()["dtype"] == k.get_config()["dtype"]
        assert fastmask.config.dtype_policy().name == K.config.dtype_policy().name
        assert f(x).dtype == np.asarray(k(x)).dtype == np.float16
        assert f.kernel.dtype == "float32"
        assert fastmask.layers.Dense(3, dtype="float64")(x).dtype == np.float64
        with pytest.raises(ValueError, match="Invalid `policy` argument"):
            fastmask.config.set_dtype_policy(3)
    finally:
        fastmask.config.set_dtype_policy(original)
        K.config.set_dtype_policy(k_original)
    assert fastmask.layers.Dense(3)(x).dtype == np.float32


def test_several_array_arguments_take_the_fast_path_as_the_general_one(monkeypatch):
    """`layer(a, b)` with unmasked arrays runs `_fast_call`; what `call` sees
    (casts, training, the mask arguments' defaults) and what comes out are what the
    general path gives (reached here with `b` passed by keyword)."""
    seen = []

    class Two(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True
            self.input_spec = InputSpec(ndim=3)

        def call(self, a, b, c=None, training=None, mask=None, b_mask="default"):
            seen.append((a.dtype, b.dtype, c is None, training, mask, b_mask))
            return a * 2.0 + b

        def compute_mask(self, a, mask=None):
            return None if mask is None else mask

    fast = []
    real = Layer._fast_call
    monkeypatch.setattr(Layer, "_fast_call",
                        lambda self, args, *rest: (len(args) > 1 and fast.append(1))
                        or real(self, args, *rest))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4))                        # float64: cast to float32
    b = rng.standard_normal((2, 3, 4)).astype(np.float32).view(Tensor)   # a layer output
    layer = Two()
    layer(a, b=b)                                            # builds (general path)
    for kwargs in ({}, {"training": True}, {"training": False}, {"training": None}):
        seen.clear(), fast.clear()
        general = layer(a, b=b, **kwargs)
        quick = layer(a, b, **kwargs)
        assert fast == [1], kwargs
        assert seen[0] == seen[1], (kwargs, seen)
        assert seen[1][:2] == (np.float32, np.float32)
        np.testing.assert_array_equal(quick, general)
        assert get_mask(quick) is None and quick.dtype == general.dtype == np.float32

    class Outer(Layer):                                      # training from the outer call
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.two = Two()

        def call(self, x):
            return self.two(x, x)

    outer = Outer()
    outer(a)
    seen.clear()
    outer(a, training=True)
    outer(a)
    assert [s[3] for s in seen] == [True, None]
    # Not taken: a mask on an argument, too few arguments, a wrong rank (refused as before).
    fast.clear()
    masked = with_mask(a.astype(np.float32), np.ones((2, 3), bool))
    out = layer(masked, b)
    assert fast == [] and seen[-1][4] is None     # several tensors: `mask` is not filled
    with pytest.raises(ValueError, match="ndim"):
        layer(a[0], b[0])
    with pytest.raises(TypeError, match="missing a required argument"):
        layer(a)
    assert get_mask(out) is get_mask(masked)
    # The fast path's casts and dtype checks: to the layer's compute dtype, none with
    # autocast off, ints untouched, non-numeric refused as on the general path.
    fast.clear()
    wide = Two(dtype="float64")
    wide(a, b=b)
    seen.clear()
    wide(a.astype(np.float32), b)
    assert fast == [1] and seen[-1][:2] == (np.float64, np.float64)
    plain = Two(autocast=False)
    plain(a, b=b)
    plain(a, b)
    assert seen[-1][:2] == (np.float64, np.float32)
    layer(a, np.ones((2, 3, 4), np.int32))
    assert seen[-1][:2] == (np.float32, np.int32)
    with pytest.raises(ValueError, match="non-numeric dtype"):
        layer(a, np.full((2, 3, 4), "x"))
