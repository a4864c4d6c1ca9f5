// The prompt-batch microkernel with AVX-512 VNNI: 32 weight rows (two zmm of sixteen int32
// lanes, one lane per row) × up to four activation rows. For every four elements, one load of
// the panel feeds sixteen rows and vpdpbusd takes the activation row's four bytes broadcast
// from memory. See GemmDecode.c for the panel layout and the arithmetic.
#if defined(__x86_64__) || defined(__i386__)
#include "Internal.h"

#include <immintrin.h>
#include <string.h>

#define ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

INLINE ATTR __m512i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/// res[k][0..32) = Σ over the row of panel rows × activation row k, for k < NA.
INLINE ATTR void tile(int64_t n, const uint8_t *scratch, const uint8_t *const *act, const int S,
                      const int OFF, const int MIN, const int NA, float (*res)[32]) {
    const int64_t nsub = n / S;
    const uint8_t *wq0 = CK_PANEL_WQ(scratch, n, 0), *wq1 = CK_PANEL_WQ(scratch, n, 1);
    const float *ws0 = CK_PANEL_WS(scratch, n, nsub, 0), *ws1 = CK_PANEL_WS(scratch, n, nsub, 1);
    const float *wm0 = CK_PANEL_WM(scratch, n, nsub, 0), *wm1 = CK_PANEL_WM(scratch, n, nsub, 1);
    const int8_t *q[4];
    const float *ad[4], *af[4];
    const int32_t *ao[4];
    __m512 f0[4], f1[4];
    for (int k = 0; k < NA; k++) {
        q[k] = (const int8_t *)act[k];
        ad[k] = (const float *)(act[k] + n);
        ao[k] = (const int32_t *)(ad[k] + n / 32);
        af[k] = (const float *)(ao[k] + nsub);
        f0[k] = _mm512_setzero_ps();
        f1[k] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < nsub; j++) {
        __m512i i0[4], i1[4];
        for (int k = 0; k < NA; k++) {
            i0[k] = _mm512_setzero_si512();
            i1[k] = _mm512_setzero_si512();
        }
        const uint8_t *p0 = wq0 + j * S * 16, *p1 = wq1 + j * S * 16;
#pragma clang loop unroll(full)
        for (int g = 0; g < S / 4; g++) {
            const __m512i w0 = _mm512_load_si512((const void *)(p0 + 64 * g));
            const __m512i w1 = _mm512_load_si512((const void *)(p1 + 64 * g));
            for (int k = 0; k < NA; k++) {
                const __m512i a = bcast32(q[k] + j * S + 4 * g);
                i0[k] = _mm512_dpbusd_epi32(i0[k], w0, a);
                i1[k] = _mm512_dpbusd_epi32(i1[k], w1, a);
            }
        }
        const __m512 s0 = _mm512_loadu_ps(ws0 + 16 * j), s1 = _mm512_loadu_ps(ws1 + 16 * j);
        for (int k = 0; k < NA; k++) {
            if (OFF) {
                const __m512i o = _mm512_set1_epi32(ao[k][j]);
                i0[k] = _mm512_sub_epi32(i0[k], o);
                i1[k] = _mm512_sub_epi32(i1[k], o);
            }
            const __m512 da = _mm512_set1_ps(ad[k][(j * S) / 32]);
            f0[k] = _mm512_fmadd_ps(_mm512_mul_ps(s0, da), _mm512_cvtepi32_ps(i0[k]), f0[k]);
            f1[k] = _mm512_fmadd_ps(_mm512_mul_ps(s1, da), _mm512_cvtepi32_ps(i1[k]), f1[k]);
            if (MIN) {
                const __m512 fs = _mm512_set1_ps(af[k][j]);
                f0[k] = _mm512_fnmadd_ps(_mm512_loadu_ps(wm0 + 16 * j), fs, f0[k]);
                f1[k] = _mm512_fnmadd_ps(_mm512_loadu_ps(wm1 + 16 * j), fs, f1[k]);
            }
        }
    }
    for (int k = 0; k < NA; k++) {
        _mm512_storeu_ps(res[k], f0[k]);
        _mm512_storeu_ps(res[k] + 16, f1[k]);
    }
}

/// All activation rows against one decoded panel, four at a time.
INLINE ATTR void panel(int64_t n, const uint8_t *scratch, const uint8_t *act, size_t arb, int64_t nact,
                       float *out, int64_t os, int64_t rows, const int S, const int OFF, const int MIN) {
    float res[4][32];
    for (int64_t b0 = 0; b0 < nact; b0 += 4) {
        const int64_t na = nact - b0 < 4 ? nact - b0 : 4;
        const uint8_t *a[4];
        for (int64_t k = 0; k < na; k++) a[k] = act + (size_t)(b0 + k) * arb;
        switch (na) {
        case 1: tile(n, scratch, a, S, OFF, MIN, 1, res); break;
        case 2: tile(n, scratch, a, S, OFF, MIN, 2, res); break;
        case 3: tile(n, scratch, a, S, OFF, MIN, 3, res); break;
        default: tile(n, scratch, a, S, OFF, MIN, 4, res); break;
        }
        for (int64_t k = 0; k < na; k++) memcpy(out + (b0 + k) * os, res[k], (size_t)rows * 4);
    }
}

ATTR void ck_gemm_avx512(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                         const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch) {
    for (int64_t r0 = 0; r0 < rows; r0 += 32) {
        const int64_t nr = rows - r0 < 32 ? rows - r0 : 32;
        ck_gemm_decode_panel(type, p, n, w + (size_t)r0 * wrb, wrb, nr, scratch);
        float *o = out + r0;
        if (p->sub == 32) {
            if (p->has_min) panel(n, scratch, act, arb, nact, o, os, nr, 32, 0, 1);
            else panel(n, scratch, act, arb, nact, o, os, nr, 32, 1, 0);
        } else {
            if (p->has_min) panel(n, scratch, act, arb, nact, o, os, nr, 16, 0, 1);
            else panel(n, scratch, act, arb, nact, o, os, nr, 16, 1, 0);
        }
    }
}
#endif
