"""Model code of keras-io `examples/timeseries/multivariate_timeseries_forecasting_using_lstm.py`.

Source: keras-team/keras-io,
examples/timeseries/multivariate_timeseries_forecasting_using_lstm.py at commit
699b78d2428e8561afdff4b79672791e446c2d8a ("Multivariate Time Series Forecasting
using LSTM", Rohit Sahoo). Licensed under the Apache License 2.0. Layers and
arguments verbatim, including `LeakyReLU(alpha=0.5)` (Keras 3 spells it
`negative_slope` and accepts `alpha` with a warning) and `input_shape=` on the
first LSTM.

Deviations:
- Written against tf.keras (`tf.keras.Sequential`, `tf.keras.layers.X`); here `keras.X`.
- Sizes: LSTM widths 32, 32, 16 (were 128, 128, 64); 60 days x 5 price features
  as the example.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
import numpy as np

SIZES = {"win_length": 60, "num_features": 5, "units": (32, 32, 16)}
BUILD_ARGS = ("win_length", "num_features", "units")
LOSS = "mse"
MASKED = False


def define(keras, layers, ops):
    def build_model(win_length, num_features, units=(128, 128, 64)):
        model = keras.Sequential()
        model.add(
            keras.layers.LSTM(
                units[0], input_shape=(win_length, num_features), return_sequences=True
            )
        )
        model.add(keras.layers.LeakyReLU(alpha=0.5))
        model.add(keras.layers.LSTM(units[1], return_sequences=True))
        model.add(keras.layers.LeakyReLU(alpha=0.5))
        model.add(keras.layers.Dropout(0.3))
        model.add(keras.layers.LSTM(units[2], return_sequences=False))
        model.add(keras.layers.Dropout(0.3))
        model.add(keras.layers.Dense(1))
        return model

    return build_model, {}


def make_inputs(batch, rng, s):
    """float32 (batch, 60, 5) standardised price windows (strongly correlated
    columns), as the example's TimeseriesGenerator batches."""
    base = rng.standard_normal((batch, s["win_length"], 1)).cumsum(axis=1)
    x = base + 0.05 * rng.standard_normal((batch, s["win_length"], s["num_features"]))
    x = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    return x.astype("float32")


def make_targets(x, rng, s):
    """Next-day value of the first column (float32 (batch, 1))."""
    return (x[:, -1, :1] + 0.1 * rng.standard_normal((len(x), 1))).astype("float32")
