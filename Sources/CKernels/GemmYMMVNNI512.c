// The 256-bit prompt-batch microkernel with the EVEX vpdpbusd of AVX-512 VNNI/VL. The same
// source as the AVX-VNNI variant, so tests on AVX-512 machines exercise that code path.
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#define ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define FN(x) x##_ymm_vnni512
#define DOT(acc, u, a) _mm256_dpbusd_epi32((acc), (u), (a))
#include "GemmYMM.h"
#endif
