"""Model code of keras-io `examples/nlp/text_classification_with_transformer.py`.

Source: keras-team/keras-io, examples/nlp/text_classification_with_transformer.py at
commit 1909c6710cd3f5af6401f1176dcee9e26781b4f3 ("Text classification with
Transformer", Apoorv Nandan, converted to Keras 3 by Sitam Meur, Apache License
2.0). Only the model-building code is kept; the custom layers are verbatim but for the
changes listed below.

Change for fastmask's benchmark (marked "fastmask benchmark" in the code):
`TransformerBlock.__init__` and `TokenAndPositionEmbedding.__init__` take `**kwargs` and
pass them to `super().__init__` (without it Keras 3.15.1 cannot reload the saved model:
its automatic config adds `trainable` and `dtype`, which `__init__` refused).

Swap the three import lines for `import fastmask as keras; from fastmask import
ops; from fastmask import layers` to run it on fastmask.
"""
import numpy as np

import keras
from keras import ops
from keras import layers


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        # fastmask benchmark: **kwargs (see the module docstring)
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
        # fastmask benchmark: **kwargs (see the module docstring)
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


VOCAB_SIZE = 20000  # Only consider the top 20k words
MAXLEN = 200  # Only consider the first 200 words of each movie review


def build_model(vocab_size=VOCAB_SIZE, maxlen=MAXLEN, embed_dim=32, num_heads=2, ff_dim=32):
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


def make_inputs(batch, rng, maxlen=MAXLEN, vocab_size=VOCAB_SIZE):
    """(batch, 200) IMDB-like token ids pre-padded with 0, as
    `keras.utils.pad_sequences(x, maxlen=200)`; int32 (the model's Input is float32
    by default and Keras casts)."""
    lengths = rng.integers(1, maxlen + 1, size=batch)
    lengths[:: max(1, batch // 2)] = maxlen
    x = np.zeros((batch, maxlen), dtype="int32")
    for i, n in enumerate(lengths):
        x[i, maxlen - n:] = rng.integers(1, vocab_size, size=n)
    return x


CUSTOM_OBJECTS = {
    "TransformerBlock": TransformerBlock,
    "TokenAndPositionEmbedding": TokenAndPositionEmbedding,
}
