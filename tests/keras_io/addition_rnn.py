"""Model code of keras-io `examples/nlp/addition_rnn.py`.

Source: keras-team/keras-io, examples/nlp/addition_rnn.py at commit
0e2325b31f291531990c55fec009feee850b6ca9 ("Sequence to sequence learning for
performing number addition", Smerity and others). Licensed under the Apache
License 2.0. Only the model-building code is kept (num_layers = 1, DIGITS = 3).

Deviations:
- Sizes: LSTM(32) (was 128); 3 digits, 7 steps x 12 characters as the example.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

DIGITS = 3
CHARS = "0123456789+ "  # All the numbers, plus sign and space for padding.

SIZES = {"maxlen": DIGITS + 1 + DIGITS, "num_chars": len(CHARS), "digits": DIGITS, "units": 32}
BUILD_ARGS = ("maxlen", "num_chars", "digits", "units")
LOSS = "categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    def build_model(maxlen, num_chars, digits, units=128, num_layers=1):
        model = keras.Sequential()
        # "Encode" the input sequence using a LSTM, producing an output of size 128.
        # Note: In a situation where your input sequences have a variable length,
        # use input_shape=(None, num_feature).
        model.add(layers.LSTM(units, input_shape=(maxlen, num_chars)))
        # As the decoder RNN's input, repeatedly provide with the last output of
        # RNN for each time step. Repeat 'DIGITS + 1' times as that's the maximum
        # length of output, e.g., when DIGITS=3, max output is 999+999=1998.
        model.add(layers.RepeatVector(digits + 1))
        # The decoder RNN could be multiple layers stacked or a single layer.
        for _ in range(num_layers):
            model.add(layers.LSTM(units, return_sequences=True))
        # Apply a dense layer to the every temporal slice of an input.
        model.add(layers.Dense(num_chars, activation="softmax"))
        return model

    return build_model, {}


def _encode(text, maxlen, index):
    x = np.zeros((maxlen, len(index)), dtype=bool)
    for t, c in enumerate(text):
        x[t, index[c]] = True
    return x


def make_inputs(batch, rng, s):
    """bool (batch, 7, 12) one-hot reversed queries such as '  543+21', as the
    example's `CharacterTable.encode` into `np.zeros(..., dtype=bool)`."""
    index = {c: i for i, c in enumerate(sorted(set(CHARS)))}
    rows = []
    for _ in range(batch):
        a, b = (int(rng.integers(0, 10 ** int(rng.integers(1, s["digits"] + 1))))
                for _ in range(2))
        q = f"{a}+{b}"
        q = (q + " " * (s["maxlen"] - len(q)))[::-1]  # REVERSE = True
        rows.append(_encode(q, s["maxlen"], index))
    return np.stack(rows)


def make_targets(x, rng, s):
    """One-hot answers (digits + 1 characters): random ones, the model only needs
    to move away from its initial weights."""
    ids = rng.integers(0, s["num_chars"], size=(len(x), s["digits"] + 1))
    return np.eye(s["num_chars"], dtype="float32")[ids]
