"""Model code of keras-io `examples/nlp/bidirectional_lstm_imdb.py`.

Source: keras-team/keras-io, examples/nlp/bidirectional_lstm_imdb.py at commit
0a4be8bbc3ae126f3ca49a0bf173902866ec06f0 ("Bidirectional LSTM on IMDB", fchollet,
Apache License 2.0). Only the model-building code is kept.

Deviation (requested by fastmask issue 16, "masked bidirectional-LSTM text
classifier"): `mask_zero=True` on the Embedding, so the two Bidirectional LSTMs
run masked over the padding. The example itself builds `Embedding(max_features,
128)` without a mask; pass `mask_zero=False` for the example's exact model.

Swap the two import lines for `import fastmask as keras; from fastmask import
layers, ops` to run it on fastmask.
"""
import numpy as np

import keras
from keras import layers, ops  # noqa: F401  (ops kept so the import swap is uniform)

MAX_FEATURES = 20000  # Only consider the top 20k words
MAXLEN = 200  # Only consider the first 200 words of each movie review


def build_model(max_features=MAX_FEATURES, embed_dim=128, units=64, mask_zero=True):
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


def make_inputs(batch, rng, maxlen=MAXLEN, max_features=MAX_FEATURES):
    """int32 (batch, maxlen) token ids in [1, max_features), pre-padded with 0.

    Like `keras.utils.pad_sequences(x, maxlen=200)` in the example (default
    padding="pre"); review lengths drawn in [1, maxlen], some rows full length.
    """
    lengths = rng.integers(1, maxlen + 1, size=batch)
    lengths[:: max(1, batch // 2)] = maxlen
    x = np.zeros((batch, maxlen), dtype="int32")
    for i, n in enumerate(lengths):
        x[i, maxlen - n:] = rng.integers(1, max_features, size=n)
    return x


CUSTOM_OBJECTS = {}
