// Prompt-batch matrix products on quantized weights: the parts every instruction set shares.
//
// A product of a weight matrix with a batch of activation rows runs panel by panel: 32 weight
// rows at a time are decoded once into a worker's scratch (a "panel") and then multiplied with
// every activation row of the batch by an integer microkernel (GemmAVX512.c, GemmYMM.h).
// Decoding is paid once per 32 rows per call, so for a prompt batch it is a small part of the
// work, and the microkernel is the same for every weight type:
//
//   weight element  w = ws·(u − c) − wm      (u an unsigned byte, c a per-type constant,
//                                             ws and wm per sub-block of S elements and row)
//   activation      a = da·q                 (q a signed byte, da per 32 elements)
//   Σ w·a over a sub-block = ws·da·(Σ u·q − c·Σq) − wm·(da·Σq)
//
// Σ u·q is what vpdpbusd sums (unsigned × signed bytes into int32 lanes); c·Σq is subtracted
// in int32, exactly; the sub-block's float products then accumulate in f32.
//
// Panel layout (32 rows as two sets of 16): for set s, group g (elements 4g..4g+3) the 64
// bytes at wq + s·16n + 64g hold row 16s+l's four bytes at 4l, so one 512-bit load feeds
// sixteen rows. Scales ws (and mins wm) are [set][n/S][16] floats.

#include "CKernels.h"
#include "Internal.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DECODE_ATTR __attribute__((target("avx2,fma,f16c")))
static inline DECODE_ATTR float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
#else
#define DECODE_ATTR
static inline float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    _Float16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}
#endif

static const int8_t iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

int ck_gemm_params(int type, ck_gemm_layout *p) {
    int S = 32, c = 0, has_min = 0, block = 32, bytes = 0, wide = 0;
    switch (type) {
    case CK_Q8_0: c = 128; bytes = 34; wide = 1; break;
    case CK_Q4_0: c = 8; bytes = 18; break;
    case CK_Q5_0: c = 16; bytes = 22; break;
    case CK_Q4_1: has_min = 1; bytes = 20; break;
    case CK_Q5_1: has_min = 1; bytes = 24; break;
    case CK_IQ4_NL: c = 128; bytes = 18; wide = 1; break;
    case CK_IQ4_XS: c = 128; block = 256; bytes = 136; wide = 1; break;
    case CK_Q4_K: has_min = 1; block = 256; bytes = 144; break;
    case CK_Q5_K: has_min = 1; block = 256; bytes = 176; break;
    case CK_Q6_K: S = 16; c = 32; block = 256; bytes = 210; break;
    case CK_Q3_K: S = 16; c = 4; block = 256; bytes = 110; break;
    case CK_Q2_K: S = 16; has_min = 1; block = 256; bytes = 84; break;
    default: return 0;
    }
    p->sub = S;
    p->offset = c;
    p->has_min = has_min;
    p->block = block;
    p->block_bytes = bytes;
    p->wide = wide;
    return 1;
}

size_t ck_gemm_act_row_bytes(int type, int64_t n) {
    ck_gemm_layout p;
    if (!ck_gemm_params(type, &p)) return 0;
    const size_t bytes = (size_t)n + 4 * (size_t)(n / 32) + 8 * (size_t)(n / p.sub);
    return (bytes + 63) & ~(size_t)63;
}

size_t ck_gemm_scratch_bytes(int type, int64_t n) {
    ck_gemm_layout p;
    if (!ck_gemm_params(type, &p)) return 0;
    return 32 * (size_t)n + 2 * 2 * 16 * 4 * (size_t)(n / p.sub) + 64;
}

#if defined(__x86_64__) || defined(__i386__)
/// One 32-element block: q, the scale, and Σq of each half. vcvtps2dq rounds to nearest even
/// (the default MXCSR mode), as nearest() does.
static inline DECODE_ATTR float quantize_block(const float *xb, int f16_scale, int8_t *q, int32_t sums[2]) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    __m256 v[4];
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(xb + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float id = amax != 0 ? 127.f / amax : 0.f;
    const __m256 scale = _mm256_set1_ps(id);
    __m256i iv[4];
    for (int i = 0; i < 4; i++) iv[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], scale));
    const __m256i s0 = _mm256_add_epi32(iv[0], iv[1]), s1 = _mm256_add_epi32(iv[2], iv[3]);
    __m128i h0 = _mm_add_epi32(_mm256_castsi256_si128(s0), _mm256_extracti128_si256(s0, 1));
    __m128i h1 = _mm_add_epi32(_mm256_castsi256_si128(s1), _mm256_extracti128_si256(s1, 1));
    h0 = _mm_hadd_epi32(h0, h1);
    h0 = _mm_hadd_epi32(h0, h0);
    sums[0] = _mm_cvtsi128_si32(h0);
    sums[1] = _mm_extract_epi32(h0, 1);
    // int32 → int8 with the lane order restored after the in-lane packs.
    const __m256i p16a = _mm256_packs_epi32(iv[0], iv[1]), p16b = _mm256_packs_epi32(iv[2], iv[3]);
    const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return f16_scale ? ck_round_to_f16(amax / 127.f) : amax / 127.f;
}
#else
/// ggml's nearest_int: round to nearest, ties to even, for |v| < 2^22.
static inline int32_t nearest(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static inline float quantize_block(const float *xb, int f16_scale, int8_t *q, int32_t sums[2]) {
    float amax = 0;
    for (int j = 0; j < 32; j++) {
        const float a = fabsf(xb[j]);
        amax = a > amax ? a : amax;
    }
    const float id = amax != 0 ? 127.f / amax : 0.f;
    sums[0] = sums[1] = 0;
    for (int j = 0; j < 32; j++) {
        const int32_t v = nearest(xb[j] * id);
        q[j] = (int8_t)v;
        sums[j >> 4] += v;
    }
    return f16_scale ? ck_round_to_f16(amax / 127.f) : amax / 127.f;
}
#endif

DECODE_ATTR void ck_gemm_quantize_rows(int type, const float *x, int64_t n, int64_t count, void *out) {
    ck_gemm_layout p;
    if (!ck_gemm_params(type, &p)) return;
    const size_t row_bytes = ck_gemm_act_row_bytes(type, n);
    const int S = p.sub, c = p.offset;
    // Types with 32-element weight blocks meet activations quantized as ggml's Q8_0 (the scale
    // rounded to f16), so that prompt batches round as llama.cpp's do; the K-quants keep the
    // f32 scale (ggml's Q8_K has one per 256, coarser than this).
    const int f16_scale = p.block == 32;
    for (int64_t r = 0; r < count; r++) {
        const float *xr = x + r * n;
        uint8_t *o = (uint8_t *)out + r * row_bytes;
        int8_t *q = (int8_t *)o;
        float *d = (float *)(o + n);
        int32_t *off = (int32_t *)(d + n / 32);
        float *fs = (float *)(off + n / S);
        for (int64_t b = 0; b < n / 32; b++) {
            int32_t sums[2];
            const float db = quantize_block(xr + 32 * b, f16_scale, q + 32 * b, sums);
            d[b] = db;
            if (S == 32) {
                const int32_t s = sums[0] + sums[1];
                off[b] = c * s;
                fs[b] = db * (float)s;
            } else {
                for (int h = 0; h < 2; h++) {
                    off[2 * b + h] = c * sums[h];
                    fs[2 * b + h] = db * (float)sums[h];
                }
            }
        }
    }
}

// MARK: - Decoding one weight row into the panel

static inline DECODE_ATTR void nibbles16(const uint8_t *qs, uint8_t *u) {
    for (int j = 0; j < 16; j++) {
        u[j] = qs[j] & 15;
        u[j + 16] = qs[j] >> 4;
    }
}

static inline DECODE_ATTR void high_bit5(const uint8_t *qh4, uint8_t *u) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 32; j++) u[j] |= (uint8_t)(((qh >> j) & 1) << 4);
}

/// Q4_K/Q5_K 6-bit scale and min of sub-block j (0..7).
static inline void k4_scale_min(const uint8_t *q, int j, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/// Decodes one weight block at `b` into its unsigned bytes u[0 ..< block] and the scales
/// (and mins) of its sub-blocks at ws[16·j], wm[16·j].
static DECODE_ATTR void decode_block(int type, const uint8_t *b, uint8_t *u, float *ws, float *wm) {
                switch (type) {
        case CK_Q8_0:
#if defined(__x86_64__) || defined(__i386__)
            _mm256_storeu_si256((__m256i *)u, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 2)),
                                                               _mm256_set1_epi8((char)0x80)));
#else
            for (int j = 0; j < 32; j++) u[j] = (uint8_t)(b[2 + j] ^ 0x80);
#endif
            ws[0] = f16_at(b);
            break;
        case CK_Q4_0:
            nibbles16(b + 2, u);
            ws[0] = f16_at(b);
            break;
        case CK_Q5_0:
            nibbles16(b + 6, u);
            high_bit5(b + 2, u);
            ws[0] = f16_at(b);
            break;
        case CK_Q4_1:
            nibbles16(b + 4, u);
            ws[0] = f16_at(b);
            wm[0] = -f16_at(b + 2);
            break;
        case CK_Q5_1:
            nibbles16(b + 8, u);
            high_bit5(b + 4, u);
            ws[0] = f16_at(b);
            wm[0] = -f16_at(b + 2);
            break;
        case CK_IQ4_NL:
            for (int j = 0; j < 16; j++) {
                u[j] = (uint8_t)(iq4_values[b[2 + j] & 15] + 128);
                u[j + 16] = (uint8_t)(iq4_values[b[2 + j] >> 4] + 128);
            }
            ws[0] = f16_at(b);
            break;
        case CK_IQ4_XS: {
            const float d = f16_at(b);
            uint16_t sh;
            memcpy(&sh, b + 2, 2);
            for (int s = 0; s < 8; s++) {
                const int ls = ((b[4 + s / 2] >> (4 * (s % 2))) & 15) | (((sh >> (2 * s)) & 3) << 4);
                ws[16 * s] = d * (float)(ls - 32);
                const uint8_t *qs = b + 8 + 16 * s;
                for (int j = 0; j < 16; j++) {
                    u[32 * s + j] = (uint8_t)(iq4_values[qs[j] & 15] + 128);
                    u[32 * s + j + 16] = (uint8_t)(iq4_values[qs[j] >> 4] + 128);
                }
            }
            break;
        }
        case CK_Q4_K: case CK_Q5_K: {
            const int five = type == CK_Q5_K;
            const float d = f16_at(b), dmin = f16_at(b + 2);
            const uint8_t *qs = b + (five ? 48 : 16), *qh = b + 16;
#if defined(__x86_64__) || defined(__i386__)
            const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
            const __m256i hbits = _mm256_loadu_si256((const __m256i *)qh);
            for (int c = 0; c < 4; c++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                if (five) {
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
                }
                _mm256_storeu_si256((__m256i *)(u + 64 * c), lo);
                _mm256_storeu_si256((__m256i *)(u + 64 * c + 32), hi);
            }
#else
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    uint8_t lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
                    if (five) {
                        lo |= (uint8_t)(((qh[l] >> (2 * c)) & 1) << 4);
                        hi |= (uint8_t)(((qh[l] >> (2 * c + 1)) & 1) << 4);
                    }
                    u[64 * c + l] = lo;
                    u[64 * c + 32 + l] = hi;
                }
            }
#endif
            for (int s = 0; s < 8; s++) {
                int sc, mn;
                k4_scale_min(b + 4, s, &sc, &mn);
                ws[16 * s] = d * (float)sc;
                wm[16 * s] = dmin * (float)mn;
            }
            break;
        }
        case CK_Q6_K: {
            const uint8_t *ql = b, *qh = b + 128;
            const int8_t *sc = (const int8_t *)(b + 192);
            const float d = f16_at(b + 208);
#if defined(__x86_64__) || defined(__i386__)
            const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3), m30 = _mm256_set1_epi8(0x30);
            for (int h = 0; h < 2; h++) {
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h));
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * h + 32));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)(qh + 32 * h));
                _mm256_storeu_si256((__m256i *)(u + 128 * h), _mm256_or_si256(
                    _mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)));
                _mm256_storeu_si256((__m256i *)(u + 128 * h + 32), _mm256_or_si256(
                    _mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30)));
                _mm256_storeu_si256((__m256i *)(u + 128 * h + 64), _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30)));
                _mm256_storeu_si256((__m256i *)(u + 128 * h + 96), _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30)));
            }
#else
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    const uint8_t l0 = ql[64 * h + l], l1 = ql[64 * h + 32 + l], hb = qh[32 * h + l];
                    u[128 * h + l] = (uint8_t)((l0 & 15) | ((hb & 3) << 4));
                    u[128 * h + 32 + l] = (uint8_t)((l1 & 15) | (((hb >> 2) & 3) << 4));
                    u[128 * h + 64 + l] = (uint8_t)((l0 >> 4) | (((hb >> 4) & 3) << 4));
                    u[128 * h + 96 + l] = (uint8_t)((l1 >> 4) | (((hb >> 6) & 3) << 4));
                }
            }
#endif
            for (int s = 0; s < 16; s++) ws[16 * s] = d * (float)sc[s];
            break;
        }
        case CK_Q3_K: {
            const uint8_t *hm = b, *qs = b + 32, *packed = b + 96;
            const float d = f16_at(b + 108);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    const uint8_t q = qs[32 * h + l], m = (uint8_t)(hm[l] >> (4 * h));
                    for (int k = 0; k < 4; k++)
                        u[128 * h + 32 * k + l] = (uint8_t)(((q >> (2 * k)) & 3) | (((m >> k) & 1) << 2));
                }
            }
            for (int s = 0; s < 16; s++) {
                const int low = s < 8 ? (packed[s] & 15) : (packed[s - 8] >> 4);
                const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
                ws[16 * s] = d * (float)((low | (high << 4)) - 32);
            }
            break;
        }
        default: { /* Q2_K */
            const uint8_t *scales = b, *qs = b + 16;
            const float d = f16_at(b + 80), dmin = f16_at(b + 82);
            for (int h = 0; h < 2; h++)
                for (int l = 0; l < 32; l++)
                    for (int k = 0; k < 4; k++)
                        u[128 * h + 32 * k + l] = (uint8_t)((qs[32 * h + l] >> (2 * k)) & 3);
            for (int s = 0; s < 16; s++) {
                ws[16 * s] = d * (float)(scales[s] & 15);
                wm[16 * s] = dmin * (float)(scales[s] >> 4);
            }
            break;
        }
        }
}

#if defined(__x86_64__) || defined(__i386__)
/// Sixteen rows' bytes u[lane][0 ..< count] (rows `stride` apart) → `count`/4 vectors of
/// sixteen 4-byte words, one per row, by gathers.
static inline DECODE_ATTR void interleave16(const uint8_t *u, int stride, int count, uint8_t *dst) {
    const __m256i lo = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    const __m256i hi = _mm256_add_epi32(lo, _mm256_set1_epi32(8 * stride));
    for (int g = 0; g < count / 4; g++) {
        const int *base = (const int *)(u + 4 * g);
        _mm256_store_si256((__m256i *)(dst + 64 * g), _mm256_i32gather_epi32(base, lo, 1));
        _mm256_store_si256((__m256i *)(dst + 64 * g + 32), _mm256_i32gather_epi32(base, hi, 1));
    }
}
#else
static inline void interleave16(const uint8_t *u, int stride, int count, uint8_t *dst) {
    for (int g = 0; g < count / 4; g++)
        for (int lane = 0; lane < 16; lane++) memcpy(dst + 64 * g + 4 * lane, u + lane * stride + 4 * g, 4);
}
#endif

DECODE_ATTR void ck_gemm_decode_panel(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w,
                                      size_t w_row_bytes, int64_t rows, uint8_t *scratch) {
    const int64_t nsub = n / p->sub;
    const int block = p->block, S = p->sub;
    uint8_t u[16 * 256] __attribute__((aligned(64)));
    for (int s = 0; s < 2; s++) {
        uint8_t *wq_set = CK_PANEL_WQ(scratch, n, s);
        float *ws_set = CK_PANEL_WS(scratch, n, nsub, s);
        float *wm_set = CK_PANEL_WM(scratch, n, nsub, s);
        for (int64_t e0 = 0; e0 < n; e0 += block) {
            const int64_t ib = e0 / block;
            for (int lane = 0; lane < 16; lane++) {
                const int64_t r = 16 * s + lane;
                float *ws = ws_set + (e0 / S) * 16 + lane, *wm = wm_set + (e0 / S) * 16 + lane;
                if (r < rows) {
                    decode_block(type, w + (size_t)r * w_row_bytes + (size_t)ib * p->block_bytes, u + lane * block, ws, wm);
                } else {
                    // Rows past the matrix contribute nothing: zero bytes, scales and mins.
                    memset(u + lane * block, 0, (size_t)block);
                    for (int j = 0; j < block / S; j++) ws[16 * j] = wm[16 * j] = 0;
                }
            }
            interleave16(u, block, block, wq_set + (e0 / 4) * 64);
        }
    }
}
