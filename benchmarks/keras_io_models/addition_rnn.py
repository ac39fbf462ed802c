"""Model code of keras-io `examples/nlp/addition_rnn.py`.

Source: keras-team/keras-io, examples/nlp/addition_rnn.py at commit
0e2325b31f291531990c55fec009feee850b6ca9 ("Sequence to sequence learning for
performing number addition", Smerity and others, Apache License 2.0). Only the
model-building code is kept (num_layers = 1, DIGITS = 3).

Swap the two import lines for `import fastmask as keras; from fastmask import
layers, ops` to run it on fastmask.
"""
import numpy as np

import keras
from keras import layers, ops  # noqa: F401

DIGITS = 3
MAXLEN = DIGITS + 1 + DIGITS  # 'int + int', e.g. '345+678': 7
CHARS = "0123456789+ "  # All the numbers, plus sign and space for padding.


def build_model(maxlen=MAXLEN, num_chars=len(CHARS), digits=DIGITS, units=128, num_layers=1):
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


def make_inputs(batch, rng, digits=DIGITS):
    """bool (batch, 7, 12) one-hot reversed queries such as '  543+21', as the example's
    `CharacterTable.encode` + `np.zeros(..., dtype=np.bool)` vectorisation."""
    maxlen = digits + 1 + digits
    index = {c: i for i, c in enumerate(sorted(set(CHARS)))}
    x = np.zeros((batch, maxlen, len(index)), dtype=bool)
    for row in range(batch):
        a, b = (int(rng.integers(0, 10 ** int(rng.integers(1, digits + 1)))) for _ in range(2))
        q = f"{a}+{b}"
        q = (q + " " * (maxlen - len(q)))[::-1]  # REVERSE = True
        for t, c in enumerate(q):
            x[row, t, index[c]] = True
    return x


CUSTOM_OBJECTS = {}
