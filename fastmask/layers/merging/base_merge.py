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

from ... import ops
from ...core.tensor import KerasTensor, get_mask, with_mask
from ..layer import Layer

__all__ = ["Merge"]


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
