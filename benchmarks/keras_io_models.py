"""The keras-io models bench_models.py times, from the one copy of their code in tests/keras_io/.

`tests/keras_io/<name>.py` holds each example's model code (its header names the
keras-io example, commit, authors and Apache 2.0 licence, and lists every
deviation), written once as `define(keras, layers, ops)`: the Keras peers and
fastmask run the same text, only the module passed in differs. The tests train
those models at small sizes (`SIZES`); the benchmark builds them at the sizes
bench_models.py gives (the examples' own for the full run).

tests/ is appended to sys.path here rather than benchmarks/ being made a
package: the benchmarks run as scripts from a checkout (tests/ is beside them),
while the tests run against an installed fastmask with tests/ as their root, so
they must not depend on benchmarks/ being importable.
"""
import os
import sys
import types

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if TESTS not in sys.path:
    sys.path.append(TESTS)
import keras_io  # noqa: E402

NAMES = ("bidirectional_lstm_imdb", "text_classification_with_transformer", "lstm_seq2seq",
         "text_generation_with_miniature_gpt", "ner_transformers", "addition_rnn")
LIBRARIES = ("keras", "fastmask")


def _module(name):
    if name not in NAMES:
        raise ValueError(f"Unknown keras-io model {name!r}; expected one of {NAMES}. "
                         f"Received: name={name!r}")
    return keras_io.module(name)


def source(name):
    """The text of `tests/keras_io/<name>.py` (part of the benchmark's cache key)."""
    with open(_module(name).__file__) as f:
        return f.read()


def load(name, library="keras"):
    """Model `name`'s code over `library` ("keras" or "fastmask").

    Returns a namespace with `build_model(sizes)` (a new model; `sizes` holds at
    least the module's BUILD_ARGS), `make_inputs(batch, rng, sizes)` (inputs like
    the example's: numpy, a list for multi-input models), `custom_objects` (the
    classes `load_model` needs, defined over `library`) and `keras` (the library).
    """
    if library not in LIBRARIES:
        raise ValueError(f"`library` must be one of {LIBRARIES}. Received: library={library!r}")
    mod = _module(name)
    if library == "keras":
        import keras as lib
    else:
        import fastmask as lib
    build, custom_objects = mod.define(lib, lib.layers, lib.ops)
    return types.SimpleNamespace(
        build_model=lambda sizes: build(**{k: sizes[k] for k in mod.BUILD_ARGS}),
        make_inputs=mod.make_inputs, custom_objects=dict(custom_objects), keras=lib)
