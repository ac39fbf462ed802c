"""Model code of keras-io `examples/generative/text_generation_with_miniature_gpt.py`.

Source: keras-team/keras-io, the Keras 3 version of "Text generation with a
miniature GPT" (Apoorv Nandan, Apache License 2.0), read from its rendered copy
examples/generative/md/text_generation_with_miniature_gpt.md (search-index file id
2944390681; the stored .py copies at examples/generative/ commit 040e8ba4 and
examples/nlp/ commit b0dc0738 are older tf.keras versions with a hand-written
MultiHeadSelfAttention, maxlen 100 / 20). The example lives under
examples/generative/ now; examples/nlp/ only has the old copy. Only the
model-building code is kept; the custom layers are verbatim but for the
changes listed below.

The example itself says it does not run with JAX under jit (`ops.tile` with
`reps` built from a traced batch size) and sets KERAS_BACKEND=tensorflow.

Changes for fastmask's benchmark (marked "fastmask benchmark" in the code):
`TransformerBlock.__init__` and `TokenAndPositionEmbedding.__init__` take `**kwargs` and
pass them to `super().__init__` (without it Keras 3.15.1 cannot reload the saved model:
its automatic config adds `trainable` and `dtype`, which `__init__` refused).
`causal_attention_mask` tiles with `ops.tile(mask, (batch_size, 1, 1))`, which builds,
predicts and round-trips on JAX.

Swap the import lines for `import fastmask as keras; from fastmask import layers;
from fastmask import ops` to run it on fastmask.
"""
import numpy as np

import keras
from keras import layers
from keras import ops


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
    # fastmask benchmark: `reps` as a tuple (the example concatenates tensors, which JAX
    # cannot trace: "parameter reps was not hashable").
    return ops.tile(mask, (batch_size, 1, 1))


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        # fastmask benchmark: **kwargs (see the module docstring)
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
        # fastmask benchmark: **kwargs (see the module docstring)
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(0, maxlen, 1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


VOCAB_SIZE = 20000  # Only consider the top 20k words
MAXLEN = 80  # Max sequence size


def build_model(vocab_size=VOCAB_SIZE, maxlen=MAXLEN, embed_dim=256, num_heads=2,
                feed_forward_dim=256):
    """The example's `create_model()` without its `compile` (two outputs: the
    (batch, 80, 20000) logits and the (batch, 80, 256) block output)."""
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, feed_forward_dim)
    x = transformer_block(x)
    outputs = layers.Dense(vocab_size)(x)
    model = keras.Model(inputs=inputs, outputs=[outputs, x])
    return model


def make_inputs(batch, rng, maxlen=MAXLEN, vocab_size=VOCAB_SIZE):
    """int32 (batch, 80) token ids: TextVectorization output (post-padded with 0,
    1 = [UNK]) shifted by one, as `prepare_lm_inputs_labels` gives."""
    x = np.zeros((batch, maxlen), dtype="int32")
    for i in range(batch):
        n = int(rng.integers(1, maxlen + 1)) if i % 2 else maxlen
        x[i, :n] = rng.integers(1, vocab_size, size=n)
    return x


CUSTOM_OBJECTS = {
    "TransformerBlock": TransformerBlock,
    "TokenAndPositionEmbedding": TokenAndPositionEmbedding,
}
