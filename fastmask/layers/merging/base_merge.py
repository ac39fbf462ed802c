"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Mask rules (Keras 3.15.1, keras-semantics §6). Each takes a list of inputs;
`previous_mask` is the list of the inputs' masks.

* Add, Subtract, Average, Multiply, Maximum, Minimum: output mask = OR of the
  input masks if every input is masked, else None. Add/Subtract/Average ignore
  masks in their values.
* Multiply: masked entries count as 1; if every input is masked, entries
  masked in all inputs become 0.
* Maximum/Minimum: a masked entry never wins (it takes the running result's
  value, and vice versa).
* Concatenate: None if no input is masked; otherwise missing masks are all
  True and the masks are concatenated along `axis` then reduced with any over
  the last axis (time axis: concatenated masks; feature axis: OR, and one
  unmasked input makes the mask all True).
* Dot: no mask.
"""
import numpy as np

from .. import ops
from .._tensor import KerasTensor, get_mask, with_mask
from .layer import Layer

__all__ = ["Merge", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Concatenate", "Dot", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "concatenate", "dot"]


def _check_list(inputs, what="inputs"):
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(f"A merge layer should be called on a list of {what}. "
                         f"Received: {what}={inputs} (not a list of tensors)")


def _check_mask_lists(inputs, mask, received="Received: "):
    """Keras's checks of `compute_mask`'s arguments: two lists of one length.
    `received` opens the `mask` message (Concatenate's has no colon, as Keras)."""
    if not isinstance(mask, (tuple, list)):
        raise ValueError(f"`mask` should be a list. {received}mask={mask}")
    if not isinstance(inputs, (tuple, list)):
        raise ValueError(f"`inputs` should be a list. Received: inputs={inputs}")
    if len(mask) != len(inputs):
        raise ValueError("The lists `inputs` and `mask` should have the same length. "
                         f"Received: inputs={inputs} of length {len(inputs)}, and "
                         f"mask={mask} of length {len(mask)}")


class Merge(Layer):
    """Base class of elementwise merge layers (`_merge_function` on a list of arrays)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._reshape_required = False

    def _merge_function(self, inputs):
        raise NotImplementedError

    def _apply_merge_op_and_or_mask(self, op_fn, inputs):
        output = None
        output_mask = None
        for x in inputs:
            mask = get_mask(x)
            x = np.asarray(x)
            if mask is not None:
                mask = np.broadcast_to(np.expand_dims(mask, -1), x.shape)
            if output is None:
                output, output_mask = x, mask
                continue
            if mask is not None:
                x = ops.where(mask, x, output)
            if output_mask is not None:
                output = ops.where(output_mask, output, x)
            if mask is not None and output_mask is not None:
                output_mask = np.logical_or(output_mask, mask)
            else:
                output_mask = None
            output = op_fn(output, x)
        if output_mask is not None:
            return with_mask(output, np.any(output_mask, axis=-1))
        return output

    @staticmethod
    def _elemwise_shape(shape1, shape2):
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return Merge._elemwise_shape(shape2, shape1)
        if not shape2:
            return shape1
        out = list(shape1[:-len(shape2)])
        for i, j in zip(shape1[-len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1:
                out.append(i)
            else:
                if i != j:
                    raise ValueError("Inputs have incompatible shapes. "
                                     f"Received shapes {shape1} and {shape2}")
                out.append(i)
        return tuple(out)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (tuple, list)):
            raise ValueError("A merge layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape} (not a list of shapes)")
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError("Cannot merge tensors with different batch sizes. "
                             f"Received tensors with shapes {input_shape}")
        out = input_shape[0][1:]
        for s in input_shape[1:]:
            out = self._elemwise_shape(out, s[1:])
        self._reshape_required = len(set(map(len, input_shape))) != 1

    def call(self, inputs):
        _check_list(inputs)
        if self._reshape_required:
            max_ndim = max(np.ndim(x) for x in inputs)
            reshaped = []
            for x in inputs:
                m = get_mask(x)
                y = np.asarray(x)
                for _ in range(max_ndim - y.ndim):
                    y = np.expand_dims(y, 1)
                reshaped.append(with_mask(y, m) if m is not None else y)
            return self._merge_function(reshaped)
        return self._merge_function(inputs)

    def compute_output_shape(self, input_shape):
        out = input_shape[0][1:]
        for s in input_shape[1:]:
            out = self._elemwise_shape(out, s[1:])
        batch_sizes = {s[0] for s in input_shape if s is not None} - {None}
        batch = next(iter(batch_sizes)) if len(batch_sizes) == 1 else None
        return (batch,) + tuple(out)

    def compute_output_spec(self, inputs):
        return KerasTensor(self.compute_output_shape([x.shape for x in inputs]),
                           dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        _check_mask_lists(inputs, mask)
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = ops.logical_or(out, m)
        return out

    def get_config(self):
        return super().get_config()


class Add(Merge):
    """Elementwise sum of a list of inputs (masks ignored in the values)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={input_shape}")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: inputs={inputs}")
        return ops.subtract(inputs[0], inputs[1])


class Average(Merge):
    """Elementwise mean of a list of inputs (masks ignored in the values)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out / len(inputs)


class Maximum(Merge):
    """Elementwise maximum; masked entries never win."""

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.maximum, inputs)


class Minimum(Merge):
    """Elementwise minimum; masked entries never win."""

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.minimum, inputs)


class Multiply(Merge):
    """Elementwise product; masked entries count as 1 (see the module docstring)."""

    def _merge_function(self, inputs):
        masks = [get_mask(x) for x in inputs]
        has_output_mask = all(m is not None for m in masks)
        output = None
        output_mask = None
        for x, mask in zip(inputs, masks):
            x = np.asarray(x)
            if mask is not None:
                mask = np.broadcast_to(np.expand_dims(mask, -1), x.shape)
                x = np.where(mask, x, np.ones((), x.dtype))
                if has_output_mask:
                    output_mask = mask if output_mask is None else np.logical_or(
                        output_mask, mask)
            output = x if output is None else ops.multiply(output, x)
        if has_output_mask:
            output = np.where(output_mask, output, np.zeros((), output.dtype))
            return with_mask(output, np.any(output_mask, axis=-1))
        return output


class Concatenate(Merge):
    """Concatenates a list of inputs along `axis` (default -1); see the mask rule above."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 1 or \
                not isinstance(input_shape[0], (tuple, list)):
            raise ValueError("A `Concatenate` layer should be called on a list of at least "
                             f"1 input. Received: input_shape={input_shape}")
        ranks = {len(s) for s in input_shape}
        err = ("A `Concatenate` layer requires inputs with matching shapes except for the "
               f"concatenation axis. Received: input_shape={input_shape}")
        if len(ranks) != 1:
            raise ValueError(err)
        rank = ranks.pop()
        axis = self.axis % rank if rank else 0
        for d in range(rank):
            if d == axis:
                continue
            dims = {s[d] for s in input_shape if s[d] is not None}
            if len(dims) > 1:
                raise ValueError(err)
        self._reshape_required = False

    def _merge_function(self, inputs):
        return ops.concatenate([np.asarray(x) for x in inputs], axis=self.axis)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or not isinstance(
                input_shape[0], (tuple, list)):
            raise ValueError("A `Concatenate` layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape}")
        out = list(input_shape[0])
        for s in input_shape[1:]:
            if out[self.axis] is None or s[self.axis] is None:
                out[self.axis] = None
                break
            out[self.axis] += s[self.axis]
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        _check_mask_lists(inputs, mask, received="Received ")
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(ops.ones_like(x, dtype="bool"))
            elif m.ndim < x.ndim:
                masks.append(ops.logical_or(ops.expand_dims(m, axis=-1),
                                            ops.zeros_like(x, dtype="bool")))
            else:
                masks.append(m)
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1, keepdims=False)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x, axis, epsilon=1e-7):
    square_sum = np.sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = 1.0 / np.sqrt(square_sum)
    inv = np.minimum(inv, 1.0 / epsilon).astype(x.dtype, copy=False)
    return x * inv


def batch_dot(x, y, axes=None):
    """Keras's batch_dot (dot product over `axes`, batched over axis 0)."""
    x_ndim, y_ndim = x.ndim, y.ndim
    if x_ndim < 2 or y_ndim < 2:
        raise ValueError("Cannot do batch_dot on inputs with rank < 2. Received inputs "
                         f"with shapes {x.shape} and {y.shape}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError("Cannot do batch_dot on inputs with different batch sizes. "
                         f"Received inputs with shapes {x.shape} and {y.shape}.")
    if isinstance(axes, int):
        axes = [axes, axes]
    if axes is None:
        axes = [x_ndim - 1, y_ndim - 1] if y_ndim == 2 else [x_ndim - 1, y_ndim - 2]
    axes = list(axes)
    if axes[0] < 0:
        axes[0] += x_ndim
    if axes[1] < 0:
        axes[1] += y_ndim
    if 0 in axes:
        raise ValueError("Cannot perform batch_dot over axis 0.")
    a0, a1 = axes
    if x.shape[a0] != y.shape[a1]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {x.shape} and "
                         f"{y.shape} with axes={axes}. x.shape[{axes[0]}] != "
                         f"y.shape[{axes[1]}] ({x.shape[a0]} != {y.shape[a1]}).")
    orig_x_ndim, orig_y_ndim = x_ndim, y_ndim
    if x_ndim == 2:
        x = np.expand_dims(x, 1)
        a0 += 1
        x_ndim += 1
    if y_ndim == 2:
        y = np.expand_dims(y, 2)
        y_ndim += 1
    if a0 != x_ndim - 1:
        pattern = list(range(x_ndim))
        for i in range(a0, x_ndim - 1):
            pattern[i] = pattern[i + 1]
        pattern[-1] = a0
        x = np.transpose(x, pattern)
    if a1 != 1:
        pattern = list(range(y_ndim))
        for i in range(a1, 1, -1):
            pattern[i] = pattern[i - 1]
        pattern[1] = a1
        y = np.transpose(y, pattern)
    x_mid = y_trail = None
    if x_ndim > 3:
        x_mid = x.shape[1:-1]
        x = x.reshape(x.shape[0], -1, x.shape[-1])
    if y_ndim > 3:
        y_trail = y.shape[2:]
        y = y.reshape(y.shape[0], y.shape[1], -1)
    result = ops.matmul(x, y)
    shape = result.shape
    if x_mid is not None:
        shape = shape[:1] + x_mid + shape[-1:]
    if y_trail is not None:
        shape = shape[:-1] + y_trail
    result = result.reshape(shape)
    if orig_x_ndim == 2:
        result = np.squeeze(result, 1)
    elif orig_y_ndim == 2:
        result = np.squeeze(result, -1)
    return result


class Dot(Merge):
    """Batched dot product of two inputs over `axes` (optionally L2-normalized); no mask."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError("Invalid type for argument `axes`: it should be a list or "
                                f"an int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError("Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError("Invalid format for argument `axes`: list elements should "
                                 f"be integers. Received: axes={axes}")
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes(self, ndim1, ndim2):
        if isinstance(self.axes, int):
            if self.axes < 0:
                return [self.axes % ndim1, self.axes % ndim2]
            return [self.axes] * 2
        return [a % n if a < 0 else a for a, n in zip(self.axes, (ndim1, ndim2))]

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not isinstance(input_shape[0], (tuple, list)):
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        s1, s2 = input_shape
        a = self._axes(len(s1), len(s2))
        if s1[a[0]] is not None and s2[a[1]] is not None and s1[a[0]] != s2[a[1]]:
            raise ValueError(f"Incompatible input shapes: axis values {s1[a[0]]} (at axis "
                             f"{a[0]}) != {s2[a[1]]} (at axis {a[1]}). Full input shapes: "
                             f"{s1}, {s2}")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError("A `Dot` layer should be called on exactly 2 inputs. "
                             f"Received: inputs={inputs}")
        x1, x2 = np.asarray(inputs[0]), np.asarray(inputs[1])
        axes = self._axes(x1.ndim, x2.ndim)
        if self.normalize:
            x1 = _l2_normalize(x1, axes[0])
            x2 = _l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        s1, s2 = list(input_shape[0]), list(input_shape[1])
        a = self._axes(len(s1), len(s2))
        s1.pop(a[0])
        s2.pop(a[1])
        s2.pop(0)
        out = s1 + s2
        if len(out) == 1:
            out += [1]
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional interface to `Add`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
