"""The package's import structure (ARCHITECTURE.md): no import circles, imports run one way.

Imports inside functions count: a deferred import is still a dependency (and a
deferred circle still a circle). The graph comes from `scripts/import_cycles.py`.
"""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "fastmask")

_spec = importlib.util.spec_from_file_location(
    "fastmask_import_cycles", os.path.join(ROOT, "scripts", "import_cycles.py"))
import_cycles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_cycles)

# Which rooms a room may not import (prefixes of module names). The order of the rooms:
# core -> kernels -> ops/activations/initializers/utils -> layers -> saving -> models
# -> tour/dask/__main__/profiling/the package's __init__.
ABOVE_LAYERS = ("fastmask.models", "fastmask.saving", "fastmask.tour", "fastmask.__main__",
                "fastmask.dask", "fastmask._speed_table", "fastmask._tour_train",
                "fastmask.profiling")
FORBIDDEN = {
    "fastmask.kernels": ("fastmask.core", "fastmask.ops", "fastmask.layers") + ABOVE_LAYERS,
    "fastmask.ops": ("fastmask.layers",) + ABOVE_LAYERS,
    "fastmask.activations": ("fastmask.layers",) + ABOVE_LAYERS,
    "fastmask.initializers": ("fastmask.layers",) + ABOVE_LAYERS,
    "fastmask.utils": ("fastmask.core", "fastmask.ops", "fastmask.layers") + ABOVE_LAYERS,
    "fastmask.layers": ABOVE_LAYERS,
    "fastmask.saving": ("fastmask.models", "fastmask.tour", "fastmask.__main__", "fastmask.dask",
                        "fastmask.profiling"),
    "fastmask.models": ("fastmask.tour", "fastmask.__main__", "fastmask.dask",
                        "fastmask.profiling"),
}


def _in(module, prefix):
    return module == prefix or module.startswith(prefix + ".")


def violations(graph):
    """["a -> b (rule)"] for every import that goes against the room order."""
    out = []
    for mod, deps in sorted(graph.items()):
        for dep in deps:
            if _in(mod, "fastmask.core"):
                if dep != "fastmask" and not _in(dep, "fastmask.core"):
                    out.append(f"{mod} -> {dep} (core imports only core)")
                continue
            for room, banned in FORBIDDEN.items():
                if _in(mod, room):
                    out += [f"{mod} -> {dep} ({room} must not import {b})"
                            for b in banned if _in(dep, b)]
    return out


@pytest.fixture(scope="module")
def graph():
    return import_cycles.import_graph(PACKAGE, lazy=True)


def test_no_import_circles(graph):
    circles = import_cycles.sccs(graph)
    assert circles == [], "import circles (imports inside functions count):\n" + "\n".join(
        " ".join(c) for c in circles)


def test_imports_run_one_way(graph):
    assert violations(graph) == []


def test_graph_sees_the_rooms(graph):
    # The graph is the real one: it holds the rooms and their ordinary imports.
    assert "fastmask.layers.core.dense" in graph["fastmask.layers.core"]
    assert "fastmask.layers.layer" in graph["fastmask.layers.core.dense"]
    assert "fastmask.kernels._recurrent" in graph["fastmask.kernels.recurrent"]
    assert "fastmask.core.serialization" in graph["fastmask.saving.keras_archive"]


def _package(tmp_path, files):
    root = tmp_path / "fastmask"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/a.py": "from . import b\n",
        "core/b.py": "def f():\n    from .a import g\n",
    })
    assert import_cycles.sccs(import_cycles.import_graph(root, lazy=True)) == [
        ["fastmask.core.a", "fastmask.core.b"]]


def test_layering_violations_are_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "ops.py": "",
        "core/__init__.py": "",
        "core/tensor.py": "def f():\n    from .. import ops\n",
        "kernels/__init__.py": "",
        "kernels/softmax.py": "from ..core import tensor\n",
        "layers/__init__.py": "",
        "layers/layer.py": "def f():\n    from ..saving import keras_h5\n",
        "saving/__init__.py": "",
        "saving/keras_h5.py": "from fastmask.models import model\n",
        "models/__init__.py": "",
        "models/model.py": "from ..layers import layer\n",
    })
    found = violations(import_cycles.import_graph(root, lazy=True))
    assert found == [
        "fastmask.core.tensor -> fastmask.ops (core imports only core)",
        "fastmask.kernels.softmax -> fastmask.core.tensor (fastmask.kernels must not import "
        "fastmask.core)",
        "fastmask.layers.layer -> fastmask.saving.keras_h5 (fastmask.layers must not import "
        "fastmask.saving)",
        "fastmask.saving.keras_h5 -> fastmask.models.model (fastmask.saving must not import "
        "fastmask.models)",
    ]
