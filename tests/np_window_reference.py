"""Loop-per-output NumPy references of the window layers (float64), for the tests.

Written from the definitions, independently of fastmask's kernels and of Keras's tests:
    ref_conv1d(x, kernel, bias, strides, padding, dilation, groups)
    ref_conv1d_transpose(x, kernel, bias, strides, padding, output_padding, dilation)
    ref_pool(x, pool, strides, padding, op)           op: "max" or "avg"
x is (batch, steps, channels). Padding "same" puts `total // 2` on the left (XLA's
rule), "causal" puts `dilation * (kernel_size - 1)` on the left.
"""
import numpy as np


def _span(kernel_size, dilation):
    return (kernel_size - 1) * dilation + 1


def ref_conv1d(x, kernel, bias, strides, padding, dilation, groups):
    """out[b, i, f] = bias[f] + sum_{k, c} x_padded[b, i*s + k*d, c] * kernel[k, c, f]."""
    x = np.asarray(x, np.float64)
    b, t, _ = x.shape
    ks, cg, f = kernel.shape
    span = _span(ks, dilation)
    if padding == "valid":
        left, out_t = 0, (t - span) // strides + 1
    else:
        out_t = (t - 1) // strides + 1
        total = max((out_t - 1) * strides + span - t, 0)
        left = span - 1 if padding == "causal" else total // 2
    fg = f // groups
    out = np.zeros((b, out_t, f))
    for i in range(out_t):
        for k in range(ks):
            p = i * strides + k * dilation - left
            if 0 <= p < t:
                for g in range(groups):
                    out[:, i, g * fg:(g + 1) * fg] += (x[:, p, g * cg:(g + 1) * cg]
                                                       @ kernel[k, :, g * fg:(g + 1) * fg])
    return out + (0 if bias is None else bias)


def transpose_output_length(t, ks, strides, padding, output_padding, dilation):
    span = _span(ks, dilation)
    if padding == "valid":
        extra = max(span, strides) - span if output_padding is None else output_padding
        return (t - 1) * strides + span + extra
    if output_padding is None:
        return t * strides
    return (t - 1) * strides + span % 2 + output_padding


def ref_conv1d_transpose(x, kernel, bias, strides, padding, output_padding, dilation):
    """Scatter form: y[b, t*s + j*d - offset] += kernel[j] @ x[b, t], kernel (K, filters, C);
    `offset` is what Keras's "same" padding trims on the left."""
    x = np.asarray(x, np.float64)
    b, t, _ = x.shape
    ks, f, _ = kernel.shape
    span = _span(ks, dilation)
    out_t = transpose_output_length(t, ks, strides, padding, output_padding, dilation)
    if padding == "valid":
        left = span - 1
    else:
        total = (strides + span - 2 if output_padding is None
                 else span + span % 2 - 2 + output_padding)
        left = min(total // 2 + total % 2, span - 1)
    offset = span - 1 - left
    y = np.zeros((b, out_t, f))
    for ti in range(t):
        for j in range(ks):
            o = ti * strides + j * dilation - offset
            if 0 <= o < out_t:
                y[:, o] += x[:, ti] @ kernel[j].T
    return y + (0 if bias is None else bias)


def ref_pool(x, pool, strides, padding, op):
    """Window by window; padded steps are skipped (never the max, not in the mean's count)."""
    b, t, c = x.shape
    if padding == "valid":
        out_t, left = max((t - pool) // strides + 1, 0), 0
    else:
        out_t = (t - 1) // strides + 1
        left = max((out_t - 1) * strides + pool - t, 0) // 2
    out = np.zeros((b, out_t, c))
    for i in range(out_t):
        lo, hi = max(i * strides - left, 0), min(i * strides - left + pool, t)
        window = np.asarray(x[:, lo:hi], np.float64)
        out[:, i] = window.max(axis=1) if op == "max" else window.mean(axis=1)
    return out
