"""Model code of keras-io `examples/timeseries/timeseries_classification_from_scratch.py`.

Source: keras-team/keras-io, examples/timeseries/timeseries_classification_from_scratch.py
at commit 02cfaa2fc681064105deb460bde3a5f5e4e0e817 ("Timeseries classification
from scratch", hfawaz). Licensed under the Apache License 2.0. Only `make_model`
is kept (as `build_model`), verbatim apart from `num_classes` becoming an argument.

Deviations:
- Sizes: 128 steps x 1 channel (FordA series are 500 long); the layers and their
  widths (three Conv1D(64, 3) + BatchNormalization + ReLU) are the example's.
- The example's module-level code sits in `define(keras, layers, ops)`.
"""
from ._series import class_labels, random_walks

SIZES = {"input_shape": (128, 1), "num_classes": 2}
BUILD_ARGS = ("input_shape", "num_classes")
LOSS = "sparse_categorical_crossentropy"
MASKED = False


def define(keras, layers, ops):
    def build_model(input_shape, num_classes):
        input_layer = keras.layers.Input(input_shape)

        conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)

        conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)

        conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)

        gap = keras.layers.GlobalAveragePooling1D()(conv3)

        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    return build_model, {}


def make_inputs(batch, rng, s):
    """float32 (batch, steps, 1) z-normalised random walks."""
    return random_walks(rng, (batch,) + tuple(s["input_shape"]))


def make_targets(x, rng, s):
    return class_labels(rng, len(x), s["num_classes"])
