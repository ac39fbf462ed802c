"""`Attention`: Luong-style dot-product attention with Keras's mask semantics."""
import numpy as np

from ...core.tensor import KerasTensor, plain
from ...kernels import attention as _att
from ...kernels import softmax as _sm
from ...kernels._validation import as_mask_array
from ..layer import Layer

__all__ = ["Attention"]


def _as_bool(mask, name):
    """A query/value mask as bool: numbers keep where nonzero (Keras's logical_not and
    where read them so); str/complex/object and NaN raise (`check_mask_values`)."""
    m = as_mask_array(plain(mask), name)
    return m if m.dtype == bool else m.astype(bool)


class Attention(Layer):
    """Dot-product attention layer, a.k.a. Luong-style attention (keras.layers.Attention).

    scores = query @ key.T (times a learned `scale` if use_scale), or for
    score_mode="concat" `concat_score_weight * sum(tanh(scale * (q + k)))`;
    keys where the value mask is False (and, with use_causal_mask, keys after
    the query) get `score - 1e9` (Keras subtracts rather than replaces, and
    does not re-zero, so a query with no visible key gets uniform weights);
    weights = softmax(scores); output = weights @ value, then zero where the
    query mask is False. The output mask is the query mask. The dot mode runs
    as one fused kernel per batch row (GEMM, masked softmax, GEMM).

    Args:
        use_scale: learn a scalar `scale` for the scores (initialised to 1).
        score_mode: "dot" or "concat".
        dropout: fraction of the attention weights dropped at training.
        seed: seed of the dropout generator (numbers differ from Keras's).

    Call arguments:
        inputs: [query (B, Tq, dim), value (B, Tv, dim)] or [query, value, key].
        mask: [query_mask (B, Tq), value_mask (B, Tv)]; filled from the
            inputs' masks when not given.
        training: apply dropout.
        return_attention_scores: also return the weights (B, Tq, Tv).
        use_causal_mask: query i sees keys j <= i only.
    """

    _check_mask_shape = False   # a list of masks, validated here

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        if self.score_mode not in ["dot", "concat"]:
            raise ValueError("Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self.supports_masking = True

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones",
                                         trainable=True)
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones", trainable=True)

    def _large(self, dtype):
        return 65504.0 if np.dtype(dtype) == np.float16 else 1.0e9

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate_inputs(inputs=inputs, mask=mask)
        dtype = self._dtype_policy._compute_np
        # C order whatever the caller's layout, so the same values give the same bits.
        q = np.ascontiguousarray(plain(inputs[0]))
        v = np.ascontiguousarray(plain(inputs[1]))
        k = np.ascontiguousarray(plain(inputs[2])) if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        q_mask = None if q_mask is None else _as_bool(q_mask, "query_mask (mask[0])")
        v_mask = None if v_mask is None else _as_bool(v_mask, "value_mask (mask[1])")
        scale = None if self.scale is None else float(np.asarray(self.scale))
        dropping = bool(training) and self.dropout > 0
        want_weights = return_attention_scores or dropping

        if self.score_mode == "dot" and q.ndim == 3 and v.ndim == 3 and k.ndim == 3:
            res = _att._sdpa(q, k, v, key_mask=v_mask, query_mask=q_mask, attention_mask=None,
                             causal=use_causal_mask, scale=1.0 if scale is None else scale,
                             layout="BTHD", mode=_att._SUBTRACT, fill=self._large(dtype),
                             zero_masked=False, zero_qrows=True, return_weights=want_weights,
                             n_threads=None)
            out, weights = res if want_weights else (res, None)
        else:
            weights = self._weights(q, k, v_mask, use_causal_mask, scale, dtype)
            out = None
        if dropping:
            keep = 1.0 - self.dropout
            dropped = np.where(self._rng.random(weights.shape) < keep,
                               weights * np.asarray(1.0 / keep, weights.dtype),
                               np.zeros((), weights.dtype))
            out = None
        else:
            dropped = weights
        if out is None:
            out = np.matmul(dropped, v.astype(dropped.dtype, copy=False))
            if q_mask is not None:
                out = np.where(q_mask[..., None], out, np.zeros((), out.dtype))
        out = out.astype(dtype, copy=False)
        if return_attention_scores:
            # Keras returns the weights actually applied: after dropout in training.
            return out, dropped.astype(dtype, copy=False)
        return out

    def _weights(self, q, k, v_mask, causal, scale, dtype):
        """softmax of the masked scores (general ranks and score_mode="concat")."""
        if self.score_mode == "dot":
            scores = np.matmul(q, np.swapaxes(k, -2, -1))
            if scale is not None:
                scores = scores * np.asarray(scale, scores.dtype)
        else:
            qe = np.expand_dims(q, -2)
            ke = np.expand_dims(k, -3)
            csw = np.asarray(self.concat_score_weight, q.dtype)
            if scale is not None:
                scores = csw * np.sum(np.tanh(np.asarray(scale, q.dtype) * (qe + ke)), axis=-1)
            else:
                scores = csw * np.sum(np.tanh(qe + ke), axis=-1)
        smask = None
        if v_mask is not None:
            smask = np.expand_dims(v_mask, -2)
        if causal:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal_mask = np.tril(np.ones((tq, tv), bool))
            smask = causal_mask if smask is None else (smask & causal_mask)
        return _sm._masked_softmax(scores, smask, -1, mode=_sm._SUBTRACT,
                                   fill=self._large(dtype), zero_masked=False)

    def compute_mask(self, inputs, mask=None):
        self._validate_inputs(inputs=inputs, mask=mask)
        if mask is None or mask[0] is None:
            return None
        if isinstance(mask[0], KerasTensor):
            return mask[0]
        return _as_bool(mask[0], "query_mask (mask[0])")

    def compute_output_shape(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        return (*query_shape[:-1], value_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False,
                            training=None, use_causal_mask=False):
        self._validate_inputs(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        out = KerasTensor(self.compute_output_shape([query.shape, value.shape, key.shape]),
                          dtype=self.compute_dtype)
        if return_attention_scores:
            return out, KerasTensor((*query.shape[:-1], key.shape[-2]), dtype=self.compute_dtype)
        return out

    def _validate_inputs(self, inputs, mask=None):
        class_name = self.__class__.__name__
        if not isinstance(inputs, list):
            raise ValueError(f"{class_name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs}.")
        if len(inputs) < 2 or len(inputs) > 3:
            raise ValueError(f"{class_name} layer accepts inputs list of length 2 or 3, namely "
                             "[query, value] or [query, value, key]. "
                             f"Received length: {len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, list):
                raise ValueError(f"{class_name} layer mask must be a list, namely "
                                 f"[query_mask, value_mask]. Received: mask={mask}.")
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(f"{class_name} layer accepts mask list of length 2 or 3. "
                                 f"Received: inputs={inputs}, mask={mask}.")

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}
