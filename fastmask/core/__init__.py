"""The symbolic machinery under the layers: tensors, operations, shape inference, registry.

Imports NumPy and itself only (never kernels, ops, layers, models or saving):

* `tree`: flatten / pack_as / map_structure over nested lists, tuples, dicts.
* `naming`: snake_case names with one global counter per name.
* `tensor`: `Tensor` (an ndarray carrying `_keras_mask`), `Variable`,
  `KerasTensor`, `get_mask`, `with_mask`, dtype/shape standardisation.
* `operation`: `Operation`, `Node`, `KerasHistory`, the per-thread call context.
* `shape_inference`: output specs of symbolic calls (dry runs) and the
  `KerasTensor` operators.
* `dtype_policy`: `DTypePolicy`, `get_policy`.
* `registry`: custom objects by name and fastmask's own classes by class name.
* `serialization`: Keras's serialized dicts of layers, models and functions.
* `config_objects`: `get`/`serialize`/`deserialize` of constraints and regularizers,
  and the user-object lookup initializers and activations share.
"""
from . import tree, naming, tensor, operation, shape_inference, dtype_policy  # noqa: F401
from . import registry, serialization, config_objects  # noqa: F401
