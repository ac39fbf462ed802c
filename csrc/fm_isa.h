/* The instruction set every kernel family runs: generic, AVX2 or AVX-512.
 *
 * One decision for the whole library. fastmask.kernels._isa owns the int that holds
 * it (chosen at import: FASTMASK_ISA if set, else the best the CPU runs;
 * tests switch it with fastmask.kernels._isa.set_isa), and every extension module
 * with ISA variants points its fm_isa_slot at that int once at import
 * (fm_isa_bind, see fastmask/kernels/_isa.pxd). A family's dispatch reads
 * fm_isa_active() and runs the best variant it compiled that is not above it.
 * An unbound module runs generic code (tests check every family is bound).
 *
 * Levels, as the CPU must support them:
 *   FM_ISA_AVX2    x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
 *   FM_ISA_AVX512  x86-64-v4: x86-64-v3 + AVX512F/BW/CD/DQ/VL
 * (the softmax and pooling kernels are compiled for exactly these -march
 * levels, the recurrent and masking kernels for subsets of them). Without
 * GCC >= 12 the level names are not known to __builtin_cpu_supports, so the
 * features the kernels' target attributes use are checked one by one. Other
 * compilers and non-x86 CPUs run generic code only.
 */
#ifndef FASTMASK_FM_ISA_H
#define FASTMASK_FM_ISA_H

enum { FM_ISA_GENERIC = 0, FM_ISA_AVX2 = 1, FM_ISA_AVX512 = 2 };

/* CPU feature bits reported by fm_isa_cpu_flags() (show_config's "why"). */
enum {
    FM_CPU_AVX2 = 1 << 0,
    FM_CPU_FMA = 1 << 1,
    FM_CPU_BMI = 1 << 2,
    FM_CPU_BMI2 = 1 << 3,
    FM_CPU_AVX512F = 1 << 4,
    FM_CPU_AVX512DQ = 1 << 5,
    FM_CPU_AVX512VL = 1 << 6,
    FM_CPU_AVX512BW = 1 << 7,
    FM_CPU_AVX512CD = 1 << 8,
    FM_CPU_X86_64_V3 = 1 << 9,
    FM_CPU_X86_64_V4 = 1 << 10
};

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FM_ISA_X86_DETECT 1
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define FM_ISA_HAVE_LEVELS 1
#else
#define FM_ISA_HAVE_LEVELS 0
#endif
#else
#define FM_ISA_X86_DETECT 0
#define FM_ISA_HAVE_LEVELS 0
#endif

/* FM_CPU_* bits of the features this CPU (and OS) supports. */
static inline unsigned fm_isa_cpu_flags(void) {
    unsigned f = 0;
#if FM_ISA_X86_DETECT
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= FM_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= FM_CPU_FMA;
    if (__builtin_cpu_supports("bmi")) f |= FM_CPU_BMI;
    if (__builtin_cpu_supports("bmi2")) f |= FM_CPU_BMI2;
    if (__builtin_cpu_supports("avx512f")) f |= FM_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512dq")) f |= FM_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512vl")) f |= FM_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512bw")) f |= FM_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512cd")) f |= FM_CPU_AVX512CD;
#if FM_ISA_HAVE_LEVELS
    if (__builtin_cpu_supports("x86-64-v3")) f |= FM_CPU_X86_64_V3;
    if (__builtin_cpu_supports("x86-64-v4")) f |= FM_CPU_X86_64_V4;
#endif
#endif
    return f;
}

/* Whether this CPU can execute the variants of level `isa`. */
static inline int fm_isa_cpu_supports(int isa) {
    const unsigned need_avx2 = FM_CPU_AVX2 | FM_CPU_FMA | FM_CPU_BMI | FM_CPU_BMI2;
    const unsigned need_avx512 = need_avx2 | FM_CPU_AVX512F | FM_CPU_AVX512DQ |
                                 FM_CPU_AVX512VL | FM_CPU_AVX512BW | FM_CPU_AVX512CD;
    unsigned f;
    if (isa == FM_ISA_GENERIC) return 1;
    if (isa != FM_ISA_AVX2 && isa != FM_ISA_AVX512) return 0;
    f = fm_isa_cpu_flags();
#if FM_ISA_HAVE_LEVELS
    if (!(f & FM_CPU_X86_64_V3)) return 0;
    if (isa == FM_ISA_AVX512 && !(f & FM_CPU_X86_64_V4)) return 0;
#endif
    return (f & (isa == FM_ISA_AVX2 ? need_avx2 : need_avx512)) ==
           (isa == FM_ISA_AVX2 ? need_avx2 : need_avx512);
}

/* The highest level this CPU executes. */
static inline int fm_isa_cpu_best(void) {
    if (fm_isa_cpu_supports(FM_ISA_AVX512)) return FM_ISA_AVX512;
    if (fm_isa_cpu_supports(FM_ISA_AVX2)) return FM_ISA_AVX2;
    return FM_ISA_GENERIC;
}

/* This module's view of the library-wide choice (NULL until bound). */
static const int *fm_isa_slot = 0;

static inline void fm_isa_bind(const int *slot) { fm_isa_slot = slot; }

/* The selected level (FM_ISA_*); generic while the module is unbound. */
static inline int fm_isa_active(void) { return fm_isa_slot ? *fm_isa_slot : FM_ISA_GENERIC; }

/* The selected level, clamped to the best variant a family compiled. */
static inline int fm_isa_clamp(int compiled_max) {
    int isa = fm_isa_active();
    return isa < compiled_max ? isa : compiled_max;
}

#endif
