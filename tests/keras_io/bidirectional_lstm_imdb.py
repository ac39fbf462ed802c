"""Model code of keras-io `examples/nlp/bidirectional_lstm_imdb.py`.

Source: keras-team/keras-io, examples/nlp/bidirectional_lstm_imdb.py at commit
0a4be8bbc3ae126f3ca49a0bf173902866ec06f0 ("Bidirectional LSTM on IMDB", fchollet).
Licensed under the Apache License 2.0. Only the model-building code is kept.

Deviations:
- `mask_zero=True` on the Embedding (fastmask issue 16's "masked bidirectional-LSTM
  text classifier"): the two Bidirectional LSTMs run masked over the padding.
- Sizes: the example's 20000 words x 128 dims, LSTM(64), 200 steps; here 2000 x 32,
  LSTM(16), 40 steps (same layers, same structure), so training and the file stay small.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"max_features": 2000, "embed_dim": 32, "units": 16, "maxlen": 40}
BUILD_ARGS = ("max_features", "embed_dim", "units")
LOSS = "binary_crossentropy"
MASKED = True


def define(keras, layers, ops):
    def build_model(max_features=20000, embed_dim=128, units=64, mask_zero=True):
        # Input for variable-length sequences of integers
        inputs = keras.Input(shape=(None,), dtype="int32")
        # Embed each integer in a 128-dimensional vector
        x = layers.Embedding(max_features, embed_dim, mask_zero=mask_zero)(inputs)
        # Add 2 bidirectional LSTMs
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x)
        x = layers.Bidirectional(layers.LSTM(units))(x)
        # Add a classifier
        outputs = layers.Dense(1, activation="sigmoid")(x)
        model = keras.Model(inputs, outputs)
        return model

    return build_model, {}


def make_inputs(batch, rng, s):
    """int32 (batch, maxlen) ids in [1, max_features), pre-padded with 0 as
    `keras.utils.pad_sequences` does by default; every other row full length."""
    maxlen, vocab = s["maxlen"], s["max_features"]
    x = np.zeros((batch, maxlen), dtype="int32")
    for i in range(batch):
        n = maxlen if i % 2 == 0 else int(rng.integers(1, maxlen + 1))
        x[i, maxlen - n:] = rng.integers(1, vocab, size=n)
    return x


def make_targets(x, rng, s):
    return rng.integers(0, 2, size=(len(x), 1)).astype("float32")



def make_masked_inputs(rng, s):
    """int32 (8, maxlen): pre-padded rows (lengths 5, 1), post-padded rows (7, 1),
    holes (zeros inside a row), an all-padding row, two full rows."""
    maxlen, vocab = s["maxlen"], s["max_features"]
    x = rng.integers(1, vocab, size=(8, maxlen)).astype("int32")
    x[0, :-5] = 0
    x[1, :-1] = 0
    x[2, 7:] = 0
    x[3, 1:] = 0
    x[4, ::3] = 0
    x[5, :] = 0
    return x
