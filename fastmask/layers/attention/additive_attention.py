"""`AdditiveAttention`: Bahdanau-style attention with Keras's mask semantics."""
import numpy as np

from ...core.tensor import plain
from .attention import Attention

__all__ = ["AdditiveAttention"]

# Size of one (query rows x keys x dim) block of tanh terms, in elements.
_BLOCK_ELEMENTS = 1 << 20


def _as_bool(mask):
    m = np.asarray(plain(mask))
    return m if m.dtype == bool else m.astype(bool)


class AdditiveAttention(Attention):
    """Additive attention, a.k.a. Bahdanau-style attention (keras.layers.AdditiveAttention).

    `scores[b, i, j] = sum(scale * tanh(query[b, i] + key[b, j]))` (`scale` a
    learned vector of size dim when `use_scale`, else 1); keys where the value
    mask is False (and, with `use_causal_mask`, keys after the query) get
    `score - 1e9` (65504 in float16), as Keras (a query with no visible key
    gets uniform weights, not zeros); `weights = softmax(scores)`; output =
    `weights @ value`, zeroed where the query mask is False. The output mask is
    the query mask. The tanh terms are built in blocks of query rows, so memory
    stays bounded for long sequences.

    >>> import numpy as np, fastmask
    >>> q = np.array([[[1., 0.], [0., 1.]]]); k = np.array([[[0., 1.], [1., 0.]]])
    >>> v = np.array([[[1., 2.], [3., 4.]]])
    >>> fastmask.layers.AdditiveAttention(use_scale=False)([q, v, k]).round(3)
    array([[[1.727, 2.727],
            [2.273, 3.273]]], dtype=float32)

    Args:
        use_scale: learn the `scale` vector (glorot_uniform; default True).
        dropout: fraction of the attention weights dropped in training (the
            returned scores are the dropped weights, as Keras returns them).
        seed: seed of the dropout draws (numbers differ from Keras's).

    Call arguments:
        inputs: [query (B, Tq, dim), value (B, Tv, dim)] or [query, value, key].
        mask: [query_mask (B, Tq), value_mask (B, Tv)] (filled from the inputs' masks).
        training, return_attention_scores, use_causal_mask: as `Attention`.

    Weights: `scale` (dim,) when `use_scale`.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=[dim], initializer="glorot_uniform",
                                         dtype=self.dtype, trainable=True)

    def _scores(self, q, k, dtype):
        """(B, Tq, Tv) additive scores, built in blocks of query rows."""
        scale = None if self.scale is None else self.scale.value.astype(dtype, copy=False)
        tq, tv, dim = q.shape[-2], k.shape[-2], q.shape[-1]
        scores = np.empty(q.shape[:-1] + (tv,), dtype)
        rows = max(1, _BLOCK_ELEMENTS // max(1, q.shape[0] * tv * dim))
        k_exp = np.expand_dims(k, -3)                                  # (B, 1, Tv, dim)
        for i0 in range(0, tq, rows):
            terms = np.tanh(np.expand_dims(q[..., i0:i0 + rows, :], -2) + k_exp)
            if scale is not None:
                terms = terms * scale
            scores[..., i0:i0 + rows, :] = np.sum(terms, axis=-1)
        return scores

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate_inputs(inputs=inputs, mask=mask)
        dtype = self._dtype_policy._compute_np
        for i, x in enumerate(inputs):
            if np.asarray(x).dtype.kind not in "biuf":
                raise TypeError(f"Layer '{self.name}' (of type AdditiveAttention) takes real "
                                f"numbers. Received: inputs[{i}].dtype={np.asarray(x).dtype}")
        q = plain(inputs[0]).astype(dtype, copy=False)
        v = plain(inputs[1]).astype(dtype, copy=False)
        k = plain(inputs[2]).astype(dtype, copy=False) if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(q, k, dtype)
        padding = None
        if v_mask is not None:
            padding = ~np.expand_dims(_as_bool(v_mask), -2)
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            future = ~np.tril(np.ones((tq, tv), bool))
            padding = future if padding is None else (padding | future)
        if padding is not None:
            big = dtype.type(65504.0 if dtype == np.float16 else 1.0e9)
            scores = np.where(padding, scores - big, scores)
        weights = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
        weights /= np.sum(weights, axis=-1, keepdims=True)
        if training and self.dropout > 0:
            keep = 1.0 - self.dropout
            weights = np.where(self._rng.random(weights.shape) < keep,
                               weights * np.asarray(1.0 / keep, dtype), np.zeros((), dtype))
        out = np.matmul(weights, v)
        if q_mask is not None:
            out = np.where(np.expand_dims(_as_bool(q_mask), -1), out, np.zeros((), dtype))
        out = out.astype(dtype, copy=False)
        if return_attention_scores:
            return out, weights.astype(dtype, copy=False)
        return out

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
