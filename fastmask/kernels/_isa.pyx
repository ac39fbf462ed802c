"""The instruction set (generic / AVX2 / AVX-512) every kernel family runs.

One choice for the whole library, made at import: the environment variable
FASTMASK_ISA=generic|avx2|avx512 when set (an unknown value, or one this CPU
cannot execute, is refused with a ValueError naming the variable, the value and
what the CPU supports), else the best level the CPU executes. The kernel
modules with ISA variants (_masking, _recurrent, _softmax, _pooling,
_attention) read this one int through csrc/fm_isa.h and each runs the best
variant it compiled that is not above it (their `isa_in_use()` says which).
`set_isa(name)` switches every family at once, in-process, for tests.
"""
import os

cdef extern from "fm_isa.h" nogil:
    enum:
        FM_CPU_AVX2
        FM_CPU_FMA
        FM_CPU_BMI
        FM_CPU_BMI2
        FM_CPU_AVX512F
        FM_CPU_AVX512DQ
        FM_CPU_AVX512VL
        FM_CPU_AVX512BW
        FM_CPU_AVX512CD
        FM_CPU_X86_64_V3
        FM_CPU_X86_64_V4
        FM_ISA_HAVE_LEVELS
        FM_ISA_X86_DETECT
    unsigned fm_isa_cpu_flags() noexcept
    int fm_isa_cpu_supports(int isa) noexcept
    int fm_isa_cpu_best() noexcept

ENV_VAR = "FASTMASK_ISA"
NAMES = ("generic", "avx2", "avx512")            # index = FM_ISA_* level
LABELS = {"generic": "generic", "avx2": "AVX2", "avx512": "AVX-512"}

# CPU features each level needs, as show_config and the errors name them.
_FLAG_BITS = {"avx2": FM_CPU_AVX2, "fma": FM_CPU_FMA, "bmi1": FM_CPU_BMI, "bmi2": FM_CPU_BMI2,
              "avx512f": FM_CPU_AVX512F, "avx512dq": FM_CPU_AVX512DQ,
              "avx512vl": FM_CPU_AVX512VL, "avx512bw": FM_CPU_AVX512BW,
              "avx512cd": FM_CPU_AVX512CD}
if FM_ISA_HAVE_LEVELS:
    _FLAG_BITS.update({"x86-64-v3": FM_CPU_X86_64_V3, "x86-64-v4": FM_CPU_X86_64_V4})
_NEEDS = {
    "generic": (),
    "avx2": ("avx2", "fma", "bmi1", "bmi2", "x86-64-v3"),
    "avx512": ("avx2", "fma", "bmi1", "bmi2", "x86-64-v3", "avx512f", "avx512dq",
               "avx512vl", "avx512bw", "avx512cd", "x86-64-v4"),
}

# The library-wide choice (an FM_ISA_* level); kernel modules point at it.
cdef int _active = FM_ISA_GENERIC


cdef const int *isa_slot() noexcept nogil:
    return &_active


def cpu_flags():
    """{feature: bool} for the CPU features the levels need (x86-64-v3/v4
    only when the compiler can test the level itself)."""
    cdef unsigned f = fm_isa_cpu_flags()
    return {name: bool(f & bit) for name, bit in _FLAG_BITS.items()}


def cpu_supported():
    """The level names this CPU executes, lowest first ("generic" always)."""
    return tuple(name for i, name in enumerate(NAMES) if fm_isa_cpu_supports(i))


def best():
    """The highest level this CPU executes."""
    return NAMES[fm_isa_cpu_best()]


def _missing(name):
    flags = cpu_flags()
    return [f for f in _NEEDS[name] if f in flags and not flags[f]]


def _check(value, what):
    """The level index for `value` (a name, any case), or a ValueError naming
    `what` ("FASTMASK_ISA", or set_isa's "name"), the value and what this CPU
    supports."""
    name = value.strip().lower() if isinstance(value, str) else value
    supported = ", ".join(cpu_supported())
    unset = ("leave it unset for the best available" if what == ENV_VAR
             else "None restores the import-time choice")
    if name not in NAMES:
        raise ValueError(
            f"{what} must be one of {', '.join(repr(n) for n in NAMES)} "
            f"(this CPU supports: {supported}); {unset}. Received: {what}={value!r}")
    if not fm_isa_cpu_supports(NAMES.index(name)):
        raise ValueError(
            f"{what}={value!r} selects {LABELS[name]} kernels, which this CPU cannot "
            f"execute (it lacks {' '.join(_missing(name)) or 'OS support'}; it supports: "
            f"{supported}); use one of those ({unset}). "
            f"Received: {what}={value!r}")
    return NAMES.index(name)


def _describe_cpu():
    if not FM_ISA_X86_DETECT:
        return "no x86 feature detection on this CPU/compiler"
    flags = cpu_flags()
    has = [f for f, ok in flags.items() if ok]
    lacks = [f for f, ok in flags.items() if not ok]
    text = f"CPU has {' '.join(has)}" if has else "CPU has none of " + " ".join(flags)
    return text + (f"; lacks {' '.join(lacks)}" if has and lacks else "")


def _choose(env_value):
    """(level, reason) for an FASTMASK_ISA value (None or blank: unset)."""
    if env_value is None or not env_value.strip():
        return fm_isa_cpu_best(), f"best available: {_describe_cpu()}"
    return _check(env_value, ENV_VAR), f"forced by {ENV_VAR}={env_value.strip()}"


_import_level, _import_reason = _choose(os.environ.get(ENV_VAR))
_active = _import_level
_reason = _import_reason


def active():
    """The name of the selected level ("generic", "avx2" or "avx512")."""
    return NAMES[_active]


def reason():
    """Why that level: forced by FASTMASK_ISA, set by set_isa, or the CPU's best."""
    return _reason


def set_isa(name=None):
    """Tests: run every kernel family at level `name` ("generic", "avx2",
    "avx512"); None restores the import-time choice. Returns the previous name.

    Raises ValueError for an unknown name or one this CPU cannot execute. Not
    for use while kernels run in other threads (a call could mix variants).
    """
    global _active, _reason
    previous = NAMES[_active]
    if name is None:
        _active, _reason = _import_level, _import_reason
    else:
        _active = _check(name, "name")
        _reason = f"set in-process by fastmask.kernels._isa.set_isa({NAMES[_active]!r})"
    return previous
