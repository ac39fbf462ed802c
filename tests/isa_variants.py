"""Run kernel tests under every instruction-set variant (FASTMASK_ISA, fastmask.kernels._isa).

    from isa_variants import isa_fixture
    isa = isa_fixture(_softmax)                   # every test of the module, x 3 variants
    isa = isa_fixture(_recurrent, autouse=False)  # only the tests that take `isa`

(a hypothesis test taking the function-scoped `isa` suppresses the
function_scoped_fixture health check: the variant stays the same for every example.)

Each test runs once per variant in fastmask.kernels._isa.NAMES. A variant this CPU cannot
execute, or one the family did not compile (masking has no AVX-512 code), is a
pytest skip that says why; it is never dropped from the list. When the variant is
selected, every family given must report running it (a module that forgot to bind
to fastmask.kernels._isa would run generic code and fail here, not skip).
"""
import contextlib

import pytest

from fastmask.kernels import _isa


def skip_reason(name, families=()):
    """Why `name` cannot run here (None: it can)."""
    if name not in _isa.cpu_supported():
        return (f"{_isa.LABELS[name]} kernels: this CPU cannot execute them (lacks "
                f"{' '.join(_isa._missing(name)) or 'OS support'}; supports "
                f"{', '.join(_isa.cpu_supported())})")
    for fam in families:
        if name not in fam.compiled_isas():
            return (f"{fam.__name__} has no {_isa.LABELS[name]} variant (compiled: "
                    f"{', '.join(fam.compiled_isas())}); it runs its best lower one")
    return None


def select(name, families=()):
    """Select `name` for every family (skipping the test if it cannot run).
    Returns the previous selection, for fastmask.kernels._isa.set_isa."""
    reason = skip_reason(name, families)
    if reason:
        pytest.skip(reason)
    previous = _isa.set_isa(name)
    for fam in families:
        assert fam.isa_in_use() == name, (
            f"{fam.__name__} runs {fam.isa_in_use()} with {name} selected: not bound to "
            f"fastmask.kernels._isa?")
    return previous


@contextlib.contextmanager
def using(name, families=()):
    """`with using("generic", [_masking]):` run the block under `name`."""
    previous = select(name, families)
    try:
        yield
    finally:
        _isa.set_isa(previous)


def isa_fixture(*families, autouse=True, scope=None):
    """A fixture parametrised over every ISA name that selects it for the test.

    autouse=True: module-scoped, so each variant runs the whole module in turn."""
    scope = scope or ("module" if autouse else "function")

    @pytest.fixture(params=_isa.NAMES, scope=scope, autouse=autouse)
    def isa(request):
        select(request.param, families)
        try:
            yield request.param
        finally:
            _isa.set_isa(None)

    return isa
