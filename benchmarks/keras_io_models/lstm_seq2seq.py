"""Model code of keras-io `examples/nlp/lstm_seq2seq.py` (training model).

Source: keras-team/keras-io, examples/nlp/lstm_seq2seq.py at commit
1909c6710cd3f5af6401f1176dcee9e26781b4f3 ("Character-level recurrent
sequence-to-sequence model", fchollet, Apache License 2.0). Only the training
model is kept (the example later rebuilds encoder/decoder sampling models from
the loaded one's layers).

Sizes: latent_dim = 256 as in the example. num_encoder_tokens /
num_decoder_tokens / max lengths come from the fra-eng data (10000 samples);
the defaults 71 / 93 / 16 / 59 are the values the example prints for that data
(issue 16: "T 16 -> 59").

Swap the import line for `import fastmask as keras` to run it on fastmask.
"""
import numpy as np

import keras
from keras import layers, ops  # noqa: F401  (the example writes keras.layers.X)

NUM_ENCODER_TOKENS = 71
NUM_DECODER_TOKENS = 93
MAX_ENCODER_SEQ_LENGTH = 16
MAX_DECODER_SEQ_LENGTH = 59


def build_model(num_encoder_tokens=NUM_ENCODER_TOKENS, num_decoder_tokens=NUM_DECODER_TOKENS,
                latent_dim=256):
    # Define an input sequence and process it.
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)

    # We discard `encoder_outputs` and only keep the states.
    encoder_states = [state_h, state_c]

    # Set up the decoder, using `encoder_states` as initial state.
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))

    # We set up our decoder to return full output sequences,
    # and to return internal states as well. We don't use the
    # return states in the training model, but we will use them in inference.
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)

    # Define the model that will turn
    # `encoder_input_data` & `decoder_input_data` into `decoder_target_data`
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    return model


def _one_hot_text(batch, rng, max_len, num_tokens, space_index, start_index=None):
    x = np.zeros((batch, max_len, num_tokens), dtype="float32")
    for i in range(batch):
        n = int(rng.integers(2, max_len + 1))
        ids = rng.integers(0, num_tokens, size=n)
        if start_index is not None:
            ids[0] = start_index  # "\t" start-of-sequence character
        x[i, np.arange(n), ids] = 1.0
        x[i, n:, space_index] = 1.0  # the example pads with the " " character
    return x


def make_inputs(batch, rng, num_encoder_tokens=NUM_ENCODER_TOKENS,
                num_decoder_tokens=NUM_DECODER_TOKENS,
                max_encoder_seq_length=MAX_ENCODER_SEQ_LENGTH,
                max_decoder_seq_length=MAX_DECODER_SEQ_LENGTH):
    """[encoder_input_data (batch, 16, 71), decoder_input_data (batch, 59, 93)], float32
    one-hot characters; padding steps are one-hot " " (sorted characters: " " is
    index 0 of the input set; "\\t", "\\n", " " are indices 0, 1, 2 of the target
    set), decoder rows start with "\\t"."""
    enc = _one_hot_text(batch, rng, max_encoder_seq_length, num_encoder_tokens, 0)
    dec = _one_hot_text(batch, rng, max_decoder_seq_length, num_decoder_tokens, 2,
                        start_index=0)
    return [enc, dec]


CUSTOM_OBJECTS = {}
