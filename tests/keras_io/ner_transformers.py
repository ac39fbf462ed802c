"""Model code of keras-io `examples/nlp/ner_transformers.py` (subclassed NERModel).

Source: keras-team/keras-io, examples/nlp/ner_transformers.py at commit
a72c25d44070de47f97dda830d0fc7668489be92 ("Named Entity Recognition using
Transformers", Varun Singh). Licensed under the Apache License 2.0. Only the
model-building code is kept.

Deviations:
- That version is written against tf.keras: its two TF calls in
  `TokenAndPositionEmbedding.call` are spelled the Keras-3 way
  (`tf.shape(inputs)[-1]` -> `ops.shape(inputs)[-1]`, `tf.range(start=0,
  limit=maxlen, delta=1)` -> `ops.arange(start=0, stop=maxlen, step=1)`).
- The three classes take `**kwargs` (passed to `super().__init__`) and
  `NERModel` has a `get_config` returning its six constructor arguments: without
  it Keras 3.15.1 cannot save the model ("created by passing non-serializable
  argument values"), without `**kwargs` it cannot reload it.
- `build_model` builds the model by calling it once on a (1, 1) batch of padding
  ids (the example builds it inside `fit`); `build((None, None))` would create
  no weights in Keras (its default `Layer.build` only marks the model built).
- Sizes: vocabulary 1000 (was 20000 tokens); num_tags 10 and embed_dim 32,
  num_heads 4, ff_dim 64, maxlen 128 as the example; sentences of 24 tokens.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"num_tags": 10, "vocab_size": 1000, "embed_dim": 32, "num_heads": 4, "ff_dim": 64,
         "seq_len": 24}
BUILD_ARGS = ("num_tags", "vocab_size", "embed_dim", "num_heads", "ff_dim")
LOSS = "sparse_categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super(TransformerBlock, self).__init__(**kwargs)
            self.att = keras.layers.MultiHeadAttention(
                num_heads=num_heads, key_dim=embed_dim
            )
            self.ffn = keras.Sequential(
                [
                    keras.layers.Dense(ff_dim, activation="relu"),
                    keras.layers.Dense(embed_dim),
                ]
            )
            self.layernorm1 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = keras.layers.Dropout(rate)
            self.dropout2 = keras.layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super(TokenAndPositionEmbedding, self).__init__(**kwargs)
            self.token_emb = keras.layers.Embedding(
                input_dim=vocab_size, output_dim=embed_dim
            )
            self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, inputs):
            maxlen = ops.shape(inputs)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            position_embeddings = self.pos_emb(positions)
            token_embeddings = self.token_emb(inputs)
            return token_embeddings + position_embeddings

    class NERModel(keras.Model):
        def __init__(
            self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32,
            **kwargs
        ):
            super(NERModel, self).__init__(**kwargs)
            self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
            self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
            self.dropout1 = layers.Dropout(0.1)
            self.ff = layers.Dense(ff_dim, activation="relu")
            self.dropout2 = layers.Dropout(0.1)
            self.ff_final = layers.Dense(num_tags, activation="softmax")
            self._ctor = dict(num_tags=num_tags, vocab_size=vocab_size, maxlen=maxlen,
                              embed_dim=embed_dim, num_heads=num_heads, ff_dim=ff_dim)

        def call(self, inputs, training=False):
            x = self.embedding_layer(inputs)
            x = self.transformer_block(x)
            x = self.dropout1(x, training=training)
            x = self.ff(x)
            x = self.dropout2(x, training=training)
            x = self.ff_final(x)
            return x

        def get_config(self):
            return dict(self._ctor)

    def build_model(num_tags, vocab_size, embed_dim=32, num_heads=4, ff_dim=64):
        ner_model = NERModel(num_tags, vocab_size, embed_dim=embed_dim, num_heads=num_heads,
                             ff_dim=ff_dim)
        ner_model(ops.zeros((1, 1), dtype="int32"))
        return ner_model

    return build_model, {"TransformerBlock": TransformerBlock,
                         "TokenAndPositionEmbedding": TokenAndPositionEmbedding,
                         "NERModel": NERModel}


def make_inputs(batch, rng, s):
    """int64 (batch, seq_len) StringLookup ids (1 = OOV) post-padded with 0, as
    `padded_batch` gives; every other row full length."""
    seq_len, vocab = s["seq_len"], s["vocab_size"]
    x = np.zeros((batch, seq_len), dtype="int64")
    for i in range(batch):
        n = seq_len if i % 2 == 0 else int(rng.integers(1, seq_len + 1))
        x[i, :n] = rng.integers(1, vocab, size=n)
    return x


def make_targets(x, rng, s):
    """Tags in [1, num_tags) on tokens, 0 on padding."""
    return np.where(x > 0, rng.integers(1, s["num_tags"], size=x.shape), 0).astype("int32")
