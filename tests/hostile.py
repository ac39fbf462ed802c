"""Builders of hostile model files for `tests/test_hostile_files.py` (issue 13).

Every file is built here from scratch (no binary fixtures): a small fastmask
model is saved normally, then one part of the file is replaced by what an
attacker would put there. Targets that must never be opened are named pipes
(FIFOs): opening one for reading blocks, so a loader that touched it hangs
(the tests run such loads in a subprocess with a timeout). Code that must
never run creates a marker file.
"""
import io
import json
import os
import struct
import textwrap
import zipfile
import zlib

import numpy as np

import fastmask
from fastmask.saving.keras_h5 import weight_paths

h5py = None


def _h5py():
    global h5py
    if h5py is None:
        import h5py as module
        h5py = module
    return h5py


# --------------------------------------------------------------------------- models

def small_model(seed=0):
    """Input(None, 3) -> LSTM(4) -> Dense(2), random weights (26 + 112 + 10 values)."""
    L = fastmask.layers
    model = fastmask.Sequential([fastmask.Input((None, 3)), L.LSTM(4), L.Dense(2)])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype("float32") for w in model.weights])
    return model


def load_outcome(model, how, path):
    """(result, weights unchanged) of loading `path` with fastmask: `how` is
    "load_weights" (into `model`) or "load_model"; result is "loaded" or
    "<ExceptionType>: <message>"."""
    before = [w.numpy() for w in model.weights]
    try:
        if how == "load_weights":
            model.load_weights(path)
        else:
            fastmask.models.load_model(path)
        result = "loaded"
    except Exception as e:
        result = type(e).__name__ + ": " + str(e)
    unchanged = all((a == w.numpy()).all() for a, w in zip(before, model.weights))
    return result, bool(unchanged)


def first_weight_path(model):
    """HDF5 path of the model's first weight (`layers/lstm/cell/vars/0`)."""
    for path, _, own in weight_paths(model):
        if own:
            return f"{path}/vars/0"
    raise ValueError("model without weights")


def fifo(path):
    """A named pipe at `path`: opening it for reading blocks until a writer comes."""
    os.mkfifo(path)
    return str(path)


def marker_module(directory, name, marker):
    """A module `name` in `directory` that creates `marker` when imported."""
    with open(os.path.join(directory, f"{name}.py"), "w") as f:
        f.write(f"open({str(marker)!r}, 'w').close()\nrun = print\nEvil = object\n")
    return name


# --------------------------------------------------------------------------- HDF5

def save_weights(model, path):
    model.save_weights(str(path))
    return str(path)


def _replace(path, dataset_path, make, shape, dtype):
    """Replace (or add) the dataset at `dataset_path` by `make(f, path, shape, dtype)`."""
    h5 = _h5py()
    with h5.File(path, "a") as f:
        if dataset_path in f:
            del f[dataset_path]
        make(f, dataset_path, shape, dtype)


def hostile_h5(path, model, kind, target, where=None):
    """Save `model`'s weights to `path`, then make one dataset hostile.

    kind:
      "external_link":    the dataset becomes an external link to `target:/x`
      "soft_link":        the dataset becomes a soft link to an unused dataset
      "external_storage": a dataset of the same shape whose raw data is `target`
      "virtual":          a virtual dataset mapped from `target:/x`
      "external_parent":  the dataset's *group* becomes an external link
    `where`: the dataset path (default: the first weight the model asks for).
    """
    h5 = _h5py()
    save_weights(model, path)
    where = where or first_weight_path(model)

    def make(f, name, shape, dtype):
        if kind == "external_link":
            f[name] = h5.ExternalLink(str(target), "/x")
        elif kind == "soft_link":
            f.create_dataset("elsewhere/x", data=np.zeros(shape, dtype))
            f[name] = h5.SoftLink("/elsewhere/x")
        elif kind == "external_storage":
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            f.create_dataset(name, shape=shape, dtype=dtype, external=[(str(target), 0, nbytes)])
        elif kind == "virtual":
            layout = h5.VirtualLayout(shape=shape, dtype=dtype)
            layout[...] = h5.VirtualSource(str(target), "x", shape=shape)
            f.create_virtual_dataset(name, layout, fillvalue=0)
        else:
            raise ValueError(kind)

    if kind == "external_parent":
        with h5.File(path, "a") as f:
            group = where.rsplit("/", 1)[0]
            del f[group]
            f[group] = h5.ExternalLink(str(target), "/vars")
        return str(path)
    _replace(path, where, make, tuple(model.weights[0].shape), model.weights[0].dtype)
    return str(path)


def h5_with_dataset(path, model, name, shape, dtype="float32", fill=True):
    """Save `model`'s weights, then put a dataset `name` of `shape` (replacing one there).

    With `fill=False` no data is written: HDF5 allocates no space, so a
    dataset declaring gigabytes costs nothing on disk.
    """
    h5 = _h5py()
    save_weights(model, path)
    with h5.File(path, "a") as f:
        if name in f:
            del f[name]
        if fill:
            f.create_dataset(name, data=np.zeros(shape, dtype))
        else:
            f.create_dataset(name, shape=shape, dtype=dtype)
    return str(path)


def h5_with_big_chunks(path, model, chunk_rows=2 ** 20):
    """The first weight stored chunked, its one chunk `chunk_rows` rows long (gzip):
    the data is small, decompressing the chunk is not."""
    h5 = _h5py()
    save_weights(model, path)
    name = first_weight_path(model)
    with h5.File(path, "a") as f:
        data = f[name][()]
        del f[name]
        f.create_dataset(name, data=data, maxshape=(None,) + data.shape[1:],
                         chunks=(chunk_rows,) + data.shape[1:], compression="gzip")
    return str(path)


def h5_in_archive(archive_path, model, h5_path):
    """A `.keras` archive of `model` whose `model.weights.h5` is the file `h5_path`."""
    members = archive_members(model)
    with open(h5_path, "rb") as f:
        members["model.weights.h5"] = f.read()
    with zipfile.ZipFile(archive_path, "w") as dst:
        for name, data in members.items():
            dst.writestr(name, data)
    return str(archive_path)


# --------------------------------------------------------------------------- zip

def _deflated_zeros(total, chunk=16 * 2 ** 20):
    """(raw deflate chunks yielding `total` zero bytes, compressed size): every full
    chunk compresses to the same bytes, so gigabytes cost a few megabytes to write."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    full, rest = divmod(total, chunk)
    block = co.compress(bytes(chunk)) + co.flush(zlib.Z_FULL_FLUSH) if full else b""
    tail = (co.compress(bytes(rest)) if rest else b"") + co.flush()
    parts = [(block, full), (tail, 1)]
    return parts, len(block) * full + len(tail)


def write_zip(path, members):
    """A zip file from `members`: [(name, data bytes)] stored deflated, or
    [(name, ("zeros", n))] deflated zeros of n bytes (the CRC is left 0: a loader
    must refuse the member before it could check it), or [(name, ("lie", data,
    declared))]: `data` deflated with a declared uncompressed size `declared`.
    Members over 4 GiB get zip64 sizes."""
    entries = []
    with (open(path, "wb") if not hasattr(path, "write") else _Borrowed(path)) as out:
        for name, spec in members:
            name_b = name.encode()
            if isinstance(spec, bytes):
                co = zlib.compressobj(6, zlib.DEFLATED, -15)
                comp = co.compress(spec) + co.flush()
                parts, csize, usize, crc = [(comp, 1)], len(comp), len(spec), zlib.crc32(spec)
            elif spec[0] == "zeros":
                parts, csize = _deflated_zeros(spec[1])
                usize, crc = spec[1], 0
            else:   # "lie"
                co = zlib.compressobj(6, zlib.DEFLATED, -15)
                comp = co.compress(spec[1]) + co.flush()
                parts, csize, usize, crc = [(comp, 1)], len(comp), spec[2], zlib.crc32(spec[1])
            zip64 = usize >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
            extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
            sizes = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (csize, usize)
            offset = out.tell()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 8, 0,
                                  0x21, crc, sizes[0], sizes[1], len(name_b), len(extra)))
            out.write(name_b + extra)
            for data, times in parts:
                for _ in range(times):
                    out.write(data)
            entries.append((name_b, crc, sizes, extra, offset, zip64))
        cd_start = out.tell()
        for name_b, crc, sizes, extra, offset, zip64 in entries:
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20, 0,
                                  8, 0, 0x21, crc, sizes[0], sizes[1], len(name_b), len(extra),
                                  0, 0, 0, 0, offset))
            out.write(name_b + extra)
        cd_size = out.tell() - cd_start
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                              cd_size, cd_start, 0))
    return path if hasattr(path, "write") else str(path)


class _Borrowed:
    """A caller's file object used in a `with` block without closing it."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        return False


def archive_members(model):
    """{member name: bytes} of a normal `.keras` archive of `model`."""
    buf = io.BytesIO()
    fastmask.saving.save_model(model, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def archive_with(path, model, **replace):
    """A `.keras` archive of `model` with members replaced (name with '.' as '_').

    A value is bytes, ("zeros", n) or ("lie", data, declared) (see `write_zip`).
    """
    members = archive_members(model)
    for key, value in replace.items():
        members[key.replace("_json", ".json").replace("_h5", ".h5")
                .replace("model_weights", "model.weights")] = value
    return write_zip(path, list(members.items()))


def config_of(model):
    """The parsed `config.json` of `model`'s archive."""
    return json.loads(archive_members(model)["config.json"])


def archive_with_config(path, model, config):
    """A `.keras` archive of `model` whose `config.json` is `config` (a dict or bytes)."""
    data = config if isinstance(config, bytes) else json.dumps(config).encode()
    return archive_with(path, model, config_json=data)


def deep_json(depth):
    """`config.json` bytes of a model whose config nests `depth` lists deep."""
    return b'{"class_name": "Sequential", "config": ' + b"[" * depth + b"]" * depth + b"}"


def many_members(path, n):
    """A zip of `n` members: a `config.json` and `n - 1` empty ones."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        for i in range(n - 1):
            zf.writestr(f"m{i}", b"")
    return str(path)


# --------------------------------------------------------------------------- configs

def lambda_layer_config(function, name="hostile_lambda"):
    """A Keras Lambda layer config whose `function` is `function`."""
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32",
                       "function": function, "arguments": {}}}


def sequential_with(model_config, layer_config):
    """`model_config` (a Sequential's) with `layer_config` inserted after the Input."""
    config = json.loads(json.dumps(model_config))
    config["config"]["layers"].insert(1, layer_config)
    return config


def function_config(module, name):
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": "function"}


def touching_lambda(marker):
    """A Lambda whose function creates `marker` when it runs (then returns x)."""
    return fastmask.layers.Lambda(
        lambda x, _m=str(marker): (open(_m, "w").close(), x)[1])


def isolated_script(body):
    """Python source running `body` with `report(**values)` printing one JSON line and
    `rss_mib()` the peak RSS in MiB."""
    return textwrap.dedent('''
        import json, resource, sys
        def report(**values):
            print("REPORT " + json.dumps(values), flush=True)
        def rss_mib():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ''') + textwrap.dedent(body)
