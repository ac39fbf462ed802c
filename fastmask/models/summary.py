"""`Model.summary()`: a Keras-style table (layer, output shape, params, connections)."""
import textwrap

import numpy as np

from ..core import registry
from ..layers.core.input_layer import InputLayer

__all__ = ["print_summary", "readable_memory_size"]


def readable_memory_size(size):
    """Bytes as Keras prints them: '920.00 B', '312.50 KB', ..."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _memory(weights):
    unique = {id(w): w for w in weights}.values()
    return sum(int(np.prod(w.shape)) * w.dtype.itemsize for w in unique)


def _shape_str(x):
    shapes = [t.shape for t in x] if isinstance(x, (list, tuple)) else [x.shape]
    text = ", ".join(str(tuple(s)) for s in shapes)
    return text if len(shapes) == 1 else f"[{text}]"


def _rows(model):
    # The model classes are looked up (model.py imports this module: no import back).
    Functional = registry.builtin_class("Functional")
    Sequential = registry.builtin_class("Sequential")
    functional = None
    if isinstance(model, Sequential):
        functional = model._functional
        layers = model.layers
    elif isinstance(model, Functional):
        functional = model
        layers = model.layers
    else:
        layers = model.layers
    rows = []
    for layer in layers:
        name = f"{layer.name} ({layer.__class__.__name__})"
        shape = "?"
        connected = []
        if functional is not None:
            for node in layer._inbound_nodes:
                if id(node) not in functional._node_ids:
                    continue
                shape = _shape_str(node.outputs if len(node.outputs) > 1 else node.outputs[0])
                for t in node.input_tensors:
                    op, node_index, tensor_index = t._keras_history
                    connected.append(f"{op.name}[{node_index}][{tensor_index}]")
                break
        if isinstance(layer, InputLayer):
            params = "0"
        elif layer.built:
            params = f"{layer.count_params():,}"
        else:
            params = "0 (unbuilt)"
        rows.append((name, shape, params, ", ".join(connected) or "-"))
    return rows, isinstance(model, Functional) and not isinstance(model, Sequential)


def print_summary(model, line_length=None, print_fn=None, show_trainable=False):
    print_fn = print_fn or print
    rows, with_connections = _rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    widths = [33, 24, 15]
    if with_connections:
        headers.append("Connected to")
        widths = [21, 19, 12, 19]
    if with_connections:  # the connections column grows to fit "layer[0][0]," entries
        longest = max((len(p) + 1 for r in rows for p in r[3].split(", ")), default=0)
        widths[3] = max(widths[3], longest + 2)
    if line_length:
        scale = line_length / (sum(widths) + len(widths) + 1)
        widths = [max(8, int(w * scale)) for w in widths]
    right = {2}

    def cells(values):
        wrapped = [textwrap.wrap(v, w - 2, break_on_hyphens=False) or [""]
                   for v, w in zip(values, widths)]
        for i, v in enumerate(values):
            if i == 3 and ", " in v:  # one connection per line, as Keras
                parts = v.split(", ")
                wrapped[i] = [p + ("," if j < len(parts) - 1 else "") for j, p in enumerate(parts)]
        height = max(len(c) for c in wrapped)
        lines = []
        for k in range(height):
            out = []
            for i, (c, w) in enumerate(zip(wrapped, widths)):
                text = c[k] if k < len(c) else ""
                out.append(" " + (text.rjust(w - 2) if i in right else text.ljust(w - 2)) + " ")
            lines.append("\u2502" + "\u2502".join(out) + "\u2502")
        return lines

    def rule(left, mid, rightc, fill):
        return left + mid.join(fill * w for w in widths) + rightc

    print_fn(f'Model: "{model.name}"')
    print_fn(rule("\u250f", "\u2533", "\u2513", "\u2501"))
    header = "\u2503" + "\u2503".join(
        " " + (h.rjust(w - 2) if i in right else h.ljust(w - 2)) + " "
        for i, (h, w) in enumerate(zip(headers, widths))) + "\u2503"
    print_fn(header)
    print_fn(rule("\u2521", "\u2547", "\u2529", "\u2501"))
    for i, row in enumerate(rows):
        for line in cells(list(row[:len(widths)])):
            print_fn(line)
        if i < len(rows) - 1:
            print_fn(rule("\u251c", "\u253c", "\u2524", "\u2500"))
    print_fn(rule("\u2514", "\u2534", "\u2518", "\u2500"))
    weights = model.weights
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights

    def count(ws):
        return sum(int(np.prod(w.shape)) for w in {id(w): w for w in ws}.values())

    print_fn(f" Total params: {count(weights):,} ({readable_memory_size(_memory(weights))})")
    print_fn(f" Trainable params: {count(trainable):,} "
             f"({readable_memory_size(_memory(trainable))})")
    print_fn(f" Non-trainable params: {count(non_trainable):,} "
             f"({readable_memory_size(_memory(non_trainable))})")
