# The instruction set the kernels run (csrc/fm_isa.h): one choice, owned by
# fastmask.kernels._isa. A kernel module with ISA variants binds to it at import:
#     from fastmask.kernels._isa cimport bind_kernels
#     bind_kernels()
# and its C dispatch then follows FASTMASK_ISA and fastmask.kernels._isa.set_isa.
cdef extern from "fm_isa.h" nogil:
    enum:
        FM_ISA_GENERIC
        FM_ISA_AVX2
        FM_ISA_AVX512
    void fm_isa_bind(const int *slot) noexcept
    int fm_isa_active() noexcept
    int fm_isa_clamp(int compiled_max) noexcept

cdef const int *isa_slot() noexcept nogil


cdef inline void bind_kernels() noexcept:
    """Point this module's fm_isa_slot at the library-wide choice."""
    fm_isa_bind(isa_slot())
