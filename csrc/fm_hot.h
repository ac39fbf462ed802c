/* Kernel code keeps -O3 inside a C file compiled at a lower level.
 *
 * setup.py compiles the C files Cython generates (the Python glue: argument parsing,
 * memoryviews, module init; no hot loop, see setup.py's GLUE_OPT) at -O1, which halves
 * their compile time, and defines FM_HOT_O3 there. The kernels such a file includes
 * from csrc/ (softmax, activations, layer norm, masking, padding, pooling, the recurrent
 * dispatch and gather) sit between FM_HOT_BEGIN and FM_HOT_END, which compile them at
 * -O3 as before (GCC's optimize pragma; the command line's -fno-math-errno, -fwrapv
 * and the target pragmas inside still apply). Without FM_HOT_O3 (csrc/ *.c files,
 * debug and sanitizer builds, clang, MSVC: all compiled at one level) they do nothing.
 */
#ifndef FASTMASK_FM_HOT_H
#define FASTMASK_FM_HOT_H

#if defined(FM_HOT_O3) && defined(__GNUC__) && !defined(__clang__)
#define FM_HOT_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"O3\")")
#define FM_HOT_END _Pragma("GCC pop_options")
#else
#define FM_HOT_BEGIN
#define FM_HOT_END
#endif

#endif /* FASTMASK_FM_HOT_H */
