// AVX2 kernels with AVX-512 VNNI (vpdpbusd on 256-bit registers) for the u8×s8 sums.
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#define ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define FN(x) x##_vnni
#define CK_VNNI 1
#define DOT_US(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#include "GemvKernels.h"
#endif
