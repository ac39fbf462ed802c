"""fork() after the kernels ran on threads (issue 13, point 7).

GNU libgomp's thread team does not survive fork(): a child forked after its parent
ran an OpenMP team of 2+ threads used to wait forever at its first parallel region
(multiprocessing's default "fork" start method on Linux, gunicorn, Dask process
workers). In such a child fastmask runs every kernel on one thread
(`in_forked_child()` of `fastmask._config`, `fastmask.kernels._threads` in the
new layout), with the same results.

Each scenario runs in a fresh interpreter (so this test process never becomes such a
parent) under a timeout, and every child is joined with a timeout: a hang fails the
test instead of hanging CI.
"""
import os
import subprocess
import sys
import textwrap

import pytest

if not hasattr(os, "fork"):
    pytest.skip("no fork() on this platform", allow_module_level=True)

HERE = os.path.dirname(os.path.abspath(__file__))

# The parent runs one call of every kernel family on 2 threads, with the per-thread
# work thresholds lowered so that each really starts a team of 2, and keeps the
# results; each forked child runs them again (asking for 2 threads) and compares.
# A large matmul covers BLAS: OpenBLAS (pthreads build) re-creates its own threads
# after fork (its pthread_atfork handler), so its calls stay multi-threaded.
SCENARIO = textwrap.dedent('''
    import importlib
    import multiprocessing as mp
    import sys
    import numpy as np
    import fastmask
    from fastmask import kernels as K, layers as L, utils as U
    import fastmask.kernels.masking as _masking_mod
    import fastmask.utils as _utils_mod


    def _module(*names):        # the kernels' modules, in either source layout
        for name in names:
            try:
                return importlib.import_module(name)
            except ImportError:
                pass
        raise ImportError(names)


    _config = _module("fastmask.kernels._threads", "fastmask._config")
    _attention, _pooling, _recurrent, _softmax = (
        _module("fastmask.kernels." + n, "fastmask." + n)
        for n in ("_attention", "_pooling", "_recurrent", "_softmax"))
    _dense, _normalization = (importlib.import_module("fastmask.kernels." + n)
                              for n in ("_dense", "_normalization"))

    _pooling.MIN_BYTES_PER_THREAD = 1
    _softmax.MIN_ELEMENTS_PER_THREAD = 1
    _attention.MIN_FLOPS_PER_THREAD = 1
    _recurrent.MIN_STEP_FLOPS_PER_THREAD = 1
    _dense.MIN_FLOPS_PER_THREAD = 1
    _normalization.MIN_BYTES_PER_THREAD = 1
    _masking_mod._BYTES_PER_THREAD = 1
    _utils_mod._MIN_BYTES_PER_THREAD = 1

    r = np.random.default_rng(0)
    x = r.standard_normal((8, 16, 6)).astype(np.float32)
    m = r.random((8, 16)) < 0.7
    m[:, 0] = True
    W = dict(kernel=r.standard_normal((6, 12)).astype(np.float32) * 0.3,
             recurrent_kernel=r.standard_normal((3, 12)).astype(np.float32) * 0.3)
    rows = r.standard_normal((600, 6)).astype(np.float32)   # 2+ row blocks of dense, layer_norm
    dense = L.Dense(5)
    dense(x)
    big = r.standard_normal((384, 384))        # large enough for OpenBLAS to use its threads

    def families(n):
        """One call per kernel family (and a BLAS-backed layer), on n threads."""
        q = x.reshape(8, 16, 2, 3)
        return {   # (arrays, or tuples of arrays)
            "padding": U.pad_sequences([[1, 2, 3]] * 40, maxlen=5),
            "mask_from_lengths": U.mask_from_lengths(np.arange(40) % 7, n_threads=n),
            "masking": K.masking(x, n_threads=n),
            "embedding": K.embedding(np.arange(40).reshape(8, 5) % 6, x[0, :6],
                                     mask_zero=True, n_threads=n)[0],
            "softmax": K.masked_softmax(x[:, :, 0], m, n_threads=n),
            "pooling": K.masked_mean(x, m, n_threads=n),
            "attention": K.masked_attention(q, q, q, key_mask=m, n_threads=n),
            "lstm": K.lstm(x, W["kernel"], W["recurrent_kernel"], None, m, n_threads=n)[0],
            "dense": K.dense(rows, W["kernel"], None, "softmax", n_threads=n),
            "layer_norm": K.layer_norm(rows, n_threads=n),
            "dense (BLAS)": np.asarray(dense(x)),
            "matmul (BLAS threads)": big @ big,
        }

    def same(a, b):
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (tuple, list)):
            return len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
        return np.array_equal(np.asarray(a), np.asarray(b))

    def child(queue, want):
        try:
            pass  # CONTROL
            got = families(2)
            bad = [k for k in want if not same(got[k], want[k])]
            queue.put(("ok" if not bad else "differs: " + ", ".join(bad),
                       _config.in_forked_child(), fastmask.get_num_threads()))
        except BaseException as e:
            queue.put(("error: %r" % (e,), None, None))

    if __name__ == "__main__":
        want = families(2)
        assert _config._threads_used
        ctx = mp.get_context("fork")
        for i in range(2):                 # twice: the parent keeps working after a fork
            queue = ctx.Queue()
            p = ctx.Process(target=child, args=(queue, want))
            p.start()
            p.join(60)
            if p.is_alive():
                p.kill()
                p.join()
                print("HANG in the forked child")
                sys.exit(3)
            print("child", i, queue.get(timeout=10))
            assert same(families(2), want)
        print("parent threads", fastmask.get_num_threads())
''')


def _run(code, timeout=240):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [HERE])
    env["OMP_NUM_THREADS"] = "2"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_forked_child_runs_every_kernel_family():
    res = _run(SCENARIO)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    children = [line for line in res.stdout.splitlines() if line.startswith("child")]
    assert len(children) == 2, out
    for line in children:
        # (status, in_forked_child, threads the child's kernels use)
        assert "('ok', True, 1)" in line, out
    assert "parent threads 2" in res.stdout, out


def test_child_of_a_process_that_never_ran_threads_keeps_its_threads():
    code = textwrap.dedent('''
        import importlib
        import multiprocessing as mp
        import fastmask

        def in_forked_child():
            for name in ("fastmask.kernels._threads", "fastmask._config"):
                try:
                    return importlib.import_module(name).in_forked_child()
                except ImportError:
                    pass

        def child(q):
            q.put((in_forked_child(), fastmask.get_num_threads()))

        if __name__ == "__main__":
            with fastmask.num_threads(1):
                fastmask.kernels.masked_mean([[[1.0]]])
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            p.join(60)
            assert not p.is_alive()
            print(q.get(timeout=10))
    ''')
    res = _run(code)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "(False, 2)", res.stdout + res.stderr


def _openmp_runtime():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    import fastmask.kernels  # noqa: F401  (loads fastmask's OpenMP runtime)
    for info in threadpool_info():
        if info.get("user_api") == "openmp":
            return info.get("prefix")
    return None


@pytest.mark.skipif(_openmp_runtime() != "libgomp",
                    reason="the hang being guarded against is GNU libgomp's")
def test_the_guard_is_needed_with_libgomp():
    """Control: with the guard switched off in the child, the child does hang, so the
    scenario above exercises the real failure (and would catch a regression)."""
    code = SCENARIO.replace("pass  # CONTROL", "_config._forked_child = False").replace(
        "p.join(60)", "p.join(15)").replace("for i in range(2):", "for i in range(1):")
    assert code != SCENARIO
    res = _run(code)
    assert res.returncode == 3 and "HANG in the forked child" in res.stdout, \
        res.stdout + res.stderr
