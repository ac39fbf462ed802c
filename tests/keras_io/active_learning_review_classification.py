"""Model code of keras-io `examples/nlp/active_learning_review_classification.py`.

Source: keras-team/keras-io, examples/nlp/active_learning_review_classification.py
at commit 1909c6710cd3f5af6401f1176dcee9e26781b4f3 ("Review Classification using
Active Learning", Darshan Deshpande). Licensed under the Apache License 2.0.
`create_model()` verbatim (as `build_model`, minus its `model.summary()`): no
mask, TextVectorization(3000, output_sequence_length=150) ids into a BiLSTM.

Deviations:
- Sizes: 60 steps (was 150); vocabulary 3000 and the layer widths as the example.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"sequence_length": 60, "vocab_size": 3000}
BUILD_ARGS = ("sequence_length", "vocab_size")
LOSS = "binary_crossentropy"
MASKED = False


def define(keras, layers, ops):
    def build_model(sequence_length=150, vocab_size=3000):
        model = keras.models.Sequential(
            [
                layers.Input(shape=(sequence_length,)),
                layers.Embedding(input_dim=vocab_size, output_dim=128),
                layers.Bidirectional(layers.LSTM(32, return_sequences=True)),
                layers.GlobalMaxPool1D(),
                layers.Dense(20, activation="relu"),
                layers.Dropout(0.5),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        return model

    return build_model, {}


def make_inputs(batch, rng, s):
    """(batch, sequence_length) TextVectorization ids, post-padded with 0, as
    float32 (the Input's default dtype; the Embedding casts)."""
    steps, vocab = s["sequence_length"], s["vocab_size"]
    x = np.zeros((batch, steps), dtype="float32")
    for i in range(batch):
        n = steps if i % 2 == 0 else int(rng.integers(10, steps + 1))
        x[i, :n] = rng.integers(1, vocab, size=n)
    return x


def make_targets(x, rng, s):
    return rng.integers(0, 2, size=(len(x), 1)).astype("float32")
