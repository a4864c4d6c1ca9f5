#ifndef PONDER_COPENBLAS_SHIM_H
#define PONDER_COPENBLAS_SHIM_H
#include <cblas.h>
#include <strings.h>

/// The OpenBLAS core type to ask for with OPENBLAS_CORETYPE, or NULL to keep the one OpenBLAS
/// chose. OpenBLAS picks its kernels once, when it is loaded, from the CPU's model number; a
/// release older than the CPU (Debian 12's 0.3.21 on Sapphire Rapids, seen here) does not know
/// the model and falls back to its SSE3 kernels ("Prescott"), which run sgemm at a third of the
/// speed. Only that fallback is overridden, and only with kernels the CPU can run.
static inline const char *ponder_openblas_better_core(void) {
    const char *name = openblas_get_corename();
    if (name == 0) return 0;
    static const char *const fallbacks[] = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                            "katmai", "coppermine", "northwood", "banias"};
    int fallback = 0;
    for (unsigned i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        if (strcasecmp(name, fallbacks[i]) == 0) fallback = 1;
    }
    if (!fallback) return 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return 0;
}
#endif
