"""Model code of keras-io `examples/nlp/lstm_seq2seq.py` (the training model).

Source: keras-team/keras-io, examples/nlp/lstm_seq2seq.py at commit
1909c6710cd3f5af6401f1176dcee9e26781b4f3 ("Character-level recurrent
sequence-to-sequence model", fchollet). Licensed under the Apache License 2.0.
Only the training model is kept (the example later rebuilds its sampling models
from this one's layers).

Deviations:
- Sizes: latent_dim 32 (was 256); 71 encoder / 93 decoder tokens as the example
  prints for its fra-eng data, 16 encoder steps, 20 decoder steps (was 59).
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"num_encoder_tokens": 71, "num_decoder_tokens": 93, "latent_dim": 32,
         "max_encoder_seq_length": 16, "max_decoder_seq_length": 20}
BUILD_ARGS = ("num_encoder_tokens", "num_decoder_tokens", "latent_dim")
LOSS = "categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    def build_model(num_encoder_tokens, num_decoder_tokens, latent_dim=256):
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

    return build_model, {}


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


def make_inputs(batch, rng, s):
    """[encoder_input_data (batch, 16, 71), decoder_input_data (batch, 20, 93)]:
    float32 one-hot characters, padded with the one-hot " " (index 0 of the input
    set, 2 of the target set) as the example does; decoder rows start with "\\t"."""
    enc = _one_hot_text(batch, rng, s["max_encoder_seq_length"], s["num_encoder_tokens"], 0)
    dec = _one_hot_text(batch, rng, s["max_decoder_seq_length"], s["num_decoder_tokens"], 2,
                        start_index=0)
    return [enc, dec]


def make_targets(x, rng, s):
    """decoder_target_data: the decoder input one step ahead, as the example."""
    dec = x[1]
    return np.concatenate([dec[:, 1:], dec[:, -1:]], axis=1)
