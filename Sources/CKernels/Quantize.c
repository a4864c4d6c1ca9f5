// Activation quantization, portable C (it runs once per activation row per matmul, so it
// needs no intrinsics; the loops vectorize at baseline SSE2).

#include "CKernels.h"
#include "Internal.h"

#include <math.h>
#include <string.h>

int ck_activation_kind(int type) {
    switch (type) {
    case CK_F32: case CK_F16: case CK_BF16:
        return 0;
    case CK_Q4_0: case CK_Q4_1: case CK_Q5_0: case CK_Q5_1: case CK_Q8_0: case CK_IQ4_NL:
        return 1;
    case CK_Q2_K: case CK_Q3_K: case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: case CK_IQ4_XS:
        return 2;
    default:
        return -1;
    }
}

size_t ck_activation_row_bytes(int type, int64_t n) {
    switch (ck_activation_kind(type)) {
    case 0: return (size_t)n * 4;
    case 1: return ((size_t)(n / 32) * CK_Q8_32_BYTES + 3) & ~(size_t)3;   // keeps rows' floats aligned
    case 2: return (size_t)(n / 256) * CK_Q8_K_BYTES;
    default: return 0;
    }
}

/// ggml's nearest_int: round to nearest, ties to even, for |v| < 2^22.
static inline int32_t nearest_int(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/// The f32 value of the f16 nearest to `f` (ties to even), as F16C's vcvtps2ph rounds.
float ck_round_to_f16(float f) {
    const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
    uint32_t w;
    memcpy(&w, &f, 4);
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    const uint32_t shl1_w = w + w, sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    uint32_t bias_bits = (bias >> 1) + 0x07800000u;
    float bias_f;
    memcpy(&bias_f, &bias_bits, 4);
    base = bias_f + base;
    uint32_t bits;
    memcpy(&bits, &base, 4);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u, mantissa_bits = bits & 0x00000FFFu;
    const uint16_t h = (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : exp_bits + mantissa_bits));
    // Back to f32.
    const uint32_t hw = (uint32_t)h << 16, hsign = hw & 0x80000000u, two_w = hw + hw;
    uint32_t norm_bits = (two_w >> 4) + (0xE0u << 23);
    float norm;
    memcpy(&norm, &norm_bits, 4);
    norm *= 0x1.0p-112f;
    uint32_t denorm_bits = (two_w >> 17) | (126u << 23);
    float denorm;
    memcpy(&denorm, &denorm_bits, 4);
    denorm -= 0.5f;
    float mag = two_w < (1u << 27) ? denorm : norm;
    uint32_t mag_bits;
    memcpy(&mag_bits, &mag, 4);
    mag_bits |= hsign;
    float result;
    memcpy(&result, &mag_bits, 4);
    return result;
}

static void quantize_q8_32(const float *x, int64_t n, uint8_t *out) {
    const int64_t nb = n / 32;
    int8_t *q = (int8_t *)out;
    float *d = (float *)(out + 32 * nb);
    float *s = d + nb;
    int16_t *isum = (int16_t *)(s + nb);   // Σ q per block, exact (|Σ| ≤ 32·127)
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + 32 * i;
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            const float a = fabsf(xb[j]);
            amax = a > amax ? a : amax;
        }
        const float id = amax != 0 ? 127.f / amax : 0.f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            const int32_t v = nearest_int(xb[j] * id);
            q[32 * i + j] = (int8_t)v;
            sum += v;
        }
        d[i] = ck_round_to_f16(amax / 127.f);
        s[i] = d[i] * (float)sum;
        isum[i] = (int16_t)sum;
    }
}

static void quantize_q8_K(const float *x, int64_t n, uint8_t *out) {
    const int64_t nb = n / 256;
    int8_t *q = (int8_t *)out;
    float *d = (float *)(out + 256 * nb);
    int16_t *bsums = (int16_t *)(d + nb);
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + 256 * i;
        int8_t *qb = q + 256 * i;
        float max = 0, amax = 0;
        for (int j = 0; j < 256; j++) {
            const float a = fabsf(xb[j]);
            if (a > amax) { amax = a; max = xb[j]; }
        }
        if (amax == 0) {
            d[i] = 0;
            memset(qb, 0, 256);
            memset(bsums + 16 * i, 0, 32);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < 256; j++) {
            const int32_t v = nearest_int(iscale * xb[j]);
            qb[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < 16; g++) {
            int32_t sum = 0;
            for (int j = 0; j < 16; j++) sum += qb[16 * g + j];
            bsums[16 * i + g] = (int16_t)sum;
        }
        d[i] = 1 / iscale;
    }
}

void ck_quantize_row(int type, const float *x, int64_t n, void *out) {
    switch (ck_activation_kind(type)) {
    case 0: memcpy(out, x, (size_t)n * 4); break;
    case 1: quantize_q8_32(x, n, (uint8_t *)out); break;
    case 2: quantize_q8_K(x, n, (uint8_t *)out); break;
    default: break;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx2,f16c"))) static void round_row_f16_f16c(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) y[i] = ck_round_to_f16(x[i]);
}
#endif

void ck_round_row_f16(const float *x, float *y, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
    if (ck_cpu_level() > 0) {
        round_row_f16_f16c(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) y[i] = ck_round_to_f16(x[i]);
}
