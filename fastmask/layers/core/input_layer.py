"""`InputLayer` and `fastmask.Input`: the entry points of Functional models."""
import warnings

from ...core.operation import Node
from ...core.tensor import KerasTensor, standardize_dtype, standardize_shape
from ..layer import Layer

__all__ = ["InputLayer", "Input"]


class InputLayer(Layer):
    """Holds the symbolic input tensor of a Functional model (see `Input`)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        super().__init__(name=name)
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.",
                          stacklevel=2)
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise ValueError("Argument `input_tensor` must be a KerasTensor. Received "
                                 f"invalid type: input_tensor={input_tensor} "
                                 f"(of type {type(input_tensor)})")
            _check_input_tensor_args(input_tensor, shape, batch_shape, batch_size, dtype,
                                     sparse)
            batch_shape = input_tensor.shape
            dtype = input_tensor.dtype
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `shape` and `batch_shape` at the "
                                 "same time.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `batch_size` and `batch_shape` at "
                                 "the same time.")
            if shape is None and batch_shape is None:
                raise ValueError("You must pass a `shape` argument.")
            if shape is not None:
                if isinstance(shape, int):
                    shape = (shape,)
                shape = standardize_shape(shape)
                batch_shape = (batch_size,) + shape
        self._batch_shape = standardize_shape(batch_shape)
        self._dtype = standardize_dtype(dtype)
        for flag, value in (("sparse", sparse), ("ragged", ragged)):
            if value:  # as Keras's numpy backend, which supports neither
                raise ValueError(f"`{flag}=True` is not supported with the numpy backend "
                                 "(fastmask has dense tensors only)")
        self.sparse = False
        self.ragged = False
        if input_tensor is None:
            input_tensor = KerasTensor(shape=self._batch_shape, dtype=self._dtype, name=name)
        self._input_tensor = input_tensor
        Node(operation=self, call_args=(), call_kwargs={}, outputs=input_tensor)
        self.built = True
        self.optional = optional

    def call(self):
        return None

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._dtype

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}



def _check_input_tensor_args(input_tensor, shape, batch_shape, batch_size, dtype, sparse):
    """Keras's checks: arguments given beside `input_tensor` must agree with it."""
    tensor_shape = tuple(input_tensor.shape)
    wrong = None
    if batch_size is not None and (not tensor_shape or tensor_shape[0] != batch_size):
        wrong = "batch_size"
    elif shape is not None and tuple(shape) != tensor_shape[1:]:
        wrong = "shape"
    elif batch_shape is not None and tuple(batch_shape) != tensor_shape:
        wrong = "batch_shape"
    elif dtype is not None and standardize_dtype(dtype) != input_tensor.dtype:
        wrong = "dtype"
    elif sparse is not None and bool(sparse) != bool(getattr(input_tensor, "sparse", False)):
        wrong = "sparse"
    if wrong is not None:
        raise ValueError("When providing the `input_tensor` argument, you cannot provide an "
                         f"incompatible `{wrong}` argument.")


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
          batch_shape=None, name=None, tensor=None, optional=False):
    """A symbolic input tensor (`KerasTensor`) for the Functional API.

    Args:
        shape: shape without the batch dim, e.g. `(None,)` for variable-length ids.
        batch_size: optional static batch size.
        dtype: e.g. "int32" for token ids; default "float32".
        batch_shape: full shape including the batch dim (instead of `shape`).
        name: layer name.
        tensor: an existing KerasTensor to wrap.

    >>> x = Input(shape=(None,), dtype="int32")
    >>> x.shape, x.dtype
    ((None, None), 'int32')
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name,
                       input_tensor=tensor, optional=optional)
    return layer.output
