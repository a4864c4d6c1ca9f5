// Prompt-batch products on F16 and BF16 weights: 32 weight rows × up to 2048 columns at a time
// are converted to f32 once (F16C, or a shift for BF16) into a panel laid out column-major
// ([k][32 rows]), then every activation row meets the panel in an FMA microkernel of 16 or 32 rows
// (two or four ymm, GemmFloat.h) × six activation rows, the activation broadcast from memory. Conversion is paid
// once per panel per call, not once per activation row. The activations arrive rounded to the
// weights' type (MatMul does that, as ggml does), so products are exact in f32.
#if defined(__x86_64__) || defined(__i386__)
#include "CKernels.h"
#include "Internal.h"

#include <immintrin.h>
#include <string.h>

#define ATTR __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define KC 2048

size_t ck_gemm_float_scratch_bytes(void) { return 32 * KC * sizeof(float) + 64; }

INLINE ATTR __m256 load8(int type, const uint8_t *p) {
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == CK_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/// Transposes eight rows of eight floats.
INLINE ATTR void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/// The same panel from repacked rows (Repacked.c: sets of sixteen, row l's element k at 32k +
/// 2l): `w` is the set of the panel's first row; a second set only when rows > 16.
static ATTR void decode_packed(int type, const uint8_t *w, int64_t n, int64_t rows, int64_t k0, int64_t kc, float *panel) {
    for (int h = 0; h < 2; h++) {
        float *dst = panel + 16 * h;
        if (16 * h >= rows) {
            for (int64_t k = 0; k < kc; k++) {
                _mm256_store_ps(dst + 32 * k, _mm256_setzero_ps());
                _mm256_store_ps(dst + 32 * k + 8, _mm256_setzero_ps());
            }
            continue;
        }
        const uint8_t *set = w + (size_t)h * 32 * (size_t)n + 32 * (size_t)k0;
        for (int64_t k = 0; k < kc; k++) {
            _mm256_store_ps(dst + 32 * k, load8(type, set + 32 * k));
            _mm256_store_ps(dst + 32 * k + 8, load8(type, set + 32 * k + 16));
        }
    }
}

/// Columns k0 ..< k0+kc of `rows` (≤ 32) weight rows into panel[k][32] (zeros past `rows`).
static ATTR void decode(int type, const uint8_t *w, size_t wrb, int64_t rows, int64_t k0, int64_t kc, float *panel) {
    for (int r8 = 0; r8 < 4; r8++) {
        const int64_t base = 8 * r8;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; i++)
                v[i] = base + i < rows ? load8(type, w + (size_t)(base + i) * wrb + 2 * (size_t)(k0 + k))
                                       : _mm256_setzero_ps();
            transpose8(v);
            for (int i = 0; i < 8; i++) _mm256_store_ps(panel + (k + i) * 32 + base, v[i]);
        }
        for (; k < kc; k++) {
            for (int i = 0; i < 8; i++) {
                float f = 0;
                if (base + i < rows) {
                    uint16_t h;
                    memcpy(&h, w + (size_t)(base + i) * wrb + 2 * (size_t)(k0 + k), 2);
                    if (type == CK_F16) {
                        f = _cvtsh_ss(h);
                    } else {
                        const uint32_t bits = (uint32_t)h << 16;
                        memcpy(&f, &bits, 4);
                    }
                }
                panel[k * 32 + base + i] = f;
            }
        }
    }
}

#define TATTR ATTR
#define TFN(x) x##_avx2
#define MRV 2
#include "GemmFloat.h"
#undef TATTR
#undef TFN
#undef MRV
#define TATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define TFN(x) x##_avx512vl
#define MRV 4
#include "GemmFloat.h"

int ck_gemm_float(int type, int64_t n, const void *w, size_t wrb, int64_t rows, const float *x,
                  int64_t nact, float *out, int64_t os, void *scratch) {
    if ((type != CK_F16 && type != CK_BF16) || ck_cpu_level_detected() < 1) return 0;
    float *panel = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    if (ck_gemm_variant() >= 2 && ck_cpu_level() >= 2)
        gemm_avx512vl(type, n, (const uint8_t *)w, wrb, rows, x, nact, out, os, panel);
    else
        gemm_avx2(type, n, (const uint8_t *)w, wrb, rows, x, nact, out, os, panel);
    return 1;
}
// MARK: - Repacked F16/BF16 rows at a few activation rows

#define PATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw")))

INLINE PATTR __m512 load16(int type, const uint8_t *p) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (type == CK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/// Sixteen repacked rows × NA activation rows: per column, one conversion of sixteen weights
/// and an FMA per activation row with its element broadcast; even and odd columns in separate
/// accumulators (two dependency chains per row). A software prefetch only with several rows:
/// at four it lifted F16 decode from 33.5 to 38 t/s; one row streams well without it.
INLINE PATTR void packed_tile(int type, int64_t n, const uint8_t *set, const float *const *x, const int NA,
                              float (*res)[16]) {
    __m512 a[4], b[4];
    for (int i = 0; i < NA; i++) a[i] = b[i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 2 <= n; k += 2) {
        if (NA > 1) _mm_prefetch((const char *)(set + 32 * k + 1024), _MM_HINT_T0);
        const __m512 w0 = load16(type, set + 32 * k), w1 = load16(type, set + 32 * k + 32);
        for (int i = 0; i < NA; i++) {
            a[i] = _mm512_fmadd_ps(w0, _mm512_set1_ps(x[i][k]), a[i]);
            b[i] = _mm512_fmadd_ps(w1, _mm512_set1_ps(x[i][k + 1]), b[i]);
        }
    }
    for (; k < n; k++) {
        const __m512 w0 = load16(type, set + 32 * k);
        for (int i = 0; i < NA; i++) a[i] = _mm512_fmadd_ps(w0, _mm512_set1_ps(x[i][k]), a[i]);
    }
    for (int i = 0; i < NA; i++) _mm512_storeu_ps(res[i], _mm512_add_ps(a[i], b[i]));
}

PATTR int ck_repacked_float_gemm(int type, int64_t n, const void *packed, int64_t rows, const float *x, int64_t nact,
                                 float *out, int64_t os, int64_t set0, int64_t set1) {
    if ((type != CK_F16 && type != CK_BF16) || ck_cpu_level_detected() < 2) return 0;
    float res[4][16];
    for (int64_t s = set0; s < set1; s++) {
        const uint8_t *set = (const uint8_t *)packed + (size_t)s * 32 * (size_t)n;
        const int64_t nr = rows - 16 * s < 16 ? rows - 16 * s : 16;
        for (int64_t b0 = 0; b0 < nact; b0 += 4) {
            const int64_t na = nact - b0 < 4 ? nact - b0 : 4;
            const float *xs[4];
            for (int64_t i = 0; i < na; i++) xs[i] = x + (size_t)(b0 + i) * (size_t)n;
            switch (na) {
            case 1: packed_tile(type, n, set, xs, 1, res); break;
            case 2: packed_tile(type, n, set, xs, 2, res); break;
            case 3: packed_tile(type, n, set, xs, 3, res); break;
            default: packed_tile(type, n, set, xs, 4, res); break;
            }
            for (int64_t i = 0; i < na; i++) memcpy(out + (b0 + i) * os + 16 * s, res[i], (size_t)nr * 4);
        }
    }
    return 1;
}
#else
#include "CKernels.h"
int ck_repacked_float_gemm(int type, int64_t n, const void *packed, int64_t rows, const float *x, int64_t nact,
                           float *out, int64_t os, int64_t set0, int64_t set1) {
    (void)type; (void)n; (void)packed; (void)rows; (void)x; (void)nact; (void)out; (void)os; (void)set0; (void)set1;
    return 0;
}
size_t ck_gemm_float_scratch_bytes(void) { return 64; }
int ck_gemm_float(int type, int64_t n, const void *w, size_t wrb, int64_t rows, const float *x,
                  int64_t nact, float *out, int64_t os, void *scratch) {
    (void)type; (void)n; (void)w; (void)wrb; (void)rows; (void)x; (void)nact; (void)out; (void)os; (void)scratch;
    return 0;
}
#endif
