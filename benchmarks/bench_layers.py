"""Family "layers": the Python cost of the Layer API (calls, mask propagation, models).

The kernels under these layers are benchmarked by their own families; here the
question is what the Keras-compatible API adds on top of them.

* "Sequential 3 small layers": `Sequential([Input((20,)), Dense(16), ReLU(),
  Dense(8)])` on a (32, 20) float32 batch. Peers: "kernels" (the same NumPy
  operations with no API: two matmuls, two bias adds, a maximum), and
  "kernels + 50us" (the same, then a 50 microsecond busy-wait): the target
  `Target("kernels + 50us", 1.0)` says the API costs less than 50 us of Python
  per call above its kernels. Keras 3 (NumPy backend) runs the same model.
* "Sequential masked ids": Embedding(mask_zero) -> Dense -> Dense on (32, 20)
  ids, every layer carrying the mask. Keras as the peer.
* "Dense on (batch, time, features)": one GEMM (`np.matmul` on the 2-D view),
  shown as % of the machine's GEMM rate next to `np.matmul` itself.
* "guide functional model": the guide's Embedding(mask_zero) -> Dense(1) ->
  TemporalSoftmax graph on (32, 100) ids.
* "fused dense ...": `fastmask.kernels.dense` (bias and activation in the
  GEMM's output pass, writing into a preallocated `out=` as a model's buffer
  arena will) on issue 16's shapes: the mini-GPT's Dense to a 20000 vocabulary
  (32*80, 256) x (256, 20000), the transformer's projections
  (1024*200, 64) x (64, 64) and a per-token Dense with relu. Peers: "numpy"
  (`np.matmul(x, W) + b`, then the activation: what Dense did before) and
  "matmul only" (`np.matmul(x, W, out=)`: the bare GEMM, no bias), and
  "blas path": the same call forced onto dense()'s BLAS path (every one of
  these shapes takes the small-GEMM path by itself: the ratio shows that
  choice, measured in the same run; no target); the bound is the machine's
  GEMM rate.
* "layer norm over the last axis": `fastmask.kernels.layer_norm` with `out=`
  on the transformer's (1024, 200, 32) float32 activations (26 MB). Peers:
  "numpy" (the NumPy formula LayerNormalization used before: mean, centred
  variance, then scale and shift, each a pass) and "np.copyto" (one read and
  one write of the tensor: the memory bound).
  Open (issue 17): at the --quick sizes these fused-dense and layer-norm targets
  fail in every run of `report.py --quick --check` on a busy 2-core AVX2 machine
  (2026-12-07; judged, or marked as timed while busy): at 1 thread, fused dense
  0.56-0.69x NumPy and 1.7-2.8x the bare GEMM measured in the same run ("matmul
  only" reaches 90%+ of the machine's GEMM rate on these small shapes, fastmask
  30-55%); layer norm 3.2x NumPy (target 5x) and 5.3x np.copyto (target 1.5x) on
  (64, 50, 32). Not lowered: the bound shows they are reachable; the kernels'
  small-shape overhead is what is left to find.
* "Conv1D ..." / "Conv1DTranspose ...": the convolutions of keras-io's timeseries
  and text examples at their shapes (batch 32): timeseries_classification_from_scratch
  (Conv1D(64, 3, "same") on 1 then 64 channels, T=500), timeseries_anomaly_detection
  (Conv1D(32, 7, strides=2, "same") on (288, 1); Conv1DTranspose(32, 7, strides=2,
  "same") on (72, 16)), timeseries_classification_transformer (Conv1D(4, 1, relu) on
  (500, 1)) and text_classification_from_scratch (Conv1D(128, 7, strides=3) on
  (500, 128) embeddings). Peers: the Keras layer (NumPy backend: XLA's convolution)
  with the same weights, and torch's conv1d / conv_transpose1d on the input already
  in torch's (batch, channels, steps) layout, padding done inside the timed call.
"""
import importlib
import time

import numpy as np
import pytest

import fastmask
from fastmask import layers, ops
from harness import Case, Target, parallel_copyto, peer_keras, peer_torch, pytest_params
from fastmask.kernels.dense import dense as fused_dense
from fastmask.kernels.normalization import layer_norm

# The module (`fastmask.kernels.dense` the attribute is the function): its FORCE_PATH.
dense_module = importlib.import_module("fastmask.kernels.dense")

FAMILY = "layers"


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _temporal_softmax(K):
    class TemporalSoftmax(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            broadcast_float_mask = K.ops.expand_dims(K.ops.cast(mask, "float32"), -1)
            inputs_exp = K.ops.exp(inputs) * broadcast_float_mask
            inputs_sum = K.ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
            return inputs_exp / inputs_sum
    return TemporalSoftmax


def _guide_model(K, vocab=10):
    inputs = K.Input(shape=(None,), dtype="int32")
    x = K.layers.Embedding(input_dim=vocab, output_dim=32, mask_zero=True)(inputs)
    x = K.layers.Dense(1)(x)
    return K.Model(inputs, _temporal_softmax(K)()(x))


def cases(quick=False):
    rng = np.random.default_rng(0)
    keras = peer_keras()
    out = []

    # 1. Layer-call overhead of a small Sequential.
    x = rng.standard_normal((32, 20)).astype(np.float32)
    model = fastmask.Sequential([fastmask.Input((20,)), layers.Dense(16), layers.ReLU(),
                                 layers.Dense(8)])
    model(x)
    k1, b1, k2, b2 = [w.value for w in model.weights]

    def kernels():
        h = np.matmul(x, k1)
        h += b1
        h = np.maximum(h, np.float32(0))
        o = np.matmul(h, k2)
        o += b2
        return o

    def kernels_plus_budget():
        kernels()
        _spin(50e-6)

    impls = {"fastmask": lambda: model(x), "kernels": kernels,
             "kernels + 50us": kernels_plus_budget}
    if keras is not None:
        k_model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16),
                                    keras.layers.ReLU(), keras.layers.Dense(8)])
        k_model.set_weights(model.get_weights())
        impls["keras"] = lambda: k_model(x)
    out.append(Case(FAMILY, "Sequential 3 small layers", "x (32, 20) float32, Dense-ReLU-Dense",
                    impls=impls, targets=[Target("kernels + 50us", 1.0), Target("keras", 3.0)],
                    threaded=False))

    # 2. Masked Sequential on ids (mask created, propagated through two Dense).
    ids = rng.integers(1, 100, (32, 20))
    ids[:, 15:] = 0
    m_model = fastmask.Sequential([layers.Embedding(100, 16, mask_zero=True),
                                   layers.Dense(16), layers.Dense(8)])
    m_model(ids)
    impls = {"fastmask": lambda: m_model(ids)}
    if keras is not None:
        km = keras.Sequential([keras.layers.Embedding(100, 16, mask_zero=True),
                               keras.layers.Dense(16), keras.layers.Dense(8)])
        km(ids)
        km.set_weights(m_model.get_weights())
        impls["keras"] = lambda: km(ids)
    out.append(Case(FAMILY, "Sequential masked ids", "ids (32, 20), Embedding(mask_zero)-"
                    "Dense-Dense", impls=impls, targets=[Target("keras", 3.0)],
                    threaded=False))

    # 3. Dense over (batch, time, features): one GEMM.
    b, t, f, u = (32, 64, 128, 128) if quick else (64, 256, 256, 256)
    x3 = rng.standard_normal((b, t, f)).astype(np.float32)
    dense = layers.Dense(u)
    dense(x3)
    kernel, bias = [w.value for w in dense.weights]
    impls = {"fastmask": lambda: dense(x3),
             "numpy": lambda: np.matmul(x3.reshape(-1, f), kernel).reshape(b, t, u) + bias}
    if keras is not None:
        kd = keras.layers.Dense(u)
        kd(x3)
        kd.set_weights(dense.get_weights())
        impls["keras"] = lambda: kd(x3)
    out.append(Case(FAMILY, "Dense on (batch, time, features)",
                    f"x ({b}, {t}, {f}) float32 -> {u} units", impls=impls, bound="gemm",
                    flops=2 * b * t * f * u,
                    targets=[Target("numpy", 1 / 1.15), Target("keras", 1.0)]))

    # 4. The guide's Functional model with a mask-consuming custom layer.
    gids = rng.integers(0, 10, (32, 100))
    g_model = _guide_model(fastmask)
    with np.errstate(all="ignore"):
        g_model(gids)
    impls = {"fastmask": lambda: g_model(gids)}
    if keras is not None:
        kg = _guide_model(keras)
        kg.set_weights(g_model.get_weights())
        impls["keras"] = lambda: kg(gids)
    out.append(Case(FAMILY, "guide functional model", "ids (32, 100), Embedding(mask_zero)-"
                    "Dense(1)-TemporalSoftmax", impls=impls, targets=[Target("keras", 2.0)],
                    threaded=False))

    # 5. Fused dense kernel on issue 16's model shapes.
    out += _fused_dense_cases(rng, quick)
    out.append(_layer_norm_case(rng, quick))
    # 6. keras-io convolutions.
    out.extend(conv_cases(rng, keras, quick))
    return out


# keras-io timeseries/text convolutions: (name, input (batch, steps, channels), layer, kwargs)
CONV_SHAPES = [
    ("Conv1D FCN first (timeseries_classification)", (32, 500, 1), "Conv1D",
     dict(filters=64, kernel_size=3, padding="same")),
    ("Conv1D FCN 64->64 (timeseries_classification)", (32, 500, 64), "Conv1D",
     dict(filters=64, kernel_size=3, padding="same")),
    ("Conv1D strided (anomaly_detection encoder)", (32, 288, 1), "Conv1D",
     dict(filters=32, kernel_size=7, strides=2, padding="same", activation="relu")),
    ("Conv1DTranspose (anomaly_detection decoder)", (32, 72, 16), "Conv1DTranspose",
     dict(filters=32, kernel_size=7, strides=2, padding="same", activation="relu")),
    ("Conv1D pointwise (timeseries_transformer)", (32, 500, 1), "Conv1D",
     dict(filters=4, kernel_size=1, activation="relu")),
    ("Conv1D text CNN (text_classification)", (32, 500, 128), "Conv1D",
     dict(filters=128, kernel_size=7, strides=3, padding="valid", activation="relu")),
]


def _torch_conv(torch, layer_name, kwargs, kernel, bias, steps):
    """torch's conv1d / conv_transpose1d computing the Keras layer, on (B, C, T) input."""
    F = torch.nn.functional
    ks, s = kwargs["kernel_size"], kwargs.get("strides", 1)
    act = torch.relu if kwargs.get("activation") == "relu" else (lambda t: t)
    if layer_name == "Conv1D":
        w = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 1, 0)))
        out_t = (steps - 1) // s + 1
        total = max((out_t - 1) * s + ks - steps, 0) if kwargs.get("padding") == "same" else 0

        def run(xt):
            with torch.no_grad():
                if total:
                    xt = F.pad(xt, (total // 2, total - total // 2))
                return act(F.conv1d(xt, w, torch.from_numpy(bias), stride=s))
        return run
    w = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 1, 0)))   # (C, F, K)
    out_t = steps * s                                      # Keras "same", output_padding=None
    total = s + ks - 2
    offset = ks - 1 - min(total // 2 + total % 2, ks - 1)

    def run(xt):
        with torch.no_grad():
            full = F.conv_transpose1d(xt, w, torch.from_numpy(bias), stride=s)
            return act(full[:, :, offset:offset + out_t])
    return run


def conv_cases(rng, keras, quick=False):
    torch = peer_torch()
    out = []
    for name, shape, layer_name, kwargs in CONV_SHAPES:
        if quick:
            shape = (4, min(shape[1], 96), shape[2])
        x = rng.standard_normal(shape).astype(np.float32)
        layer = getattr(layers, layer_name)(**kwargs)
        layer(x)
        kernel, bias = [w.value for w in layer.weights]
        impls = {"fastmask": lambda layer=layer, x=x: layer(x)}
        if keras is not None:
            k_layer = getattr(keras.layers, layer_name)(**kwargs)
            k_layer(x)
            k_layer.set_weights(layer.get_weights())
            impls["keras"] = lambda k_layer=k_layer, x=x: k_layer(x)
        if torch is not None:
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
            run = _torch_conv(torch, layer_name, kwargs, kernel, bias, shape[1])
            # (B, C, T) -> Keras's (B, T, C) as a view (no copy), so its output is checked
            impls["torch"] = lambda run=run, xt=xt: run(xt).transpose(1, 2)
        taps = kwargs["kernel_size"] * shape[2] * kwargs["filters"]
        out_steps = layer.compute_output_shape(shape)[1]
        steps = shape[1] if layer_name == "Conv1DTranspose" else out_steps
        kw = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        out.append(Case(FAMILY, name, f"x {shape} float32, {layer_name}({kw})", impls=impls,
                        bound="gemm", flops=2 * shape[0] * steps * taps,
                        targets=[Target("keras", 1.0)]))
    return out


def _layer_norm_case(rng, quick):
    shape = (64, 50, 32) if quick else (1024, 200, 32)
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape[-1]).astype(np.float32)
    b = rng.standard_normal(shape[-1]).astype(np.float32)
    o = np.empty_like(x)
    c = np.empty_like(x)
    eps = np.float32(1e-3)

    def numpy_ln():
        mean = np.mean(x, axis=-1, keepdims=True)
        var = np.mean(np.square(x - mean), axis=-1, keepdims=True)
        inv = np.float32(1) / np.sqrt(var + eps) * g
        return x * inv + (-mean * inv + b)

    from fastmask import get_num_threads
    impls = {"fastmask": lambda: layer_norm(x, g, b, out=o), "numpy": numpy_ln,
             "np.copyto": lambda: parallel_copyto(c, x, get_num_threads())}
    return Case(FAMILY, "layer norm over the last axis", f"x {shape} float32, out=",
                impls=impls, bound="memory", bytes=2 * x.nbytes,
                targets=[Target("numpy", 5.0), Target("np.copyto", 1 / 1.5)])


def _fused_dense_cases(rng, quick):
    shapes = [("fused dense to a vocabulary", (32 * 80, 256, 20000), None),
              ("fused dense projection", (1024 * 200, 64, 64), None),
              ("fused dense per-token relu", (32 * 80, 256, 256), "relu")]
    if quick:
        shapes = [("fused dense to a vocabulary", (64, 64, 2000), None),
                  ("fused dense projection", (4096, 64, 64), None),
                  ("fused dense per-token relu", (256, 64, 64), "relu")]
    cases = []
    for name, (m, k, n), act in shapes:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        o = np.empty((m, n), np.float32)
        c = np.empty((m, n), np.float32)

        def numpy_dense(x=x, w=w, b=b, act=act):
            y = np.matmul(x, w)
            y += b
            return np.maximum(y, np.float32(0)) if act == "relu" else y

        def blas_path(x=x, w=w, b=b, o=o, act=act):
            saved, dense_module.FORCE_PATH = dense_module.FORCE_PATH, "blas"
            try:
                return fused_dense(x, w, b, act, out=o)
            finally:
                dense_module.FORCE_PATH = saved

        impls = {"fastmask": lambda x=x, w=w, b=b, o=o, act=act: fused_dense(x, w, b, act, out=o),
                 "numpy": numpy_dense, "blas path": blas_path,
                 "matmul only": lambda x=x, w=w, c=c: np.matmul(x, w, out=c)}
        cases.append(Case(FAMILY, name, f"({m}, {k}) x ({k}, {n}) float32"
                          + (f" + {act}" if act else "") + ", out=",
                          impls=impls, bound="gemm", flops=2 * m * k * n,
                          references=("matmul only",),     # the bare GEMM: no bias, no act
                          targets=[Target("numpy", 1.0), Target("matmul only", 1 / 1.1)]))
    return cases


@pytest.mark.parametrize("case,impl,threads", pytest_params(cases(quick=True)))
def test_bench(benchmark, case, impl, threads):
    with np.errstate(all="ignore"):
        case.bench(benchmark, impl, threads)
