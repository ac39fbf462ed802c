"""`MultiHeadAttention`: Keras's layer (weights, masks, both attention paths) over fused kernels."""
import math
import string
import weakref

import numpy as np

from ... import activations, constraints, initializers, regularizers
from ...kernels._threads import blas_threads, effective_num_threads
from ...core.tensor import KerasTensor, Tensor, get_mask, plain
from ...kernels import attention as _att
from ...kernels._validation import as_mask_array
from ..layer import Layer, usable_out
from ...kernels.dense import isa_in_use, pack_kernel, prepare_dense, use_small_gemm
from ..weight_cache import weight_cache

__all__ = ["MultiHeadAttention"]


class _Projection(Layer):
    """x (..., *in_dims) @ kernel (*in_dims, *out_dims) + bias (*out_dims): the role of
    Keras's EinsumDense sublayers of MultiHeadAttention (same weight shapes and names)."""

    def __init__(self, out_dims, use_bias, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.out_dims = tuple(out_dims)
        self.use_bias = use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = None
        self.bias = None

    def build_for(self, in_dims):
        self.kernel = self.add_weight(name="kernel", shape=tuple(in_dims) + self.out_dims,
                                      initializer=self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self.out_dims,
                                        initializer=self.bias_initializer)
        self._in_dims = tuple(in_dims)
        self.built = True

    def project(self, x, n_threads=None, blas_limited=False):
        """x (..., *in_dims) -> (..., *out_dims) in the compute dtype."""
        dtype = self._dtype_policy._compute_np
        n_in = len(self._in_dims)
        x = np.asarray(plain(x), dtype=dtype)
        lead = x.shape[:x.ndim - n_in]
        kernel = np.asarray(self.kernel, dtype=dtype)
        n_features = math.prod(self._in_dims)   # (not -1: ambiguous for empty inputs)
        y = _att.linear(x.reshape(lead + (n_features,)),
                        kernel.reshape((n_features,) + self.out_dims),
                        None if self.bias is None else np.asarray(self.bias, dtype=dtype),
                        n_threads=n_threads, blas_limited=blas_limited)
        if self.activation is not activations.linear:
            y = self.activation(y)
        return y

    def call(self, inputs):
        return self.project(inputs)

    def get_config(self):
        return {**super().get_config(), "out_dims": self.out_dims, "use_bias": self.use_bias}


def _positive_int(value, name, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        extra = " or `None`" if allow_none else ""
        raise ValueError(f"Received an invalid value for argument `{name}`, expected a positive "
                         f"integer{extra}. Received: {name}={value}")
    return value


class MultiHeadAttention(Layer):
    """Multi-head attention (keras.layers.MultiHeadAttention) with fused masked kernels.

    Projections are GEMMs (rows split among OpenMP threads), attention runs per
    (batch, head) as GEMM, fused masked softmax, GEMM, with no (B, H, T, S)
    array unless the scores are returned. Weights have Keras's layout and
    order (query, key, [gate,] value, attention_output; kernel then bias), so
    `set_weights(keras_layer.get_weights())` works.

    Masks (Keras's rules): the query's own mask (an explicit `query_mask=` is
    ignored, as in Keras), `value_mask`/`key_mask` (filled from the inputs'
    masks), `attention_mask` (B, T, S) and `use_causal_mask` are AND-ed.
    Keras has two numerical paths that differ for a query that sees no key
    (e.g. a padded query): the default one (dropout=0, no scores returned,
    ops.dot_product_attention) gives it uniform weights, so its output is the
    projected mean of the values; the Softmax-layer path (dropout > 0 or
    return_attention_scores=True) gives it zero weights, so its output is the
    output bias. Both are reproduced. The output's mask is the query's mask.
    Unlike Keras, the inputs' masks are not removed by the call.

    Args:
        num_heads, key_dim, value_dim (default key_dim), dropout, use_bias,
        output_shape, attention_axes, sliding_window, kernel_initializer,
        bias_initializer, use_gate, seed: as in Keras. Regularizers/constraints
        are kept for the config; flash_attention is accepted and not used.

    Call arguments:
        query (B, T, dim), value (B, S, dim), key (B, S, dim) (default value),
        attention_mask (B, T, S) bool, return_attention_scores, training,
        use_causal_mask.

    N-D inputs (B, ..., dim) and `attention_axes` follow Keras's einsum path
    (after `build`, `attention_axes` holds the resolved axes, as in Keras); the
    fused kernels run for rank-3 inputs. As in Keras, rank-3 inputs without
    dropout or returned scores attend over time whatever `attention_axes` says.
    """

    _check_mask_shape = False
    _writes_out = True   # `Layer._take_out`: the output projection writes into it

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        _positive_int(num_heads, "num_heads")
        _positive_int(key_dim, "key_dim")
        if value_dim is not None and (isinstance(value_dim, bool)
                                      or not isinstance(value_dim, int) or value_dim <= 0):
            raise ValueError("Received an invalid value for argument `value_dim`, expected a "
                             f"positive integer or `None`. Received: value_dim={value_dim}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"`dropout` must be a float in [0, 1]. Received: dropout={dropout}")
        self._dropout = dropout
        self._use_bias = use_bias
        self._use_gate = use_gate
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the "
                                 "`output_shape` should be of type tuple, list, or int.") from None
        self._output_shape = output_shape
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError("`attention_axes` must be an int, list, or tuple."
                             f"Received: attention_axes={attention_axes}")
        self._attention_axes = attention_axes
        if sliding_window is not None and (isinstance(sliding_window, bool)
                                           or not isinstance(sliding_window, int)
                                           or sliding_window <= 0):
            raise ValueError("`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        self._sliding_window = sliding_window
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        # Kept for the config only (inference); as Keras, on the layer's private
        # attributes, so `layer.activity_regularizer` stays None.
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))

    # Keras's read-only properties
    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def _sublayer(self, out_dims, name, activation=None):
        return _Projection(out_dims, self._use_bias, activation=activation,
                           kernel_initializer=self._kernel_initializer.clone(),
                           bias_initializer=self._bias_initializer.clone(),
                           name=name, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        if len(query_shape) < 3 or len(value_shape) < 3:
            raise ValueError("MultiHeadAttention needs inputs of rank 3 or more (batch, "
                             "<attention axes>, features); there is no axis to attend over "
                             f"(Keras fails on it too). Received: query_shape={query_shape}, "
                             f"value_shape={value_shape}")
        # Projected tensors are (batch, ..., heads, channels): one rank more than the query.
        rank = len(query_shape) + 1
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a
                                         for a in self._attention_axes)
        self._dot_product_equation, self._combine_equation, scores_rank = \
            _attention_equations(rank, self._attention_axes)
        self._norm_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        # The fused kernels serve (batch, time, dim) inputs attending over time. Keras's
        # own fused path (`ops.dot_product_attention`, taken for rank-3 inputs without
        # dropout or returned scores) attends over time whatever `attention_axes` says.
        self._fused = len(query_shape) == 3 and len(value_shape) == 3 and len(key_shape) == 3
        H, D, Dv = self._num_heads, self._key_dim, self._value_dim
        self._query_dense = self._sublayer((H, D), "query")
        self._query_dense.build_for((query_shape[-1],))
        self._key_dense = self._sublayer((H, D), "key")
        self._key_dense.build_for((key_shape[-1],))
        if self._use_gate:
            self._gate_dense = self._sublayer((H, Dv), "gate", activation="sigmoid")
            self._gate_dense.build_for((query_shape[-1],))
        self._value_dense = self._sublayer((H, Dv), "value")
        self._value_dense.build_for((value_shape[-1],))
        out = self._output_shape if self._output_shape else (query_shape[-1],)
        self._output_dense = self._sublayer(tuple(out), "attention_output")
        self._output_dense.build_for((H, Dv))

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        into = self._take_out()
        if (value is query and key is None and attention_mask is None and value_mask is None
                and key_mask is None and not return_attention_scores
                and not (training and self._dropout > 0) and type(use_causal_mask) is bool):
            y = self._self_attention(query, use_causal_mask, into)
            if y is not None:
                return y
        key_given = key is not None
        if key is None:
            key = value
        if not getattr(self, "_fused", True) or (
                self._attention_axes != (1,)
                and (self._dropout > 0 or return_attention_scores)):
            return self._einsum_call(query, value, key, key_given, value_mask, key_mask,
                                     attention_mask, return_attention_scores, training,
                                     use_causal_mask)
        query_mask = get_mask(query)          # Keras ignores an explicit query_mask
        dtype = self._dtype_policy._compute_np
        q = np.asarray(plain(query), dtype)
        v = q if value is query else np.asarray(plain(value), dtype)
        k = v if key is value else np.asarray(plain(key), dtype)   # same objects: one gather
        B, T, S = q.shape[0], q.shape[1], v.shape[1]
        if k.shape[:2] != v.shape[:2]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={v.shape} and key_shape={k.shape}")
        km = None
        for m in (value_mask, key_mask if key_given else None):
            if m is not None:
                m = _att._bool_array(plain(m), "value_mask" if m is value_mask else "key_mask",
                                     (B, S)).view(bool)
                km = m if km is None else (km & m)
        qm = None if query_mask is None else _att._bool_array(plain(query_mask), "query_mask",
                                                              (B, T)).view(bool)
        am = None
        if attention_mask is not None:
            am = as_mask_array(plain(attention_mask), "attention_mask")
            am = am if am.dtype == bool else am.astype(bool)
        if self._sliding_window is not None:
            band = np.abs(np.arange(T)[:, None] - np.arange(S)[None, :]) < self._sliding_window
            am = band if am is None else (am & band)

        softmax_path = self._dropout > 0 or return_attention_scores
        fill, zero_masked = _att._fully_masked_mode("zeros" if softmax_path else "uniform")
        dropping = bool(training) and self._dropout > 0
        n = effective_num_threads()
        with blas_threads(1):
            if (not return_attention_scores and not dropping and not self._use_gate
                    and (qm is not None or km is not None)):
                # Padding skipped: only kept queries/keys are projected and attended.
                y = _att._mha_compact(q, k, v, self._weights_dict(dtype), qm, km, am,
                                      use_causal_mask, "zeros" if softmax_path else "uniform", n)
                if y is not None:
                    return y.astype(dtype, copy=False)   # float16 runs in float32
            if not dropping and not self._use_gate and q.dtype.itemsize >= 4:
                # Q/K/V projections of the same input fused into one GEMM, attention
                # read from its views, scores in per-thread scratch unless returned;
                # the output projection writes into `into` when it fits.
                if return_attention_scores or not usable_out(
                        into, (B, T) + self._output_dense.out_dims, dtype, (q, k, v)):
                    into = None
                res = _att._mha_plain(q, k, v, self._weights_dict(dtype), qm, km, am,
                                      use_causal_mask, fill, zero_masked,
                                      bool(return_attention_scores), n, out=into)
                if return_attention_scores:   # float16 runs in float32
                    return res[0].astype(dtype, copy=False), res[1].astype(dtype, copy=False)
                return res.astype(dtype, copy=False)
            qp = self._query_dense.project(q, n, True)
            kp = self._key_dense.project(k, n, True)
            vp = self._value_dense.project(v, n, True)
            gate = self._gate_dense.project(q, n, True) if self._use_gate else None
            res = _att._sdpa(qp, kp, vp, key_mask=km, query_mask=qm, attention_mask=am,
                             causal=use_causal_mask, scale=self._inverse_sqrt_key_dim,
                             layout="BTHD", mode=_att._REPLACE, fill=fill,
                             zero_masked=zero_masked, zero_qrows=False,
                             return_weights=bool(return_attention_scores) or dropping,
                             n_threads=n, blas_limited=True)
            ctx, scores = res if (return_attention_scores or dropping) else (res, None)
            if dropping:
                keep = 1.0 - self._dropout
                w = np.where(self._rng.random(scores.shape) < keep,
                             scores * np.asarray(1.0 / keep, scores.dtype),
                             np.zeros((), scores.dtype))
                ctx = np.ascontiguousarray(np.matmul(w, vp.transpose(0, 2, 1, 3))
                                           .transpose(0, 2, 1, 3))
            if gate is not None:
                ctx = ctx * gate
            out = self._output_dense.project(ctx, n, True).astype(dtype, copy=False)
        if return_attention_scores:
            return out, scores.astype(dtype, copy=False)
        return out

    def _einsum_call(self, query, value, key, key_given, value_mask, key_mask,
                     attention_mask, return_attention_scores, training, use_causal_mask):
        """Keras's general path (N-D inputs, any `attention_axes`): einsum attention over
        the attention axes with the Softmax layer's masking (a query that sees no key gets
        zero weights); the scores returned are those before dropout, as in Keras."""
        dtype = self._dtype_policy._compute_np
        query_mask = get_mask(query)          # Keras ignores an explicit query_mask
        q = np.asarray(plain(query), dtype)
        v = np.asarray(plain(value), dtype)
        k = v if key is value else np.asarray(plain(key), dtype)
        if k.shape[1:-1] != v.shape[1:-1]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={v.shape} and key_shape={k.shape}")
        mask = None

        def merge(m):
            return m if mask is None else mask & m

        if query_mask is not None:
            mask = np.expand_dims(np.asarray(plain(query_mask)).astype(bool), -1)
        for m in (value_mask, key_mask if key_given else None):
            if m is not None:
                mask = merge(np.expand_dims(np.asarray(plain(m)).astype(bool), -2))
        T, S = q.shape[1], v.shape[1]
        if use_causal_mask:
            mask = merge(np.tril(np.ones((T, S), bool))[None])
        if self._sliding_window is not None:
            band = np.abs(np.arange(T)[:, None] - np.arange(S)[None, :]) < self._sliding_window
            mask = merge(band[None])
        if attention_mask is not None:
            am = np.asarray(plain(attention_mask)).astype(bool)
            mask = am if mask is None else am & mask
        qp = self._query_dense.project(q)
        kp = self._key_dense.project(k)
        vp = self._value_dense.project(v)
        gate = self._gate_dense.project(q) if self._use_gate else None
        qp = qp * np.asarray(self._inverse_sqrt_key_dim, qp.dtype)
        scores = np.einsum(self._dot_product_equation, kp, qp)
        if mask is not None:
            axis = -len(self._attention_axes) * 2 - 1
            while mask.ndim < scores.ndim:
                mask = np.expand_dims(mask, axis)
            if mask.ndim > scores.ndim or any(m not in (1, d) for m, d in
                                              zip(mask.shape, scores.shape)):
                raise ValueError("The `mask` must be broadcastable to `inputs`. Each mask "
                                 "dimension must be 1 or match the corresponding input "
                                 f"dimension. Received: inputs.shape={scores.shape}, "
                                 f"mask.shape={mask.shape}")
            mask = np.broadcast_to(mask, scores.shape)
        weights = _softmax_with_mask(scores, mask, self._norm_axes)
        applied = weights
        if bool(training) and self._dropout > 0:
            keep = 1.0 - self._dropout
            applied = np.where(self._rng.random(weights.shape) < keep,
                               weights * np.asarray(1.0 / keep, weights.dtype),
                               np.zeros((), weights.dtype))
        ctx = np.einsum(self._combine_equation, applied, vp)
        if gate is not None:
            ctx = ctx * gate
        out = self._output_dense.project(ctx).astype(dtype, copy=False)
        if return_attention_scores:
            return out, weights.astype(dtype, copy=False)
        return out

    def _plan_self_call(self, x):
        """The planned call of `self(x, x)` (`layers/planned_call.py`): the
        `PreparedSelfAttention` for x's shape, or None."""
        if type(self) is not MultiHeadAttention:
            return None
        prep = self._prepared_self_attention(x, False)
        if prep is None:
            return None
        dense = (self._query_dense, self._key_dense, self._value_dense, self._output_dense)
        return prep, [v for layer in dense for v in (layer.kernel, layer.bias)]

    def _self_attention(self, x, causal, into):
        """`call(x, x)` (no masks, scores or dropout) through the `PreparedSelfAttention`
        kept in the weight cache for x's shape, or None (the general path runs)."""
        if type(x) is not np.ndarray:
            if type(x) is not Tensor or get_mask(x) is not None:
                return None
            x = x.view(np.ndarray)
        prep = self._prepared_self_attention(x, causal)
        if prep is None:
            return None
        if not usable_out(into, prep.y_shape, prep.dtype, (x,)):
            into = None
        return prep(x, out=into)

    def _prepared_self_attention(self, x, causal):
        """The `PreparedSelfAttention` of `call(x, x)` for x's shape (kept in the weight
        cache), or None when that call takes the general path."""
        dtype = self._dtype_policy._compute_np
        if (x.dtype != dtype or x.ndim != 3 or not getattr(self, "_fused", True) or self._use_gate
                or self._attention_axes != (1,) or self._sliding_window is not None):
            return None
        dense = (self._query_dense, self._key_dense, self._value_dense, self._output_dense)
        sources = [v for layer in dense for v in (layer.kernel, layer.bias)]
        return weight_cache(self).get(
            "self_attention", sources, (dtype.str, isa_in_use(), x.shape, causal),
            lambda: _att.prepare_self_attention(self._weights_dict(dtype), x.shape, dtype,
                                                causal))

    def _weights_dict(self, dtype):
        """The weights dict of `kernels.attention.multi_head_attention` in `dtype`, with a
        `join` that keeps the joined Q|K|V projections in the layer's weight cache, a
        `pack` that keeps their (and the output projection's) small-GEMM packing there
        and a `prepared` that keeps them as `PreparedDense`s; the dict itself is kept in
        the weight cache too (until a weight changes)."""
        dense = {"query": self._query_dense, "key": self._key_dense,
                 "value": self._value_dense, "output": self._output_dense}
        sources = [v for layer in dense.values() for v in (layer.kernel, layer.bias)]
        return weight_cache(self).get("weights_dict", sources, np.dtype(dtype).str,
                                      lambda: self._make_weights_dict(dense, dtype))

    def _make_weights_dict(self, dense, dtype):
        # The dict lives in the layer's weight cache: its functions reach the cache
        # through a weak reference to the layer (no layer -> cache -> dict -> layer
        # cycle, which only the cyclic GC would free).
        weights = {}
        for name, layer in dense.items():
            weights[name + "_kernel"] = np.asarray(layer.kernel, dtype)
            weights[name + "_bias"] = (None if layer.bias is None
                                       else np.asarray(layer.bias, dtype))
        layer_ref = weakref.ref(self)
        dtype_key = np.dtype(dtype).str

        def cached(slot, sources, params, make):
            owner = layer_ref()
            return make() if owner is None else weight_cache(owner).get(slot, sources, params,
                                                                        make)

        def join(w, names, dt):
            sources = [v for nm in names for v in (dense[nm].kernel, dense[nm].bias)]
            return cached(("join",) + names, sources, dtype_key,
                          lambda: _att.join_projections(w, names, dt))

        def pack(names, kernel2d, dt):
            """kernel2d (the joined kernel of `names`, or the output kernel as (H*Dv, N))
            packed for dense's small-GEMM path; None when that path does not take it."""
            K, N = kernel2d.shape[0], math.prod(kernel2d.shape[1:])
            if K * N == 0 or not use_small_gemm(1, K, N, np.dtype(dt)):
                return None
            sources = [dense[nm].kernel for nm in names]
            return cached(("pack",) + names, sources, (dtype_key, isa_in_use()),
                          lambda: pack_kernel(kernel2d.reshape(K, N), dt))

        def prepared(names, dt):
            """The joined projections `names` (or ("output",): the output projection as
            (H*Dv, N)) as a `PreparedDense` in `dt` (`kernels.dense.prepare_dense`)."""
            def make():
                if names == ("output",):
                    k, b = weights["output_kernel"], weights["output_bias"]
                    kernel2d = k.reshape(k.shape[0] * k.shape[1], -1)
                    bias = None if b is None else b.reshape(-1)
                else:
                    kernel2d, bias = join(weights, names, dt)
                return prepare_dense(kernel2d, bias, None, dt, packed=pack(names, kernel2d, dt))

            sources = [v for nm in names for v in (dense[nm].kernel, dense[nm].bias)]
            return cached(("prepared",) + names, sources, (dtype_key, isa_in_use()), make)

        return dict(weights, join=join, pack=pack, prepared=prepared)

    def compute_output_spec(self, query, value, key=None, query_mask=None, value_mask=None,
                            key_mask=None, attention_mask=None, return_attention_scores=False,
                            training=None, use_causal_mask=False):
        out_shape = self.compute_output_shape(query.shape, value.shape,
                                              None if key is None else key.shape)
        out = KerasTensor(out_shape, dtype=self.compute_dtype)
        if return_attention_scores:
            # (batch, heads, query steps, key steps); Keras 3.15.1's spec repeats the query
            # steps (its eager result has the key steps).
            key_steps = (value if key is None else key).shape[1]
            return out, KerasTensor((query.shape[0], self._num_heads, query.shape[1], key_steps),
                                    dtype=self.compute_dtype)
        return out

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must be "
                             f"equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        if self._output_shape:
            query_shape = query_shape[:-1] + self._output_shape
        return query_shape

    def get_config(self):
        return {**super().get_config(),
                "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout,
                "use_bias": self._use_bias, "use_gate": self._use_gate,
                "output_shape": self._output_shape, "attention_axes": self._attention_axes,
                "sliding_window": self._sliding_window,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers.serialize(self._activity_regularizer),
                "kernel_constraint": constraints.serialize(self._kernel_constraint),
                "bias_constraint": constraints.serialize(self._bias_constraint),
                "seed": self.seed}


def _attention_equations(rank, axes):
    """Einsum equations of attention between projected tensors of `rank` dims
    (batch, <other dims>, <attention dims>, heads, channels) over `axes`:
    (scores = key x query, output = scores x value, rank of the scores). The scores
    are laid out (batch dims with heads, query attention dims, key attention dims)."""
    letters = string.ascii_lowercase
    query = letters[:rank]
    shared = [i for i in range(rank) if i not in axes and i != rank - 1]  # includes heads
    fresh = iter(letters[rank:])
    key = "".join(query[i] if (i in shared or i == rank - 1) else next(fresh)
                  for i in range(rank))
    scores = "".join([query[i] for i in shared] + [query[i] for i in axes]
                     + [key[i] for i in axes])
    return f"{key},{query}->{scores}", f"{scores},{key}->{query}", len(scores)


def _softmax_with_mask(x, mask, axes):
    """Keras's Softmax layer on `x` over `axes`: masked logits set to -1e9 (-3e4 in
    float16), softmax, masked outputs 0 (so a fully masked slice is all zeros)."""
    if mask is not None:
        x = np.where(mask, x, np.asarray(-3e4 if x.dtype == np.float16 else -1e9, x.dtype))
    top = np.max(x, axis=axes, keepdims=True)
    e = np.exp(x - top)
    out = e / np.sum(e, axis=axes, keepdims=True)
    if mask is not None:
        out = np.where(mask, out, np.zeros((), out.dtype))
    return out
