"""Global settings Keras 3 exposes as `keras.backend.*` / `keras.config.*`.

`image_data_format()` is the default `data_format` of the convolution,
pooling, padding and cropping layers ("channels_last", or "channels_first"
after `set_image_data_format("channels_first")`, as keras-io's SSVEPFormer
example does with `from keras import backend as K`). Like Keras, the initial
values come from `$KERAS_HOME/keras.json` (default `~/.keras/keras.json`) when
that file exists and holds valid values; fastmask only reads it, never
writes it.

`backend()` returns "numpy": fastmask follows Keras 3.15.1's NumPy backend.
"""
import json
import os

__all__ = ["image_data_format", "set_image_data_format", "standardize_data_format",
           "epsilon", "set_epsilon", "floatx", "backend"]

_DATA_FORMATS = ("channels_first", "channels_last")
_IMAGE_DATA_FORMAT = "channels_last"
_EPSILON = 1e-7


def _bad_data_format(data_format):
    return ValueError("The `data_format` argument must be one of "
                      "{'channels_first', 'channels_last'}. "
                      f"Received: data_format={data_format}")


def image_data_format():
    """The default data format: "channels_last" or "channels_first"."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Set the default data format ("channels_last" or "channels_first", any case)."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise _bad_data_format(value)
    _IMAGE_DATA_FORMAT = value


def standardize_data_format(data_format):
    """`data_format` lower-cased and checked; None gives `image_data_format()`."""
    if data_format is None:
        return image_data_format()
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise _bad_data_format(value)
    return value


def epsilon():
    """The fuzz factor Keras adds in some divisions (1e-7 by default)."""
    return _EPSILON


def set_epsilon(value):
    """Set the fuzz factor returned by `epsilon()` (a float)."""
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`epsilon` must be a float. Received: value={value!r}")
    _EPSILON = float(value)


def floatx():
    """The default float type: always "float32" in fastmask (use a layer's `dtype=`)."""
    return "float32"


def backend():
    """The Keras backend whose semantics fastmask follows: "numpy"."""
    return "numpy"


def _read_keras_json():
    """Apply `image_data_format` and `epsilon` from Keras's config file, if valid."""
    global _IMAGE_DATA_FORMAT, _EPSILON
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(home, "keras.json")
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return
    if not isinstance(config, dict):
        return
    fmt = config.get("image_data_format")
    if fmt in _DATA_FORMATS:
        _IMAGE_DATA_FORMAT = fmt
    eps = config.get("epsilon")
    if isinstance(eps, float):
        _EPSILON = eps


_read_keras_json()
