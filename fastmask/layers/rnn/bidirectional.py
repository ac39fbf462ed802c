"""`Bidirectional`: a forward and a backward copy of an RNN layer, merged (Keras 3.15.1)."""
import copy

import numpy as np

from ...core.tree import flatten
from ...kernels._validation import as_mask_array
from ..layer import Layer
from ..layer_config import constructor_config
from ...core.serialization import deserialize, serialize

__all__ = ["Bidirectional"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _removeprefix(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Bidirectional wrapper for RNN layers.

    >>> bi = fastmask.layers.Bidirectional(fastmask.layers.LSTM(4, return_sequences=True))
    >>> bi(np.ones((2, 5, 3), "float32")).shape
    (2, 5, 8)

    Args:
        layer: an RNN layer (LSTM, GRU, SimpleRNN, RNN): its config is copied
            into a forward layer and a `go_backwards=True` backward layer
            (fresh weights, as in Keras).
        merge_mode: "concat" (default), "sum", "ave", "mul" or None (a list of
            the two outputs).
        weights: optional initial weights (forward half, then backward half).
        backward_layer: optional explicit backward layer.

    As in Keras 3.15.1: both layers get `zero_output_for_mask =
    return_sequences` (whatever the wrapped layer said); `initial_state` is
    split in half (forward first); with `return_state` the output is
    `(output, *forward_states, *backward_states)` (5 arrays for LSTM); the
    backward output sequence is flipped back to time order before merging,
    so masked steps are 0 in both halves; the output mask is the input mask
    with `return_sequences` (both, with merge_mode None), else None.
    Deviation: the input's mask is used even when `initial_state` is given.

    Weights: the forward layer's, then the backward layer's.
    """

    _mask_from_first_arg = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `Bidirectional` layer with a "
                             f"`fastmask.layers.Layer` instance. Received: {layer}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError("`backward_layer` need to be a `fastmask.layers.Layer` "
                             f"instance. Received: {backward_layer}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should "
                             'be one of {"sum", "mul", "ave", "concat", None}')
        super().__init__(**kwargs)
        config = serialize(layer)
        config["config"]["name"] = f"forward_{_removeprefix(layer.name, 'forward_')}"
        self.forward_layer = deserialize(config)
        if backward_layer is None:
            config = serialize(layer)
            config["config"]["go_backwards"] = True
            config["config"]["name"] = f"backward_{_removeprefix(layer.name, 'backward_')}"
            self.backward_layer = deserialize(config)
        else:
            self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        self._verify_layer_config()
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights else None
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def _verify_layer_config(self):
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             "`go_backwards` value. Received: forward_layer.go_backwards "
                             f"{fwd.go_backwards}, backward_layer.go_backwards="
                             f"{bwd.go_backwards}")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError("Forward layer and backward layer are expected to have the "
                                 f'same value for attribute "{a}", got "{getattr(fwd, a)}" '
                                 f'for forward layer and "{getattr(bwd, a)}" for backward layer')

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(sequences_shape)
                sub.built = True
                sub._build_shapes_dict = {"sequences_shape": tuple(sequences_shape)}
        if self._initial_weights:
            n = len(self._initial_weights)
            self.forward_layer.set_weights(self._initial_weights[:n // 2])
            self.backward_layer.set_weights(self._initial_weights[n // 2:])
            self._initial_weights = None

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        if self.return_state:
            output_shape, state_shape = output_shape[0], output_shape[1:]
        if self.merge_mode == "concat":
            output_shape = list(output_shape)
            output_shape[-1] *= 2
            output_shape = tuple(output_shape)
        elif self.merge_mode is None:
            output_shape = [output_shape, output_shape]
        if self.return_state:
            if self.merge_mode is None:
                return tuple(output_shape) + state_shape + state_shape
            return tuple([output_shape]) + state_shape + state_shape
        return tuple(output_shape)

    def _fused_call(self, sequences, forward_state, backward_state, mask, training):
        """Both directions in one kernel call (one OpenMP team, the backward half
        written straight into time order / the concat buffer), or None."""
        from ...kernels import recurrent as _kr
        from ._base import KernelRNN
        fw, bw = self.forward_layer, self.backward_layer
        if (type(fw) is not type(bw) or not isinstance(fw, KernelRNN) or fw.stateful
                or fw.go_backwards or not bw.go_backwards or fw.unroll != bw.unroll
                or fw.zero_output_for_mask != bw.zero_output_for_mask):
            return None
        cf, cb = fw.cell, bw.cell
        seq = np.ndarray.view(sequences, np.ndarray)
        if not (cf._fm_applicable(seq, training) and cb._fm_applicable(seq, training)):
            return None
        dtype = np.dtype(cf.compute_dtype)
        if np.dtype(cb.compute_dtype) != dtype or np.dtype(self.compute_dtype) != dtype \
                or cf.units != cb.units or getattr(cf, "reset_after", True) != \
                getattr(cb, "reset_after", True):
            return None
        if mask is not None:
            mask = flatten(mask)[0] if isinstance(mask, (list, tuple)) else mask
            mask = as_mask_array(np.ndarray.view(mask, np.ndarray) if isinstance(mask, np.ndarray)
                                 else mask, "mask", f"Layer '{self.name}': ")
            if mask.shape != seq.shape[:2]:
                return None
            mask = mask.astype(bool, copy=False)
        x = seq if seq.dtype == dtype else seq.astype(dtype)
        specs = []
        for cell, state, back in ((cf, forward_state, False), (cb, backward_state, True)):
            k, r, b = cell._fm_weights(dtype)
            specs.append(dict(kernel=k, recurrent_kernel=r, bias=b,
                              packed=cell._fm_packed(dtype, k, r),
                              initial_state=None if state is None else list(state),
                              go_backwards=back, out_time=back,
                              activation=cell.activation,
                              recurrent_activation=cell.recurrent_activation,
                              reset_after=getattr(cell, "reset_after", True)))
        concat = self.merge_mode == "concat"
        res = _kr._run_many(cf._fm_kernel, x, specs, mask, self.return_sequences,
                            fw.zero_output_for_mask, fw.unroll, None, concat=concat)
        if res is None:
            return None
        (fwd, bwd), buf = res
        y, y_rev = fwd[0], bwd[0]   # y_rev is already in time order
        if buf is not None:
            output = buf
        else:
            output = self._merge(y, y_rev, dtype)
        if self.return_state:
            states = tuple(fwd[1:]) + tuple(bwd[1:])
            if self.merge_mode is None:
                return output + states
            return (output,) + states
        return output

    def _merge(self, y, y_rev, dtype):
        if self.merge_mode == "concat":
            return np.concatenate([y, y_rev], axis=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / dtype.type(2)
        if self.merge_mode == "mul":
            return y * y_rev
        return (y, np.ascontiguousarray(y_rev))

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {}
        if self.forward_layer._call_info.has_training:
            kwargs["training"] = training
        if self.forward_layer._call_info.has_mask:
            kwargs["mask"] = mask
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        else:
            forward_state = backward_state = None
        fused = self._fused_call(sequences, forward_state, backward_state, mask, training)
        if fused is not None:
            return fused
        seq = np.ndarray.view(sequences, np.ndarray) if isinstance(sequences, np.ndarray) \
            else sequences
        y = self.forward_layer(seq, initial_state=forward_state, **kwargs)
        y_rev = self.backward_layer(seq, initial_state=backward_state, **kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        dtype = np.dtype(self.compute_dtype)
        y = np.asarray(y).astype(dtype, copy=False)
        y_rev = np.asarray(y_rev).astype(dtype, copy=False)
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        output = self._merge(y, y_rev, dtype)
        states = tuple(np.asarray(s) for s in states)
        if self.return_state:
            if self.merge_mode is None:
                return output + states
            return (output,) + states
        return output

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    @property
    def states(self):
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(flatten(self.forward_layer.states) + flatten(self.backward_layer.states))
        return None

    def compute_mask(self, _, mask):
        if isinstance(mask, list):
            mask = mask[0]
        if self.return_sequences:
            output_mask = (mask, mask) if not self.merge_mode else mask
        else:
            output_mask = (None, None) if not self.merge_mode else None
        if self.return_state and self.states is not None:
            state_mask = tuple(None for _ in self.states)
            if isinstance(output_mask, list):
                return output_mask + list(state_mask) * 2
            return (output_mask,) + state_mask * 2
        return output_mask

    def get_config(self):
        config = {"merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                  "backward_layer": serialize(self.backward_layer)}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = constructor_config(copy.deepcopy(config))
        config["layer"] = deserialize(config["layer"], custom_objects=custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            config["backward_layer"] = deserialize(backward, custom_objects=custom_objects)
        return cls(**config)
