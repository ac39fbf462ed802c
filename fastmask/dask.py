"""Run a fastmask model over chunked Dask arrays (optional: `pip install fastmask[dask]`).

    import dask.array as da
    import fastmask.dask

    ids = da.from_zarr(...)                       # (n, T) padded token ids
    probs = fastmask.dask.predict(model, ids)     # lazy (n, classes) dask array
    probs.compute()                               # or with a dask.distributed Client

Each block of rows is one task: `model.predict` on that block. The model is
put in the task graph once (one key) and pickled to each worker once;
fastmask models and layers pickle by config + weights (see
`fastmask/layers/pickling.py`), so custom layers need no registration on the
workers. Rows are independent (masked steps never mix rows and fastmask's
kernels give the same result for any batch split), so the result equals
`model.predict` on the whole array.

Threads: under dask.distributed, workers run with OMP_NUM_THREADS=1 by
default (one fastmask thread per dask thread); `n_threads=` overrides it for
the tasks.

Trust: the model reaches the workers by pickle, and unpickling can run any
code (that is pickle, not fastmask). Run only task graphs you built, on a
cluster whose scheduler and clients you trust. The model's config is rebuilt
on the worker with the same name resolution as `load_model` (no module is
imported by name); the callables its layers hold travel as pickled objects.
"""
import contextlib
import uuid

import numpy as np

from .core.tree import flatten, pack_as
from .core.tensor import get_mask, plain, with_mask
from .kernels._validation import as_mask_array, check_mask_values

__all__ = ["predict"]

_DEFAULT_ROWS = 4096   # rows per block when a NumPy array is given


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError("fastmask.dask needs dask: `pip install fastmask[dask]` (or "
                          "`pip install 'dask[array,distributed]' cloudpickle`).") from None
    return dask, da


def _predict_block(model, arrays, masks, structure, batch_size, n_threads, n_outputs):
    """One task: `model.predict` on one block of rows; plain outputs then their masks."""
    from . import num_threads
    rows = np.shape(arrays[0])[0]
    context = num_threads(n_threads) if n_threads is not None else contextlib.nullcontext()
    with context:
        out = model.predict(_pack(structure, arrays, masks),
                            batch_size=batch_size or max(rows, 1), verbose=0)
    flat = flatten(out)
    if len(flat) != n_outputs:
        raise ValueError(f"Model '{model.name}' returned {len(flat)} outputs on a block "
                         f"but {n_outputs} on the probe batch.")
    return tuple(np.ascontiguousarray(plain(o)) for o in flat) + tuple(
        None if get_mask(o) is None else np.asarray(get_mask(o), dtype=bool) for o in flat)


def _pack(structure, arrays, masks):
    """The model input: arrays (masks attached) in the structure of `x`."""
    inputs = [with_mask(np.asarray(a), as_mask_array(m, "mask")) if m is not None
              else np.asarray(a) for a, m in zip(arrays, masks)]
    return pack_as(structure, inputs) if structure is not None else inputs[0]


def _as_dask(da, x, what, rows):
    if isinstance(x, da.Array):
        return x
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError(f"`{what}` must have a batch dimension. Received a scalar.")
    return da.from_array(arr, chunks=(rows,) + arr.shape[1:])


def predict(model, x, batch_size=None, mask=None, return_mask=False, n_threads=None,
            rows_per_block=None):
    """`model.predict` over a Dask array, block by block along the batch axis.

    Args:
        model: a fastmask model (or layer) taking (batch, ...) arrays.
        x: a dask array of padded ids (batch, time) or features (batch, time,
            features); a list/tuple/dict of them for multi-input models.
            NumPy arrays are wrapped in dask arrays of `rows_per_block` rows.
            Only the batch axis may be chunked: other axes are rechunked
            into one chunk; every input gets the first input's row chunks.
        batch_size: rows per model call inside a block (default: the whole
            block in one call).
        mask: optional bool (batch, time) mask(s) for the input(s), dask or
            NumPy, as `model(x, mask=mask)` (None entries for unmasked inputs).
        return_mask: also return the output mask(s) (dask bool arrays, None
            for outputs without a mask).
        n_threads: fastmask threads inside each task (default: fastmask's
            default in the worker; dask.distributed sets 1).
        rows_per_block: rows per block for NumPy inputs (default 4096).

    Returns:
        Dask array(s) with the structure of the model's outputs (and, with
        `return_mask`, a second structure of masks), chunked like `x`'s rows.
        Nothing is computed until `.compute()`.
    """
    dask, da = _require_dask()
    from .layers.layer import Layer
    if not isinstance(model, Layer):
        raise TypeError(f"`model` must be a fastmask model or layer. Received: model={model!r}")
    for name, value in (("batch_size", batch_size), ("n_threads", n_threads),
                        ("rows_per_block", rows_per_block)):
        bad_type = isinstance(value, bool) or not isinstance(value, (int, np.integer))
        if value is not None and (bad_type or value <= 0):
            raise ValueError(f"`{name}` must be a positive integer or None. "
                             f"Received: {name}={value!r}")
    rows = rows_per_block or _DEFAULT_ROWS
    flat_x = [_as_dask(da, a, "x", rows) for a in flatten(x)]
    # The nesting of `x` with leaf positions (never the arrays: dask would compute them whole).
    structure = pack_as(x, list(range(len(flat_x)))) if isinstance(x, (list, tuple, dict)) \
        else None
    if not flat_x:
        raise ValueError("`x` must contain at least one array.")
    for a in flat_x:
        if a.ndim == 0 or any(np.isnan(d) for d in a.shape):
            raise ValueError(f"`x` arrays must have known shapes with a batch axis (call "
                             f"`compute_chunk_sizes()` first). Received shape {a.shape}")
    n = flat_x[0].shape[0]
    if any(a.shape[0] != n for a in flat_x):
        raise ValueError(f"All inputs must have the same number of rows. Received shapes "
                         f"{[a.shape for a in flat_x]}")
    flat_m = [None] * len(flat_x)
    if mask is not None:
        given = flatten(mask) if isinstance(mask, (list, tuple, dict)) else [mask]
        if len(given) > len(flat_x):
            raise ValueError(f"Received {len(given)} masks for {len(flat_x)} inputs.")
        for i, m in enumerate(given):
            if m is None:
                continue
            m = _as_dask(da, m, "mask", rows)
            check_mask_values(np.empty(0, m.dtype), "mask")     # the dtype; NaN: per block
            if tuple(m.shape) != tuple(flat_x[i].shape[:m.ndim]) or m.ndim < 1:
                raise ValueError(f"`mask` {i} does not match the leading dimensions of input "
                                 f"{i} of shape {flat_x[i].shape}. Received: mask.shape="
                                 f"{m.shape}")
            flat_m[i] = m
    row_chunks = flat_x[0].rechunk({i: -1 for i in range(1, flat_x[0].ndim)}).chunks[0]

    def rechunk(a):
        return a.rechunk((row_chunks,) + tuple((d,) for d in a.shape[1:]))

    flat_x = [rechunk(a) for a in flat_x]
    flat_m = [None if m is None else rechunk(m) for m in flat_m]

    # Output structure, shapes, dtypes and masks from a 1-row probe of ones (valid ids).
    probe = [np.ones((1,) + a.shape[1:], dtype=a.dtype) for a in flat_x]
    probe_m = [None if m is None else np.ones((1,) + m.shape[1:], bool) for m in flat_m]
    probe_struct = model.predict(_pack(structure, probe, probe_m), verbose=0)
    probe_flat = flatten(probe_struct)
    n_out = len(probe_flat)
    specs = [(plain(o).shape[1:], plain(o).dtype) for o in probe_flat]
    mask_shapes = [None if get_mask(o) is None else np.shape(get_mask(o))[1:]
                   for o in probe_flat]

    token = uuid.uuid4().hex
    model_key = dask.delayed(model, name=f"fastmask-model-{token}", pure=False)
    task = dask.delayed(_predict_block, pure=True)
    x_blocks = [a.to_delayed().ravel() for a in flat_x]
    m_blocks = [None if m is None else m.to_delayed().ravel() for m in flat_m]
    outputs = [[] for _ in range(n_out)]
    masks = [[] for _ in range(n_out)]
    for b, size in enumerate(row_chunks):
        res = task(model_key, [blocks[b] for blocks in x_blocks],
                   [None if blocks is None else blocks[b] for blocks in m_blocks],
                   structure, batch_size, n_threads, n_out,
                   dask_key_name=f"fastmask-predict-{token}-{b}")
        for j, (shape, dtype) in enumerate(specs):
            outputs[j].append(da.from_delayed(res[j], shape=(size,) + shape, dtype=dtype))
            if mask_shapes[j] is not None:
                masks[j].append(da.from_delayed(res[n_out + j], shape=(size,) + mask_shapes[j],
                                                dtype=bool))
    out = [da.concatenate(parts, axis=0) for parts in outputs]
    out_masks = [da.concatenate(parts, axis=0) if parts else None for parts in masks]
    result = pack_as(probe_struct, out) if isinstance(probe_struct, (list, tuple, dict)) \
        else out[0]
    if not return_mask:
        return result
    result_masks = pack_as(probe_struct, out_masks) \
        if isinstance(probe_struct, (list, tuple, dict)) else out_masks[0]
    return result, result_masks
