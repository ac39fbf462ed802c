"""`real_inputs`: the input check and cast of the activation layers that compute in NumPy."""
from ...core.tensor import plain

__all__ = []


def real_inputs(layer, inputs, class_name):
    """`inputs` as an array of real floats: bool/int inputs cast to the layer's
    compute dtype, anything else (complex, strings, objects) a TypeError naming the
    layer and its class `class_name`."""
    x = plain(inputs)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"Layer '{layer.name}' (of type {class_name}) takes real numbers. "
                        f"Received: inputs.dtype={x.dtype}")
    if x.dtype.kind != "f":
        x = x.astype(layer.compute_dtype)
    return x
