"""Run code in a fresh interpreter that imports the same fastmask as the tests."""
import os
import subprocess
import sys
import textwrap


def run_python(code, cwd=None, timeout=300, **env):
    """Run `code` (dedented) in a new process with `env` set on top of ours (a None
    value unsets that variable); returns the CompletedProcess (text output)."""
    child_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for k, v in env.items():
        if v is None:
            child_env.pop(k, None)
        else:
            child_env[k] = v
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=child_env,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
