// The 256-bit prompt-batch microkernel with AVX2 only: u8 × s8 sums by maddubs + madd.
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#define ATTR __attribute__((target("avx2,fma,f16c")))
#define FN(x) x##_ymm_avx2
#define DOT(acc, u, a) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (a)), _mm256_set1_epi16(1)))
#include "GemmYMM.h"
#endif
