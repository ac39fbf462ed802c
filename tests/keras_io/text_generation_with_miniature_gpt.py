"""Model code of keras-io `examples/generative/text_generation_with_miniature_gpt.py`.

Source: keras-team/keras-io, the Keras 3 version of "Text generation with a
miniature GPT" (Apoorv Nandan), read from its rendered copy
examples/generative/md/text_generation_with_miniature_gpt.md.
Licensed under the Apache License 2.0. Only the model-building code
(`causal_attention_mask`, the two custom layers, `create_model` without its
`compile`) is kept.

Deviations:
- `causal_attention_mask` tiles with `ops.tile(mask, (batch_size, 1, 1))`
  instead of building `reps` with `ops.concatenate([ops.expand_dims(batch_size,
  -1), ops.convert_to_tensor([1, 1])], 0)`: the example's form does not build on
  Keras's JAX backend ("reps was not hashable"; the example itself says it needs
  TensorFlow).
- The two custom layers take `**kwargs` (as text_classification_with_transformer:
  needed for Keras itself to reload its `.keras` file).
- Sizes: vocabulary 1000 (was 20000), 20 steps (was 80), embed_dim 32 and
  feed_forward_dim 32 (were 256), 2 heads as in the example.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"vocab_size": 1000, "maxlen": 20, "embed_dim": 32, "num_heads": 2,
         "feed_forward_dim": 32}
BUILD_ARGS = ("vocab_size", "maxlen", "embed_dim", "num_heads", "feed_forward_dim")
LOSS = None  # see compile_args
MASKED = False


def compile_args(keras):
    """As the example: logits loss on the first output, none on the second."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return {"optimizer": "adam", "loss": [loss_fn, None]}


def define(keras, layers, ops):
    def causal_attention_mask(batch_size, n_dest, n_src, dtype):
        """
        Mask the upper half of the dot product matrix in self attention.
        This prevents flow of information from future tokens to current token.
        1's in the lower triangle, counting from the lower right corner.
        """
        i = ops.arange(n_dest)[:, None]
        j = ops.arange(n_src)
        m = i >= j - n_src + n_dest
        mask = ops.cast(m, dtype)
        mask = ops.reshape(mask, [1, n_dest, n_src])
        return ops.tile(mask, (batch_size, 1, 1))

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = layers.MultiHeadAttention(num_heads, embed_dim)
            self.ffn = keras.Sequential(
                [
                    layers.Dense(ff_dim, activation="relu"),
                    layers.Dense(embed_dim),
                ]
            )
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            input_shape = ops.shape(inputs)
            batch_size = input_shape[0]
            seq_len = input_shape[1]
            causal_mask = causal_attention_mask(batch_size, seq_len, seq_len, "bool")
            attention_output = self.att(inputs, inputs, attention_mask=causal_mask)
            attention_output = self.dropout1(attention_output)
            out1 = self.layernorm1(inputs + attention_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(0, maxlen, 1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    def build_model(vocab_size=20000, maxlen=80, embed_dim=256, num_heads=2,
                    feed_forward_dim=256):
        inputs = layers.Input(shape=(maxlen,), dtype="int32")
        embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        x = embedding_layer(inputs)
        transformer_block = TransformerBlock(embed_dim, num_heads, feed_forward_dim)
        x = transformer_block(x)
        outputs = layers.Dense(vocab_size)(x)
        model = keras.Model(inputs=inputs, outputs=[outputs, x])
        return model

    return build_model, {"TransformerBlock": TransformerBlock,
                         "TokenAndPositionEmbedding": TokenAndPositionEmbedding}


def make_inputs(batch, rng, s):
    """int32 (batch, maxlen) ids post-padded with 0 (TextVectorization output,
    1 = [UNK]); every other row full length."""
    maxlen, vocab = s["maxlen"], s["vocab_size"]
    x = np.zeros((batch, maxlen), dtype="int32")
    for i in range(batch):
        n = maxlen if i % 2 == 0 else int(rng.integers(1, maxlen + 1))
        x[i, :n] = rng.integers(1, vocab, size=n)
    return x


def make_targets(x, rng, s):
    """Next-token labels (the inputs shifted left, as `prepare_lm_inputs_labels`)."""
    return np.concatenate([x[:, 1:], np.zeros((len(x), 1), x.dtype)], axis=1)
