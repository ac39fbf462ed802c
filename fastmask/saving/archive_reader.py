"""Reading the members of a `.keras` archive (zip or directory) within limits.

`open_archive(filepath)` gives an `Archive`: `read_config()` returns the
bytes of `config.json` (at most `MAX_CONFIG_BYTES`), `weights_size()` the
declared size of `model.weights.h5` without reading it, and
`read_weights(limit)` its bytes, refusing more than `limit` (the caller
derives it from the model built from the config, `limits.weights_member_budget`).

Each zip member's declared size is checked before any decompression (ours
and Keras's rule: over 4 GiB *and* over 100x its stored size), and reading
stops at the limit whatever the header says. The central directory may list
at most `MAX_ZIP_MEMBERS` members. In a directory saved with `zipped=False`,
members must be regular files (not symlinks, FIFOs or devices), opened
without following links. Nothing else in the archive is read (`metadata.json`
and assets are ignored, as in Keras).
"""
import io
import os
import stat
import zipfile
import zlib

from .limits import (KERAS_BOMB_MIN_BYTES, KERAS_BOMB_RATIO, MAX_CONFIG_BYTES, MAX_ZIP_MEMBERS,
                     UnsafeFileError, format_bytes)

__all__ = ["CONFIG", "METADATA", "WEIGHTS", "open_archive", "Archive"]

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
_NPZ_WEIGHTS = "model.weights.npz"


def _npz_message(what):
    return (f"{what} stores its weights as `{_NPZ_WEIGHTS}` (Keras's weights_format='npz'); "
            "fastmask reads the default HDF5 format: save it again with `model.save(path)`.")


def zip_member_count(fileobj):
    """Members the zip's end-of-central-directory record declares (None if unknown)."""
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:
        return None
    try:
        pos = fileobj.tell()
        try:
            rec = end_record(fileobj)
        finally:
            fileobj.seek(pos)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
    return None if not rec else rec[zipfile._ECD_ENTRIES_TOTAL]


def check_zip_member(info, limit, what, limit_name):
    """Refuse a zip member declaring more than `limit` bytes, or Keras's bomb rule."""
    size, stored = info.file_size, info.compress_size
    if size > KERAS_BOMB_MIN_BYTES and size > KERAS_BOMB_RATIO * max(stored, 1):
        raise UnsafeFileError(
            f"Not allowed: ZIP member '{info.filename}' of {what} declares "
            f"{format_bytes(size)} but only {format_bytes(stored)} are stored on disk; refusing "
            "to load a potential decompression bomb.")
    if size > limit:
        raise UnsafeFileError(
            f"Not allowed: ZIP member '{info.filename}' of {what} declares {format_bytes(size)} "
            f"({size:,} bytes), over the {limit_name} of {format_bytes(limit)} ({limit:,} "
            "bytes); refusing to decompress it.")


def read_zip_member(zf, info, limit, what, limit_name):
    """The bytes of a zip member, at most `limit` (checked before and while reading)."""
    check_zip_member(info, limit, what, limit_name)
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error,
            NotImplementedError) as e:
        raise ValueError(f"{what} is corrupt: reading '{info.filename}' failed ({e}). It may be "
                         "truncated.") from None
    if len(data) > limit:
        raise UnsafeFileError(f"Not allowed: ZIP member '{info.filename}' of {what} "
                              f"decompresses to more than the {limit_name} of "
                              f"{format_bytes(limit)}; refusing it.")
    return data


class Archive:
    """The members of a `.keras` archive: a zip (path or file object) or a directory."""

    def __init__(self, filepath, what):
        self.what = what
        self._dir = None
        self._zip = None
        if isinstance(filepath, (str, os.PathLike)) and os.path.isdir(filepath):
            self._dir = os.fspath(filepath)
            names = os.listdir(self._dir)
            if CONFIG not in names:
                raise ValueError(f"{what} is a directory without a `{CONFIG}`: not a Keras "
                                 "model saved with `zipped=False`.")
            if WEIGHTS not in names and _NPZ_WEIGHTS in names:
                raise ValueError(_npz_message(what))
            return
        self._own = not hasattr(filepath, "read")
        fileobj = open(filepath, "rb") if self._own else filepath
        try:
            count = zip_member_count(fileobj)
            if count is not None and count > MAX_ZIP_MEMBERS:
                raise UnsafeFileError(f"{what} lists {count:,} zip members, over the limit of "
                                      f"{MAX_ZIP_MEMBERS:,}; refusing it (a Keras archive has "
                                      "3 plus its assets).")
            self._zip = zipfile.ZipFile(fileobj, "r")
        except zipfile.BadZipFile as e:
            self._close_file(fileobj)
            raise ValueError(f"{what} is not a valid `.keras` archive (not a readable zip "
                             f"file: {e}). It may be truncated or corrupt.") from None
        except BaseException:
            self._close_file(fileobj)
            raise
        self._fileobj = fileobj
        names = self._zip.namelist()
        if CONFIG not in names:
            self.close()
            raise ValueError(f"{what} is a zip file without a `{CONFIG}`: not a Keras 3 "
                             f"`.keras` archive (members: {names[:10]}).")
        if _NPZ_WEIGHTS in names and WEIGHTS not in names:
            self.close()
            raise ValueError(_npz_message(what))

    def _close_file(self, fileobj):
        if self._own:
            fileobj.close()

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._close_file(self._fileobj)
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ members

    def _dir_member(self, name, limit, limit_name):
        """Bytes of a regular file of the directory (not a link, FIFO or device)."""
        path = os.path.join(self._dir, name)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except OSError as e:
            raise UnsafeFileError(f"Not allowed: `{name}` of {self.what} cannot be opened as "
                                  f"a regular file ({e.strerror}; symlinks are refused).") \
                from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UnsafeFileError(f"Not allowed: `{name}` of {self.what} is not a regular "
                                      "file; refusing it.")
            if info.st_size > limit:
                raise UnsafeFileError(f"Not allowed: `{name}` of {self.what} holds "
                                      f"{format_bytes(info.st_size)}, over the {limit_name} of "
                                      f"{format_bytes(limit)}; refusing it.")
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise UnsafeFileError(f"Not allowed: `{name}` of {self.what} is larger than the "
                                  f"{limit_name} of {format_bytes(limit)}; refusing it.")
        return data

    def read_config(self):
        """The bytes of `config.json` (at most `MAX_CONFIG_BYTES`)."""
        if self._dir is not None:
            return self._dir_member(CONFIG, MAX_CONFIG_BYTES, "config limit")
        return read_zip_member(self._zip, self._zip.getinfo(CONFIG), MAX_CONFIG_BYTES,
                               self.what, "config limit")

    def weights_size(self):
        """Declared size of `model.weights.h5` in bytes, or None without one (nothing read)."""
        if self._dir is not None:
            try:
                info = os.lstat(os.path.join(self._dir, WEIGHTS))
            except FileNotFoundError:
                return None
            return info.st_size
        try:
            info = self._zip.getinfo(WEIGHTS)
        except KeyError:
            return None
        # Keras's bomb rule right away, before the model is built from the config.
        check_zip_member(info, info.file_size, self.what, "declared size")
        return info.file_size

    def read_weights(self, limit):
        """A file object over `model.weights.h5` (at most `limit` bytes), or None."""
        if self._dir is not None:
            if not os.path.lexists(os.path.join(self._dir, WEIGHTS)):
                return None
            return io.BytesIO(self._dir_member(WEIGHTS, limit, "weights limit"))
        try:
            info = self._zip.getinfo(WEIGHTS)
        except KeyError:
            return None
        return io.BytesIO(read_zip_member(self._zip, info, limit, self.what,
                                          "weights limit of this model"))


def open_archive(filepath, what):
    """The `Archive` at `filepath` (use it in a `with` block)."""
    return Archive(filepath, what)
