"""Shared conformance helpers: Keras 3.15.1 (NumPy backend) as the oracle.

Usage in a test file::

    from oracle import keras, mask_cases, compare_layer, keras_symbolic_masks

    def test_dense(rng):
        k = keras().layers.Dense(4)
        f = fastmask.layers.Dense(4)
        x = rng.standard_normal((3, 5, 2)).astype("float32")
        for kind, mask in mask_cases(rng, 3, 5):
            compare_layer(k, f, x, mask=mask)

* `keras()` imports keras lazily with KERAS_BACKEND=numpy (set by conftest.py).
* `random_mask(rng, batch, time, kind)`: kinds "post", "pre", "holes",
  "all_masked_row", "none" (None); `mask_cases` yields all of them;
  `SHAPES` has the T=1 / B=1 corner cases.
* `compare_layer(k_layer, fm_layer, x, mask=..., input_mask=...)`: runs both
  (building them), copies Keras's weights into fastmask (`set_weights`), and
  compares outputs (atol 1e-5 float32) and output masks (exact). `mask` is
  passed as `mask=`; `input_mask` is attached to the input instead (the
  auto-mask path). Keras's NumPy backend cannot set `_keras_mask` on arrays,
  but its `set_keras_mask`/`get_keras_mask` fall back to a global id-keyed
  dict, which is how masks are attached and read on the Keras side
  (`k_set_mask`, `k_get_mask`).
* `keras_symbolic_masks(inputs, outputs, data)`: builds a Keras Functional
  model whose extra outputs are the symbolic masks, and returns the real
  `(outputs, masks)` - the way to read Keras's propagated masks through a graph.
"""
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "numpy")

MASK_KINDS = ("post", "pre", "holes", "all_masked_row", "none")
SHAPES = ((3, 5), (1, 4), (3, 1), (1, 1))
ATOL = 1e-5

_KERAS = None


def keras():
    """The keras module (NumPy backend), imported on first use."""
    global _KERAS
    if _KERAS is None:
        import keras as _k
        if _k.backend.backend() != "numpy" and os.environ.get("KERAS_BACKEND") == "numpy":
            raise RuntimeError("keras was imported with another backend first")
        _KERAS = _k
    return _KERAS


def random_mask(rng, batch, time, kind):
    """A bool (batch, time) mask of the given kind (None for "none").

    post: True then False (each row has length >= 1); pre: False then True;
    holes: arbitrary, each row keeps >= 1 step; all_masked_row: like holes but
    row 0 is entirely False.
    """
    if kind == "none":
        return None
    if kind in ("post", "pre"):
        lengths = rng.integers(1, time + 1, size=batch)
        steps = np.arange(time)[None, :]
        mask = steps < lengths[:, None] if kind == "post" else steps >= (time - lengths)[:, None]
        return mask
    if kind in ("holes", "all_masked_row"):
        mask = rng.random((batch, time)) < 0.6
        mask[np.arange(batch), rng.integers(0, time, size=batch)] = True
        if kind == "all_masked_row":
            mask[0] = False
        return mask
    raise ValueError(f"unknown mask kind {kind!r}")


def mask_cases(rng, batch, time, kinds=MASK_KINDS):
    """[(kind, mask)] for every kind."""
    return [(kind, random_mask(rng, batch, time, kind)) for kind in kinds]


def flat(x):
    if isinstance(x, (list, tuple)):
        out = []
        for item in x:
            out.extend(flat(item))
        return out
    if isinstance(x, dict):
        return flat([x[k] for k in sorted(x)])
    return [x]


def to_numpy(x):
    if x is None:
        return None
    return np.array(x)


def assert_outputs_close(k_out, fm_out, atol=ATOL, rtol=1e-5, what="output"):
    k_flat, f_flat = flat(k_out), flat(fm_out)
    assert len(k_flat) == len(f_flat), f"{what}: {len(k_flat)} Keras vs {len(f_flat)} fastmask"
    for i, (k, f) in enumerate(zip(k_flat, f_flat)):
        k, f = to_numpy(k), to_numpy(f)
        assert k.shape == f.shape, f"{what}[{i}]: shape {k.shape} (Keras) vs {f.shape}"
        np.testing.assert_allclose(f, k, atol=atol, rtol=rtol, equal_nan=True,
                                   err_msg=f"{what}[{i}]")


def assert_masks_equal(k_mask, fm_mask, what="mask"):
    k_flat, f_flat = flat(k_mask), flat(fm_mask)
    assert len(k_flat) == len(f_flat), f"{what}: {k_mask!r} (Keras) vs {fm_mask!r}"
    for i, (k, f) in enumerate(zip(k_flat, f_flat)):
        if k is None or f is None:
            assert k is None and f is None, f"{what}[{i}]: Keras {k!r} vs fastmask {f!r}"
            continue
        k, f = np.asarray(k), np.asarray(f)
        assert k.shape == f.shape, f"{what}[{i}]: shape {k.shape} (Keras) vs {f.shape}"
        assert k.dtype == f.dtype == bool, f"{what}[{i}]: dtype {k.dtype} vs {f.dtype}"
        np.testing.assert_array_equal(f, k, err_msg=f"{what}[{i}]")


def fm_masks(outputs):
    """The masks carried by fastmask outputs (same nesting as flat(outputs))."""
    import fastmask
    return [fastmask.get_mask(o) for o in flat(outputs)]


def k_get_mask(x):
    """The mask Keras (NumPy backend) attached to `x`, or None."""
    keras()
    from keras.src.backend.common.masking import get_keras_mask
    return get_keras_mask(x)


def k_set_mask(x, mask):
    """A copy of array `x` carrying `mask` for Keras (NumPy backend)."""
    keras()
    from keras.src.backend.common.masking import set_keras_mask
    y = np.array(x)
    if mask is not None:
        set_keras_mask(y, mask)
    return y


def fm_set_mask(x, mask):
    import fastmask
    return fastmask.with_mask(np.asarray(x), mask) if mask is not None else np.asarray(x)


def _attach(x, masks, setter):
    if isinstance(x, (list, tuple)):
        masks = masks if isinstance(masks, (list, tuple)) else [masks] * len(x)
        return type(x)(setter(a, m) for a, m in zip(x, masks))
    return setter(x, masks)


def compare_layer(k_layer, fm_layer, x, mask=None, input_mask=None, call_kwargs=None,
                  copy_weights=True, atol=ATOL, check_mask=True):
    """Run a Keras layer and the same fastmask layer on (x, mask); compare both.

    `x` may be a list (merge layers); `input_mask` then is a list of masks.
    Returns (fastmask outputs, Keras outputs).
    """
    call_kwargs = dict(call_kwargs or {})
    if mask is not None:
        call_kwargs["mask"] = mask
    kx = _attach(x, input_mask, k_set_mask) if input_mask is not None else x
    fx = _attach(x, input_mask, fm_set_mask) if input_mask is not None else x
    k_out = k_layer(kx, **call_kwargs)
    if copy_weights:
        if not fm_layer.built:
            fm_layer(fx, **call_kwargs)
        fm_layer.set_weights(k_layer.get_weights())
    fm_out = fm_layer(fx, **call_kwargs)
    assert_outputs_close(k_out, fm_out, atol=atol)
    if check_mask:
        assert_masks_equal([k_get_mask(o) for o in flat(k_out)], fm_masks(fm_out))
    return fm_out, k_out


def keras_symbolic_masks(inputs, outputs, data):
    """Run a Keras graph and return (outputs, masks) as NumPy (masks None where absent).

    `inputs`/`outputs` are Keras KerasTensors (lists allowed); `data` the
    array(s) for `inputs`.
    """
    k = keras()
    outs = flat(outputs)
    masks = [getattr(o, "_keras_mask", None) for o in outs]
    extra = [m for m in masks if m is not None]
    model = k.Model(inputs, outs + extra)
    results = model(data)
    results = results if isinstance(results, (list, tuple)) else [results]
    out_vals = [np.asarray(r) for r in results[:len(outs)]]
    mask_vals = list(results[len(outs):])
    it = iter(mask_vals)
    return out_vals, [None if m is None else np.asarray(next(it)) for m in masks]
