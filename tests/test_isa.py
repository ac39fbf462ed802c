"""FASTMASK_ISA: one instruction-set choice obeyed by every kernel family.

Oracles: the CPU flags in /proc/cpuinfo (Linux x86) for what the CPU supports,
and each kernel module's own report of the variant its dispatch runs
(`isa_in_use()` reads the same C function the dispatch calls). Fresh processes
check the import-time choice; `fastmask.kernels._isa.set_isa` is the in-process switch
the per-variant kernel tests use (tests/isa_variants.py).
"""
import os
import re
import sys

import numpy as np
import pytest

from fastmask.kernels import _attention, _isa, _masking, _pooling, _recurrent, _softmax
from fastmask.kernels import lstm, masked_attention, masked_mean, masked_softmax, masking
from fresh_python import run_python
from isa_variants import skip_reason, using

FAMILIES = {"masking": _masking, "recurrent": _recurrent, "softmax": _softmax,
            "pooling": _pooling, "attention": _attention}
# What each family compiles with GCC >= 12 on x86-64 (this project's CI).
EXPECTED_COMPILED = {"masking": ("generic", "avx2"), "recurrent": _isa.NAMES,
                     "softmax": _isa.NAMES, "pooling": _isa.NAMES, "attention": _isa.NAMES}


def _proc_cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


# ------------------------------------------------------------ what the CPU runs
@pytest.mark.skipif(_proc_cpu_flags() is None, reason="needs /proc/cpuinfo (Linux x86)")
def test_supported_levels_follow_the_cpu_flags():
    flags = _proc_cpu_flags()
    v3 = {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"} <= flags
    v4 = v3 and {"avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512cd"} <= flags
    expected = ("generic",) + (("avx2",) if v3 else ()) + (("avx512",) if v4 else ())
    assert _isa.cpu_supported() == expected
    assert _isa.best() == expected[-1]
    for name in ("avx2", "fma", "bmi2", "avx512f", "avx512bw"):
        assert _isa.cpu_flags()[name] == (name in flags), name


def test_every_family_follows_the_default_choice():
    """Unset FASTMASK_ISA: the CPU's best, and every family bound to it (an unbound
    module would run generic code)."""
    if os.environ.get("FASTMASK_ISA", "").strip():
        pytest.skip("FASTMASK_ISA is set for this test run")
    assert _isa.active() == _isa.best()
    assert _isa.reason().startswith("best available: ")
    for name, mod in FAMILIES.items():
        compiled = mod.compiled_isas()
        expected = max((n for n in compiled if n in _isa.cpu_supported()), key=_isa.NAMES.index)
        assert mod.isa_in_use() == expected, name


def _built_by_gcc_on_x86_64():
    try:
        from fastmask import _build_info
    except ImportError:
        return False
    version = getattr(_build_info, "COMPILER_VERSION", "")
    numbers = re.findall(r"\b(\d+)\.\d+\.\d+\b", version)
    return (os.uname().machine == "x86_64" and "gcc" in version.lower()
            and "clang" not in version and bool(numbers) and int(numbers[-1]) >= 12)


@pytest.mark.skipif(not (sys.platform.startswith("linux") and _built_by_gcc_on_x86_64()),
                    reason="the variants listed are the ones GCC >= 12 builds on x86-64")
def test_families_compile_their_variants():
    for name, mod in FAMILIES.items():
        assert mod.compiled_isas() == EXPECTED_COMPILED[name], name


# ------------------------------------------------------------ in-process switch
@pytest.mark.parametrize("name", _isa.NAMES)
def test_set_isa_switches_every_family_and_restores(name):
    before = {k: m.isa_in_use() for k, m in FAMILIES.items()}
    with using(name):
        for key, mod in FAMILIES.items():
            want = name if name in mod.compiled_isas() else mod.compiled_isas()[-1]
            assert mod.isa_in_use() == want, key
        assert _isa.active() == name
        assert _isa.reason() == f"set in-process by fastmask.kernels._isa.set_isa({name!r})"
    assert {k: m.isa_in_use() for k, m in FAMILIES.items()} == before


@pytest.mark.parametrize("bad", ["bogus", "", "sse2", 3, b"avx2"])
def test_set_isa_refuses_unknown_names(bad):
    with pytest.raises(ValueError, match=r"must be one of 'generic', 'avx2', 'avx512' .*"
                                         r"Received: name="):
        _isa.set_isa(bad)


def test_set_isa_refuses_a_level_the_cpu_cannot_run():
    missing = [n for n in _isa.NAMES if n not in _isa.cpu_supported()]
    if not missing:
        pytest.skip("this CPU executes every level (generic, AVX2, AVX-512)")
    with pytest.raises(ValueError, match=f"cannot execute.*it supports: "
                                         f"{', '.join(_isa.cpu_supported())}"):
        _isa.set_isa(missing[-1])
    assert _isa.active() == _isa.best() or os.environ.get("FASTMASK_ISA")


@pytest.mark.parametrize("name", _isa.NAMES)
def test_kernels_agree_with_numpy_under_each_variant(name):
    """One call of every family per variant, against plain NumPy (the per-family
    suites run their full Keras/NumPy comparisons per variant)."""
    reason = skip_reason(name)
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((3, 37, 19)).astype(np.float32)
    mask = rng.random((3, 37)) < 0.7
    k, r = rng.standard_normal((19, 12)) * 0.3, rng.standard_normal((3, 12)) * 0.3
    b = rng.standard_normal(12) * 0.1
    with using(name):
        sm = masked_softmax(x, mask[:, :, None], axis=1)
        mean = masked_mean(x, mask)
        out, m = masking(np.where(mask[:, :, None], x, 0))
        att = masked_attention(x, x, x, key_mask=mask)
        _, h, c = lstm(x[:, :9], k.astype(np.float32), r.astype(np.float32),
                       b.astype(np.float32), mask[:, :9])
    xd = x.astype(np.float64)
    e = np.where(mask[:, :, None], np.exp(xd - np.where(mask[:, :, None], xd, -np.inf)
                                          .max(axis=1, keepdims=True)), 0)
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(mean, (xd * mask[:, :, None]).sum(1) / mask.sum(1)[:, None],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(m, mask & (x != 0).any(-1))
    np.testing.assert_array_equal(out, np.where(m[:, :, None], x, 0))
    s = np.einsum("btd,bsd->bts", xd, xd) / np.sqrt(19)
    s = np.where(mask[:, None, :], s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(att, (w / w.sum(-1, keepdims=True)) @ xd, rtol=2e-4, atol=2e-5)
    hr, cr = np.zeros((3, 3)), np.zeros((3, 3))         # Keras's LSTM equations, masked steps
    sig = lambda v: 1 / (1 + np.exp(-v))                # keep the state  # noqa: E731
    for t in range(9):
        z = xd[:, t] @ k + hr @ r + b
        i, f, g, o = sig(z[:, :3]), sig(z[:, 3:6]), np.tanh(z[:, 6:9]), sig(z[:, 9:])
        cn = f * cr + i * g
        hn = o * np.tanh(cn)
        keep = mask[:, t, None]
        hr, cr = np.where(keep, hn, hr), np.where(keep, cn, cr)
    np.testing.assert_allclose(h, hr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, cr, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ FASTMASK_ISA at import
REPORT = """
    import fastmask
    from fastmask.kernels import _attention, _isa, _masking, _pooling, _recurrent, _softmax
    import numpy as np
    fastmask.kernels.masked_softmax(np.ones((2, 3), np.float32))
    print(_isa.active(), _isa.reason(), sep="|")
    for m in (_masking, _recurrent, _softmax, _pooling, _attention):
        print(m.__name__, m.isa_in_use())
    fastmask.show_config()
"""


def test_fastmask_isa_generic_forces_every_family():
    res = run_python(REPORT, FASTMASK_ISA="generic")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "generic|forced by FASTMASK_ISA=generic"
    assert lines[1:6] == [f"fastmask.kernels.{m} generic" for m in
                          ("_masking", "_recurrent", "_softmax", "_pooling", "_attention")]
    assert "  instruction set: generic (forced by FASTMASK_ISA=generic)" in lines


def test_fastmask_isa_value_is_case_and_space_insensitive_and_blank_is_unset():
    res = run_python(REPORT, FASTMASK_ISA=" Generic ")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "generic|forced by FASTMASK_ISA=Generic"
    res = run_python(REPORT, FASTMASK_ISA="")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith(f"{_isa.best()}|best available: ")


@pytest.mark.parametrize("value", ["bogus", "avx", "AVX-512 please"])
def test_unknown_fastmask_isa_fails_import_with_a_clear_error(value):
    res = run_python("import fastmask", FASTMASK_ISA=value)
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: FASTMASK_ISA must be one of 'generic', 'avx2', "
                           "'avx512'"), res.stderr
    assert f"this CPU supports: {', '.join(_isa.cpu_supported())}" in last
    assert last.endswith(f"Received: FASTMASK_ISA={value!r}")


def test_fastmask_isa_the_cpu_cannot_run_fails_import_with_a_clear_error():
    missing = [n for n in _isa.NAMES if n not in _isa.cpu_supported()]
    if not missing:
        pytest.skip("this CPU executes every level (generic, AVX2, AVX-512): no value to refuse")
    res = run_python("import fastmask", FASTMASK_ISA=missing[-1])
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ValueError: FASTMASK_ISA={missing[-1]!r} selects "
                           f"{_isa.LABELS[missing[-1]]} kernels, which this CPU cannot execute")
    assert f"it supports: {', '.join(_isa.cpu_supported())}" in last
    assert " ".join(_isa._missing(missing[-1])) in last
    assert last.endswith(f"Received: FASTMASK_ISA={missing[-1]!r}")
