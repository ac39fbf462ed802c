"""Model code of keras-io `examples/timeseries/timeseries_anomaly_detection.py`.

Source: keras-team/keras-io, examples/timeseries/timeseries_anomaly_detection.py at
commit 3aca0563e5cebb3e442bee3f7c30adc53cfe3102 ("Timeseries anomaly detection
using an Autoencoder", pavithrasv). Licensed under the Apache License 2.0. The
Sequential model verbatim (input shape x_train.shape[1:] = (288, 1)).

Deviations:
- None in the model (the example's sizes). The example's module-level code sits
  in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"time_steps": 288, "num_features": 1}
BUILD_ARGS = ("time_steps", "num_features")
LOSS = "mse"
MASKED = False


def define(keras, layers, ops):
    def build_model(time_steps, num_features):
        model = keras.Sequential(
            [
                layers.Input(shape=(time_steps, num_features)),
                layers.Conv1D(
                    filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
                ),
                layers.Dropout(rate=0.2),
                layers.Conv1D(
                    filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
                ),
                layers.Conv1DTranspose(
                    filters=16, kernel_size=7, padding="same", strides=2, activation="relu"
                ),
                layers.Dropout(rate=0.2),
                layers.Conv1DTranspose(
                    filters=32, kernel_size=7, padding="same", strides=2, activation="relu"
                ),
                layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
            ]
        )
        return model

    return build_model, {}


def make_inputs(batch, rng, s):
    """float32 (batch, 288, 1) normalised daily-periodic windows (NAB art_daily_*)."""
    steps = s["time_steps"]
    t = np.arange(steps)
    start = rng.integers(0, steps, size=(batch, 1))
    x = np.sin(2 * np.pi * (t + start) / steps) + 0.1 * rng.standard_normal((batch, steps))
    return x[..., None].astype("float32")


def make_targets(x, rng, s):
    """An autoencoder: the target is the input, as the example's `fit(x_train, x_train)`."""
    return x
