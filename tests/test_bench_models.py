"""The whole-model benchmark (benchmarks/bench_models.py, model_worker.py, keras_io_models.py).

The timing runs themselves are benchmark rows, not tests; here: the model code (the
tests' keras_io/, built over fastmask), the worker's measurements (thread demand, output checks,
peak RSS) on a tiny model in a real subprocess, and the tables on fake results.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastmask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import bench_models  # noqa: E402
import keras_io_models  # noqa: E402
import model_worker  # noqa: E402


# ------------------------------------------------------------------ the model files
def test_benchmark_uses_the_tests_model_code():
    """One copy of the keras-io code: the benchmark reads tests/keras_io/."""
    for name in keras_io_models.NAMES:
        assert keras_io_models.source(name) == open(os.path.join(
            ROOT, "tests", "keras_io", f"{name}.py")).read()
    for spec in bench_models.KERAS_IO_MODELS:
        assert spec.module in keras_io_models.NAMES
        assert set(spec.quick) <= set(spec.sizes)
        assert set(keras_io_models.keras_io.module(spec.module).BUILD_ARGS) <= set(spec.sizes)


@pytest.mark.parametrize("name", keras_io_models.NAMES)
def test_fastmask_classes(name):
    code = keras_io_models.load(name, "fastmask")
    assert code.keras is fastmask
    for cls in code.custom_objects.values():
        assert issubclass(cls, fastmask.layers.Layer)
        assert cls.__name__ not in fastmask.core.registry.__dict__.get("_BUILTINS", {})


def test_load_rejects_unknown_names():
    with pytest.raises(ValueError, match="Received: library="):
        keras_io_models.load("addition_rnn", "torch")
    with pytest.raises(ValueError, match="Received: name="):
        keras_io_models.source("resnet")
    with pytest.raises(ValueError, match="Received: name="):
        keras_io_models.load("timeseries_anomaly_detection")


# ------------------------------------------------------------------ measurements
def test_demand_counts_threads_wanting_a_core():
    def spin():
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.01:
            pass
    busy = model_worker.time_call(spin, budget=0.3, threads=1)
    asleep = model_worker.time_call(lambda: time.sleep(0.01), budget=0.3, threads=1)
    if busy["demand"] is None:
        pytest.skip("no /proc/self/task/*/schedstat here")
    assert 0.8 < busy["demand"] < 1.3      # one runnable thread, whatever the load
    assert asleep["demand"] < 0.3
    assert busy["samples"] >= 3 and busy["time"] > 0


def test_max_abs():
    a = np.arange(300, dtype=np.float32).reshape(100, 3)
    b = a.copy()
    b[77, 1] += 0.25
    assert model_worker._max_abs([a], [b]) == 0.25
    assert model_worker._max_abs([a], [b[:50]]) == float("inf")
    assert model_worker._max_abs([a, a], [a]) == float("inf")


def test_thread_env():
    env = model_worker.thread_env("keras-jax", 1)
    assert env["PJRT_NPROC"] == "1" and "multi_thread_eigen=false" in env["XLA_FLAGS"]
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    env = model_worker.thread_env("fastmask", 2)
    assert env["OMP_NUM_THREADS"] == "2" and "PJRT_NPROC" not in env


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny masked BiLSTM from the keras-io file, saved by fastmask, with its inputs."""
    d = tmp_path_factory.mktemp("bench_models")
    code = keras_io_models.load("bidirectional_lstm_imdb", "fastmask")
    sizes = dict(max_features=50, embed_dim=4, units=3, maxlen=9)
    model = code.build_model(sizes)
    x = code.make_inputs(6, np.random.default_rng(0), sizes)
    y = model.predict(x, batch_size=6, verbose=0)
    model.save(str(d / "model.keras"))
    model_worker._save_arrays(str(d / "inputs.npz"), [x])
    model_worker._save_arrays(str(d / "reference.npz"), [y])
    wrong = y.copy()
    wrong[2, 0] += 0.5
    model_worker._save_arrays(str(d / "wrong.npz"), [wrong])
    return d


def _run_fastmask_worker(d, reference, **extra):
    job = dict(role="fastmask", module="bidirectional_lstm_imdb",
               model_path=str(d / "model.keras"), inputs_path=str(d / "inputs.npz"),
               reference_path=str(d / reference), batches=[1, 6], budget=0.1, threads=1,
               tolerance=1e-4, fastmask_outputs=str(d / "fm-b{batch}.npz"), **extra)
    env = dict(os.environ, **model_worker.thread_env("fastmask", 1))
    proc = subprocess.run([sys.executable, model_worker.__file__, json.dumps(job)],
                          capture_output=True, text=True, env=env, timeout=600)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_worker_times_fastmask_on_one_thread(tiny_model):
    out = _run_fastmask_worker(tiny_model, "reference.npz")
    assert out["threads_seen"]["fastmask"] == 1 and set(out["threads_seen"]["blas"]) == {1}
    assert sorted(out["batches"]) == ["1", "6"]
    for row in out["batches"].values():
        assert "error" not in row and row["time"] > 0 and row["err_vs_jax"] < 1e-6
        if row["demand"] is not None:
            assert row["demand"] < 1.3
    assert out["peak_rss_mb"] >= out["import_rss_mb"] > 0
    assert os.path.exists(tiny_model / "fm-b6.npz")       # the peers' reference


def test_worker_refuses_to_time_wrong_outputs(tiny_model):
    out = _run_fastmask_worker(tiny_model, "wrong.npz")
    assert "error" not in out["batches"]["1"]               # row 2 is not in batch 1
    row = out["batches"]["6"]
    assert "output differs" in row["error"] and "time" not in row
    assert row["err_vs_jax"] == pytest.approx(0.5, abs=1e-6)


def test_worker_reports_a_model_fastmask_cannot_load(tiny_model, tmp_path):
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    job = dict(role="fastmask", module="bidirectional_lstm_imdb",
               model_path=str(tmp_path / "model.keras"),
               inputs_path=str(tiny_model / "inputs.npz"),
               reference_path=str(tiny_model / "reference.npz"), batches=[1], budget=0.1,
               threads=1)
    proc = subprocess.run([sys.executable, model_worker.__file__, json.dumps(job)],
                          capture_output=True, text=True, timeout=600)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["load_error"].startswith("ValueError")


# ------------------------------------------------------------------ the tables
def _rows(model, t, times, busy=None, errors=None):
    return [dict(model=model, batch=b, threads=t, impl=impl, time=times[impl] * b,
                 busy=(busy or {}).get(impl, 0.0), cpu_wall=0.9, demand=1.0,
                 err_vs_fastmask=1e-7, err_vs_jax=2e-7, error=(errors or {}).get(impl))
            for b in (1, 32) for impl in times]


def _procs(model, t, precision="f32", rss=None):
    rss = rss or {"fastmask": 100.0, "ov-f32": 300.0, "ov-default": 300.0, "jax": 400.0}
    out = []
    for p in ("fastmask", "ov-f32", "ov-default", "jax"):
        props = ({"INFERENCE_PRECISION_HINT": "f32" if p == "ov-f32" else precision,
                  "INFERENCE_NUM_THREADS": str(t), "NUM_STREAMS": "1"}
                 if p.startswith("ov") else None)
        out.append(dict(model=model, threads=t, process=p, error=None, import_s=0.3,
                        import_rss_mb=60.0, load_s=0.1, peak_rss_mb=rss[p], ov_properties=props,
                        threads_seen=None))
    return out


TIMES = {"fastmask": 1.0, "ov-f32": 1.2, "ov-default": 0.9, "jax": 2.0, "jax-jit": 1.6}


def test_fastest_f32_peer_and_targets():
    data = {"rows": _rows("bilstm", 1, TIMES) + _rows("transformer", 1, TIMES),
            "processes": _procs("bilstm", 1, precision="bf16") + _procs("transformer", 1),
            "loadavg": [1.0, 1.5], "threads": [1]}
    rows = {(r["model"], r["batch"]): r for r in bench_models.analyse_keras_io(data, cores=2)}
    # bilstm: OpenVINO's default ran in bf16: not an f32 peer; fastest f32 = ov-f32 at 1.2x
    assert rows["bilstm", 1]["fastest"] == ("ov-f32", pytest.approx(1.2))
    assert rows["bilstm", 1]["target"] == 1.5 and rows["bilstm", 1]["ok"] is False
    # transformer: ov-default computed in f32, so it counts: 0.9x
    assert rows["transformer", 32]["fastest"] == ("ov-default", pytest.approx(0.9))
    assert rows["transformer", 32]["target"] == 1.0 and rows["transformer", 32]["ok"] is False


def test_table_fits_100_columns_and_marks_contention():
    times = dict(TIMES, **{"ov-default": 1.3})
    data = {"rows": _rows("seq2seq", 2, times, busy={"jax": 1.9}),
            "processes": _procs("seq2seq", 2, rss={"fastmask": 500.0, "ov-f32": 300.0,
                                                   "ov-default": 300.0, "jax": 400.0}),
            "loadavg": [3.0, 4.0], "threads": [2]}
    text = bench_models.format_keras_io(data, cores=2)
    assert max(len(line) for line in text.splitlines()) <= 100
    line = next(ln for ln in text.splitlines() if ln.startswith("seq2seq") and " 32 " in ln)
    assert "2.00x*" in line and "1.20x ov-f32" in line and ">=1.5x FAIL" in line
    assert "1.66x" not in line and "1.60x " in line            # jax-jit, not contended
    rss = next(ln for ln in text.splitlines() if ln.startswith("seq2seq") and "fastmask" in ln)
    assert "FAIL 1.67" in rss                                 # 500 MB vs the leanest 300 MB
    assert "load average 3.0..4.0" in text and "timed while other processes" in text


def test_table_without_fastmask_shows_peer_times_and_the_reason():
    rows = _rows("addition", 1, TIMES, errors={"fastmask": "not supported yet: TypeError: x"})
    for r in rows:
        if r["impl"] == "fastmask":
            r["time"] = None
    procs = _procs("addition", 1)
    procs[0].update(error="not supported yet: TypeError: x", peak_rss_mb=None)
    data = {"rows": rows, "processes": procs, "loadavg": [], "threads": [1]}
    text = bench_models.format_keras_io(data, cores=2)
    line = next(ln for ln in text.splitlines() if ln.startswith("addition") and " 32 " in ln)
    assert "n/s" in line and "38.4s" in line and "n/a" in line
    assert "addition fastmask: not supported yet: TypeError: x" in text
    assert "targets: 0 ok, 0 FAIL, 2 n/a" in text
