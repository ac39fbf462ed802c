"""One process of the whole-model benchmark (bench_models.py): build, or time one peer.

    python benchmarks/model_worker.py '<json job>'

A Keras backend is fixed per process, and thread pools are sized when a library
starts, so `bench_models.py` runs every (model, peer, thread count) in a fresh
process of this script and reads the JSON it prints on its last stdout line.
The job's "role":

* "build": Keras on JAX builds the keras-io model (`keras_io_models`) at the job's
  "sizes", perturbs its weights (seeded), saves it as a `.keras` file, and saves the
  inputs of the full batch and Keras-JAX's `predict` of them (the reference).
* "fastmask": `fastmask.models.load_model` + `model.predict`.
* "keras-jax": Keras-JAX `model.predict`, then a jitted `stateless_call`
  ("jax-jit": inputs already on the device, `block_until_ready`: its best case).
* "keras-openvino": Keras-OpenVINO `model.predict`, precision "f32" or "default".
  Keras's OpenVINO backend compiles with `openvino.compile_model(model, "CPU")`
  and no config; this process wraps `openvino.compile_model` (the function the
  backend looks up at each compile) to add {"INFERENCE_NUM_THREADS": t} and, for
  "f32", {"INFERENCE_PRECISION_HINT": "f32"}, and reports the precision and
  thread count the compiled model says it uses.
* "openvino-profile": as "keras-openvino" f32 with {"PERF_COUNT": "YES"}; returns
  OpenVINO's per-node times of one inference of the full batch.
* "fastmask-profile": `fastmask.profile` of the same model and batch.

Threads (set before any library starts, see `thread_env`): OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = t for every peer; plus each library's own
knob: fastmask.set_num_threads(t); XLA's pools sized by PJRT_NPROC=t (read by
XLA's DefaultThreadPoolSize when the CPU client starts) and, at t=1,
--xla_cpu_multi_thread_eigen=false and jax_cpu_enable_async_dispatch=False (else
the calling thread dispatches while a pool thread computes); OpenVINO's INFERENCE_NUM_THREADS=t. Every
timing reports its CPU time / wall time ("cpu_wall": at most t, and lower on a
loaded machine) and its "demand": the time its threads ran or waited in a run
queue / wall time (/proc/self/task/*/schedstat), the number of threads that
wanted a core on average; about 1.0 for one busy thread however loaded the
machine is, so it checks the thread limit where CPU/wall cannot.

Timing follows `fastmask._speed_table.time_impls` (this file imports no fastmask
in the Keras processes, so it carries its own copy of the protocol): a warm-up
call, then the median of 3..30 samples, each looping the call until it lasts
>= 20 ms, the garbage collector off; "busy" = cores other processes used
meanwhile (/proc/stat); a block timed while the machine was contended is
re-timed up to twice and the least disturbed block kept.

Memory: "import_rss_mb" (VmRSS right after importing the library) and
"peak_rss_mb" (VmHWM after the model was loaded and `predict` ran once at every
batch size, before the timing loops, which run with the garbage collector off).
"""
import gc
import json
import math
import os
import resource
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIN_SAMPLE = 0.02
MAX_REPEATS = 30
BUSY = 0.5


def thread_env(peer, threads):
    """Environment variables limiting `peer` ("fastmask", "keras-jax", ...) to `threads`."""
    t = str(threads)
    env = {"OMP_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t}
    if peer == "keras-jax" or peer == "build":
        env["PJRT_NPROC"] = t
        env["JAX_PLATFORMS"] = "cpu"
        if threads == 1:
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    return env


# ------------------------------------------------------------------ measurement
def _status_mb(field):
    """A memory field of /proc/self/status ("VmRSS", "VmHWM") in MB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mb():
    return _status_mb("VmRSS")


def _peak_rss_mb():
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over
    fork + exec, so a child reports at least its parent's RSS at fork time."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds():
    """(CPU seconds of all processes, of this process) or None (no /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def _thread_demand_ns():
    """Nanoseconds this process's threads have run or waited to run (Linux schedstat).

    Summed over threads and divided by the wall time, it is the number of threads
    that wanted a CPU on average ("demand"): about 1.0 for one busy thread whatever
    the machine's load (a loaded machine lengthens the wait, not the sum). None
    without /proc/self/task/*/schedstat.
    """
    total = 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                run_ns, wait_ns = f.read().split()[:2]
            total += int(run_ns) + int(wait_ns)
        except (OSError, ValueError):
            pass
    return total


def _call_time(fn, inner=1):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _block(fn, inner, repeats):
    """Samples of one block, gc off, with what the machine and this process did meanwhile."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    cpu0, demand0, t0 = _cpu_seconds(), _thread_demand_ns(), time.perf_counter()
    try:
        samples = [_call_time(fn, inner) for _ in range(repeats)]
    finally:
        if enabled:
            gc.enable()
    wall = time.perf_counter() - t0
    cpu1, demand1 = _cpu_seconds(), _thread_demand_ns()
    busy = cpu_wall = demand = None
    if cpu0 is not None and cpu1 is not None and wall > 0:
        own = cpu1[1] - cpu0[1]
        busy = min(max(0.0, ((cpu1[0] - cpu0[0]) - own) / wall), float(os.cpu_count() or 1))
        cpu_wall = own / wall
    if demand0 is not None and demand1 is not None and wall > 0:
        demand = (demand1 - demand0) / 1e9 / wall
    return samples, busy, cpu_wall, demand


def _contended(busy, threads):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return busy is not None and busy > max(0, cores - threads) + BUSY


def time_call(fn, budget, threads, retries=2):
    """{"time" (median s), "best", "samples", "inner", "busy", "cpu_wall", "demand"}."""
    start = time.perf_counter()
    t = _call_time(fn)                       # warm-up
    if t < MIN_SAMPLE:
        t = min(t, _call_time(fn))
    inner = 1 if t >= MIN_SAMPLE else min(10 ** 6, math.ceil(MIN_SAMPLE / max(t, 1e-9)))
    sample = inner * t
    left = budget - (time.perf_counter() - start)
    repeats = 1 if t > budget else max(3, min(MAX_REPEATS, int(left / sample)))
    samples, busy, cpu_wall, demand = _block(fn, inner, repeats)
    for _ in range(retries if sample * repeats < 5.0 else 0):
        if not _contended(busy, threads):
            break
        again = _block(fn, inner, repeats)
        if again[1] is not None and busy is not None and again[1] < busy:
            samples, busy, cpu_wall, demand = again
    return {"time": float(np.median(samples)), "best": float(min(samples)), "samples": repeats,
            "inner": inner, "busy": busy, "cpu_wall": cpu_wall, "demand": demand}


# ------------------------------------------------------------------ helpers
def _flat(y):
    if isinstance(y, dict):
        return [np.asarray(y[k]) for k in sorted(y)]
    if isinstance(y, (list, tuple)):
        return [a for v in y for a in _flat(v)]
    return [np.asarray(y)]


def _load_arrays(path):
    with np.load(path) as data:
        return [data[f"a{i}"] for i in range(len(data.files))]


def _save_arrays(path, arrays):
    np.savez(path, **{f"a{i}": np.asarray(a) for i, a in enumerate(arrays)})


def _max_abs(got, want):
    """max |got - want| over the outputs (inf on a shape mismatch, nan if any NaN)."""
    if len(got) != len(want):
        return float("inf")
    worst = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return float("inf")
        g, w = np.atleast_1d(g), np.atleast_1d(w)
        for i in range(0, len(g), 64):       # float64 differences, 64 rows at a time
            d = np.abs(g[i:i + 64].astype(np.float64) - w[i:i + 64])
            if d.size:
                worst = max(worst, float(np.max(d)))
    return worst


def _scale(arrays):
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=1.0)


def _batch(inputs, b, as_list):
    parts = [np.ascontiguousarray(a[:b]) for a in inputs]
    return parts if as_list else parts[0]


def _import_models_package():
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import keras_io_models
    return keras_io_models


# ------------------------------------------------------------------ roles
def build(job):
    """Build the model in Keras (JAX), save it, its inputs and Keras-JAX's outputs."""
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
    models = _import_models_package()
    code = models.load(job["module"], "keras")
    keras.utils.set_random_seed(job.get("seed", 0))
    model = code.build_model(job["sizes"])
    rng = np.random.default_rng(job.get("seed", 0))
    # Perturb every weight so that zero biases, unit gammas, etc. are exercised.
    model.set_weights([w + job.get("noise", 0.05) * rng.standard_normal(w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    inputs = code.make_inputs(job["full_batch"], np.random.default_rng(job.get("seed", 0)),
                              job["sizes"])
    flat_in = inputs if isinstance(inputs, list) else [inputs]
    y = model.predict(inputs, batch_size=job["full_batch"], verbose=0)
    tmp = job["model_path"] + ".tmp.keras"
    model.save(tmp)
    _save_arrays(job["inputs_path"], flat_in)
    _save_arrays(job["reference_path"], _flat(y))
    os.replace(tmp, job["model_path"])      # the model file marks a complete build
    return {"params": int(model.count_params()),
            "inputs": [f"{a.dtype}{list(a.shape)}" for a in flat_in],
            "outputs": [f"{a.dtype}{list(a.shape)}" for a in _flat(y)]}


def _setup(job):
    """(import seconds, RSS after import): import the peer's library, limited to the job's threads."""
    peer, t = job["role"], job["threads"]
    t0 = time.perf_counter()
    if peer.startswith("fastmask"):
        if os.path.isdir(os.path.join(ROOT, "fastmask")) and ROOT not in sys.path:
            sys.path.insert(0, ROOT)   # the checkout (built in place) this file belongs to
        import fastmask
        fastmask.set_num_threads(t)
    else:
        os.environ["KERAS_BACKEND"] = "jax" if peer == "keras-jax" else "openvino"
        import keras  # noqa: F401
        if peer == "keras-jax" and t == 1:
            # JAX's asynchronous CPU dispatch runs computations on a second thread while
            # the caller's thread dispatches (1.5 threads busy at batch 1): run on one.
            import jax
            jax.config.update("jax_cpu_enable_async_dispatch", False)
        elif peer != "keras-jax":
            _configure_openvino(job)
    return time.perf_counter() - t0, _rss_mb()


def _configure_openvino(job):
    """Make Keras's OpenVINO backend compile with the job's threads/precision/profiling."""
    import openvino
    extra = {"INFERENCE_NUM_THREADS": job["threads"]}
    if job.get("precision", "f32") == "f32":
        extra["INFERENCE_PRECISION_HINT"] = "f32"
    if job["role"] == "openvino-profile":
        extra["PERF_COUNT"] = "YES"
    original = openvino.compile_model

    def compile_model(model, device_name="AUTO", config=None):
        return original(model, device_name, dict(config or {}, **extra))
    compile_model.__wrapped__ = original
    openvino.compile_model = compile_model


def _load(job):
    models = _import_models_package()
    if job["role"].startswith("fastmask"):
        import fastmask
        code = models.load(job["module"], "fastmask")
        return fastmask.models.load_model(job["model_path"], custom_objects=code.custom_objects)
    import keras
    code = models.load(job["module"], "keras")
    return keras.saving.load_model(job["model_path"], custom_objects=code.custom_objects)


def run_peer(job):
    """Load the model, predict at every batch size (peak RSS), check the outputs, time them."""
    out = {"role": job["role"], "threads": job["threads"], "batches": {}}
    out["import_s"], out["import_rss_mb"] = _setup(job)
    inputs = _load_arrays(job["inputs_path"])
    as_list = len(inputs) > 1
    t0 = time.perf_counter()
    try:
        model = _load(job)
    except Exception as exc:  # noqa: BLE001  (reported: "not supported yet")
        out["load_error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        return out
    out["load_s"] = time.perf_counter() - t0
    results = out["batches"]
    for b in job["batches"]:        # what a user's process holds: model + one predict each
        results[str(b)] = {}
        try:
            model.predict(_batch(inputs, b, as_list), batch_size=b, verbose=0)
        except Exception as exc:  # noqa: BLE001
            results[str(b)]["error"] = f"predict: {type(exc).__name__}: {exc}".replace(
                "\n", " ")[:300]
    out["peak_rss_mb"] = _peak_rss_mb()
    reference = _load_arrays(job["reference_path"])
    for b in job["batches"]:
        row = results[str(b)]
        if "error" in row:
            continue
        x = _batch(inputs, b, as_list)
        row.update(_check(_flat(model.predict(x, batch_size=b, verbose=0)), reference, b, job))
        if "error" not in row:
            row.update(time_call(lambda: model.predict(x, batch_size=b, verbose=0),
                                 job["budget"], job["threads"]))
    if job["role"] == "keras-openvino":
        out.update(_openvino_properties(model))
    if job["role"] == "fastmask":
        out["threads_seen"] = _fastmask_threads()
    if job["role"] == "keras-jax":
        out["jit"] = _time_jit(model, inputs, reference, job)
    return out


def _check(y, reference, b, job):
    """Errors of outputs `y` at batch `b`: against Keras-JAX and (peers) fastmask's outputs.

    fastmask's own outputs are saved for the peers. A difference above the job's
    tolerance x max(1, max |reference|) is an "error": the call is not timed.
    """
    ref = [r[:b] for r in reference]
    row = {"err_vs_jax": _max_abs(y, ref), "scale": _scale(ref)}
    path = job.get("fastmask_outputs") and job["fastmask_outputs"].format(batch=b)
    if path and job["role"] == "fastmask":
        _save_arrays(path, y)
    elif path and os.path.exists(path):
        row["err_vs_fastmask"] = _max_abs(y, _load_arrays(path))
    tol = job.get("tolerance")
    worst = row.get("err_vs_fastmask", row["err_vs_jax"])
    against = "fastmask" if "err_vs_fastmask" in row else "Keras-JAX"
    if tol is not None and not (worst is not None and worst <= tol * max(1.0, row["scale"])):
        row["error"] = (f"output differs from {against}'s: max |diff| {worst:.3g} > {tol:g} x "
                        f"max(1, {row['scale']:.3g}); not timed")
    return row


def _openvino_properties(model):
    compiled = getattr(model, "ov_compiled_model", None)
    if compiled is None:
        return {}
    props = {}
    for key in ("INFERENCE_PRECISION_HINT", "INFERENCE_NUM_THREADS", "NUM_STREAMS"):
        try:
            value = compiled.get_property(key)
            props[key] = value.to_string() if hasattr(value, "to_string") else str(value)
        except Exception:  # noqa: BLE001
            pass
    import openvino
    props["openvino"] = openvino.__version__ if hasattr(openvino, "__version__") else "?"
    return {"ov_properties": props}


def _fastmask_threads():
    import fastmask
    from fastmask.kernels import _threads
    return {"fastmask": fastmask.get_num_threads(),
            "blas": [info[3] for info in _threads.blas_info()]}


def _time_jit(model, inputs, reference, job):
    """A jitted `stateless_call` per batch size: {batch: timing or error}."""
    import jax
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]

    @jax.jit
    def forward(tv, ntv, x):
        y, _ = model.stateless_call(tv, ntv, x, training=False)
        return y

    out = {}
    for b in job["batches"]:
        row = out[str(b)] = {}
        x = jax.device_put(_batch(inputs, b, len(inputs) > 1))
        try:
            y = _flat(jax.block_until_ready(forward(tv, ntv, x)))
        except Exception as exc:  # noqa: BLE001
            row["error"] = f"jit: {type(exc).__name__}: {exc}".replace("\n", " ")[:300]
            continue
        row.update(_check(y, reference, b, dict(job, role="jax-jit")))
        del y
        if "error" in row:
            continue
        row.update(time_call(lambda: jax.block_until_ready(forward(tv, ntv, x)), job["budget"],
                             job["threads"]))
    return out


def openvino_profile(job):
    """OpenVINO's per-node times (PERF_COUNT, f32) of one inference of the full batch."""
    out = {"role": job["role"], "threads": job["threads"]}
    _setup(job)
    inputs = _load_arrays(job["inputs_path"])
    model = _load(job)
    b = job["batches"][-1]
    x = _batch(inputs, b, len(inputs) > 1)
    model.predict(x, batch_size=b, verbose=0)            # compiles (with PERF_COUNT)
    compiled = model.ov_compiled_model
    request = compiled.create_infer_request()
    flat = x if isinstance(x, list) else [x]
    # OpenVINO's CPU counters are running means over the request's inferences (first,
    # slow calls included): the mean of calls warm+1..warm+k is (n A_n - m A_m) / k.
    warm, k = 3, 5
    for _ in range(warm):
        request.infer(flat)
    before = _ov_node_means(request)
    t0 = time.perf_counter()
    for _ in range(k):
        request.infer(flat)
    out["infer_s"] = (time.perf_counter() - t0) / k
    after = _ov_node_means(request)
    n = warm + k
    nodes = []
    for name, (info, mean_real, mean_cpu) in after.items():
        old_real, old_cpu = before.get(name, (None, 0.0, 0.0))[1:]
        nodes.append({"name": name, "type": info.node_type, "exec": info.exec_type,
                      "real_ms": max(0.0, n * mean_real - warm * old_real) / k * 1e3,
                      "cpu_ms": max(0.0, n * mean_cpu - warm * old_cpu) / k * 1e3,
                      "status": str(info.status).rsplit(".", 1)[-1]})
    out["nodes"] = nodes
    out.update(_openvino_properties(model))
    return out


def _ov_node_means(request):
    """{node name: (info, mean real seconds, mean CPU seconds)} of an infer request."""
    return {info.node_name: (info, info.real_time.total_seconds(), info.cpu_time.total_seconds())
            for info in request.get_profiling_info()}


def fastmask_profile(job):
    """fastmask's per-layer profile of the full batch (text and rows)."""
    out = {"role": job["role"], "threads": job["threads"]}
    _setup(job)
    inputs = _load_arrays(job["inputs_path"])
    import fastmask
    model = _load(job)
    b = job["batches"][-1]
    prof = fastmask.profile(model, _batch(inputs, b, len(inputs) > 1), batch_size=b,
                            print_fn=None)
    out["text"] = str(prof)
    out["total_s"] = prof.total
    return out


ROLES = {"build": build, "fastmask": run_peer, "keras-jax": run_peer,
         "keras-openvino": run_peer, "openvino-profile": openvino_profile,
         "fastmask-profile": fastmask_profile}


def main(argv):
    job = json.loads(argv[1])
    try:
        result = ROLES[job["role"]](job)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:400]}
    sys.stdout.flush()
    print("\n" + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
