"""Model code of keras-io `examples/nlp/text_classification_with_transformer.py`.

Source: keras-team/keras-io, examples/nlp/text_classification_with_transformer.py at
commit 1909c6710cd3f5af6401f1176dcee9e26781b4f3 ("Text classification with
Transformer", Apoorv Nandan; converted to Keras 3 by Sitam Meur).
Licensed under the Apache License 2.0. Only the model-building code is kept.

Deviations:
- `TransformerBlock.__init__` and `TokenAndPositionEmbedding.__init__` take
  `**kwargs` and pass them to `super().__init__(**kwargs)`: without that Keras
  3.15.1 itself cannot reload the `.keras` file it saved (its automatic config
  adds `trainable`/`dtype`; "unexpected keyword argument 'trainable'").
- Sizes: vocabulary 2000 (was 20000) and 40 steps (was 200); embed_dim 32,
  2 heads, ff_dim 32 as in the example.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"vocab_size": 2000, "maxlen": 40, "embed_dim": 32, "num_heads": 2, "ff_dim": 32}
BUILD_ARGS = ("vocab_size", "maxlen", "embed_dim", "num_heads", "ff_dim")
LOSS = "sparse_categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
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
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
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
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    def build_model(vocab_size=20000, maxlen=200, embed_dim=32, num_heads=2, ff_dim=32):
        # embed_dim: Embedding size for each token; num_heads: Number of attention heads;
        # ff_dim: Hidden layer size in feed forward network inside transformer
        inputs = layers.Input(shape=(maxlen,))
        embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        x = embedding_layer(inputs)
        transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
        x = transformer_block(x)
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dropout(0.1)(x)
        x = layers.Dense(20, activation="relu")(x)
        x = layers.Dropout(0.1)(x)
        outputs = layers.Dense(2, activation="softmax")(x)

        model = keras.Model(inputs=inputs, outputs=outputs)
        return model

    return build_model, {"TransformerBlock": TransformerBlock,
                         "TokenAndPositionEmbedding": TokenAndPositionEmbedding}


def make_inputs(batch, rng, s):
    """(batch, maxlen) ids pre-padded with 0 (`pad_sequences`), as float32: the
    example's Input is float32 by default (the token Embedding casts)."""
    maxlen, vocab = s["maxlen"], s["vocab_size"]
    x = np.zeros((batch, maxlen), dtype="float32")
    for i in range(batch):
        n = maxlen if i % 2 == 0 else int(rng.integers(1, maxlen + 1))
        x[i, maxlen - n:] = rng.integers(1, vocab, size=n)
    return x


def make_targets(x, rng, s):
    return rng.integers(0, 2, size=(len(x),)).astype("int32")
