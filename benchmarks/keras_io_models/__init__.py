"""Model code of six keras-io examples, for whole-model benchmarks (issue 16) and tests.

Each `<name>.py` holds the model-building code of one keras-io example (Apache License
2.0; its header cites the example, commit and authors and lists every change):
custom layers/models, `build_model(**sizes)` with the example's default sizes,
`make_inputs(batch, rng)` giving inputs like the example's, and `CUSTOM_OBJECTS`
for `load_model`. The files are written against Keras (`import keras`);
`load(name, "fastmask")` runs the same text with `import keras` read as
`import fastmask as keras` and `from keras import ...` as `from fastmask import ...`
(the only difference between the two, checked by `import_lines`).
"""
import importlib
import os
import re
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("bidirectional_lstm_imdb", "text_classification_with_transformer", "lstm_seq2seq",
         "text_generation_with_miniature_gpt", "ner_transformers", "addition_rnn")
LIBRARIES = ("keras", "fastmask")

_IMPORT = re.compile(r"^(import keras|from keras import .*)$", re.M)


def source(name):
    """The text of `<name>.py`."""
    if name not in NAMES:
        raise ValueError(f"Unknown keras-io model {name!r}; expected one of {NAMES}. "
                         f"Received: name={name!r}")
    with open(os.path.join(HERE, f"{name}.py")) as f:
        return f.read()


def import_lines(text):
    """The `import keras` / `from keras import ...` lines of a model file."""
    return _IMPORT.findall(text)


def to_fastmask(text):
    """`text` with its Keras import lines bound to fastmask instead."""
    return _IMPORT.sub(lambda m: m.group(0).replace("import keras", "import fastmask as keras")
                       .replace("from keras import", "from fastmask import"), text)


def load(name, library="keras"):
    """The module of model `name`, its imports bound to `library` ("keras" or "fastmask").

    "keras" imports `keras_io_models.<name>` as usual; "fastmask" executes the same
    file as the module `keras_io_models.<name>__fastmask` (cached in sys.modules).
    """
    if library not in LIBRARIES:
        raise ValueError(f"`library` must be one of {LIBRARIES}. Received: library={library!r}")
    text = source(name)
    if library == "keras":
        return importlib.import_module(f"{__name__}.{name}")
    module_name = f"{__name__}.{name}__fastmask"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module = types.ModuleType(module_name)
    module.__file__ = os.path.join(HERE, f"{name}.py")
    sys.modules[module_name] = module
    try:
        exec(compile(to_fastmask(text), module.__file__, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
