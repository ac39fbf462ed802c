"""1D convolution and transposed convolution: NumPy windows + one BLAS GEMM per block.

    conv1d(x, kernel, bias=None, *, strides=1, padding="valid", dilation_rate=1,
           groups=1, data_format="channels_last", activation=None)
    conv1d_transpose(x, kernel, bias=None, *, strides=1, padding="valid",
                     output_padding=None, dilation_rate=1, data_format="channels_last",
                     activation=None)

Keras 3's layouts and semantics: `x` is (batch, steps, channels) (or
(batch, channels, steps) with `data_format="channels_first"`); `conv1d`'s
kernel is (kernel_size, channels // groups, filters), `conv1d_transpose`'s
is (kernel_size, filters, channels); padding "same" pads as XLA's SAME
(`total // 2` on the left), "causal" pads `dilation_rate * (kernel_size - 1)`
on the left only; the transposed convolution pads as Keras's JAX/NumPy
backends (`keras/src/backend/common/backend_utils.py`).

How `conv1d` runs: the input windows of a block of output rows are copied
into a (rows, kernel_size * channels) scratch matrix (im2col) straight from
the input, with zeros where a window reaches into the padding, so the padded
input is never built; a GEMM (`np.matmul`, BLAS) multiplies the block by the
(kernel_size * channels, filters) kernel into the output (cut into products
of at most `REDUCTION` taps x channels, added up, when the window is long:
see `_reduction_chunks`), and the bias and `activation` are applied to the
block while it is in cache. A kernel_size-1 convolution on a contiguous
input is a single GEMM with no copy.
`conv1d_transpose` is one GEMM per block (inputs x kernel taps) followed by
`kernel_size` strided overlap-adds into the output.

float32 and float64 inputs compute in their own precision, float16 in
float32 (the result is float32; the layer casts it back). Both functions
release the GIL inside BLAS and keep no state: they are thread-safe. Threads:
large calls share their blocks out to `fastmask.get_num_threads()` Python
threads, each calling a single-threaded BLAS (see `_run_blocks`). That limit is
`_threads.blas_threads(1)`, as in the other kernels: shared by concurrent calls,
process-wide because OpenBLAS has no per-call or per-thread thread count (its
`openblas_set_num_threads_local` sets the process's count too), so while a call
runs, NumPy's BLAS in other threads runs on one thread (speed only). The GEMMs
stay NumPy's (`np.matmul` with `out=`): `_cython_blas` reaches SciPy's OpenBLAS,
limited the same way, and would not change that.
"""
import numpy as np

from ._threads import blas_threads, effective_num_threads
from ._validation import FLOAT_DTYPES, as_array, native_dtype

__all__ = ["conv1d", "conv1d_transpose", "conv1d_output_length",
           "conv1d_transpose_output_length"]

# Target size of one block's im2col scratch (the GEMM's left operand), in bytes.
BLOCK_BYTES = 1 << 18
# Longest GEMM reduction (taps x channels) in one product; see `_reduction_chunks`.
REDUCTION = 128
# Multiply-adds below which a call stays on the calling thread (starting the threads and
# limiting BLAS cost about half a millisecond).
PARALLEL_FLOPS = 1 << 19


def _positive_int(value, name):
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _padding(padding, allowed):
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"`padding` must be one of {allowed}. Received: padding={padding!r}")
    return padding.lower()


def _data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                         f"Received: data_format={data_format!r}")
    return data_format


def _compute_dtype(*arrays):
    """The widest float dtype among the float arrays (float32 if none is float32/64):
    integer or bool inputs take the kernel's precision, not NumPy's float64 promotion."""
    floats = [native_dtype(a.dtype) for a in arrays if a is not None and a.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.dtype(np.float32)
    return dtype if dtype in FLOAT_DTYPES else np.dtype(np.float32)


def _float3d(x, name, dtype):
    arr = as_array(x, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"`{name}` must be a real numeric array. Received: {name} of dtype "
                        f"{arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"`{name}` must have rank 3. Received: {name}.shape={arr.shape}")
    if arr.dtype != dtype or not arr.flags.aligned or arr.dtype.byteorder not in "=|":
        arr = arr.astype(dtype)
    return arr


def _operands(x, kernel):
    """(x, kernel, compute dtype): both checked 3-D float arrays of the dtype they compute in."""
    x = as_array(x, "x")
    kernel = as_array(kernel, "kernel")
    dtype = _compute_dtype(x, kernel)
    return _float3d(x, "x", dtype), _float3d(kernel, "kernel", dtype), dtype


def _bias(bias, filters, dtype):
    if bias is None:
        return None
    b = as_array(bias, "bias")
    if b.dtype.kind not in "fiub" or b.shape != (filters,):
        raise ValueError(f"`bias` must be a real array of shape ({filters},). "
                         f"Received: bias of shape {b.shape} and dtype {b.dtype}")
    return b.astype(dtype, copy=False)


def conv1d_output_length(length, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Output steps of `conv1d` for `length` input steps (None stays None)."""
    if length is None:
        return None
    span = (kernel_size - 1) * dilation_rate + 1
    if padding == "valid":
        return (length - span) // strides + 1
    return (length - 1) // strides + 1 if length > 0 else 0


def _left_padding(length, out_length, span, strides, padding):
    if padding == "valid":
        return 0
    if padding == "causal":
        return span - 1
    return max((out_length - 1) * strides + span - length, 0) // 2


def _fill_windows(cols, x_cl, b0, b1, i0, i1, k0, k1, strides, dilation, left, length):
    """cols[b, i - i0, k - k0, :] = x[b0 + b, i*s + k*d - left, :] for taps k0 <= k < k1
    (zero outside the input)."""
    for k in range(k0, k1):
        shift = k * dilation - left
        lo = max(i0, -(shift // strides) if shift < 0 else 0)   # first i with i*s+shift >= 0
        hi = min(i1, (length - 1 - shift) // strides + 1) if length - 1 - shift >= 0 else i0
        lo = min(lo, i1)
        hi = max(hi, lo)
        if lo > i0:
            cols[:, :lo - i0, k - k0, :] = 0
        if hi < i1:
            cols[:, hi - i0:, k - k0, :] = 0
        if hi > lo:
            start = lo * strides + shift
            stop = (hi - 1) * strides + shift + 1
            cols[:, lo - i0:hi - i0, k - k0, :] = x_cl[b0:b1, start:stop:strides, :]


def _finish(block, bias, activation):
    if bias is not None:
        block += bias
    if activation is not None:
        block[...] = activation(block)


def conv1d(x, kernel, bias=None, *, strides=1, padding="valid", dilation_rate=1, groups=1,
           data_format="channels_last", activation=None):
    """`activation(conv1d(x, kernel) + bias)` as Keras's Conv1D computes it.

    Args:
        x: (batch, steps, channels) array (channels_first: (batch, channels, steps)).
        kernel: (kernel_size, channels // groups, filters).
        bias: None or (filters,).
        strides, dilation_rate, groups: positive ints (Keras forbids strides > 1
            together with dilation_rate > 1; this function computes both).
        padding: "valid", "same" or "causal".
        activation: None or an elementwise function applied to each output block.

    Returns:
        (batch, out_steps, filters) (channels_first: (batch, filters, out_steps)),
        float32 or float64.
    """
    strides = _positive_int(strides, "strides")
    dilation = _positive_int(dilation_rate, "dilation_rate")
    groups = _positive_int(groups, "groups")
    padding = _padding(padding, ("valid", "same", "causal"))
    channels_first = _data_format(data_format) == "channels_first"
    x, kernel, dtype = _operands(x, kernel)
    x_cl = x.transpose(0, 2, 1) if channels_first else x
    batch, length, channels = x_cl.shape
    kernel_size, group_channels, filters = kernel.shape
    if group_channels * groups != channels or filters % groups:
        raise ValueError(f"`kernel` of shape {kernel.shape} does not fit {channels} input "
                         f"channels in {groups} group(s) (expected (kernel_size, "
                         f"{channels // groups if channels % groups == 0 else '?'}, filters) "
                         f"with filters divisible by groups). Received: kernel.shape="
                         f"{kernel.shape}, x.shape={x.shape}")
    bias = _bias(bias, filters, dtype)
    span = (kernel_size - 1) * dilation + 1
    out_length = conv1d_output_length(length, kernel_size, strides, padding, dilation)
    if out_length <= 0 and batch * channels > 0:
        raise ValueError("The convolution operation resulted in an empty output: the input "
                         f"has {length} steps, fewer than the kernel's span {span} "
                         f"(kernel_size={kernel_size}, dilation_rate={dilation}). "
                         f"Received: x.shape={x.shape}, padding={padding!r}")
    out_length = max(out_length, 0)
    left = _left_padding(length, out_length, span, strides, padding)

    shape = (batch, filters, out_length) if channels_first else (batch, out_length, filters)
    out = np.empty(shape, dtype)
    if out.size == 0:
        return out
    if groups == 1 and kernel_size == 1 and not channels_first and x_cl.flags.c_contiguous \
            and strides == 1:
        # Pointwise: one GEMM on the input itself.
        out2d = out.reshape(batch * out_length, filters)
        np.matmul(x_cl.reshape(batch * length, channels), kernel[0], out=out2d)
        _finish(out2d, bias, activation)
        return out

    group_channels, per = channels // groups, filters // groups
    chunks = _reduction_chunks(kernel_size, group_channels)
    # weights[g][j]: the (taps * channels) x (filters of group g) matrix of chunk j.
    weights = [[np.ascontiguousarray(kernel[k0:k1, c0:c1, g * per:(g + 1) * per]).reshape(
        (k1 - k0) * (c1 - c0), per) for k0, k1, c0, c1 in chunks] for g in range(groups)]
    width = max((k1 - k0) * (c1 - c0) for k0, k1, c0, c1 in chunks)
    rows = max(1, BLOCK_BYTES // (width * dtype.itemsize))
    threads = _threads_for(batch * out_length * width * filters)
    if threads > 1:   # at least one block per thread
        rows = min(rows, -(-batch * out_length // threads))
    if out_length <= rows:
        nb = max(1, rows // out_length)
        blocks = [(b0, min(batch, b0 + nb), 0, out_length) for b0 in range(0, batch, nb)]
    else:
        blocks = [(b, b + 1, i0, min(out_length, i0 + rows))
                  for b in range(batch) for i0 in range(0, out_length, rows)]
    # Where a block's GEMMs write: straight into `out` (channels_last, one group), else a
    # (rows, filters) buffer; `part` holds one group's or one chunk's product.
    direct = not channels_first and groups == 1

    def run(my_blocks):
        """Compute `my_blocks` of the output with this thread's own scratch arrays."""
        largest = max((b1 - b0) * (i1 - i0) for b0, b1, i0, i1 in my_blocks)
        scratch = np.empty(largest * width, dtype)
        buffer = None if direct else np.empty(largest * filters, dtype)
        part = np.empty(largest * per, dtype) if len(chunks) > 1 or groups > 1 else None
        for b0, b1, i0, i1 in my_blocks:
            nrows = (b1 - b0) * (i1 - i0)
            if not direct:
                block = buffer[:nrows * filters].reshape(nrows, filters)
            elif i0 == 0 and i1 == out_length:
                block = out[b0:b1].reshape(nrows, filters)
            else:
                block = out[b0, i0:i1]
            for g in range(groups):
                x_group = x_cl[:, :, g * group_channels:(g + 1) * group_channels]
                for j, (k0, k1, c0, c1) in enumerate(chunks):
                    cols = scratch[:nrows * (k1 - k0) * (c1 - c0)].reshape(
                        b1 - b0, i1 - i0, k1 - k0, c1 - c0)
                    _fill_windows(cols, x_group[:, :, c0:c1], b0, b1, i0, i1, k0, k1, strides,
                                  dilation, left, length)
                    lhs = cols.reshape(nrows, (k1 - k0) * (c1 - c0))
                    if groups == 1 and j == 0:
                        np.matmul(lhs, weights[g][j], out=block)
                        continue
                    product = part[:nrows * per].reshape(nrows, per)
                    np.matmul(lhs, weights[g][j], out=product)
                    if j == 0:
                        block[:, g * per:(g + 1) * per] = product
                    else:
                        block[:, g * per:(g + 1) * per] += product
            _finish(block, bias, activation)
            if channels_first:
                out[b0:b1, :, i0:i1] = block.reshape(b1 - b0, i1 - i0, filters).transpose(0, 2, 1)
            elif not direct:
                out[b0:b1, i0:i1] = block.reshape(b1 - b0, i1 - i0, filters)

    _run_blocks(run, blocks, threads)
    return out


def _threads_for(flops):
    """Threads for a call of `flops` multiply-adds: `fastmask.get_num_threads()`, or 1 when
    the work is below PARALLEL_FLOPS."""
    return 1 if flops < PARALLEL_FLOPS else effective_num_threads()


def _run_blocks(run, blocks, threads):
    """run(blocks), shared out to `threads` Python threads when there are several.

    The threads run the blocks with NumPy (which releases the GIL in BLAS and in the
    copies) and a single-threaded BLAS: each thread runs whole GEMMs on its own, with
    no synchronisation until the end, where a multi-threaded BLAS synchronises its
    threads inside every GEMM (on a busy 2-core machine, 10-18x slower than one
    thread in the same run).
    """
    n = min(threads, len(blocks))
    if n <= 1:
        run(blocks)
        return
    from concurrent.futures import ThreadPoolExecutor
    shares = [blocks[i::n] for i in range(n)]
    with blas_threads(1), ThreadPoolExecutor(max_workers=n,
                                             thread_name_prefix="fastmask-conv") as pool:
        for future in [pool.submit(run, share) for share in shares]:
            future.result()


def _reduction_chunks(kernel_size, channels):
    """[(k0, k1, c0, c1)]: the GEMM's reduction (taps x channels) cut in pieces of at most
    REDUCTION columns (whole taps when a tap fits, else channel ranges of one tap).

    NumPy's OpenBLAS sgemm slows down several-fold on long reductions on the machine
    this was tuned on (AVX2): Conv1D(128, 7, strides=3) on (32, 500, 128) took 391 ms as
    one (5280, 896) x (896, 128) GEMM per block and 155 ms as seven 128-long GEMMs
    added up (same run; torch 128 ms). 128 was the best of 64/128/256/512.
    """
    if channels >= REDUCTION:
        return [(k, k + 1, c0, min(channels, c0 + REDUCTION))
                for k in range(kernel_size) for c0 in range(0, channels, REDUCTION)]
    taps = max(1, REDUCTION // channels)
    return [(k0, min(kernel_size, k0 + taps), 0, channels)
            for k0 in range(0, kernel_size, taps)]


# ------------------------------------------------------------------ transposed convolution

def _transpose_padding(kernel_size, strides, dilation, padding, output_padding):
    """(left, right) padding of the dilated input, as Keras's JAX/NumPy backends."""
    span = (kernel_size - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, strides) - span if output_padding is None else output_padding
        return span - 1, span - 1 + extra
    if output_padding is None:
        total = strides + span - 2
    else:
        total = span + span % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, span - 1)
    return left, total - left


def conv1d_transpose_output_length(length, kernel_size, strides=1, padding="valid",
                                   output_padding=None, dilation_rate=1):
    """Output steps of `conv1d_transpose` (Keras's formula; None stays None)."""
    if length is None:
        return None
    span = (kernel_size - 1) * dilation_rate + 1
    if padding == "valid":
        extra = max(span, strides) - span if output_padding is None else output_padding
        return (length - 1) * strides + span + extra
    if output_padding is None:
        return length * strides
    return (length - 1) * strides + span % 2 + output_padding


def conv1d_transpose(x, kernel, bias=None, *, strides=1, padding="valid", output_padding=None,
                     dilation_rate=1, data_format="channels_last", activation=None):
    """`activation(conv1d_transpose(x, kernel) + bias)` as Keras's Conv1DTranspose.

    Args:
        x: (batch, steps, channels) array (channels_first: (batch, channels, steps)).
        kernel: (kernel_size, filters, channels).
        bias: None or (filters,).
        padding: "valid" or "same"; output_padding: None or an int >= 0.

    Returns:
        (batch, out_steps, filters) (channels_first: (batch, filters, out_steps)),
        out_steps = `conv1d_transpose_output_length(...)`.
    """
    strides = _positive_int(strides, "strides")
    dilation = _positive_int(dilation_rate, "dilation_rate")
    padding = _padding(padding, ("valid", "same"))
    if isinstance(output_padding, (tuple, list)) and len(output_padding) == 1:
        output_padding = output_padding[0]
    if output_padding is not None and (isinstance(output_padding, bool) or not isinstance(
            output_padding, (int, np.integer)) or output_padding < 0):
        raise ValueError("`output_padding` must be None or an int >= 0. "
                         f"Received: output_padding={output_padding!r}")
    channels_first = _data_format(data_format) == "channels_first"
    x, kernel, dtype = _operands(x, kernel)
    x_cl = x.transpose(0, 2, 1) if channels_first else x
    batch, length, channels = x_cl.shape
    kernel_size, filters, kernel_channels = kernel.shape
    if kernel_channels != channels:
        raise ValueError(f"`kernel` of shape {kernel.shape} expects {kernel_channels} input "
                         f"channels. Received: x.shape={x.shape}")
    bias = _bias(bias, filters, dtype)
    span = (kernel_size - 1) * dilation + 1
    left, right = _transpose_padding(kernel_size, strides, dilation, padding,
                                     None if output_padding is None else int(output_padding))
    out_length = max((length - 1) * strides + 1 + left + right - span + 1, 0) if length else 0
    offset = span - 1 - left          # output position of tap 0 of input step 0 is -offset
    shape = (batch, filters, out_length) if channels_first else (batch, out_length, filters)
    out = np.empty(shape, dtype)
    if out.size == 0:
        return out
    # (channels, kernel_size * filters): column j*F + f holds kernel[j, f, :].
    weights = np.ascontiguousarray(kernel.transpose(2, 0, 1)).reshape(
        channels, kernel_size * filters)
    per_sample = max(length * kernel_size * filters, out_length * filters, 1)
    nb = max(1, BLOCK_BYTES // (per_sample * dtype.itemsize))
    threads = _threads_for(batch * length * channels * kernel_size * filters)
    if threads > 1:   # at least one block per thread
        nb = min(nb, -(-batch // threads))
    blocks = [(b0, min(batch, b0 + nb)) for b0 in range(0, batch, nb)]

    def run(my_blocks):
        """One GEMM then kernel_size strided overlap-adds per block of samples."""
        acc = np.empty((nb, out_length, filters), dtype) if channels_first else None
        for b0, b1 in my_blocks:
            taps = np.matmul(x_cl[b0:b1].reshape((b1 - b0) * length, channels), weights)
            taps = taps.reshape(b1 - b0, length, kernel_size, filters)
            block = acc[:b1 - b0] if channels_first else out[b0:b1]
            block[...] = 0
            for j in range(kernel_size):
                shift = j * dilation - offset          # output index of input step t: t*s+shift
                t_lo = -(shift // strides) if shift < 0 else 0
                t_hi = min(length - 1, (out_length - 1 - shift) // strides)
                if t_hi < t_lo:
                    continue
                start = t_lo * strides + shift
                stop = t_hi * strides + shift + 1
                block[:, start:stop:strides, :] += taps[:, t_lo:t_hi + 1, j, :]
            _finish(block, bias, activation)
            if channels_first:
                out[b0:b1] = block.transpose(0, 2, 1)

    _run_blocks(run, blocks, threads)
    return out
