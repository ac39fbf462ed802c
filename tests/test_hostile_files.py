"""A model file from a stranger runs no code, reads no local file, explodes no memory
(issue 13, points 1, 2, 3 and 8).

Each hostile file or config is built by `tests/hostile.py`. The tests assert
the refusal and its message, and that nothing was imported (a marker module
that would create a file, `sys.modules` unchanged), nothing read (targets are
FIFOs: opening one blocks, so those loads run in a subprocess with a timeout
and a hang fails the case), nothing executed (a marker file a payload would
create), and that the peak RSS stays bounded (measured in a subprocess with
`resource.getrusage(...).ru_maxrss`) while the bombs declare gigabytes.
Point 8: weights replaced while other threads predict give the old or the
new outputs exactly, never a mix.
"""
import io
import json
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastmask
import hostile
from fastmask.core.serialization import MAX_CONFIG_DEPTH
from fastmask.layers.pickling import _rebuild_model
from fastmask.saving import UnsafeFileError, WeightsFileError
from fastmask.saving.limits import MAX_ZIP_MEMBERS
from oracle import keras

h5py = pytest.importorskip("h5py")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
RSS_BOUND_MIB = 256          # the bombs below declare 3 to 16 GiB
NOT_LOCATED = ("Make sure custom classes and functions are decorated with "
               "`@fastmask.saving.register_keras_serializable()`. If they are already "
               "decorated, make sure they are all imported so that the decorator is run "
               "before trying to load them. Full object config: ")


def run_isolated(body, timeout=120):
    """Run `hostile.isolated_script(body)` in a fresh interpreter; its REPORT lines as a
    list of dicts, and whether it finished (False: it hung and was killed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
    try:
        proc = subprocess.run([sys.executable, "-c", hostile.isolated_script(body)],
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env=env)
        out, finished = proc.stdout, True
        if proc.returncode != 0:
            raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        finished = False
    reports = [json.loads(line[len("REPORT "):]) for line in out.splitlines()
               if line.startswith("REPORT ")]
    return reports, finished


# =========================================================================== point 1: no code

@pytest.fixture
def marker_module(tmp_path, monkeypatch):
    """(module name, marker path): importing the module would create the marker."""
    name = f"fm_hostile_{os.getpid()}_{abs(hash(str(tmp_path))) % 10 ** 8}"
    marker = tmp_path / "imported.marker"
    hostile.marker_module(str(tmp_path), name, marker)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, marker


def _entry_points(config, layer_config):
    """Every way a config enters fastmask: (name, callable(safe_mode))."""
    model = hostile.small_model()

    def via_archive(safe_mode):
        buf = io.BytesIO()
        hostile.archive_with_config(buf, model, config)
        buf.seek(0)
        return fastmask.models.load_model(buf, safe_mode=safe_mode)

    return [
        ("load_model", via_archive),
        ("deserialize", lambda sm: fastmask.saving.deserialize_keras_object(config,
                                                                            safe_mode=sm)),
        ("layers.deserialize", lambda sm: fastmask.layers.deserialize(layer_config,
                                                                      safe_mode=sm)),
        ("Lambda.from_config", lambda sm: fastmask.layers.Lambda.from_config(
            dict(layer_config["config"]), safe_mode=sm)),
        ("Sequential.from_config", lambda sm: fastmask.Sequential.from_config(
            config["config"])),
        ("unpickle", lambda sm: pickle.loads(pickle.dumps(_Payload(config)))),
    ]


class _Payload:
    """Pickles as the rebuild of a graph model from `config` (what a Dask worker gets)."""

    def __init__(self, config):
        self.config = config

    def __reduce__(self):
        return (_rebuild_model, (self.config, [], {}))


@pytest.mark.parametrize("module,name", [
    ("MARKER", "run"), ("subprocess", "run"), ("os", "system"), ("builtins", "eval"),
    ("builtins", "exec"), ("builtins", "__import__"), ("numpy", "load"),
    ("keras.src.utils.python_utils", "func_load"), ("fastmask.saving", "load_model")])
@pytest.mark.parametrize("safe_mode", [True, False])
def test_function_names_import_nothing(module, name, safe_mode, marker_module):
    """Keras's 'Could not locate function' for any module/function pair, in every entry
    point, whatever safe_mode; the named module is never imported."""
    mod_name, marker = marker_module
    module = mod_name if module == "MARKER" else module
    layer = hostile.lambda_layer_config(hostile.function_config(module, name))
    config = hostile.sequential_with(hostile.config_of(hostile.small_model()), layer)
    fastmask.models.load_model(hostile.archive_with_config(  # warm-up: lazy imports done
        marker.parent / "ok.keras", hostile.small_model(), hostile.config_of(
            hostile.small_model())))
    before = set(sys.modules)
    for where, load in _entry_points(config, layer):
        with pytest.raises(TypeError) as info:
            load(safe_mode)
        message = str(info.value)
        assert message.startswith(f"Could not locate function '{name}'. {NOT_LOCATED}"), \
            (where, message)
    assert set(sys.modules) == before
    assert not marker.exists()


@pytest.mark.parametrize("safe_mode", [True, False])
def test_class_names_import_nothing(safe_mode, marker_module):
    mod_name, marker = marker_module
    evil = {"module": mod_name, "class_name": "Evil", "config": {}, "registered_name": None}
    config = hostile.sequential_with(hostile.config_of(hostile.small_model()), evil)
    before = set(sys.modules)
    for where, load in _entry_points(config, evil)[:3]:
        with pytest.raises(TypeError, match="Could not locate class 'Evil'"):
            load(safe_mode)
    assert set(sys.modules) == before and not marker.exists()


def test_importing_this_would_print_but_nothing_prints():
    """`{"module": "this", ...}`: importing it prints the Zen of Python; nothing prints."""
    reports, finished = run_isolated('''
        import contextlib, io, sys
        import fastmask
        config = {"module": "keras.layers", "class_name": "Lambda", "config": {
            "name": "l", "function": {"module": "this", "class_name": "function",
                                      "config": "s", "registered_name": "function"}}}
        out = io.StringIO()
        error = None
        with contextlib.redirect_stdout(out):
            for safe_mode in (True, False):
                try:
                    fastmask.layers.deserialize(config, safe_mode=safe_mode)
                except TypeError as e:
                    error = str(e)
        report(printed=out.getvalue(), imported="this" in sys.modules, error=error)
    ''')
    assert finished
    (r,) = reports
    assert r["printed"] == "" and not r["imported"]
    assert r["error"].startswith("Could not locate function 's'.")


def test_non_modeling_keras_functions_are_refused():
    layer = hostile.lambda_layer_config(hostile.function_config("keras.saving", "load_model"))
    with pytest.raises(ValueError, match="Cannot deserialize `keras.saving.load_model` because "
                                         "it is not a modeling function"):
        fastmask.layers.deserialize(layer, safe_mode=False)


def test_bytecode_lambda_needs_safe_mode_off_with_keras_text(tmp_path):
    K = keras()
    k = K.Sequential([K.Input((None, 3)), K.layers.Lambda(lambda t: t * 2.0), K.layers.Dense(2)])
    k.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError) as keras_error:
        K.saving.load_model(tmp_path / "lam.keras")
    with pytest.raises(ValueError) as ours:
        fastmask.models.load_model(tmp_path / "lam.keras")
    assert str(ours.value) == str(keras_error.value)
    with pytest.raises(ValueError) as ours:
        fastmask.layers.Lambda.from_config(k.layers[0].get_config())
    assert str(ours.value) == str(keras_error.value)


def _touching_models(marker):
    """Models holding a Lambda whose code creates `marker`: in a Sequential (middle and
    last) and in a Functional graph (middle and output)."""
    L = fastmask.layers
    seq_mid = fastmask.Sequential([fastmask.Input((None, 3)), L.Dense(4),
                                   hostile.touching_lambda(marker), L.Dense(2)])
    seq_last = fastmask.Sequential([fastmask.Input((5, 3)), L.Dense(4),
                                    hostile.touching_lambda(marker)])
    inp = fastmask.Input((None, 3))
    x = hostile.touching_lambda(marker)(L.Dense(4)(inp))
    out = hostile.touching_lambda(marker)(L.Dense(2)(x))
    functional = fastmask.Model(inp, [out, x])
    # A Lambda whose mask and output_shape are lambdas too, after a masking Embedding.
    ids = fastmask.Input((None,), dtype="int32")
    e = L.Embedding(9, 3, mask_zero=True)(ids)
    y = L.Lambda(lambda v: v * 2.0,
                 output_shape=lambda s, _m=str(marker): (open(_m, "w").close(), s)[1],
                 mask=lambda v, m, _m=str(marker): (open(_m, "w").close(), m)[1])(e)
    masked = fastmask.Model(ids, L.LSTM(2)(y))
    return {"sequential_middle": seq_mid, "sequential_last": seq_last,
            "functional": functional, "functional_mask_and_output_shape": masked}


@pytest.mark.parametrize("kind", ["sequential_middle", "sequential_last", "functional",
                                  "functional_mask_and_output_shape"])
def test_unsafe_lambda_code_never_runs_while_loading(kind, tmp_path):
    """safe_mode=False rebuilds the lambda, but building the model at load does not run it
    on made-up data: shapes come from the file; the code runs only on real calls."""
    marker = tmp_path / "ran.marker"
    model = _touching_models(marker)[kind]
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    if kind == "functional_mask_and_output_shape":
        x = np.array([[1, 2, 0, 0, 0], [3, 0, 0, 0, 0]], "int32")
    expected = model(x)
    model.save(tmp_path / "m.keras")
    marker.unlink()
    loaded = fastmask.models.load_model(tmp_path / "m.keras", safe_mode=False)
    assert not marker.exists(), "the lambda ran while the model was loaded"
    assert [o.shape for o in fastmask.core.tree.flatten(loaded.outputs)] == \
        [o.shape for o in fastmask.core.tree.flatten(model.outputs)]
    got = loaded(x)
    assert marker.exists()
    for a, b in zip(fastmask.core.tree.flatten(expected), fastmask.core.tree.flatten(got)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_lambda_from_keras_saved_by_name_loads_in_safe_mode(tmp_path):
    """`Lambda(keras.activations.relu)` is saved by name ("builtins", "relu")."""
    K = keras()
    k = K.Sequential([K.Input((None, 3)), K.layers.Lambda(K.activations.relu),
                      K.layers.Dense(2)])
    k.save(tmp_path / "relu.keras")
    f = fastmask.models.load_model(tmp_path / "relu.keras")
    assert f.layers[0].function is fastmask.activations.relu
    x = np.random.default_rng(1).standard_normal((2, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(f(x)), np.asarray(k(x)), atol=1e-6)


def test_enable_unsafe_deserialization_overrides_safe_mode(tmp_path):
    """As Keras: after `fastmask.config.enable_unsafe_deserialization()` even
    `safe_mode=True` rebuilds lambdas (a process-wide switch: run in a child)."""
    path = tmp_path / "lam.keras"
    fastmask.Sequential([fastmask.Input((3,)), fastmask.layers.Lambda(lambda t: t + 1.0)]) \
        .save(path)
    reports, finished = run_isolated(f'''
        import numpy as np, fastmask
        try:
            fastmask.models.load_model({str(path)!r})
            before = "loaded"
        except ValueError as e:
            before = str(e)[:60]
        fastmask.config.enable_unsafe_deserialization()
        m = fastmask.models.load_model({str(path)!r}, safe_mode=True)
        report(before=before, out=float(m(np.zeros((1, 3), "float32"))[0, 0]))
    ''')
    assert finished and len(reports) == 1
    assert reports[0]["before"].startswith("Requested the deserialization of a `Lambda`")
    assert reports[0]["out"] == 1.0


def test_lookup_precedence_is_keras(tmp_path):
    """§1 "Lookup order": a registration beats custom_objects and custom_object_scope
    for a Lambda's function (nested); custom_object_scope beats a registration for a
    top-level class. Checked against Keras itself."""
    K = keras()

    def reg_f(x):
        return x * 2.0

    def other_f(x):
        return x * 3.0

    key = "HostilePrecedence>f"
    fastmask.saving.register_keras_serializable("HostilePrecedence", "f")(reg_f)
    K.saving.register_keras_serializable("HostilePrecedence", "f")(reg_f)
    layer = hostile.lambda_layer_config(hostile.function_config("builtins", key))
    with fastmask.saving.custom_object_scope({key: other_f}):
        f = fastmask.layers.deserialize(layer, custom_objects={key: other_f})
    with K.saving.custom_object_scope({key: other_f}):
        k = K.saving.deserialize_keras_object(layer, custom_objects={key: other_f})
    assert f.function is k.function is reg_f

    class Scoped(fastmask.layers.Layer):
        pass

    class Registered(fastmask.layers.Layer):
        pass

    fastmask.saving.register_keras_serializable("HostilePrecedence", "Cls")(Registered)
    entry = {"module": "x", "class_name": "Cls", "registered_name": "HostilePrecedence>Cls",
             "config": {"name": "c"}}
    with fastmask.saving.custom_object_scope({"HostilePrecedence>Cls": Scoped}):
        assert type(fastmask.layers.deserialize(entry)) is Scoped
    assert type(fastmask.layers.deserialize(
        entry, custom_objects={"HostilePrecedence>Cls": Scoped})) is Registered


def test_deeply_nested_configs_are_refused_not_recursion_errors(tmp_path):
    model = hostile.small_model()
    path = hostile.archive_with_config(tmp_path / "deep.keras", model,
                                       hostile.deep_json(100_000))
    with pytest.raises(UnsafeFileError, match="too deeply"):
        fastmask.models.load_model(path)
    deep = {}
    for _ in range(2 * MAX_CONFIG_DEPTH):
        deep = {"a": deep}
    path = hostile.archive_with_config(tmp_path / "deep2.keras", model,
                                       {"class_name": "Sequential", "config": deep})
    with pytest.raises(UnsafeFileError, match=f"more than {MAX_CONFIG_DEPTH} levels"):
        fastmask.models.load_model(path)
    for _ in range(10_000):
        deep = {"a": deep}
    with pytest.raises(ValueError, match=f"more than {MAX_CONFIG_DEPTH} levels"):
        fastmask.layers.deserialize({"class_name": "Dense", "config": deep})
    # A legitimate deep model (Sequentials nested 12 deep) still loads.
    inner = fastmask.Sequential([fastmask.Input((3,)), fastmask.layers.Dense(2)])
    for _ in range(11):
        inner = fastmask.Sequential([fastmask.Input((3,)), inner, fastmask.layers.Dense(3)])
    inner.save(tmp_path / "nested.keras")
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(
        np.asarray(fastmask.models.load_model(tmp_path / "nested.keras")(x)),
        np.asarray(inner(x)))


@pytest.mark.parametrize("mutate", ["history", "layers_not_a_list", "input_layers",
                                    "nodes_not_a_list"])
def test_malformed_functional_configs_are_value_errors(mutate):
    inp = fastmask.Input((None, 3))
    model = fastmask.Model(inp, fastmask.layers.Dense(2)(fastmask.layers.Dense(4)(inp)))
    config = hostile.config_of(model)
    layers = config["config"]["layers"]
    if mutate == "history":
        layers[2]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "nope"
    elif mutate == "layers_not_a_list":
        config["config"]["layers"] = "abc"
    elif mutate == "input_layers":
        config["config"]["input_layers"] = [["zzz", 0, 0]]
    else:
        layers[2]["inbound_nodes"] = 5
    buf = io.BytesIO()
    hostile.archive_with_config(buf, model, config)
    buf.seek(0)
    with pytest.raises((ValueError, TypeError)) as info:
        fastmask.models.load_model(buf)
    assert type(info.value) in (ValueError, TypeError, UnsafeFileError, WeightsFileError)


def test_pickled_models_resolve_names_without_imports(marker_module):
    """Unpickling a graph model rebuilds it from its config: a hostile config inside a
    pickle imports nothing either (pickle itself stays trusted-input only), and a model's
    own named callables travel as objects."""
    mod_name, marker = marker_module
    layer = hostile.lambda_layer_config(hostile.function_config(mod_name, "run"))
    config = hostile.sequential_with(hostile.config_of(hostile.small_model()), layer)
    with pytest.raises(TypeError, match="Could not locate function 'run'"):
        pickle.loads(pickle.dumps(_Payload(config)))
    assert not marker.exists() and mod_name not in sys.modules
    model = fastmask.Sequential([fastmask.Input((None, 3)), fastmask.layers.Lambda(np.negative),
                                 fastmask.layers.Dense(2)])
    x = np.ones((2, 4, 3), "float32")
    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(model))(x)),
                                  np.asarray(model(x)))


# =========================================================================== point 2: no reading

_H5_KINDS = {
    "external_link": "is an external link",
    "soft_link": "is a soft link",
    "external_storage": "stores its data in external files",
    "virtual": "is a virtual dataset",
    "external_parent": "is an external link",
}


@pytest.fixture(scope="module")
def fifo_results(tmp_path_factory):
    """Every hostile HDF5 case, alone and inside a `.keras`, loaded in one child whose
    link targets are FIFOs: {case: report}; a case missing from the reports hung."""
    d = tmp_path_factory.mktemp("fifo")
    target = hostile.fifo(d / "target.fifo")
    model = hostile.small_model()
    cases = {}
    for kind in _H5_KINDS:
        h5 = hostile.hostile_h5(d / f"{kind}.weights.h5", model, kind, target)
        cases[f"{kind}/weights.h5"] = ("load_weights", h5)
        cases[f"{kind}/keras"] = ("load_model", hostile.h5_in_archive(d / f"{kind}.keras",
                                                                     model, h5))
    # A hostile link in a group no layer uses is refused too.
    unused = hostile.hostile_h5(d / "unused.weights.h5", model, "external_link", target,
                                where="junk/vars/0")
    cases["external_link_unused/weights.h5"] = ("load_weights", unused)
    # Directory form: members that are FIFOs or symlinks.
    for name, member in (("config_fifo", "config.json"), ("weights_fifo", "model.weights.h5"),
                         ("weights_symlink", "model.weights.h5")):
        folder = d / name
        model.save(folder, zipped=False)
        os.remove(folder / member)
        if name.endswith("fifo"):
            hostile.fifo(folder / member)
        else:
            os.symlink(target, folder / member)
        cases[f"{name}/directory"] = ("load_model", str(folder))
    reports, _ = run_isolated(f'''
        import os
        os.environ["KERAS_BACKEND"] = "numpy"
        import fastmask, hostile
        model = hostile.small_model()
        for case, (how, path) in {cases!r}.items():
            result, unchanged = hostile.load_outcome(model, how, path)
            report(case=case, result=result, unchanged=unchanged)
    ''', timeout=180)
    return cases, {r["case"]: r for r in reports}


@pytest.mark.parametrize("case", [f"{k}/{c}" for k in _H5_KINDS for c in ("weights.h5", "keras")]
                         + ["external_link_unused/weights.h5"])
def test_hdf5_links_and_external_data_are_refused_unopened(case, fifo_results):
    cases, results = fifo_results
    assert case in results, f"{case}: the load hung: the FIFO target was opened"
    kind = case.split("/")[0].replace("_unused", "")
    r = results[case]
    assert r["result"].startswith("UnsafeFileError: Not allowed: "), r
    assert _H5_KINDS[kind] in r["result"] and "before reading any of its data" in r["result"]
    assert r["unchanged"]


@pytest.mark.parametrize("case", ["config_fifo", "weights_fifo", "weights_symlink"])
def test_directory_members_must_be_regular_files(case, fifo_results):
    cases, results = fifo_results
    assert f"{case}/directory" in results, f"{case}: the load hung: the FIFO was opened"
    r = results[f"{case}/directory"]
    assert r["result"].startswith("UnsafeFileError: Not allowed: "), r


@pytest.mark.parametrize("kind", ["external_link", "external_storage", "virtual"])
def test_hdf5_redirections_to_real_files_read_nothing(kind, tmp_path):
    """With readable targets holding data of the right shape, the weights stay unchanged."""
    model = hostile.small_model()
    shape = model.weights[0].shape
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["x"] = np.full(shape, 7.0, "float32")
    raw = tmp_path / "secret.bin"
    raw.write_bytes(np.full(shape, 7.0, "float32").tobytes())
    target = raw if kind == "external_storage" else secret
    path = hostile.hostile_h5(tmp_path / "w.weights.h5", model, kind, target)
    before = [w.numpy() for w in model.weights]
    with pytest.raises(UnsafeFileError, match=_H5_KINDS[kind]):
        model.load_weights(path)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))


# =========================================================================== point 3: no bombs

GiB = 2 ** 30


@pytest.fixture(scope="module")
def bomb_results(tmp_path_factory):
    """Every bomb loaded in one child: {case: report with the result and the peak RSS
    above the baseline (MiB)}."""
    d = tmp_path_factory.mktemp("bombs")
    model = hostile.small_model()
    first = hostile.first_weight_path(model)
    cases = {
        # HDF5: declared sizes never read unless a weight of that shape asks for them.
        "h5_8gib_unused_group": ("load_weights", hostile.h5_with_dataset(
            d / "a.weights.h5", model, "junk/vars/0", (2 * GiB,), fill=False)),
        "h5_8gib_unknown_layer": ("load_weights", hostile.h5_with_dataset(
            d / "b.weights.h5", model, "layers/zzz/vars/0", (2 * GiB,), fill=False)),
        "h5_8gib_at_weight": ("load_weights", hostile.h5_with_dataset(
            d / "c.weights.h5", model, first, (2 * GiB,), fill=False)),
        "h5_string_at_weight": ("load_weights", hostile.h5_with_dataset(
            d / "d.weights.h5", model, first, tuple(model.weights[0].shape), dtype="S8")),
        "h5_huge_chunks": ("load_weights", hostile.h5_with_big_chunks(
            d / "e.weights.h5", model)),
        # zip members decompressing to gigabytes from a few megabytes.
        "zip_config_3gib": ("load_model", hostile.archive_with(
            d / "f.keras", model, config_json=("zeros", 3 * GiB))),
        "zip_weights_3gib": ("load_model", hostile.archive_with(
            d / "g.keras", model, model_weights_h5=("zeros", 3 * GiB))),
        "zip_weights_5gib_keras_rule": ("load_model", hostile.archive_with(
            d / "h.keras", model, model_weights_h5=("zeros", 5 * GiB))),
        "zip_weights_3gib_load_weights": ("load_weights", hostile.archive_with(
            d / "i.keras", model, model_weights_h5=("zeros", 3 * GiB))),
        "zip_config_lies_about_size": ("load_model", hostile.archive_with(
            d / "j.keras", model, config_json=("lie", bytes(256 * 2 ** 20), 1000))),
        "zip_many_members": ("load_model", hostile.many_members(
            d / "k.keras", MAX_ZIP_MEMBERS + 1)),
        # A config whose weights the file cannot hold: Embedding(2**28, 16) is 16 GiB.
        "config_weight_bomb": ("load_model", hostile.archive_with_config(
            d / "l.keras", model, _embedding_bomb_config())),
        # .npz headers declaring 8 GiB / object arrays.
        "npz_8gib_header": ("load_weights", _npz_with_header(
            d / "m.weights.npz", model, "<f4", (2 * GiB,))),
        "npz_object_dtype": ("load_weights", _npz_with_header(
            d / "n.weights.npz", model, "|O", tuple(model.weights[0].shape))),
    }
    reports, finished = run_isolated(f'''
        import os
        os.environ["KERAS_BACKEND"] = "numpy"
        import fastmask, hostile
        model = hostile.small_model()
        fastmask.models.load_model(hostile.archive_with({str(d / "warm.keras")!r}, model))
        baseline = rss_mib()
        for case, (how, path) in {cases!r}.items():
            result, unchanged = hostile.load_outcome(model, how, path)
            report(case=case, result=result, rss=rss_mib() - baseline, unchanged=unchanged)
    ''', timeout=300)
    assert finished, "a bomb case hung"
    return {r["case"]: r for r in reports}


def _embedding_bomb_config():
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "bomb", "trainable": True, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 4], "dtype": "int32", "name": "ids"}},
                {"module": "keras.layers", "class_name": "Embedding", "registered_name": None,
                 "config": {"name": "emb", "input_dim": 2 ** 28, "output_dim": 16},
                 "build_config": {"input_shape": [None, 4]}}]}}


def _npz_with_header(path, model, descr, shape):
    """A `.weights.npz` whose first member's `.npy` header declares `descr`, `shape`
    (followed by a few bytes of data only); the other members are genuine."""
    import io
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:
        for i, w in enumerate(model.weights):
            buf = io.BytesIO()
            if i == 0:
                header = {"descr": descr, "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(buf, header)
                buf.write(bytes(64))
            else:
                np.lib.format.write_array(buf, w.numpy())
            zf.writestr(f"w{i:05d}.npy", buf.getvalue())
    return str(path)


_BOMBS = {
    "h5_8gib_unused_group": "loaded",
    "h5_8gib_unknown_layer": "WeightsFileError: .* has no place for: 'layers/zzz/vars'",
    "h5_8gib_at_weight": "WeightsFileError: .* holds shape \\(2147483648,\\)",
    "h5_string_at_weight": "WeightsFileError: .* is not numeric \\(dtype \\|S8\\)",
    "h5_huge_chunks": "UnsafeFileError: Not allowed: .* has chunks of 64.00 MiB for 192 B",
    "zip_config_3gib": "UnsafeFileError: Not allowed: ZIP member 'config.json' .* declares "
                       "3.00 GiB .* over the config limit of 32.00 MiB",
    "zip_weights_3gib": "UnsafeFileError: Not allowed: ZIP member 'model.weights.h5' .* "
                        "declares 3.00 GiB .* over the weights limit of this model",
    "zip_weights_5gib_keras_rule": "UnsafeFileError: Not allowed: ZIP member "
                                   "'model.weights.h5' .* declares 5.00 GiB but only .* are "
                                   "stored on disk; refusing to load a potential "
                                   "decompression bomb.",
    "zip_weights_3gib_load_weights": "UnsafeFileError: Not allowed: ZIP member "
                                     "'model.weights.h5' .* declares 3.00 GiB",
    "zip_config_lies_about_size": "ValueError: .* is corrupt: reading 'config.json' failed",
    "zip_many_members": f"UnsafeFileError: .* lists {MAX_ZIP_MEMBERS + 1:,} zip members, over "
                        f"the limit of {MAX_ZIP_MEMBERS:,}",
    "config_weight_bomb": "UnsafeFileError: Building the model of .* would allocate more than "
                          ".* weight 'embeddings' of layer 'emb' \\(shape \\(268435456, 16\\)\\) "
                          "alone asks for 17,179,869,184 bytes",
    "npz_8gib_header": "ValueError: Weight .* has shape \\(3, 16\\) but the file holds shape "
                       "\\(2147483648,\\)",
    "npz_object_dtype": "ValueError: Weight .* is not numeric \\(dtype object\\)",
}


@pytest.mark.parametrize("case", sorted(_BOMBS))
def test_bombs_are_refused_with_bounded_memory(case, bomb_results):
    import re
    r = bomb_results[case]
    assert re.match(_BOMBS[case], r["result"], re.S), r["result"]
    assert r["rss"] < RSS_BOUND_MIB, f"{case}: peak RSS grew by {r['rss']:.0f} MiB"
    assert r["unchanged"] or r["result"] == "loaded"


# =========================================================================== point 8: swaps

def _swap_model():
    L = fastmask.layers
    return fastmask.Sequential([fastmask.Input((7, 5)), L.LSTM(16), L.Dense(3)])


@pytest.mark.parametrize("how", ["set_weights", "load_weights"])
def test_weights_swapped_while_predicting_give_old_or_new_outputs(how, tmp_path):
    model = _swap_model()
    rng = np.random.default_rng(3)
    sets = [[rng.standard_normal(w.shape).astype("float32") for w in model.weights]
            for _ in range(2)]
    x = rng.standard_normal((24, 7, 5)).astype("float32")
    expected = []
    files = []
    for i, weights in enumerate(sets):
        model.set_weights(weights)
        expected.append(model.predict(x, verbose=0))
        files.append(str(tmp_path / f"{i}.weights.h5"))
        model.save_weights(files[-1])
    assert not np.array_equal(expected[0], expected[1])
    stop = threading.Event()
    errors, seen = [], [0, 0]

    def writer():
        i = 0
        while not stop.is_set():
            if how == "set_weights":
                model.set_weights(sets[i % 2])
            else:
                model.load_weights(files[i % 2])
            i += 1

    def reader(n):
        for _ in range(n):
            out = model.predict(x, verbose=0)
            matches = [np.array_equal(out, e) for e in expected]
            if not any(matches):
                errors.append(out)
                return
            seen[matches.index(True)] += 1

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader, args=(60,)) for _ in range(3)]
    w.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    w.join()
    assert not errors, "an output mixed old and new weights"
    assert sum(seen) == 180


def test_weight_swap_lock_is_reset_in_forked_children():
    """A fork while another thread holds the swap lock leaves the child usable."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    reports, finished = run_isolated('''
        import os, threading, numpy as np
        import fastmask
        from fastmask.core import weight_swap
        model = fastmask.Sequential([fastmask.Input((3,)), fastmask.layers.Dense(2)])
        held, release = threading.Event(), threading.Event()
        def hold():
            with weight_swap.reading():
                held.set()
                release.wait()
        t = threading.Thread(target=hold)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            model.set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
            os._exit(0 if float(model(np.ones((1, 3), "float32"))[0, 0]) == 3.0 else 1)
        _, status = os.waitpid(pid, 0)
        release.set()
        t.join()
        report(status=os.waitstatus_to_exitcode(status))
    ''', timeout=60)
    assert finished and reports == [{"status": 0}]


# ------------------------------------------- custom `load_own_variables` (Keras's walk)

class _ScaledLoader(fastmask.layers.Layer):
    """A layer loading its own weights its own way (Keras's `load_own_variables` hook):
    the file holds the kernel times 2."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="zeros",
                                      name="kernel")

    def call(self, x):
        return x @ self.kernel

    def save_own_variables(self, store):
        store["0"] = np.asarray(self.kernel) * 2

    def load_own_variables(self, store):
        self.kernel.assign(np.asarray(store["0"]) / 2)


def _custom_loader_model():
    L = fastmask.layers
    return fastmask.Sequential([fastmask.Input((3,)), _ScaledLoader(name="scaled"),
                                L.Dense(4, name="d")])


def test_custom_loader_loads_and_changes_nothing_when_the_file_fails(tmp_path):
    """A custom `load_own_variables` assigns through `Variable.assign`: its values land with
    the rest at the end, and when another layer's weights do not fit, not at all."""
    source = _custom_loader_model()
    rng = np.random.default_rng(5)
    source.set_weights([rng.standard_normal(w.shape).astype("float32")
                        for w in source.weights])
    source.save_weights(tmp_path / "w.weights.h5")
    target = _custom_loader_model()
    target.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:   # Dense's kernel: wrong shape
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", data=np.zeros((3, 4), "float32"))
    fresh = _custom_loader_model()
    before = [np.array(w) for w in fresh.get_weights()]
    with pytest.raises(WeightsFileError, match="Nothing was loaded"):
        fresh.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_custom_loader_cannot_read_more_values_than_the_model_holds(tmp_path):
    """A custom loader may read a value of any shape, but never one holding more values
    than all the model's weights (here 8 MiB declared for a 22-value model)."""
    model = _custom_loader_model()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/__scaled_loader/vars/0"]
        f.create_dataset("layers/__scaled_loader/vars/0", shape=(1 << 21,), dtype="float32")
    with pytest.raises(WeightsFileError, match="more than the model's weights hold together"):
        model.load_weights(tmp_path / "w.weights.h5")
