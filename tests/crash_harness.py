"""Run test cases in subprocess workers, so that a crash fails one case instead of the run.

A case table is a module-level list of objects with an `id` attribute and a
`run()` method returning None (pass) or a string (failure reason), or raising
on failure. `run_cases(module_file, table_name, ids)` starts worker processes
(`python -X faulthandler crash_harness.py <module_file> <table_name>`), waits
for each to say it is ready (the table imported; start-up does not count
against a case's timeout), feeds them case ids one by one and collects one
outcome per case:

    ("ok", "")                  the case passed
    ("fail", reason)            it ran and its expectation did not hold
    ("crash", details)          the worker died (signal or exit code); details
                                hold the signal name and the tail of its stderr
                                (faulthandler's traceback)
    ("timeout", details)        no answer within `timeout` seconds (deadlock?)

After a crash or a timeout the worker is replaced and the remaining cases go
on. Workers are fresh interpreters (not forks): GNU libgomp's thread pool does
not survive fork(), so a forked child of a process that has run OpenMP code
can hang in its first parallel region.
"""
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

_SYS_PATH_VAR = "CRASH_HARNESS_SYS_PATH"
_STARTUP_TIMEOUT = 120.0   # seconds for a worker to import fastmask and the case table


def _signal_name(rc):
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


class _Worker:
    """One worker process: send an id, read one JSON line back."""

    def __init__(self, module_file, table_name, env=None):
        self.stderr = tempfile.TemporaryFile(mode="w+b")
        cmd = [sys.executable, "-X", "faulthandler", os.path.abspath(__file__),
               os.path.abspath(module_file), table_name]
        # The worker imports exactly what this process imports (the installed fastmask
        # or the source tree, whichever the test run uses).
        env = dict(os.environ if env is None else env)
        env[_SYS_PATH_VAR] = json.dumps(sys.path)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=os.getcwd(), bufsize=0)
        self.lines = queue.Queue()
        self.ready = False      # True once the worker said it loaded the case table
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)   # EOF: the worker exited

    def stderr_tail(self, n=4000):
        self.stderr.flush()
        self.stderr.seek(0)
        data = self.stderr.read().decode("utf-8", "replace")
        return data[-n:]

    def run(self, case_id, timeout):
        if not self.ready:
            # The case's clock starts once the worker has imported the table: on a busy
            # machine the start-up alone can take longer than a case's timeout.
            try:
                line = self.lines.get(timeout=max(_STARTUP_TIMEOUT, timeout))
            except queue.Empty:
                self.kill()
                return "timeout", (f"the worker did not start within "
                                   f"{max(_STARTUP_TIMEOUT, timeout):.0f} s; worker stderr:\n"
                                   f"{self.stderr_tail()}")
            if line is None:
                rc = self.proc.wait()
                how = _signal_name(rc) if rc < 0 else f"exit code {rc}"
                return "crash", f"worker died while starting ({how}); stderr:\n" \
                    f"{self.stderr_tail()}"
            self.ready = True
        try:
            self.proc.stdin.write((case_id + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return "timeout", (f"no result after {timeout:.0f} s (deadlock or runaway case); "
                               f"worker stderr:\n{self.stderr_tail()}")
        if line is None:
            rc = self.proc.wait()
            how = _signal_name(rc) if rc < 0 else f"exit code {rc}"
            return "crash", f"worker died ({how}); stderr:\n{self.stderr_tail()}"
        msg = json.loads(line)
        return msg["status"], msg["detail"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.stderr.close()


def run_cases(module_file, table_name, ids, timeout=60.0, n_workers=2, env=None):
    """{id: (status, detail)} for every id, run by `n_workers` worker processes."""
    ids = list(ids)
    todo = queue.Queue()
    for cid in ids:
        todo.put(cid)
    results = {}
    lock = threading.Lock()

    def drive():
        worker = None
        try:
            while True:
                try:
                    cid = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    worker = _Worker(module_file, table_name, env=env)
                status, detail = worker.run(cid, timeout)
                with lock:
                    results[cid] = (status, detail)
                if status in ("crash", "timeout"):
                    worker.close()
                    worker = None
        finally:
            if worker is not None:
                worker.close()

    threads = [threading.Thread(target=drive) for _ in range(max(1, min(n_workers, len(ids))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ----------------------------------------------------------------------- worker side

def _load_table(module_file, table_name):
    if _SYS_PATH_VAR in os.environ:
        sys.path[:] = json.loads(os.environ[_SYS_PATH_VAR])
    sys.path.insert(0, os.path.dirname(module_file))
    name = "_harness_" + os.path.splitext(os.path.basename(module_file))[0]
    spec = importlib.util.spec_from_file_location(name, module_file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return {case.id: case for case in getattr(mod, table_name)}


def _worker_main(module_file, table_name):
    # Results go to the original stdout; anything the cases print (Python or C
    # level) goes to stderr, so it cannot corrupt the result stream.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    table = _load_table(module_file, table_name)
    out.write(json.dumps({"status": "ready"}) + "\n")
    out.flush()
    for line in sys.stdin:
        cid = line.strip()
        if not cid:
            continue
        t0 = time.perf_counter()
        try:
            case = table[cid]
            reason = case.run()
            status, detail = ("ok", "") if reason is None else ("fail", str(reason))
        except BaseException as e:   # noqa: BLE001  (KeyboardInterrupt included: report it)
            status = "fail"
            detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
        print(f"[harness] {cid}: {status} in {time.perf_counter() - t0:.2f} s",
              file=sys.stderr, flush=True)
        out.write(json.dumps({"status": status, "detail": detail}) + "\n")
        out.flush()


if __name__ == "__main__":
    _worker_main(sys.argv[1], sys.argv[2])
