// AVX2 + FMA + F16C kernels (Haswell and later, Zen and later).
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#define ATTR __attribute__((target("avx2,fma,f16c")))
#define FN(x) x##_avx2
#define DOT_US(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "GemvKernels.h"
#endif
