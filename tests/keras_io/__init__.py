"""keras-io examples' model code, written once for Keras and for fastmask.

Each module holds the model-building code of one public keras-io example (its
attribution header names the keras-io path, the commit read, the authors, the
Apache 2.0 licence and every deviation). The code sits in
`define(keras, layers, ops)`, which returns `build_model, custom_objects`: the
same text runs over `keras` or over `fastmask`, the "only the imports change"
promise made literal. Each module also has `SIZES` (the small sizes trained
here; `BUILD_ARGS` names those passed to `build_model`), `make_inputs(batch,
rng, s)` and `make_targets(x, rng, s)` (synthetic data shaped like the
example's; `s` is the sizes dict), `LOSS` (or `compile_args(keras)`) and
`MASKED` (True when the model consumes a padding mask; such a module also has
`make_masked_inputs(rng, s)`).

`CASES` maps a case name (the file stem of its `.keras`/`.npz`) to its module
and the build arguments that differ from `SIZES`.

Used by `scripts/make_keras_io_models.py` (trains in Keras, saves) and
`tests/test_keras_io_models.py` (loads in fastmask, compares).
"""
import hashlib
import importlib
import os
import types

# case name -> (module name, build kwargs beyond the module's SIZES)
CASES = {
    "bidirectional_lstm_imdb": ("bidirectional_lstm_imdb", {}),
    "text_classification_with_transformer": ("text_classification_with_transformer", {}),
    "lstm_seq2seq": ("lstm_seq2seq", {}),
    "text_generation_with_miniature_gpt": ("text_generation_with_miniature_gpt", {}),
    "ner_transformers": ("ner_transformers", {}),
    "addition_rnn": ("addition_rnn", {}),
    "timeseries_classification_from_scratch": ("timeseries_classification_from_scratch", {}),
    "timeseries_anomaly_detection": ("timeseries_anomaly_detection", {}),
    "lstm_vs_cnn_lstm": ("lstm_vs_cnn_timeseries_classification", {"kind": "lstm"}),
    "lstm_vs_cnn_cnn": ("lstm_vs_cnn_timeseries_classification", {"kind": "cnn"}),
    "multivariate_timeseries_forecasting_using_lstm":
        ("multivariate_timeseries_forecasting_using_lstm", {}),
    "active_learning_review_classification": ("active_learning_review_classification", {}),
}


def module(case):
    """The module of a case (e.g. `keras_io.lstm_seq2seq`)."""
    return importlib.import_module(f"{__name__}.{CASES[case][0]}")


def sizes(case):
    """The build/input arguments of a case: the module's SIZES plus the case's own."""
    return {**module(case).SIZES, **CASES[case][1]}


def example(case, keras_module):
    """The case's code over `keras_module` (keras or fastmask).

    Returns a namespace with `build()` (a new model at the case's sizes) and
    `custom_objects` (the classes `load_model` needs, defined over keras_module).
    """
    mod = module(case)
    build_model, custom_objects = mod.define(keras_module, keras_module.layers, keras_module.ops)
    build_args = {k: v for k, v in sizes(case).items() if k in mod.BUILD_ARGS}
    return types.SimpleNamespace(build=lambda: build_model(**build_args),
                                 custom_objects=dict(custom_objects))


def inputs(case, batch, rng):
    """Inputs like the example's (numpy; a list for multi-input models)."""
    return module(case).make_inputs(batch, rng, sizes(case))


def targets(case, x, rng):
    """Synthetic training targets for inputs `x`."""
    return module(case).make_targets(x, rng, sizes(case))


def masked_inputs(case, rng):
    """Padded inputs for a masked model (pre, post, holes, an all-padding row),
    or None when the model takes no mask."""
    mod = module(case)
    return mod.make_masked_inputs(rng, sizes(case)) if mod.MASKED else None


def source_digest(script):
    """sha256 of this package's sources and of the generating script: the cache
    key that makes a changed model file or training recipe regenerate."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for path in sorted(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py")) + [
            script]:
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def cache_dir(keras_version, backend):
    """Where the trained files go: $FASTMASK_KERAS_IO_CACHE, else
    ~/.cache/fastmask-tests/keras_io/<keras version>-<backend>/."""
    env = os.environ.get("FASTMASK_KERAS_IO_CACHE")
    if env:
        return env
    return os.path.join(os.path.expanduser("~"), ".cache", "fastmask-tests", "keras_io",
                        f"{keras_version}-{backend}")
