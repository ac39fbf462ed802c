"""`Embedding`: id lookup with an optional `mask_zero` mask (over the embedding kernel)."""
import warnings

import numpy as np

from ... import constraints, initializers, kernels, ops, regularizers
from ...core.tensor import KerasTensor, with_mask
from ...kernels.masking import planned_embedding
from ..layer import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Maps integer ids of shape `(batch, time)` to vectors `(batch, time, output_dim)`.

    With `mask_zero=True` the output carries the mask `ids != 0` (computed on
    the raw ids: a float id 0.2 looks up row 0 but is not masked, as in
    Keras). Padded positions are *not* zeroed: id 0 returns `embeddings[0]`.
    Use `input_dim = vocabulary size + 1` with `mask_zero`. Negative ids wrap
    (as `np.take`); ids >= input_dim raise IndexError.

    Args:
        input_dim: vocabulary size (positive int).
        output_dim: embedding size (positive int).
        embeddings_initializer: default "uniform" (RandomUniform(-0.05, 0.05)).
        mask_zero: emit the mask `ids != 0`.
        weights: optional initial embedding matrix.
    """

    _time_distributed_merge = True  # per-sample: TimeDistributed may merge batch*time

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: "
                                 f"{arg}={value} (of type {type(value).__name__}).")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.")
        if lora_rank or quantization_config is not None:
            raise ValueError("fastmask's Embedding supports neither LoRA nor quantization.")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.autocast = False
        self.lora_rank = None
        self.quantization_config = None
        if weights is not None:
            self.build()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if getattr(self, "_embeddings", None) is not None:
            return
        self._embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            name="embeddings", regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint, trainable=True)

    @property
    def embeddings(self):
        if not self.built:
            raise AttributeError("You must build the layer before accessing `embeddings`.")
        return self._embeddings

    def call(self, inputs):
        table = self._embeddings.value
        dtype = self._dtype_policy._compute_np
        if table.dtype != dtype:
            table = table.astype(dtype)
        out, mask = kernels.embedding(inputs, table, mask_zero=self.mask_zero)
        if out.dtype != table.dtype:   # float16 tables are gathered in float32: exact back
            out = out.astype(table.dtype)
        return out if mask is None else with_mask(out, mask)

    def _plan_call(self, x):
        """The planned call (`layers/planned_call.py`) for ids like x: the table lookup
        (and `mask_zero`'s mask) with its checks done once, or None."""
        table = self._embeddings.value
        if type(self) is not Embedding or table.dtype != self._dtype_policy._compute_np:
            return None
        gather = planned_embedding(x.shape, x.dtype, table, self.mask_zero)
        if gather is None:
            return None

        def run(ids):
            res = gather(ids)
            if res is NotImplemented:
                return res
            out, mask = res
            return out if mask is None else with_mask(out, mask)
        return run, (self._embeddings,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(),
                "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero,
                "quantization_config": None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("embeddings_regularizer", "embeddings_constraint",
                    "activity_regularizer", "quantization_config"):
            if config.get(key) is None:
                config.pop(key, None)
        return super().from_config(config)
