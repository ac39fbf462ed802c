"""Family "models": end-to-end `predict` of a Keras-trained masked model.

The model (issue 6's first model), built in Keras 3 with random weights and
converted with `fastmask.models.from_keras`:

    Embedding(1000, 64, mask_zero=True) -> Bidirectional(LSTM(64, return_sequences=True))
        -> GlobalAveragePooling1D -> Dense(8)

on ids (64, 100), post-padded, lengths 20..100; `model.predict(ids, batch_size=64,
verbose=0)` on both sides (Keras's data adapter and fastmask's batching
included: what a serving loop calls).

Peers:
* "keras": Keras 3 on its NumPy backend, in this process.
* "keras-torch": Keras 3 on its torch backend (CPU). A Keras backend is fixed
  per process, so this peer is a server process (started on its first call,
  fed the same `.keras` file and ids) that runs `model.predict` each time the
  peer is called: the measured time is the real call plus a pipe round trip
  (~0.1 ms). The server sets `torch.set_num_threads` to the harness's thread
  count for every call; its first answer is checked against fastmask's
  predictions (1e-4), so the peer computes the same thing.

Six keras-io model shapes (issue 16), each timed in its own processes
(`run_keras_io`, printed by `report.py --family models` after the main table,
or alone with `python benchmarks/bench_models.py`):

    bilstm       bidirectional_lstm_imdb, masked (mask_zero), batch 256
    transformer  text_classification_with_transformer, T 200, batch 1024
    seq2seq      lstm_seq2seq, 256 units, one-hot characters, T 16 -> 59, batch 256
    mini-gpt     text_generation_with_miniature_gpt, 2 heads, 256 dims, 80 tokens,
                 vocabulary 20000, two outputs, batch 32
    ner          ner_transformers (subclassed NERModel), 1 block, T 64, batch 1024
    addition     addition_rnn, LSTM(128) > RepeatVector > LSTM(128), bool, T 7, batch 1024

The model code is `tests/keras_io/` (keras-io, Apache-2.0; the fixes Keras itself
needs to save and reload three of them are listed in those files), reached through
`benchmarks/keras_io_models.py`.
Each model is built once in Keras (JAX backend) with seeded, perturbed random
weights, saved to a `.keras` file with its inputs (made like the example's) and
Keras-JAX's outputs, in a cache directory ($FASTMASK_BENCH_CACHE, default
<tmp>/fastmask-bench-models). Then, per thread count, one fresh process per peer
(`model_worker.py`: thread limits, timing protocol, memory) loads the file and
times `predict` at batch 1, 32 and the full batch:

    fastmask     fastmask.models.load_model + predict (runs first: its outputs are
                 the ones every peer is checked against before it is timed)
    ov-f32       Keras-OpenVINO predict, INFERENCE_PRECISION_HINT "f32"
    ov-default   Keras-OpenVINO predict in OpenVINO's default precision
    jax          Keras-JAX predict
    jax-jit      jax.jit of model.stateless_call, inputs already on the device

A row's ratio is peer time / fastmask time (> 1: fastmask faster); "vs fastest
f32" is the smallest ratio over the f32 peers (ov-default counts when OpenVINO
reports it computed in f32). Targets: >= 1.0x the fastest f32 peer (1.5x for the
recurrent models) at every batch and thread count; fastmask's peak RSS <= the
leanest peer's.
"""
import argparse
import atexit
import dataclasses
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

if __name__ == "__main__":   # run as a script: the checkout's fastmask (built in place) first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fastmask  # noqa: E402
from harness import Case, Target, peer_keras, pytest_params

FAMILY = "models"

_SERVER = r'''
import sys, numpy as np, keras, torch
model = keras.saving.load_model(sys.argv[1])
ids = np.load(sys.argv[2])
batch = int(sys.argv[3])
np.save(sys.argv[4], np.asarray(model.predict(ids, batch_size=batch, verbose=0)))
threads = None
print("ready", flush=True)
for line in sys.stdin:
    t = int(line)
    if t != threads:
        torch.set_num_threads(t)
        threads = t
    model.predict(ids, batch_size=batch, verbose=0)
    print("ok", flush=True)
'''


def build(K, vocab, emb, units):
    inp = K.Input((None,), dtype="int32")
    x = K.layers.Embedding(vocab, emb, mask_zero=True)(inp)
    x = K.layers.Bidirectional(K.layers.LSTM(units, return_sequences=True))(x)
    x = K.layers.GlobalAveragePooling1D()(x)
    return K.Model(inp, K.layers.Dense(8)(x))


class KerasTorchPeer:
    """Callable timing Keras-torch `predict` in a server process (see the module docstring)."""

    def __init__(self, keras_model, ids, batch, expected):
        self.dir = tempfile.TemporaryDirectory(prefix="fastmask-bench-models-")
        self.model_path = os.path.join(self.dir.name, "model.keras")
        keras_model.save(self.model_path)
        self.ids_path = os.path.join(self.dir.name, "ids.npy")
        np.save(self.ids_path, ids)
        self.batch = batch
        self.expected = expected
        self.proc = None

    def start(self):
        out = os.path.join(self.dir.name, "pred.npy")
        env = dict(os.environ, KERAS_BACKEND="torch")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, self.model_path, self.ids_path, str(self.batch), out],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env)
        atexit.register(self.close)
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the Keras-torch server did not start")
        got = np.load(out)
        if not np.allclose(got, self.expected, atol=1e-4, equal_nan=True):
            self.close()
            raise RuntimeError("Keras-torch predictions differ from fastmask's (max |diff| "
                               f"{np.nanmax(np.abs(got - self.expected)):.2e})")

    def __call__(self):
        if self.proc is None:
            self.start()
        self.proc.stdin.write(f"{fastmask.get_num_threads()}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the Keras-torch server stopped")

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:   # noqa: BLE001
                self.proc.kill()
            self.proc = None


def cases(quick=False):
    keras = peer_keras()
    if keras is None:
        return []      # the model is built in Keras (the point of this family)
    B, T, vocab, emb, units = (16, 20, 200, 16, 16) if quick else (64, 100, 1000, 64, 64)
    rng = np.random.default_rng(0)
    k_model = build(keras, vocab, emb, units)
    k_model.set_weights([0.3 * rng.standard_normal(np.shape(w)).astype("float32")
                         for w in k_model.get_weights()])
    model = fastmask.models.from_keras(k_model)
    lengths = rng.integers(max(1, T // 5), T + 1, size=B)
    ids = np.where(np.arange(T)[None, :] < lengths[:, None],
                   rng.integers(1, vocab, size=(B, T)), 0).astype("int32")
    expected = model.predict(ids, batch_size=B, verbose=0)
    np.testing.assert_allclose(expected, k_model.predict(ids, batch_size=B, verbose=0),
                               atol=1e-4)
    impls = {"fastmask": lambda: model.predict(ids, batch_size=B, verbose=0),
             "keras": lambda: k_model.predict(ids, batch_size=B, verbose=0)}
    targets = [Target("keras", 5.0)]
    if importlib.util.find_spec("torch") is not None:
        impls["keras-torch"] = KerasTorchPeer(k_model, ids, B, expected)
        targets.append(Target("keras-torch", 1.5))
    return [Case(FAMILY, "predict Embedding>BiLSTM>GAP>Dense",
                 f"ids ({B}, {T}) post-padded, lengths {T // 5}..{T}; emb {emb}, "
                 f"BiLSTM {units}, batch_size {B}",
                 impls=impls, targets=targets)]


# ------------------------------------------------------------- keras-io model shapes
HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "model_worker.py")
F32_PEERS = ("ov-f32", "jax", "jax-jit")
IMPLS = ("fastmask", "ov-f32", "ov-default", "jax", "jax-jit")
TOLERANCE = 1e-4       # max |diff| / max(1, max |output|) before a peer is timed


@dataclasses.dataclass(frozen=True)
class KerasIOModel:
    """One keras-io model shape: its module (tests/keras_io/), batch, and sizes:
    `sizes` for the full run (the example's), `quick` what the quick variant changes."""
    key: str
    module: str
    full_batch: int
    recurrent: bool
    sizes: dict
    quick: dict

    def target(self):
        return 1.5 if self.recurrent else 1.0


KERAS_IO_MODELS = (
    KerasIOModel("bilstm", "bidirectional_lstm_imdb", 256, True,
                 dict(max_features=20000, embed_dim=128, units=64, maxlen=200),
                 dict(max_features=200, embed_dim=16, units=8, maxlen=20)),
    KerasIOModel("transformer", "text_classification_with_transformer", 1024, False,
                 dict(vocab_size=20000, maxlen=200, embed_dim=32, num_heads=2, ff_dim=32),
                 dict(vocab_size=200, maxlen=20, embed_dim=8, ff_dim=8)),
    KerasIOModel("seq2seq", "lstm_seq2seq", 256, True,
                 dict(num_encoder_tokens=71, num_decoder_tokens=93, latent_dim=256,
                      max_encoder_seq_length=16, max_decoder_seq_length=59),
                 dict(num_encoder_tokens=11, num_decoder_tokens=13, latent_dim=16,
                      max_encoder_seq_length=5, max_decoder_seq_length=7)),
    KerasIOModel("mini-gpt", "text_generation_with_miniature_gpt", 32, False,
                 dict(vocab_size=20000, maxlen=80, embed_dim=256, num_heads=2,
                      feed_forward_dim=256),
                 dict(vocab_size=300, maxlen=16, embed_dim=16, feed_forward_dim=16)),
    KerasIOModel("ner", "ner_transformers", 1024, False,
                 dict(num_tags=10, vocab_size=20000, embed_dim=32, num_heads=4, ff_dim=64,
                      seq_len=64),
                 dict(vocab_size=200, embed_dim=8, ff_dim=8, seq_len=16)),
    KerasIOModel("addition", "addition_rnn", 1024, True,
                 dict(maxlen=7, num_chars=12, digits=3, units=128), dict(units=16)),
)
QUICK_BATCH = 8


def cache_dir():
    """Where built models are kept: $FASTMASK_BENCH_CACHE or <tmp>/fastmask-bench-models."""
    return os.environ.get("FASTMASK_BENCH_CACHE") or os.path.join(
        tempfile.gettempdir(), f"fastmask-bench-models-{os.getuid()}")


def batches(spec, quick):
    full = QUICK_BATCH if quick else spec.full_batch
    return sorted({1, min(32, full), full})


def _build_job(spec, quick):
    sys.path.insert(0, HERE)
    import keras_io_models
    job = {"role": "build", "module": spec.module, "seed": 0, "noise": 0.05,
           "full_batch": QUICK_BATCH if quick else spec.full_batch,
           "sizes": dict(spec.sizes, **spec.quick) if quick else spec.sizes}
    key = hashlib.sha1((json.dumps(job, sort_keys=True) + keras_io_models.source(spec.module)
                        + _keras_version()).encode()).hexdigest()[:12]
    d = os.path.join(cache_dir(), f"{spec.key}-{key}")
    return dict(job, model_path=os.path.join(d, "model.keras"),
                inputs_path=os.path.join(d, "inputs.npz"),
                reference_path=os.path.join(d, "reference.npz"))


def _keras_version():
    try:
        from importlib.metadata import version
        return version("keras")
    except Exception:  # noqa: BLE001
        return "?"


def run_worker(job, threads, timeout=3600):
    """Run model_worker.py on `job` in a fresh process limited to `threads`; its JSON result."""
    sys.path.insert(0, HERE)
    import model_worker
    env = dict(os.environ, **model_worker.thread_env(job["role"], threads))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "KERAS_BACKEND"):
        env.pop(var, None)
    try:
        proc = subprocess.run([sys.executable, WORKER, json.dumps(dict(job, threads=threads))],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited with {proc.returncode}: {tail}"[:300]}
    return result


def ensure_built(spec, quick, progress=None):
    """The build job of `spec` (paths of its model, inputs, reference), building it if needed."""
    job = _build_job(spec, quick)
    if not os.path.exists(job["model_path"]):
        os.makedirs(os.path.dirname(job["model_path"]), exist_ok=True)
        if progress:
            print(f"  models: building {spec.key} in Keras (JAX) ...", file=progress, flush=True)
        result = run_worker(job, threads=2)
        if "error" in result:
            raise RuntimeError(f"building {spec.key} in Keras failed: {result['error']}")
        with open(os.path.join(os.path.dirname(job["model_path"]), "build.json"), "w") as f:
            json.dump(result, f)
    return job


PROCESSES = (("fastmask", "fastmask", {}),
             ("ov-f32", "keras-openvino", {"precision": "f32"}),
             ("ov-default", "keras-openvino", {"precision": "default"}),
             ("jax", "keras-jax", {}))


def run_keras_io(quick=False, threads=(1, 2), budget=None, models=None, progress=None):
    """Time the keras-io model shapes; {"rows": [...], "processes": [...], "loadavg": [...]}.

    rows: one per (model, batch, threads, impl) with time, busy, cpu_wall, demand,
    err_vs_fastmask, err_vs_jax, error. processes: one per (model, threads, process)
    with import_s, import_rss_mb, load_s, peak_rss_mb, ov_properties, error.
    """
    budget = (0.3 if quick else 2.0) if budget is None else budget
    specs = [m for m in KERAS_IO_MODELS if models is None or m.key in models]
    rows, procs = [], []
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="fastmask-bench-outputs-") as scratch:
        for spec in specs:
            try:
                base = ensure_built(spec, quick, progress)
            except RuntimeError as exc:
                procs.append(dict(model=spec.key, threads=None, process="build", error=str(exc)))
                continue
            outputs = os.path.join(scratch, spec.key + "-b{batch}.npz")
            for t in threads:
                for label, role, extra in PROCESSES:
                    if progress:
                        print(f"  models: {spec.key} {label} t{t}", file=progress, flush=True)
                    job = dict(base, role=role, batches=batches(spec, quick), budget=budget,
                               fastmask_outputs=outputs,
                               tolerance=None if label == "ov-default" else TOLERANCE, **extra)
                    result = run_worker(job, t)
                    _collect(spec, label, t, result, rows, procs, progress, quick)
                for b in batches(spec, quick):      # next thread count: fresh comparisons
                    path = outputs.format(batch=b)
                    if os.path.exists(path):
                        os.remove(path)
            load.append(os.getloadavg()[0])
    return {"rows": rows, "processes": procs, "loadavg": load, "quick": quick,
            "threads": list(threads)}


def _collect(spec, label, t, result, rows, procs, progress, quick):
    error = result.get("error") or result.get("load_error")
    if label == "fastmask" and error:
        error = f"not supported yet: {error}"
        if progress:
            print(f"  models: {spec.key}: fastmask {error}", file=progress, flush=True)
    procs.append(dict(model=spec.key, threads=t, process=label, error=error,
                      **{k: result.get(k) for k in ("import_s", "import_rss_mb", "load_s",
                                                    "peak_rss_mb", "ov_properties",
                                                    "threads_seen")}))
    per_impl = {label: result.get("batches", {})}
    if label == "jax":
        per_impl["jax-jit"] = result.get("jit", {})
    for impl, by_batch in per_impl.items():
        for b in batches(spec, quick):
            r = by_batch.get(str(b), {})
            rows.append(dict(model=spec.key, batch=b, threads=t, impl=impl,
                             error=r.get("error") or error or (None if r else "not run"),
                             **{k: r.get(k) for k in ("time", "busy", "cpu_wall", "demand",
                                                      "err_vs_fastmask", "err_vs_jax")}))


# ------------------------------------------------------------------------ the tables
def _short(impl):
    return {"ov-default": "ov-def"}.get(impl, impl)


def _num(x, fmt):
    return "-" if x is None else format(x, fmt)


def _mb(x):
    return "-" if x is None else f"{x:.0f}MB"


def _f32_impls(processes, model, threads):
    """The f32 peers of (model, threads): ov-default joins when OpenVINO reports f32."""
    out = list(F32_PEERS)
    for p in processes:
        if (p["model"], p["threads"], p["process"]) == (model, threads, "ov-default"):
            hint = (p.get("ov_properties") or {}).get("INFERENCE_PRECISION_HINT", "")
            if "f32" in hint or "float32" in hint:
                out.append("ov-default")
    return out


def analyse_keras_io(data, cores=None):
    """Rows of the main table: one per (model, batch, threads), with ratios and the target."""
    from harness import _contended
    by_key = {}
    for r in data["rows"]:
        by_key.setdefault((r["model"], r["batch"], r["threads"]), {})[r["impl"]] = r
    specs = {m.key: m for m in KERAS_IO_MODELS}
    out = []
    for (model, batch, t), impls in by_key.items():
        fm = impls.get("fastmask", {})
        row = dict(model=model, batch=batch, threads=t, fastmask=fm.get("time"),
                   fastmask_busy=_contended(fm.get("busy"), t, cores), ratios={}, busy={},
                   errors={k: v["error"] for k, v in impls.items() if v.get("error")},
                   peer_times={k: v.get("time") for k, v in impls.items()})
        for impl, r in impls.items():
            if impl != "fastmask" and r.get("time") and fm.get("time"):
                row["ratios"][impl] = r["time"] / fm["time"]
            row["busy"][impl] = _contended(r.get("busy"), t, cores)
        f32 = {k: v for k, v in row["ratios"].items()
               if k in _f32_impls(data["processes"], model, t)}
        row["fastest"] = min(f32.items(), key=lambda kv: kv[1]) if f32 else None
        goal = specs[model].target() if model in specs else 1.0
        row["target"] = goal
        row["ok"] = None if row["fastest"] is None else row["fastest"][1] >= goal
        out.append(row)
    return out


def format_keras_io(data, cores=None):
    """The whole-model report: ratio table, per-process table, notes and summary (<= 100 cols)."""
    from harness import _aligned, _ratio
    rows = analyse_keras_io(data, cores)
    head = ["model", "batch", "thr", "fastmask"] + [_short(i) for i in IMPLS[1:]] + \
        ["vs fastest f32", "target"]
    table = [head]
    for r in rows:
        cells = [r["model"], str(r["batch"]), str(r["threads"]),
                 ("n/s" if r["fastmask"] is None else _fmt_time(r["fastmask"]))
                 + (" *" if r["fastmask_busy"] else "")]
        for impl in IMPLS[1:]:
            if impl in r["ratios"]:
                cell = _ratio(r["ratios"][impl])
            elif r["peer_times"].get(impl):          # fastmask missing: the peer's time
                cell = _fmt_time(r["peer_times"][impl]).replace(" ", "")
            else:
                cell = "err" if impl in r["errors"] else "-"
            cells.append(cell + ("*" if r["busy"].get(impl) else ""))
        fastest = r["fastest"]
        cells.append("-" if fastest is None else f"{_ratio(fastest[1])} {_short(fastest[0])}")
        cells.append(f">={r['target']:g}x " + {True: "ok", False: "FAIL", None: "n/a"}[r["ok"]])
        table.append(cells)
    text = ["whole models (keras-io shapes): fastmask's median time and each peer's time "
            "ratio\npeer / fastmask (> 1: fastmask faster); * = timed while other processes "
            "used the cores\nit needed (the harness's contention marking)", _aligned(table)]
    text += ["", _process_table(data)]
    text += _notes(data, rows)
    return "\n".join(text)


def _fmt_time(s):
    from harness import _fmt_time as fmt
    return fmt(s)


def _process_table(data):
    from harness import _aligned
    procs = [p for p in data["processes"] if p.get("threads") is not None]
    worst = {}
    for r in data["rows"]:
        impl = "jax" if r["impl"] == "jax-jit" else r["impl"]
        w = worst.setdefault((r["model"], r["threads"], impl), {})
        for k in ("demand", "cpu_wall", "err_vs_fastmask", "err_vs_jax"):
            if r.get(k) is not None:
                w[k] = max(w.get(k, 0.0), r[k])
    table = [["model", "process", "thr", "import", "load", "peak RSS", "RSS goal", "demand/cpu",
              "|d| fm", "|d| jax"]]
    for p in procs:
        w = worst.get((p["model"], p["threads"], p["process"]), {})
        imp = (f"{p['import_s']:.2f}s {_mb(p['import_rss_mb'])}"
               if p.get("import_s") is not None else "-")
        goal = ""
        if p["process"] == "fastmask" and p.get("peak_rss_mb"):
            peers = [q["peak_rss_mb"] for q in procs if q["process"] != "fastmask"
                     and (q["model"], q["threads"]) == (p["model"], p["threads"])
                     and q.get("peak_rss_mb") and not q.get("error")]
            if peers:
                ok = p["peak_rss_mb"] <= min(peers)
                goal = f"{'ok' if ok else 'FAIL'} {p['peak_rss_mb'] / min(peers):.2f}"
        table.append([p["model"], p["process"], str(p["threads"]), imp,
                      _num(p.get("load_s"), ".2f"), _mb(p.get("peak_rss_mb")), goal,
                      f"{_num(w.get('demand'), '.2f')}/{_num(w.get('cpu_wall'), '.2f')}",
                      _num(w.get("err_vs_fastmask"), ".0e"), _num(w.get("err_vs_jax"), ".0e")])
    return ("per process: import (time, RSS), load time, peak RSS (load + predict at every "
            "batch)\nand fastmask's over the leanest peer's; demand = threads wanting a core "
            "on average\n(<= 1.05 at thr 1: one core), cpu/wall; max |diff| against fastmask "
            "and Keras-JAX\n" + _aligned(table))


def _clip(text, n=200):
    text = str(text)
    return text if len(text) <= n else text[:n - 3] + "..."


def _notes(data, rows):
    import textwrap
    lines = [""]
    precision, threads_off = {}, []
    for p in data["processes"]:
        props = p.get("ov_properties")
        if props:
            precision.setdefault(p["process"], set()).add(props.get("INFERENCE_PRECISION_HINT"))
            if props.get("INFERENCE_NUM_THREADS") != str(p["threads"]):
                threads_off.append(f"{p['model']} {p['process']} thr {p['threads']}: "
                                   f"{props.get('INFERENCE_NUM_THREADS')}")
    if precision:
        lines.append("OpenVINO's compiled models report precision "
                     + "; ".join(f"{k} {'/'.join(sorted(map(str, v)))}"
                                 for k, v in sorted(precision.items()))
                     + "; INFERENCE_NUM_THREADS "
                     + ("= thr in every process" if not threads_off else
                        "differs: " + ", ".join(threads_off)))
    seen, said = set(), set()
    for p in data["processes"]:
        if p.get("error"):
            seen.add((p["model"], p["process"]))
            if (p["model"], p["process"], p["error"]) not in said:
                said.add((p["model"], p["process"], p["error"]))
                lines.append(f"{p['model']} {p['process']}: {_clip(p['error'])}")
    for r in data["rows"]:
        proc = "jax" if r["impl"] == "jax-jit" else r["impl"]
        if r.get("error") and (r["model"], proc) not in seen:
            lines.append(f"{r['model']} {r['impl']} batch {r['batch']} thr {r['threads']}: "
                         f"{_clip(r['error'])}")
    for r in data["rows"]:
        if r["threads"] == 1 and (r.get("demand") or 0) > 1.05:
            lines.append(f"thread check: {r['model']} {r['impl']} batch {r['batch']} at thr 1 "
                         f"kept {r['demand']:.2f} threads busy or runnable on average")
    lines = [w for line in lines
             for w in (textwrap.wrap(line, 100, subsequent_indent="    ") or [""])]
    ok = sum(r["ok"] is True for r in rows)
    fail = sum(r["ok"] is False for r in rows)
    na = sum(r["ok"] is None for r in rows)
    busy = sum(r["fastmask_busy"] or any(r["busy"].values()) for r in rows)
    load = data.get("loadavg") or []
    line = "whole-model targets"
    if load:
        line += f" (load average {min(load):.1f}..{max(load):.1f} during the run)"
    line += f": {ok} ok, {fail} FAIL" + (f", {na} n/a" if na else "")
    if busy:
        line += f"; {busy} row(s) timed while other processes used the cores (*)"
    return lines + textwrap.wrap(line, 100, subsequent_indent="    ")


def separate_report(quick, threads, budget, progress=None):
    """For report.py: run the keras-io model shapes, return their tables (raw results are
    kept in <cache dir>/last-run.json)."""
    data = run_keras_io(quick, threads, budget, progress=progress)
    path = os.path.join(cache_dir(), "last-run.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    return format_keras_io(data) + f"\n(raw results: {path})"


# ------------------------------------------------------------------------ profiles
PROFILED = ("mini-gpt", "transformer")


def run_profiles(quick=False, threads=1, models=PROFILED, progress=None):
    """fastmask.profile and OpenVINO's per-node profile (PERF_COUNT, f32) of the full batch."""
    out = []
    for spec in [m for m in KERAS_IO_MODELS if m.key in models]:
        job = dict(ensure_built(spec, quick, progress), batches=batches(spec, quick))
        if progress:
            print(f"  models: profiling {spec.key} t{threads}", file=progress, flush=True)
        out.append((spec, run_worker(dict(job, role="fastmask-profile"), threads),
                    run_worker(dict(job, role="openvino-profile", precision="f32"), threads)))
    return out


def format_openvino_profile(result, top=15):
    """OpenVINO's per-node times: totals per node type, then the `top` slowest nodes."""
    from harness import _aligned
    if "error" in result:
        return f"OpenVINO profile failed: {result['error']}"
    nodes = [n for n in result["nodes"] if n["status"] == "EXECUTED"]
    total = sum(n["real_ms"] for n in nodes) or 1e-12
    by_type = {}
    for n in nodes:
        t = by_type.setdefault((n["type"], n["exec"]), [0, 0.0])
        t[0] += 1
        t[1] += n["real_ms"]
    rows = [["node type", "implementation", "nodes", "ms", "share"]]
    for (kind, impl), (count, ms) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        if ms / total >= 0.005:
            rows.append([kind, impl, str(count), f"{ms:.3f}", f"{100 * ms / total:.1f}%"])
    slow = [["node", "type", "implementation", "ms", "share"]]
    for n in sorted(nodes, key=lambda n: -n["real_ms"])[:top]:
        slow.append([n["name"][:30], n["type"], n["exec"], f"{n['real_ms']:.3f}",
                     f"{100 * n['real_ms'] / total:.1f}%"])
    props = result.get("ov_properties", {})
    return (f"OpenVINO per-node profile (PERF_COUNT, precision "
            f"{props.get('INFERENCE_PRECISION_HINT')}, {props.get('INFERENCE_NUM_THREADS')} "
            f"thread(s)): one inference {1e3 * result['infer_s']:.3f} ms, nodes sum "
            f"{total:.3f} ms\n" + _aligned(rows) + "\n\n" + _aligned(slow))


def format_profiles(profiles):
    parts = []
    for spec, fm, ov in profiles:
        parts.append(f"=== {spec.key} ({spec.module}), thr {fm.get('threads')}")
        parts.append(fm.get("text") or f"fastmask profile failed: {fm.get('error')}")
        parts.append("")
        parts.append(format_openvino_profile(ov))
        parts.append("")
    return "\n".join(parts)


# ------------------------------------------------------------------------ command line
def main(argv=None):
    """`python benchmarks/bench_models.py`: the keras-io model shapes alone."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--quick", action="store_true", help="tiny models, batch 1 and 8")
    p.add_argument("--models", help="comma-separated keys (default: all): "
                   + ",".join(m.key for m in KERAS_IO_MODELS))
    p.add_argument("--threads", default="1,2", help="e.g. 1,2 (default)")
    p.add_argument("--budget", type=float, default=None,
                   help="timing seconds per process and batch (default 2, 0.3 with --quick)")
    p.add_argument("--json", metavar="F", help="also write the raw results as JSON")
    p.add_argument("--profile", action="store_true",
                   help="instead: fastmask.profile beside OpenVINO's per-node profile (f32) of "
                   "the full batch, for " + " and ".join(PROFILED) + " (or --models)")
    args = p.parse_args(argv)
    models = args.models.split(",") if args.models else None
    unknown = set(models or ()) - {m.key for m in KERAS_IO_MODELS}
    if unknown:
        p.error(f"unknown model(s) {sorted(unknown)}")
    threads = tuple(int(t) for t in args.threads.split(","))
    if args.profile:
        for t in threads:
            print(format_profiles(run_profiles(args.quick, t, models or PROFILED, sys.stderr)))
        return 0
    data = run_keras_io(args.quick, threads, args.budget, models, progress=sys.stderr)
    print(format_keras_io(data))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
