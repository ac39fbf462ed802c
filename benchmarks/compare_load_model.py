"""Time a fresh `fastmask.models.load_model` of each test model file in two source trees.

    python benchmarks/compare_load_model.py BASE_ROOT NEW_ROOT [--rounds 7] [--loads 5]

The five models of `tests/test_keras_models.py` (bilstm, gru, mha, concat,
custom) are built and saved by Keras 3.15.1 once; then worker processes
alternate between the two trees (BASE, NEW, BASE, NEW, ...), each importing
fastmask from its root and timing `--loads` loads of every file (the first
load of each file in a process is a warm-up and is not counted). Printed:
the median load time of each file per tree and the ratio NEW / BASE, all
measured in the same run. Both roots need their compiled extensions.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
MODELS = ("bilstm", "gru", "mha", "concat", "custom")

_SAVE = r"""
import sys
sys.path.insert(0, {tests!r})
import test_keras_models as t
for name in {models!r}:
    t.keras_model(name).save({out!r} + "/" + name + ".keras")
"""

_WORKER = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import fastmask
assert fastmask.__file__.startswith({root!r}), fastmask.__file__

sys.path.insert(1, {tests!r})
import test_keras_models
test_keras_models.masked_dense_class(fastmask)   # registers the "custom" model's layer

out = {{}}
for name in {models!r}:
    path = {dir!r} + "/" + name + ".keras"
    fastmask.models.load_model(path)
    times = []
    for _ in range({loads}):
        t0 = time.perf_counter()
        fastmask.models.load_model(path)
        times.append(time.perf_counter() - t0)
    out[name] = times
print(json.dumps(out))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    roots = {"base": os.path.abspath(args.base), "new": os.path.abspath(args.new)}
    env = dict(os.environ, KERAS_BACKEND="numpy")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-c", _SAVE.format(tests=TESTS, models=MODELS, out=d)],
                       check=True, env=env, capture_output=True)
        samples = {k: {m: [] for m in MODELS} for k in roots}
        for _ in range(args.rounds):
            for key, root in roots.items():
                code = _WORKER.format(root=root, tests=TESTS, models=MODELS, dir=d,
                                      loads=args.loads)
                res = subprocess.run([sys.executable, "-c", code], check=True, env=env,
                                     capture_output=True, text=True, cwd=d)
                for m, times in json.loads(res.stdout.strip().splitlines()[-1]).items():
                    samples[key][m].extend(times)
    print(f"{'model':8} {'base ms':>9} {'new ms':>9} {'new/base':>9}")
    ratios = []
    for m in MODELS:
        b = statistics.median(samples["base"][m]) * 1e3
        n = statistics.median(samples["new"][m]) * 1e3
        ratios.append(n / b)
        print(f"{m:8} {b:9.2f} {n:9.2f} {n / b:9.3f}")
    print(f"{'geomean':8} {'':9} {'':9} {statistics.geometric_mean(ratios):9.3f}")


if __name__ == "__main__":
    main()
