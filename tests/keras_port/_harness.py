"""Harness for the ports of Keras 3.15.1's own tests (issue 14).

* `run_layer_test(...)`: fastmask's counterpart of
  `keras.src.testing.TestCase.run_layer_test` (Keras v3.15.1,
  `keras/src/testing/test_case.py`). It runs the same stages on the fastmask
  layer -- config round trip, `supports_masking`, `build(shape)` and weight
  counts, a symbolic call on `fastmask.KerasTensor`s, an eager call, the
  mixed-precision dtype check -- and then builds the same layer in Keras
  (numpy backend), copies Keras's weights into fastmask and compares outputs
  and output masks (float32 within 1e-5). Where Keras's test states no count,
  the count comes from the Keras layer, not from fastmask. All stages run;
  the failures are reported together, one line per stage.
  Not ported from Keras's version: seed-generator and loss counts and the
  training step (fastmask has neither optimizers nor regularization losses).
* `skip_training(why)`, `skip_backend(why)`, ...: skip a case with a reason
  category `[category]` that `conftest.py` counts for the summary line.
* `skipped_cases([...])`: one parametrized test for the cases of a Keras file
  that are not portable (each id names the Keras test).
* `on_both(fn)`: run `fn(K)` with `K` = fastmask and `K` = keras, for cases
  written once against the shared public API; `assert_numbers` compares
  fastmask with Keras and with the numbers a Keras test states.
"""
import functools
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")

import fastmask  # noqa: E402
from oracle import assert_outputs_close, flat, k_get_mask, keras  # noqa: E402

ATOL = 1e-5
RTOL = 1e-5

# ---------------------------------------------------------------------------------- skips

SKIP_CATEGORIES = {
    "training": "fit/evaluate/gradients/optimizers/losses/metrics: fastmask is inference-only",
    "backend": "a tf/jax/torch-only path, a GPU/TPU, or a backend's own machinery",
    "sparse-ragged": "sparse or ragged tensors (neither the numpy backend nor fastmask has them)",
    "quantization": "int8/int4/float8/GPTQ/AWQ quantization or LoRA",
    "export": "model.export / SavedModel / ONNX / legacy .h5",
    "keras-internal": "a private Keras class or helper that fastmask does not expose",
    "not-applicable": "nothing to test (empty Keras test) or a Keras-only feature",
}


def skip(category, why):
    """Skip the current test with reason `[category] why` (category in SKIP_CATEGORIES)."""
    if category not in SKIP_CATEGORIES:
        raise ValueError(f"Unknown skip category. Received: category={category!r}")
    pytest.skip(f"[{category}] {why}")


skip_training = functools.partial(skip, "training")
skip_backend = functools.partial(skip, "backend")
skip_sparse_ragged = functools.partial(skip, "sparse-ragged")
skip_quantization = functools.partial(skip, "quantization")
skip_export = functools.partial(skip, "export")
skip_keras_internal = functools.partial(skip, "keras-internal")
skip_not_applicable = functools.partial(skip, "not-applicable")


def skipped_cases(cases):
    """A test function over `cases` = [(keras_case, category, why)], each skipped.

    Use as `test_not_ported = skipped_cases([...])` in a port file; the test
    ids are the Keras case names (`Class::test_name`).
    """
    for case in cases:
        if len(case) != 3 or case[1] not in SKIP_CATEGORIES:
            raise ValueError(f"Bad skipped case. Received: {case!r}")

    @pytest.mark.parametrize("case,category,why", cases, ids=[c[0] for c in cases])
    def test_not_ported(case, category, why):
        skip(category, why)

    return test_not_ported


# ------------------------------------------------------------------------------ helpers


def to_numpy(x):
    return None if x is None else np.asarray(x)


def on_both(fn):
    """`(fn(fastmask), fn(keras))`: one case body run against both libraries."""
    return fn(fastmask), fn(keras())


def assert_numbers(fm_out, k_out=None, stated=None, atol=ATOL, rtol=RTOL, stated_atol=1e-6,
                   stated_rtol=1e-6):
    """fastmask's output(s) match Keras's (within atol/rtol) and the numbers stated.

    `stated` is what the Keras test asserts (checked with the Keras test's
    own tolerance, 1e-6 by default). Nested lists/tuples/dicts are flattened.
    """
    fm_flat = flat(fm_out)
    if stated is not None:
        st_flat = flat(stated) if isinstance(fm_out, (list, tuple, dict)) else [stated]
        assert len(st_flat) == len(fm_flat), f"{len(fm_flat)} outputs, {len(st_flat)} stated"
        for i, (f, s) in enumerate(zip(fm_flat, st_flat)):
            np.testing.assert_allclose(to_numpy(f), np.asarray(s), atol=stated_atol,
                                       rtol=stated_rtol, err_msg=f"output[{i}] vs stated")
    if k_out is not None:
        k_flat = flat(k_out) if isinstance(fm_out, (list, tuple, dict)) else [k_out]
        assert_outputs_close(k_flat, fm_flat, atol=atol, rtol=rtol)


def copy_weights(k_obj, fm_obj):
    """Give the fastmask layer/model Keras's weights (`set_weights(get_weights())`)."""
    fm_obj.set_weights([np.asarray(w) for w in k_obj.get_weights()])


def to_json_with_tuples(value):
    """JSON text of a config in which tuples stay distinguishable from lists."""
    def encode(v):
        if isinstance(v, tuple):
            return {"__tuple__": True, "items": [encode(i) for i in v]}
        if isinstance(v, list):
            return [encode(i) for i in v]
        if isinstance(v, dict):
            return {k: encode(i) for k, i in v.items()}
        if isinstance(v, np.generic):
            return v.item()
        return v
    return json.dumps(encode(value), sort_keys=True, default=repr)


def from_json_with_tuples(text):
    def hook(d):
        if d.get("__tuple__") is True:
            return tuple(d["items"])
        return d
    return json.loads(text, object_hook=hook)


def _without_layer_names(value):
    """The config without layer names (dicts holding both "name" and "trainable").

    Also drops `build_config["supports_masking"]`, which fastmask adds on
    purpose (README: a custom layer's supports_masking survives save/load;
    Keras ignores the key).
    """
    if isinstance(value, dict):
        drop = "name" in value and "trainable" in value
        out = {k: _without_layer_names(v) for k, v in value.items()
               if not (drop and k == "name")}
        build_config = out.get("build_config")
        if isinstance(build_config, dict) and "supports_masking" in build_config:
            build_config = {k: v for k, v in build_config.items() if k != "supports_masking"}
            if build_config:
                out["build_config"] = build_config
            else:
                del out["build_config"]
        return out
    if isinstance(value, (list, tuple)):
        return [_without_layer_names(v) for v in value]
    return value


def config_differences(a, b, path=""):
    """['path: a != b', ...] between two JSON-like values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}/{k}: missing (Keras {b[k]!r})")
            elif k not in b:
                out.append(f"{path}/{k}: {a[k]!r} (not in Keras)")
            else:
                out.extend(config_differences(a[k], b[k], f"{path}/{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in config_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '/'}: {a!r} != Keras {b!r}"]


def assert_same_config_as_keras(fm_obj, k_obj, keep_names=False):
    """`serialize_keras_object` of both equal (as saved JSON; layer names dropped unless asked)."""
    fm_ser = json.loads(json.dumps(fastmask.saving.serialize_keras_object(fm_obj), default=repr))
    k_ser = json.loads(json.dumps(keras().saving.serialize_keras_object(k_obj), default=repr))
    if not keep_names:
        fm_ser, k_ser = _without_layer_names(fm_ser), _without_layer_names(k_ser)
    diffs = config_differences(fm_ser, k_ser)
    assert not diffs, "config differs from Keras's: " + "; ".join(diffs)


def _assert_same_json(config, ref_json, what):
    got = to_json_with_tuples(config)
    if got != ref_json:
        diffs = config_differences(json.loads(got), json.loads(ref_json))
        raise AssertionError(f"{what} changed the config (revived vs original): "
                             + "; ".join(d.replace("Keras", "original") for d in diffs))


def run_class_serialization_test(instance, custom_objects=None):
    """Keras's `run_class_serialization_test` on a fastmask object: returns the revived one.

    `from_config(get_config())` and `deserialize(serialize(...))` (through
    JSON with tuples) both give equal configs and the same attribute names.
    """
    cls = type(instance)
    config = instance.get_config()
    config_json = to_json_with_tuples(config)
    ref_dir = set(dir(instance)) - {"__annotations__"}
    with fastmask.saving.custom_object_scope(custom_objects or {}):
        revived = cls.from_config(config)
    _assert_same_json(revived.get_config(), config_json, "from_config(get_config())")
    assert set(dir(revived)) - {"__annotations__"} == ref_dir, (
        f"attributes differ after from_config: "
        f"{sorted(ref_dir ^ (set(dir(revived)) - {'__annotations__'}))}")
    serialized = to_json_with_tuples(fastmask.saving.serialize_keras_object(instance))
    with fastmask.saving.custom_object_scope(custom_objects or {}):
        revived = fastmask.saving.deserialize_keras_object(from_json_with_tuples(serialized))
    _assert_same_json(revived.get_config(), config_json, "deserialize(serialize(...))")
    new_dir = set(dir(revived)) - {"__annotations__"}
    assert new_dir == ref_dir, (
        f"attributes differ after deserialize: {sorted(ref_dir ^ new_dir)}")
    return revived


# ------------------------------------------------------------------------- run_layer_test


class _Stages:
    """Runs named check stages, collecting every failure; raises them together."""

    def __init__(self):
        self.failures = []

    def run(self, name, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - each stage's failure is reported
            text = " | ".join(line.strip() for line in str(exc).strip().splitlines()
                              if line.strip())
            if len(text) > 700:
                text = text[:700] + " ..."
            self.failures.append(f"{name}: {type(exc).__name__}: {text}")
            return None

    def raise_if_failed(self, what):
        if self.failures:
            raise AssertionError(f"{what} failed {len(self.failures)} stage(s):\n  "
                                 + "\n  ".join(self.failures))


def _is_shape_tuple(x):
    return isinstance(x, (tuple, list)) and all(isinstance(d, int) or d is None for d in x)


def _map_shapes(fn, shapes, dtypes):
    """Apply fn(shape, dtype) over a shape, a list/tuple of shapes or a dict of shapes."""
    if isinstance(shapes, dict):
        return {k: fn(v, dtypes[k]) for k, v in shapes.items()}
    if _is_shape_tuple(shapes):
        return fn(tuple(shapes), dtypes)
    return type(shapes)(_map_shapes(fn, s, d) for s, d in zip(shapes, dtypes))


def _default_dtypes(shapes):
    if isinstance(shapes, dict):
        return {k: "float32" for k in shapes}
    if _is_shape_tuple(shapes):
        return "float32"
    return type(shapes)(_default_dtypes(s) for s in shapes)


def _strip_shape_suffix(d):
    return {(k[:-len("_shape")] if k.endswith("_shape") else k): v for k, v in d.items()}


def make_eager_inputs(input_shape, input_dtype=None, seed=0):
    """Random inputs like Keras's `create_eager_tensors`: uniform [0, 3) cast to the dtype."""
    rng = np.random.default_rng(seed)
    dtypes = input_dtype if input_dtype is not None else _default_dtypes(input_shape)

    def make(shape, dtype):
        return (rng.random(shape, dtype=np.float32) * 3).astype(dtype)

    data = _map_shapes(make, input_shape, dtypes)
    return _strip_shape_suffix(data) if isinstance(data, dict) else data


def make_symbolic_inputs(K, input_shape, input_dtype):
    data = _map_shapes(lambda s, d: K.KerasTensor(s, dtype=d), input_shape, input_dtype)
    return _strip_shape_suffix(data) if isinstance(data, dict) else data


def _shape_of(x):
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def _call(layer, inputs, call_kwargs):
    if isinstance(inputs, dict):
        return layer(**inputs, **call_kwargs)
    return layer(inputs, **call_kwargs)


def _build(layer, build_shape):
    if isinstance(build_shape, dict):
        layer.build(**build_shape)
    else:
        layer.build(build_shape)


def _shapes_match(expected, actual):
    if len(expected) != len(actual):
        return False
    return all(e is None or e == a for e, a in zip(expected, actual))


def _check_output_shapes(expected, output):
    outs = flat(output)
    exp = [expected] if _is_shape_tuple(expected) else flat_shapes(expected)
    assert len(exp) == len(outs), f"{len(outs)} outputs, expected {len(exp)} shapes"
    got = [_shape_of(o) for o in outs]
    assert all(_shapes_match(e, g) for e, g in zip(exp, got)), (
        f"expected output shapes {expected}, got {got}")


def flat_shapes(shapes):
    if _is_shape_tuple(shapes):
        return [tuple(shapes)]
    if isinstance(shapes, dict):
        return [s for k in sorted(shapes) for s in flat_shapes(shapes[k])]
    return [s for item in shapes for s in flat_shapes(item)]


def _check_output_dtypes(expected, output):
    outs = flat(output)
    exp = [expected] * len(outs) if isinstance(expected, str) else flat(expected)
    got = [str(np.dtype(o.dtype)) if not isinstance(o.dtype, str) else o.dtype for o in outs]
    assert got == list(exp), f"expected output dtypes {expected}, got {got}"


def run_layer_test(layer_cls, init_kwargs=None, input_shape=None, input_dtype=None,
                   input_data=None, call_kwargs=None, expected_output_shape=None,
                   expected_output_dtype=None, expected_output=None,
                   expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                   expected_num_non_trainable_variables=None, supports_masking=None,
                   expected_mask_shape=None, custom_objects=None,
                   run_mixed_precision_check=True, assert_built_after_instantiation=False,
                   keras_cls=None, keras_init_kwargs=None, keras_custom_objects=None,
                   compare_with_keras=True, compare_config_with_keras=True, atol=ATOL,
                   rtol=RTOL, expected_atol=1e-6, expected_rtol=1e-6):
    """Keras's `run_layer_test` on the fastmask `layer_cls`, plus the Keras comparison.

    Arguments as in Keras (`input_shape` xor `input_data`; shapes/data may be
    a list or a dict, dict shape keys ending in `_shape`). Extra arguments:
    keras_cls: the Keras class (default `keras.layers.<same name>`);
        keras_init_kwargs: its arguments (default `init_kwargs`).
    compare_with_keras: run the Keras layer on the same inputs with the same
        weights and compare outputs and masks (atol/rtol); False for random
        (training-mode) calls.
    compare_config_with_keras: the fastmask config equals Keras's (names aside).
    expected_atol/expected_rtol: tolerance on `expected_output` (Keras's
        assertAllClose default is 1e-6).
    """
    if input_shape is not None and input_data is not None:
        raise ValueError("input_shape and input_data cannot be passed at the same time.")
    if expected_output is not None and input_data is None:
        raise ValueError("In order to use expected_output, input_data must be provided.")
    init_kwargs = dict(init_kwargs or {})
    call_kwargs = dict(call_kwargs or {})
    k_init_kwargs = dict(init_kwargs if keras_init_kwargs is None else keras_init_kwargs)
    if input_shape is not None and input_dtype is None:
        input_dtype = _default_dtypes(input_shape)
    has_inputs = input_shape is not None or input_data is not None
    if input_data is None and input_shape is not None:
        input_data = make_eager_inputs(input_shape, input_dtype)
    stages = _Stages()
    kmod = keras() if (compare_with_keras or compare_config_with_keras) else None
    if kmod is not None and keras_cls is None:
        keras_cls = getattr(kmod.layers, layer_cls.__name__)

    def scope():
        return fastmask.saving.custom_object_scope(custom_objects or {})

    # Config first: layers given as arguments (an RNN's cell) are still unbuilt.
    if compare_config_with_keras and kmod is not None:
        def config_vs_keras():
            with scope():
                fm_layer = layer_cls(**init_kwargs)
            with kmod.saving.custom_object_scope(keras_custom_objects or {}):
                k_layer = keras_cls(**k_init_kwargs)
            assert_same_config_as_keras(fm_layer, k_layer, keep_names="name" in init_kwargs)
        stages.run("config vs Keras", config_vs_keras)

    # Reference counts: from Keras's layer where the test states none.
    k_ref = None
    if kmod is not None and has_inputs:
        def keras_reference():
            with kmod.saving.custom_object_scope(keras_custom_objects or {}):
                layer = keras_cls(**k_init_kwargs)
            _call(layer, input_data, call_kwargs)
            return layer
        k_ref = stages.run("keras reference (Keras itself failed)", keras_reference)
    if k_ref is not None:
        if expected_num_trainable_weights is None:
            expected_num_trainable_weights = len(k_ref.trainable_weights)
        if expected_num_non_trainable_weights is None:
            expected_num_non_trainable_weights = len(k_ref.non_trainable_weights)

    # Serialization.
    def serialization():
        with scope():
            layer = layer_cls(**init_kwargs)
        run_class_serialization_test(layer, custom_objects)
        return layer
    layer = stages.run("serialization", serialization)

    if supports_masking is not None:
        def masking_flag():
            with scope():
                fm_layer = layer_cls(**init_kwargs)
            assert fm_layer.supports_masking == supports_masking, (
                f"supports_masking={fm_layer.supports_masking}, expected {supports_masking}")
        stages.run("supports_masking", masking_flag)

    def build_asserts(layer):
        assert layer.built, "layer not built"
        if expected_num_trainable_weights is not None:
            assert len(layer.trainable_weights) == expected_num_trainable_weights, (
                f"{len(layer.trainable_weights)} trainable weights, expected "
                f"{expected_num_trainable_weights}")
        if expected_num_non_trainable_weights is not None:
            assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
                f"{len(layer.non_trainable_weights)} non-trainable weights, expected "
                f"{expected_num_non_trainable_weights}")
        if expected_num_non_trainable_variables is not None:
            n = len(layer.non_trainable_variables)
            assert n == expected_num_non_trainable_variables, (
                f"{n} non-trainable variables, expected {expected_num_non_trainable_variables}")

    def output_asserts(output):
        if expected_output_shape is not None:
            _check_output_shapes(expected_output_shape, output)
        if expected_output_dtype is not None:
            _check_output_dtypes(expected_output_dtype, output)

    if has_inputs:
        def build_stage():
            if isinstance(input_data, dict):
                build_shape = {f"{k}_shape": _shape_of(v) for k, v in input_data.items()}
            elif isinstance(input_data, (list, tuple)):
                build_shape = (type(input_data)(_shape_of(v) for v in input_data)
                               if input_shape is None else input_shape)
            else:
                build_shape = _shape_of(input_data) if input_shape is None else input_shape
            with scope():
                layer = layer_cls(**init_kwargs)
            _build(layer, build_shape)
            build_asserts(layer)
        stages.run("build(shape)", build_stage)

        dtypes = input_dtype if input_dtype is not None else _map_like(
            lambda v: str(np.asarray(v).dtype), input_data)
        shapes = input_shape if input_shape is not None else _map_like(_shape_of, input_data)
        if isinstance(shapes, dict) and input_shape is None:
            shapes = {f"{k}_shape": v for k, v in shapes.items()}
            dtypes = {f"{k}_shape": v for k, v in dtypes.items()}

        def symbolic_stage():
            sym = make_symbolic_inputs(fastmask, shapes, dtypes)
            with scope():
                layer = layer_cls(**init_kwargs)
            out = _call(layer, sym, call_kwargs)
            build_asserts(layer)
            output_asserts(out)
            for o in flat(out):
                assert isinstance(o, fastmask.KerasTensor), f"symbolic call returned {type(o)}"
            if expected_mask_shape is not None:
                mask = layer.compute_mask(sym)
                assert tuple(mask.shape) == tuple(expected_mask_shape), (
                    f"compute_mask shape {mask.shape}, expected {expected_mask_shape}")
            if kmod is not None:
                ksym = make_symbolic_inputs(kmod, shapes, dtypes)
                with kmod.saving.custom_object_scope(keras_custom_objects or {}):
                    k_layer = keras_cls(**k_init_kwargs)
                k_out = _call(k_layer, ksym, call_kwargs)
                got = [(tuple(o.shape), o.dtype) for o in flat(out)]
                want = [(tuple(o.shape), o.dtype) for o in flat(k_out)]
                assert got == want, f"symbolic outputs {got}, Keras {want}"
            return out
        stages.run("symbolic call", symbolic_stage)

        if assert_built_after_instantiation:
            def built_at_init():
                with scope():
                    layer = layer_cls(**init_kwargs)
                assert layer.built, f"{layer_cls.__name__} is stateless: built at __init__"

                class ModifiedBuildLayer(layer_cls):
                    def build(self, *args, **kwargs):
                        pass
                with scope():
                    layer = ModifiedBuildLayer(**init_kwargs)
                assert not layer.built, "a subclass overriding build() is not built at __init__"
            stages.run("built after instantiation", built_at_init)

        def eager_stage():
            with scope():
                layer = layer_cls(**init_kwargs)
            out = _call(layer, input_data, call_kwargs)
            output_asserts(out)
            if expected_output is not None:
                assert type(out) is type(expected_output) or not isinstance(
                    expected_output, (list, tuple, dict)), (
                    f"output type {type(out).__name__}, expected {type(expected_output).__name__}")
                for i, (ref, val) in enumerate(zip(flat(expected_output), flat(out))):
                    np.testing.assert_allclose(np.asarray(val), np.asarray(ref),
                                               atol=expected_atol, rtol=expected_rtol,
                                               err_msg=f"output[{i}] vs expected_output")
            return layer, out
        eager = stages.run("eager call", eager_stage)

        if compare_with_keras and kmod is not None and eager is not None:
            def keras_stage():
                fm_layer = eager[0]
                with kmod.saving.custom_object_scope(keras_custom_objects or {}):
                    k_layer = keras_cls(**k_init_kwargs)
                k_out = _call(k_layer, input_data, call_kwargs)
                copy_weights(k_layer, fm_layer)
                fm_out = _call(fm_layer, input_data, call_kwargs)
                assert type(fm_out) is type(k_out) or not isinstance(k_out, (list, tuple, dict)), (
                    f"output type {type(fm_out).__name__}, Keras {type(k_out).__name__}")
                assert_numbers(fm_out, k_out, atol=atol, rtol=rtol)
                k_masks = [k_get_mask(o) for o in flat(k_out)]
                fm_masks = [fastmask.get_mask(o) for o in flat(fm_out)]
                for i, (km, fm) in enumerate(zip(k_masks, fm_masks)):
                    if km is None or fm is None:
                        assert km is None and fm is None, (
                            f"output mask[{i}]: Keras {km is not None and 'a mask' or None}, "
                            f"fastmask {fm is not None and 'a mask' or None}")
                    else:
                        np.testing.assert_array_equal(np.asarray(fm), np.asarray(km),
                                                      err_msg=f"output mask[{i}] vs Keras")
            stages.run("outputs vs Keras", keras_stage)

        if run_mixed_precision_check:
            def mixed_precision():
                with scope():
                    layer = layer_cls(**{**init_kwargs, "dtype": "mixed_float16"})
                spec = _map_like_shapes(
                    lambda s, d: fastmask.KerasTensor(
                        s, dtype=(layer.compute_dtype if layer.autocast and "float" in d else d)),
                    shapes, dtypes)
                out = _call(layer, input_data, call_kwargs)
                out_spec = (layer.compute_output_spec(**spec) if isinstance(spec, dict)
                            else layer.compute_output_spec(spec))
                for tensor, s in zip(flat(out), flat(out_spec)):
                    got = str(np.asarray(tensor).dtype)
                    assert got == s.dtype, f"mixed_float16: output dtype {got}, spec {s.dtype}"
                for w in layer.weights:
                    if "float" in str(np.asarray(w).dtype):
                        assert str(np.asarray(w).dtype) == "float32", (
                            f"mixed_float16: weight {getattr(w, 'name', '?')} is "
                            f"{np.asarray(w).dtype}")
            stages.run("mixed precision", mixed_precision)

    stages.raise_if_failed(f"run_layer_test({layer_cls.__name__})")


def _map_like(fn, data):
    if isinstance(data, dict):
        return {k: fn(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not _is_array_like_leaf(data):
        return type(data)(_map_like(fn, v) for v in data)
    return fn(data)


def _is_array_like_leaf(x):
    return isinstance(x, np.ndarray)


def _map_like_shapes(fn, shapes, dtypes):
    data = _map_shapes(fn, shapes, dtypes)
    return _strip_shape_suffix(data) if isinstance(data, dict) else data


def xfail(reason, raises=None):
    """A strict xfail: the case fails today because fastmask is wrong (`reason` says how)."""
    if raises is None:
        return pytest.mark.xfail(strict=True, reason=reason)
    return pytest.mark.xfail(strict=True, reason=reason, raises=raises)


def mark_xfail(path, marks):
    """Dev helper (not used by tests): add `@xfail(...)` above `def name(` lines in `path`.

    `marks` = {test_name: (reason, raises_expression_or_None)}.
    """
    text = open(path).read()
    for name, (reason, raises) in marks.items():
        key = f"\ndef {name}("
        if text.count(key) != 1:
            raise ValueError(f"{name} is not defined exactly once in {path}")
        extra = f", raises={raises}" if raises else ""
        text = text.replace(key, f"\n@xfail({reason!r}{extra})\ndef {name}(")
    with open(path, "w") as f:
        f.write(text)


def constant_rnn(K, cls_name, units, **kwargs):
    """`K.layers.<cls_name>(units, ...)` with Keras's test initializers Constant(0.01/0.02/0.03)."""
    return getattr(K.layers, cls_name)(
        units, kernel_initializer=K.initializers.Constant(0.01),
        recurrent_initializer=K.initializers.Constant(0.02),
        bias_initializer=K.initializers.Constant(0.03), **kwargs)


def constant_rnn_case(cls_name, units, x, stated, call_kwargs=None, stated_atol=1e-6,
                      stated_rtol=1e-6, **kwargs):
    """One numeric case of Keras's recurrent tests: fastmask vs Keras vs the stated numbers."""
    def run(K):
        return constant_rnn(K, cls_name, units, **kwargs)(x, **(call_kwargs or {}))
    fm, k = on_both(run)
    assert_numbers(fm, k, stated=stated, stated_atol=stated_atol, stated_rtol=stated_rtol)
    return fm
