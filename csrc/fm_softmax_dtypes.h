/* Included by fm_softmax.h once per ISA (FM_ISA, FM_TARGET defined):
 * instantiates fm_softmax_impl.h for float32 and float64. */
#define FM_T float
#define FM_MVLEN 64
#define FM_SFX f32
#define FM_EXP fm_exp_f32
#define FM_SELECT fm_select_f32
#include "fm_softmax_impl.h"
#undef FM_T
#undef FM_MVLEN
#undef FM_SFX
#undef FM_EXP
#undef FM_SELECT

#define FM_T double
#define FM_MVLEN 64
#define FM_SFX f64
#define FM_EXP fm_exp_f64
#define FM_SELECT fm_select_f64
#include "fm_softmax_impl.h"
#undef FM_T
#undef FM_MVLEN
#undef FM_SFX
#undef FM_EXP
#undef FM_SELECT
