"""One-call conformance checks of a fastmask layer against Keras 3.15.1 (NumPy backend).

Used by the test files of the layers added for issue 14 point 6
(test_reshaping_layers.py, test_conv_layers.py, ...)::

    from layer_conformance import pair, check_masks, check_config, check_keras_file

* `pair(name, *args, **kwargs)`: (Keras layer, fastmask layer) of the same class.
* `randomize(k_layer, rng)`: random non-zero weights on a built Keras layer
  (variances positive), so biases and scales are exercised.
* `check_masks(name, args, kwargs, x, supports_masking)`: the layer on `x` carrying
  each kind of mask (post, pre, holes, a fully masked row, none) in both
  libraries, same weights: outputs within 1e-5, output masks equal; a layer that
  does not support masking must drop the mask with Keras's warning.
* `check_dtypes(name, args, kwargs, x)`: float32 and float64 inputs, float32 and
  float64 layers: values within 1e-5 of Keras; the output dtype is the layer's
  compute dtype. (Keras's NumPy backend runs convolutions and poolings through
  XLA with 64-bit floats disabled, so its float64 layers return float32; fastmask
  returns float64 there, as the dtype policy says.)
* `check_config(name, args, kwargs)`: `serialize` equal to Keras's (layer names
  aside) and the config round trips (`from_config`, `deserialize(serialize())`).
* `check_keras_file(tmp_path, build, x)`: `build(M)` makes a model with module M
  (keras or fastmask); the Keras one, with random weights, is saved as `.keras`
  and loaded by `fastmask.models.load_model`: same outputs within 1e-5.
"""
import json
import warnings

import numpy as np
import pytest

import fastmask
from oracle import (MASK_KINDS, assert_masks_equal, assert_outputs_close, compare_layer,
                    fm_masks, k_get_mask, k_set_mask, keras, random_mask)

ATOL = 1e-5


def pair(name, *args, **kwargs):
    """(keras.layers.<name>(...), fastmask.layers.<name>(...))."""
    return getattr(keras().layers, name)(*args, **kwargs), \
        getattr(fastmask.layers, name)(*args, **kwargs)


def randomize(k_layer, rng, scale=0.5):
    """Random non-zero weights on a built Keras layer (moving variances kept positive).

    Kernels are scaled by 1/sqrt(fan-in) (as an initializer does), so that outputs
    stay O(1) and float32 rounding stays well below the 1e-5 tolerance.
    """
    values = []
    for w in k_layer.weights:
        shape = tuple(w.shape)
        v = scale * rng.standard_normal(shape)
        if len(shape) >= 2 and "kernel" in w.path:
            v /= np.sqrt(np.prod(shape[:-1]))
        if "variance" in w.path or "stddev" in w.path:
            v = 0.5 + np.abs(v)
        values.append(v.astype(np.dtype(w.dtype)))
    if values:
        k_layer.set_weights(values)


def _build_keras(k_layer, x, call_kwargs):
    if not k_layer.built or not k_layer.weights:
        k_layer(x, **call_kwargs)


def check_masks(name, args, kwargs, x, supports_masking, call_kwargs=None, seed=0,
                kinds=MASK_KINDS, atol=ATOL, mask_axis_len=None):
    """The layer on `x` with each kind of incoming (batch, time) mask, vs Keras."""
    call_kwargs = dict(call_kwargs or {})
    rng = np.random.default_rng(seed)
    k, f = pair(name, *args, **kwargs)
    _build_keras(k, x, call_kwargs)
    randomize(k, rng)
    time = x.shape[1] if mask_axis_len is None else mask_axis_len
    for kind in kinds:
        mask = random_mask(rng, x.shape[0], time, kind)
        if mask is None:
            compare_layer(k, f, x, call_kwargs=call_kwargs, atol=atol)
            continue
        if supports_masking:
            out, _ = compare_layer(k, f, x, input_mask=mask, call_kwargs=call_kwargs,
                                   atol=atol)
            continue
        if not f.built:
            f(x, **call_kwargs)
        f.set_weights(k.get_weights())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k_out = k(k_set_mask(x, mask), **call_kwargs)
        with pytest.warns(UserWarning, match="does not support masking and will therefore "
                                             "destroy the mask information"):
            f_out = f(fastmask.with_mask(np.asarray(x), mask), **call_kwargs)
        assert_outputs_close(k_out, f_out, atol=atol, what=f"{name}/{kind}")
        assert k_get_mask(k_out) is None and fm_masks(f_out) == [None]
    return f


def check_dtypes(name, args, kwargs, x, call_kwargs=None, seed=0, keras_float64_is_float32=False,
                 atol=ATOL):
    """float32/float64 inputs x float32/float64 layers: values vs Keras, dtype = compute dtype."""
    call_kwargs = dict(call_kwargs or {})
    for layer_dtype in ("float32", "float64"):
        for x_dtype in ("float32", "float64"):
            xx = np.asarray(x).astype(x_dtype)
            rng = np.random.default_rng(seed)
            k, f = pair(name, *args, dtype=layer_dtype, **kwargs)
            _build_keras(k, xx, call_kwargs)
            randomize(k, rng)
            k_out = k(xx, **call_kwargs)
            if not f.built:
                f(xx, **call_kwargs)
            f.set_weights(k.get_weights())
            f_out = f(xx, **call_kwargs)
            assert_outputs_close(k_out, f_out, atol=atol,
                                 what=f"{name} dtype={layer_dtype} x={x_dtype}")
            for o, ko in zip(_flat(f_out), _flat(k_out)):
                assert np.asarray(o).dtype == np.dtype(layer_dtype), (
                    f"{name} dtype={layer_dtype}: output {np.asarray(o).dtype}")
                if not keras_float64_is_float32:
                    assert np.asarray(ko).dtype == np.asarray(o).dtype


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _without_names(value):
    if isinstance(value, dict):
        drop = "name" in value and "dtype" in value    # a layer config
        return {k: _without_names(v) for k, v in value.items() if not (drop and k == "name")}
    if isinstance(value, (list, tuple)):
        return [_without_names(v) for v in value]
    return value


def _json(value):
    return json.loads(json.dumps(value, default=repr))


def check_config(name, args, kwargs, custom_objects=None):
    """Same serialized config as Keras; from_config / deserialize round trips."""
    k, f = pair(name, *args, **kwargs)
    k_ser = _without_names(_json(keras().saving.serialize_keras_object(k)))
    f_ser = _without_names(_json(fastmask.saving.serialize_keras_object(f)))
    assert f_ser == k_ser
    config = f.get_config()
    revived = type(f).from_config(config)
    assert _json(revived.get_config()) == _json(config)
    revived = fastmask.saving.deserialize_keras_object(
        json.loads(json.dumps(fastmask.saving.serialize_keras_object(f))),
        custom_objects=custom_objects)
    assert type(revived) is type(f)
    assert _without_names(_json(revived.get_config())) == _without_names(_json(config))
    # Keras reads fastmask's config back.
    k_revived = keras().saving.deserialize_keras_object(
        json.loads(json.dumps(fastmask.saving.serialize_keras_object(f))))
    assert _without_names(_json(k_revived.get_config())) == _without_names(
        _json(k.get_config()))
    return f


def check_keras_file(tmp_path, build, x, seed=0, atol=ATOL, custom_objects=None):
    """Keras model -> .keras file -> fastmask.models.load_model: same outputs (and masks)."""
    k_model = build(keras())
    rng = np.random.default_rng(seed)
    for layer in k_model.layers:
        randomize(layer, rng)
    path = tmp_path / "model.keras"
    k_model.save(path)
    f_model = fastmask.models.load_model(path, custom_objects=custom_objects)
    k_out = k_model(x)
    f_out = f_model(x)
    assert_outputs_close(k_out, f_out, atol=atol, what="loaded model")
    assert_masks_equal([k_get_mask(o) for o in _flat(k_out)], fm_masks(f_out))
    f_weights = f_model.get_weights()
    k_weights = k_model.get_weights()
    assert len(f_weights) == len(k_weights)
    for a, b in zip(f_weights, k_weights):
        np.testing.assert_array_equal(a, b)
    return f_model
