"""README's count of the ported Keras tests is the one scripts/keras_port_counts.py gives
(collection only: no port runs here; the ports themselves prove pass/xfail/skip)."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "keras_port_counts.py")


def test_readme_keras_port_line_is_current():
    result = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"Keras's own tests: ported (\d+), pass (\d+), xfail (\d+), skip (\d+) "
                        r"\(reasons: [a-z-]+ \d+(, [a-z-]+ \d+)*\)\.", line), line
    ported, passed, xfail, skip = map(int, re.findall(r"\d+", line)[:4])
    assert ported == passed + xfail + skip > 0
    assert skip == sum(int(n) for n in re.findall(r"[a-z-]+ (\d+)", line.split("reasons:")[1]))
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = [ln for ln in f.read().splitlines() if ln.startswith("Keras's own tests: ")]
    assert readme == [line], ("README.md's line is stale: run "
                              "`python scripts/keras_port_counts.py --write`")


def test_readme_differences_table_names_existing_tests():
    """Every `tests/...py::test_name` in README's "Differences from Keras" table exists."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("**Differences from Keras.**"):]
    table = table[:table.index("\n\n", table.index("| case |"))]
    pins = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", table)
    assert len(pins) >= 10, pins
    for path, name in pins:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            assert re.search(rf"^def {name}\(", f.read(), re.M), f"{path}::{name} not found"
