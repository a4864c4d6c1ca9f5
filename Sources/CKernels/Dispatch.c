// Run-time CPU dispatch for the kernels.

#include "CKernels.h"
#include "Internal.h"

#include <stdatomic.h>

static _Atomic int detected_level = -1;
static _Atomic int level_cap = 99;

static int detect(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")))
        return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

int ck_cpu_level_detected(void) {
    int level = atomic_load_explicit(&detected_level, memory_order_relaxed);
    if (level < 0) {
        level = detect();
        atomic_store_explicit(&detected_level, level, memory_order_relaxed);
    }
    return level;
}

int ck_cpu_level(void) {
    const int level = ck_cpu_level_detected();
    const int cap = atomic_load_explicit(&level_cap, memory_order_relaxed);
    return level < cap ? level : cap;
}

void ck_set_cpu_level_cap(int cap) {
    atomic_store_explicit(&level_cap, cap < 0 ? 99 : cap, memory_order_relaxed);
}

int ck_gemv(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows,
            const void *act, size_t act_row_bytes, int64_t nact, float *out, int64_t out_stride) {
    if (ck_activation_kind(type) < 0) return 0;
    switch (ck_cpu_level()) {
#if defined(__x86_64__) || defined(__i386__)
    case 2:
        return ck_gemv_vnni(type, n, (const uint8_t *)w, w_row_bytes, rows, (const uint8_t *)act,
                            act_row_bytes, nact, out, out_stride);
    case 1:
        return ck_gemv_avx2(type, n, (const uint8_t *)w, w_row_bytes, rows, (const uint8_t *)act,
                            act_row_bytes, nact, out, out_stride);
#endif
    default:
        return 0;
    }
}

static _Atomic int forced_gemm_variant = 0;

static int has_avxvnni(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avxvnni");
#else
    return 0;
#endif
}

void ck_set_gemm_variant(int variant) {
    atomic_store_explicit(&forced_gemm_variant, variant, memory_order_relaxed);
}

int ck_gemm_variant(void) {
    const int level = ck_cpu_level();
    if (level == 0) return 0;
    const int forced = atomic_load_explicit(&forced_gemm_variant, memory_order_relaxed);
    if (forced == 1) return 1;
    if ((forced == 2 || forced == 3) && level == 2) return forced;
    if (level == 2) return 3;
    return has_avxvnni() ? 4 : 1;
}

int ck_gemm_supported_by(int variant, int type) {
    ck_gemm_layout p;
    if (!ck_gemm_params(type, &p)) return 0;
    const int level = ck_cpu_level_detected();
    switch (variant) {
    case 1: return level >= 1 && !p.wide;
    case 2: case 3: return level >= 2;
    case 4: return level >= 1 && has_avxvnni();
    default: return 0;
    }
}

int ck_gemm_supported(int type) { return ck_gemm_supported_by(ck_gemm_variant(), type); }

int ck_gemm_with(int variant, int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, const void *act,
                 int64_t nact, float *out, int64_t out_stride, void *scratch) {
    ck_gemm_layout p;
    if (!ck_gemm_supported_by(variant, type) || !ck_gemm_params(type, &p) || n % p.block != 0) return 0;
    const size_t arb = ck_gemm_act_row_bytes(type, n);
    const uint8_t *wb = (const uint8_t *)w, *ab = (const uint8_t *)act;
    switch (variant) {
#if defined(__x86_64__) || defined(__i386__)
    case 1: ck_gemm_ymm_avx2(type, &p, n, wb, w_row_bytes, rows, ab, arb, nact, out, out_stride, scratch); return 1;
    case 2: ck_gemm_ymm_vnni512(type, &p, n, wb, w_row_bytes, rows, ab, arb, nact, out, out_stride, scratch); return 1;
    case 3: ck_gemm_avx512(type, &p, n, wb, w_row_bytes, rows, ab, arb, nact, out, out_stride, scratch); return 1;
    case 4: ck_gemm_ymm_avxvnni(type, &p, n, wb, w_row_bytes, rows, ab, arb, nact, out, out_stride, scratch); return 1;
#endif
    default: return 0;
    }
}

int ck_gemm(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, const void *act,
            int64_t nact, float *out, int64_t out_stride, void *scratch) {
    return ck_gemm_with(ck_gemm_variant(), type, n, w, w_row_bytes, rows, act, nact, out, out_stride, scratch);
}

float ck_stream_sum(const float *x, int64_t count) {
    // Eight independent accumulators of four lanes; LLVM vectorizes this at any baseline.
    float acc[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= count; i += 32)
        for (int j = 0; j < 32; j++) acc[j] += x[i + j];
    float total = 0;
    for (int j = 0; j < 32; j++) total += acc[j];
    for (; i < count; i++) total += x[i];
    return total;
}
