"""The limits that keep a model file from a stranger from exhausting memory.

Every number that bounds what a `.keras` archive, a `.weights.h5` or a
`.weights.npz` file may make fastmask read or allocate lives here. A file over
a limit is refused with an `UnsafeFileError` (a ValueError) that says which
limit and by how much, before the bytes are read. Keras-valid files stay far
below them (the README's "Loading files you did not make" lists them).
"""

__all__ = ["UnsafeFileError", "MAX_CONFIG_BYTES", "KERAS_BOMB_MIN_BYTES", "KERAS_BOMB_RATIO",
           "MAX_ZIP_MEMBERS", "WEIGHTS_BYTES_PER_VALUE", "WEIGHTS_OVERHEAD_BYTES",
           "WEIGHTS_OVERHEAD_PER_OBJECT", "BUILD_BYTES_PER_STORED_BYTE", "BUILD_FLOOR_BYTES",
           "MAX_H5_OBJECTS", "MAX_H5_DEPTH", "H5_CHUNK_SLACK_BYTES", "H5_BUILTIN_FILTERS",
           "MAX_VALUE_ITEMSIZE", "weights_member_budget", "build_budget", "format_bytes"]

MiB = 2 ** 20
GiB = 2 ** 30


class UnsafeFileError(ValueError):
    """A model file refused because it could read local files, run code or exhaust memory."""


# --- the zip archive (`.keras`) and the directory form (`zipped=False`)

# `config.json` (and any JSON member) decompressed: a 1,000-layer Functional
# model's config is about 2 MB.
MAX_CONFIG_BYTES = 32 * MiB

# Keras's own rule (saving_lib._reject_zip_bomb), kept on top of ours: a member
# declaring more than 4 GiB *and* more than 100x its stored size is refused.
KERAS_BOMB_MIN_BYTES = 4 * GiB
KERAS_BOMB_RATIO = 100

# Members listed in the archive's central directory (a Keras archive has 3,
# plus its assets): bounds what parsing the directory costs.
MAX_ZIP_MEMBERS = 10_000

# `model.weights.h5` decompressed, once the model is built from the config:
# 32 bytes per weight value (8-byte values: the weight and up to three
# optimizer slots, which Keras saves for a trained model) + HDF5 metadata
# (Keras's layout costs about 3 KB per layer and weight).
WEIGHTS_BYTES_PER_VALUE = 32
WEIGHTS_OVERHEAD_BYTES = 1 * MiB
WEIGHTS_OVERHEAD_PER_OBJECT = 64 * 1024   # per layer and per weight of the model

# Weights the config may make fastmask allocate while it builds the model, before
# the weights member is read: 8 bytes per stored byte of that member (a 1-byte
# stored value can become an 8-byte weight), and at least 64 MiB (a model saved
# without weights).
BUILD_BYTES_PER_STORED_BYTE = 8
BUILD_FLOOR_BYTES = 64 * MiB

# --- HDF5 (`model.weights.h5`, `.weights.h5`)

# Groups, datasets and links visited while listing the file (no data is read
# then), and the deepest path (Keras's deepest layer paths have about 8 parts).
MAX_H5_OBJECTS = 100_000
MAX_H5_DEPTH = 64
# A chunked dataset's chunk may exceed the dataset by at most this much (a
# chunk is decompressed whole, whatever the dataset's declared shape).
H5_CHUNK_SLACK_BYTES = 1 * MiB
# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit,
# scaleoffset); any other filter id would make HDF5 load a plugin library.
H5_BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6})
# Widest stored value accepted (float64/int64): wider ones (float128) are refused.
MAX_VALUE_ITEMSIZE = 8


def weights_member_budget(n_values, n_objects):
    """Most bytes `model.weights.h5` may decompress to for a model with `n_values`
    weight values in `n_objects` layers + weights."""
    return (WEIGHTS_BYTES_PER_VALUE * n_values + WEIGHTS_OVERHEAD_BYTES
            + WEIGHTS_OVERHEAD_PER_OBJECT * n_objects)


def build_budget(weights_member_bytes):
    """Most bytes of weights building the model may allocate, for a weights member of
    `weights_member_bytes` (0 when the file has none)."""
    return max(BUILD_FLOOR_BYTES, BUILD_BYTES_PER_STORED_BYTE * weights_member_bytes)


def format_bytes(n):
    """`n` bytes for a message ("4.00 GiB", "512 B")."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"
