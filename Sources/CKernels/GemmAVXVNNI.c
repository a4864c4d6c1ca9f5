// The 256-bit prompt-batch microkernel with AVX-VNNI (VEX vpdpbusd: Alder Lake and later, Zen 5),
// for CPUs that have it without AVX-512.
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#define ATTR __attribute__((target("avx2,fma,f16c,avxvnni")))
#define FN(x) x##_ymm_avxvnni
#define DOT(acc, u, a) _mm256_dpbusd_avx_epi32((acc), (u), (a))
#include "GemmYMM.h"
#endif
