"""Model code of keras-io `examples/timeseries/lstm_vs_cnn_timeseries_classification.py`.

Source: keras-team/keras-io, examples/timeseries/lstm_vs_cnn_timeseries_classification.py
at commit 873ef4adccfb97ffd1ada34302fd59794222b20a ("Timeseries Classification
with LSTM and CNN Models", Georgios Sklavounakos). Licensed under the Apache
License 2.0. Both builders verbatim; `build_model(kind=...)` picks one.

Deviations:
- Sizes: 128 steps x 1 channel (FordA series are 500 long); layers and widths are
  the example's.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
from ._series import class_labels, random_walks

SIZES = {"kind": "lstm", "input_shape": (128, 1), "num_classes": 2}
BUILD_ARGS = ("kind", "input_shape", "num_classes")
LOSS = "sparse_categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    def build_lstm_model(input_shape, num_classes):
        """Build an LSTM-based model for timeseries classification."""
        model = keras.Sequential([
            layers.Input(shape=input_shape),
            layers.LSTM(64, return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
            layers.LSTM(32, dropout=0.3, recurrent_dropout=0.3),
            layers.Dense(16, activation="relu"),
            layers.Dense(num_classes, activation="softmax")
        ])
        return model

    def build_cnn_model(input_shape, num_classes):
        """Build a 1D CNN-based model for timeseries classification."""
        model = keras.Sequential([
            layers.Input(shape=input_shape),
            layers.Conv1D(filters=64, kernel_size=7, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(pool_size=2),
            layers.Dropout(0.3),
            layers.Conv1D(filters=128, kernel_size=5, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(pool_size=2),
            layers.Dropout(0.3),
            layers.GlobalAveragePooling1D(),
            layers.Dense(16, activation="relu"),
            layers.Dense(num_classes, activation="softmax")
        ])
        return model

    def build_model(kind, input_shape, num_classes):
        return (build_lstm_model if kind == "lstm" else build_cnn_model)(input_shape,
                                                                         num_classes)

    return build_model, {}


def make_inputs(batch, rng, s):
    """float32 (batch, steps, 1) z-normalised random walks (FordA-like)."""
    return random_walks(rng, (batch,) + tuple(s["input_shape"]))


def make_targets(x, rng, s):
    return class_labels(rng, len(x), s["num_classes"])
