// (Included by GemmAVX2.c, GemmAVXVNNI.c and GemmYMMVNNI512.c; not a standalone header.)
// The prompt-batch microkernel on 256-bit registers: 16 weight rows (two ymm of eight int32
// lanes) × up to three activation rows, over the same panels as GemmAVX512.c. The including
// file defines
//   ATTR          the target attribute
//   FN(x)         a name with the variant's suffix
//   DOT(acc,u,a)  acc + Σ of four u8 × s8 products per int32 lane (vpdpbusd, or maddubs+madd,
//                 which needs u ≤ 127: the driver is not called for "wide" types without VNNI)

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE ATTR __m256i FN(bcast32)(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/// res[k][0..16) for the sixteen rows of panel set `set` and activation rows k < NA.
INLINE ATTR void FN(tile)(int64_t n, const uint8_t *scratch, int set, const uint8_t *const *act, const int S,
                          const int OFF, const int MIN, const int NA, float (*res)[32]) {
    const int64_t nsub = n / S;
    const uint8_t *wq = CK_PANEL_WQ(scratch, n, set);
    const float *ws = CK_PANEL_WS(scratch, n, nsub, set), *wm = CK_PANEL_WM(scratch, n, nsub, set);
    const int8_t *q[3];
    const float *ad[3], *af[3];
    const int32_t *ao[3];
    __m256 f0[3], f1[3];
    for (int k = 0; k < NA; k++) {
        q[k] = (const int8_t *)act[k];
        ad[k] = (const float *)(act[k] + n);
        ao[k] = (const int32_t *)(ad[k] + n / 32);
        af[k] = (const float *)(ao[k] + nsub);
        f0[k] = _mm256_setzero_ps();
        f1[k] = _mm256_setzero_ps();
    }
    for (int64_t j = 0; j < nsub; j++) {
        __m256i i0[3], i1[3];
        for (int k = 0; k < NA; k++) {
            i0[k] = _mm256_setzero_si256();
            i1[k] = _mm256_setzero_si256();
        }
        const uint8_t *p = wq + j * S * 16;
#pragma clang loop unroll(full)
        for (int g = 0; g < S / 4; g++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(p + 64 * g));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(p + 64 * g + 32));
            for (int k = 0; k < NA; k++) {
                const __m256i a = FN(bcast32)(q[k] + j * S + 4 * g);
                i0[k] = DOT(i0[k], w0, a);
                i1[k] = DOT(i1[k], w1, a);
            }
        }
        const __m256 s0 = _mm256_loadu_ps(ws + 16 * j), s1 = _mm256_loadu_ps(ws + 16 * j + 8);
        for (int k = 0; k < NA; k++) {
            if (OFF) {
                const __m256i o = _mm256_set1_epi32(ao[k][j]);
                i0[k] = _mm256_sub_epi32(i0[k], o);
                i1[k] = _mm256_sub_epi32(i1[k], o);
            }
            const __m256 da = _mm256_set1_ps(ad[k][(j * S) / 32]);
            f0[k] = _mm256_fmadd_ps(_mm256_mul_ps(s0, da), _mm256_cvtepi32_ps(i0[k]), f0[k]);
            f1[k] = _mm256_fmadd_ps(_mm256_mul_ps(s1, da), _mm256_cvtepi32_ps(i1[k]), f1[k]);
            if (MIN) {
                const __m256 fs = _mm256_set1_ps(af[k][j]);
                f0[k] = _mm256_fnmadd_ps(_mm256_loadu_ps(wm + 16 * j), fs, f0[k]);
                f1[k] = _mm256_fnmadd_ps(_mm256_loadu_ps(wm + 16 * j + 8), fs, f1[k]);
            }
        }
    }
    for (int k = 0; k < NA; k++) {
        _mm256_storeu_ps(res[k] + 16 * set, f0[k]);
        _mm256_storeu_ps(res[k] + 16 * set + 8, f1[k]);
    }
}

INLINE ATTR void FN(panel)(int64_t n, const uint8_t *scratch, const uint8_t *act, size_t arb, int64_t nact,
                           float *out, int64_t os, int64_t rows, const int S, const int OFF, const int MIN) {
    float res[3][32];
    for (int64_t b0 = 0; b0 < nact; b0 += 3) {
        const int64_t na = nact - b0 < 3 ? nact - b0 : 3;
        const uint8_t *a[3];
        for (int64_t k = 0; k < na; k++) a[k] = act + (size_t)(b0 + k) * arb;
        for (int set = 0; set < (rows > 16 ? 2 : 1); set++) {
            switch (na) {
            case 1: FN(tile)(n, scratch, set, a, S, OFF, MIN, 1, res); break;
            case 2: FN(tile)(n, scratch, set, a, S, OFF, MIN, 2, res); break;
            default: FN(tile)(n, scratch, set, a, S, OFF, MIN, 3, res); break;
            }
        }
        for (int64_t k = 0; k < na; k++) memcpy(out + (b0 + k) * os, res[k], (size_t)rows * 4);
    }
}

ATTR void FN(ck_gemm)(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                      const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch) {
    for (int64_t r0 = 0; r0 < rows; r0 += 32) {
        const int64_t nr = rows - r0 < 32 ? rows - r0 : 32;
        ck_gemm_decode_panel(type, p, n, w + (size_t)r0 * wrb, wrb, nr, scratch);
        float *o = out + r0;
        if (p->sub == 32) {
            if (p->has_min) FN(panel)(n, scratch, act, arb, nact, o, os, nr, 32, 0, 1);
            else FN(panel)(n, scratch, act, arb, nact, o, os, nr, 32, 1, 0);
        } else {
            if (p->has_min) FN(panel)(n, scratch, act, arb, nact, o, os, nr, 16, 0, 1);
            else FN(panel)(n, scratch, act, arb, nact, o, os, nr, 16, 1, 0);
        }
    }
}
