"""Model code of keras-io `examples/nlp/ner_transformers.py` (subclassed NERModel).

Source: keras-team/keras-io, examples/nlp/ner_transformers.py at commit
a72c25d44070de47f97dda830d0fc7668489be92 ("Named Entity Recognition using
Transformers", Varun Singh, Apache License 2.0). That version is written against
tf.keras; the only edits here are the Keras-3 spellings of its two TF calls in
`TokenAndPositionEmbedding.call`: `tf.shape(inputs)[-1]` -> `ops.shape(inputs)[-1]`,
`tf.range(start=0, limit=maxlen, delta=1)` -> `ops.arange(start=0, stop=maxlen,
step=1)` (as the Keras-3 text classification example, which this one copies,
spells them), and `keras.layers.X` written `layers.X`.

Sizes: the example builds `NERModel(num_tags, vocab_size, embed_dim=32,
num_heads=4, ff_dim=64)` with num_tags = 10 (9 CoNLL tags + padding) and
vocab_size = 20000; maxlen keeps its default 128 (positions table size).

Change for fastmask's benchmark (marked "fastmask benchmark" in the code): `NERModel`
gains a `get_config` returning its six constructor arguments (Keras 3.15.1 cannot
save a subclassed model with required `__init__` arguments and no `get_config`).

Swap the import lines for `import fastmask as keras; from fastmask import layers,
ops` to run it on fastmask.
"""
import numpy as np

import keras
from keras import layers, ops


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super(TransformerBlock, self).__init__()
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
    def __init__(self, maxlen, vocab_size, embed_dim):
        super(TokenAndPositionEmbedding, self).__init__()
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
        self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32
    ):
        super(NERModel, self).__init__()
        self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
        self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
        self.dropout1 = layers.Dropout(0.1)
        self.ff = layers.Dense(ff_dim, activation="relu")
        self.dropout2 = layers.Dropout(0.1)
        self.ff_final = layers.Dense(num_tags, activation="softmax")

    def get_config(self):  # fastmask benchmark: added, so that the model saves and loads
        return {"num_tags": self.ff_final.units,
                "vocab_size": self.embedding_layer.token_emb.input_dim,
                "maxlen": self.embedding_layer.pos_emb.input_dim,
                "embed_dim": self.embedding_layer.token_emb.output_dim,
                "num_heads": self.transformer_block.att.num_heads,
                "ff_dim": self.ff.units}

    def call(self, inputs, training=False):
        x = self.embedding_layer(inputs)
        x = self.transformer_block(x)
        x = self.dropout1(x, training=training)
        x = self.ff(x)
        x = self.dropout2(x, training=training)
        x = self.ff_final(x)
        return x


NUM_TAGS = 10
VOCAB_SIZE = 20000


def build_model(num_tags=NUM_TAGS, vocab_size=VOCAB_SIZE, embed_dim=32, num_heads=4,
                ff_dim=64, seq_len=None):
    """`NERModel(num_tags, vocab_size, embed_dim=32, num_heads=4, ff_dim=64)` as in
    the example, built by one call on a (1, seq_len or 1) batch of padding ids (the
    example builds it inside `fit`). `ner_model.build((None, None))` would NOT do:
    Keras's default `Layer.build` of a subclassed model with no `build()` only
    warns and marks it built, creating no weights (they are made on the first real
    call), so `count_params()` is 0 and `load_weights` into it loads nothing."""
    ner_model = NERModel(num_tags, vocab_size, embed_dim=embed_dim, num_heads=num_heads,
                         ff_dim=ff_dim)
    ner_model(ops.zeros((1, seq_len or 1), dtype="int32"))
    return ner_model


def make_inputs(batch, rng, seq_len=64, vocab_size=VOCAB_SIZE):
    """int64 (batch, seq_len) StringLookup ids (1 = OOV) post-padded with 0, as
    `padded_batch` gives (CoNLL sentences are 1-113 tokens; seq_len <= 128)."""
    x = np.zeros((batch, seq_len), dtype="int64")
    for i in range(batch):
        n = int(rng.integers(1, seq_len + 1)) if i % 2 else seq_len
        x[i, :n] = rng.integers(1, vocab_size, size=n)
    return x


CUSTOM_OBJECTS = {
    "TransformerBlock": TransformerBlock,
    "TokenAndPositionEmbedding": TokenAndPositionEmbedding,
    "NERModel": NERModel,
}
