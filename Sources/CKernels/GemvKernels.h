// (Included by GemvAVX2.c and GemvVNNI.c; not a standalone header.)
// Matrix-vector kernels, included once per instruction set by Gemv*.c, which define
//   ATTR     the target attribute (e.g. __attribute__((target("avx2,fma,f16c"))))
//   FN(x)    a name with the instruction-set suffix
//   DOT_US   Σ of u8 × s8 products in groups of four into int32 lanes (maddubs+madd or dpbusd)
// Every weight block is decoded once per row and used for up to four activation rows
// (`NA`, a constant after inlining), so batched decode reads the weights once.

#include <immintrin.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/// acc + Σ of int16 × int16 products in pairs into int32 lanes (vpdpwssd with VNNI).
#ifdef CK_VNNI
#define DOT_WS(acc, x, y) _mm256_dpwssd_epi32((acc), (x), (y))
#else
#define DOT_WS(acc, x, y) _mm256_add_epi32((acc), _mm256_madd_epi16((x), (y)))
#endif

INLINE ATTR float FN(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE ATTR float FN(f16)(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

INLINE ATTR __m256i FN(load)(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/// 16 packed bytes → 32 nibbles: low nibbles in bytes 0..15, high nibbles in bytes 16..31.
INLINE ATTR __m256i FN(nibbles)(const uint8_t *p) {
    const __m128i x = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
}

/// Bit j of the little-endian u32 at p → 0x10 in byte j, 0 otherwise.
INLINE ATTR __m256i FN(high_bits)(const uint8_t *p) {
    uint32_t qh;
    memcpy(&qh, p, 4);
    const __m256i shuffle = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                             2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuffle);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/// The 16 values of the IQ4 types (ggml's kvalues_iq4nl) in each 128-bit lane, plus `bias`:
/// a byte shuffle by 4-bit indices is the table lookup.
INLINE ATTR __m256i FN(iq4_table)(int bias) {
    const __m128i k = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m128i t = _mm_add_epi8(k, _mm_set1_epi8((char)bias));
    return _mm256_set_m128i(t, t);
}

// MARK: - Legacy 32-element blocks against Q8 per 32

/// Weight values of one block: signed (−16…15, −8…7, −127…127) for Q5_0/Q4_0/Q8_0, or
/// unsigned (0…31, 0…15) for Q5_1/Q4_1.
INLINE ATTR __m256i FN(legacy_values)(int type, const uint8_t *b) {
    switch (type) {
    case CK_Q8_0: return FN(load)(b + 2);
    case CK_Q4_0: return _mm256_sub_epi8(FN(nibbles)(b + 2), _mm256_set1_epi8(8));
    case CK_Q5_0: return _mm256_sub_epi8(_mm256_or_si256(FN(nibbles)(b + 6), FN(high_bits)(b + 2)),
                                         _mm256_set1_epi8(16));
    case CK_Q4_1: return FN(nibbles)(b + 4);
    default: /* Q5_1 */ return _mm256_or_si256(FN(nibbles)(b + 8), FN(high_bits)(b + 4));
    }
}

/// Eight blocks' int32 lane sums p[0..7] → one vector whose lane j is Σ p[j].
INLINE ATTR __m256i FN(reduce8)(const __m256i *p) {
    const __m256i s01 = _mm256_hadd_epi32(p[0], p[1]), s23 = _mm256_hadd_epi32(p[2], p[3]);
    const __m256i s45 = _mm256_hadd_epi32(p[4], p[5]), s67 = _mm256_hadd_epi32(p[6], p[7]);
    const __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(s0123, s4567, 0x20),
                            _mm256_permute2x128_si256(s0123, s4567, 0x31));
}

/// Unsigned weight values u of one block (0…255, 0…15, 0…31; IQ4_NL: its value + 128, 1…241),
/// with w = u − offset.
INLINE ATTR __m256i FN(legacy_unsigned)(int type, const uint8_t *b) {
    switch (type) {
    case CK_Q8_0: return _mm256_xor_si256(FN(load)(b + 2), _mm256_set1_epi8((char)0x80));
    case CK_IQ4_NL: return _mm256_shuffle_epi8(FN(iq4_table)(128), FN(nibbles)(b + 2));
    case CK_Q4_0: return FN(nibbles)(b + 2);
    case CK_Q5_0: return _mm256_or_si256(FN(nibbles)(b + 6), FN(high_bits)(b + 2));
    case CK_Q4_1: return FN(nibbles)(b + 4);
    default: /* Q5_1 */ return _mm256_or_si256(FN(nibbles)(b + 8), FN(high_bits)(b + 4));
    }
}

/// One block's int32 lane sums of (u − offset)·a before the offset correction: with VNNI,
/// dpbusd of u and a (corrected by offset·Σa after the lanes are summed); with AVX2, which has
/// no unsaturated u8×s8 sum for u up to 255, the signed values w = u − offset with the sign
/// trick (no correction). Either way the corrected block sum is the same exact integer.
INLINE ATTR __m256i FN(block_dot)(int type, __m256i u, __m256i a) {
#ifdef CK_VNNI
    (void)type;
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, a);
#else
    if (type == CK_Q4_1 || type == CK_Q5_1) return DOT_US(u, a);
    const __m256i w = type == CK_Q8_0 || type == CK_IQ4_NL ? _mm256_xor_si256(u, _mm256_set1_epi8((char)0x80))
                    : _mm256_sub_epi8(u, _mm256_set1_epi8(type == CK_Q4_0 ? 8 : 16));
    return DOT_US(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
#endif
}

/// Whether FN(block_dot) leaves offset·Σa to subtract.
#ifdef CK_VNNI
#define CK_OFFSET_DOT 1
#else
#define CK_OFFSET_DOT 0
#endif

/// The f16 at byte `off` of eight consecutive blocks, as f32.
INLINE ATTR __m256 FN(f16x8)(const uint8_t *b, int bytes, int off) {
    uint16_t h[8];
    for (int j = 0; j < 8; j++) memcpy(&h[j], b + j * bytes + off, 2);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
}

/// Exact int32 sums per block (FN(block_dot)), eight blocks' sums transposed into one vector,
/// corrected by offset·Σa in int32 where needed, converted once and scaled by d_w·d_a in one FMA.
INLINE ATTR void FN(legacy_rows8)(int type, int64_t nb, int64_t i0, int64_t i1, const uint8_t *w,
                                      const uint8_t *const *aq, int NA, float *res) {
    const int bytes = type == CK_Q8_0 ? 34 : type == CK_Q4_0 || type == CK_IQ4_NL ? 18 : type == CK_Q4_1 ? 20
                    : type == CK_Q5_0 ? 22 : 24;
    const int has_min = type == CK_Q4_1 || type == CK_Q5_1;
    const int shift = type == CK_Q8_0 || type == CK_IQ4_NL ? 7 : type == CK_Q4_0 ? 3 : 4;   // log2(offset)
    const float *ad[4], *as[4];
    const int16_t *ai[4];
    __m256 acc[4], accm[4];
    float tail[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 32 * nb);
        as[k] = ad[k] + nb;
        ai[k] = (const int16_t *)(as[k] + nb);
        acc[k] = _mm256_setzero_ps();
        accm[k] = _mm256_setzero_ps();
        tail[k] = 0;
    }
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
        const uint8_t *b = w + i * bytes;
        const __m256 dw = FN(f16x8)(b, bytes, 0);
        const __m256 mw = has_min ? FN(f16x8)(b, bytes, 2) : _mm256_setzero_ps();
        __m256i u[8];
#pragma clang loop unroll(full)
        for (int j = 0; j < 8; j++) u[j] = FN(legacy_unsigned)(type, b + j * bytes);
        for (int k = 0; k < NA; k++) {
            const uint8_t *a = aq[k] + 32 * i;
            __m256i p[8];
#pragma clang loop unroll(full)
            for (int j = 0; j < 8; j++)
                p[j] = FN(block_dot)(type, u[j], FN(load)(a + 32 * j));
            __m256i sum = FN(reduce8)(p);
            if (!has_min && CK_OFFSET_DOT) {
                const __m256i sa = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(ai[k] + i)));
                sum = _mm256_sub_epi32(sum, _mm256_slli_epi32(sa, shift));
            }
            if (has_min) accm[k] = _mm256_fmadd_ps(mw, _mm256_loadu_ps(as[k] + i), accm[k]);
            acc[k] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_loadu_ps(ad[k] + i)), _mm256_cvtepi32_ps(sum), acc[k]);
        }
    }
    for (; i < i1; i++) {
        const uint8_t *b = w + i * bytes;
        const float d = FN(f16)(b), m = has_min ? FN(f16)(b + 2) : 0;
        const __m256i u = FN(legacy_unsigned)(type, b);
        for (int k = 0; k < NA; k++) {
            const __m256i p = FN(block_dot)(type, u, FN(load)(aq[k] + 32 * i));
            __m128i q = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
            q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0x4E));
            q = _mm_add_epi32(q, _mm_shuffle_epi32(q, 0xB1));
            int32_t sum = _mm_cvtsi128_si32(q);
            if (!has_min && CK_OFFSET_DOT) sum -= (int32_t)ai[k][i] << shift;
            tail[k] += d * ad[k][i] * (float)sum + (has_min ? m * as[k][i] : 0);
        }
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(_mm256_add_ps(acc[k], accm[k])) + tail[k];
}

// MARK: - K-quants against Q8_K

/// The eight 6-bit scales (int16 lanes 0…7) and mins (lanes 8…15) of a Q4_K/Q5_K block.
INLINE ATTR __m256i FN(k_scales_mins)(const uint8_t *q) {
    uint32_t u0, u1, u2;
    memcpy(&u0, q, 4);
    memcpy(&u1, q + 4, 4);
    memcpy(&u2, q + 8, 4);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
    const uint32_t sc_lo = u0 & low6, mn_lo = u1 & low6;
    const uint32_t sc_hi = (u2 & low4) | (((u0 >> 6) & low2) << 4);
    const uint32_t mn_hi = ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4);
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo));
}

/// Q4_K (144 bytes: d, dmin, scales[12], qs[128]) and Q5_K (176: d, dmin, scales[12], qh[32], qs[128]).
INLINE ATTR void FN(q45k_rows)(int type, int64_t nb, int64_t i0, int64_t i1, const uint8_t *w,
                               const uint8_t *const *aq, int NA, float *res) {
    const int five = type == CK_Q5_K;
    const int bytes = five ? 176 : 144;
    const float *ad[4];
    const int16_t *bs[4];
    __m256 acc[4];
    __m128 accm[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 256 * nb);
        bs[k] = (const int16_t *)(ad[k] + nb);
        acc[k] = _mm256_setzero_ps();
        accm[k] = _mm_setzero_ps();
    }
    const __m256i m4 = _mm256_set1_epi8(0x0F), m16 = _mm256_set1_epi8(0x10);
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *b = w + i * bytes;
        const float d = FN(f16)(b), dmin = FN(f16)(b + 2);
        const __m256i scales_mins = FN(k_scales_mins)(b + 4);
        const __m128i scales128 = _mm256_castsi256_si128(scales_mins);
        const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);
        const __m256i scales = _mm256_set_m128i(scales128, scales128);
        const uint8_t *qs = b + (five ? 48 : 16);
        __m256i qh = five ? FN(load)(b + 16) : _mm256_setzero_si256();
        __m256i sumi[4];
        for (int k = 0; k < NA; k++) sumi[k] = _mm256_setzero_si256();
#pragma clang loop unroll(full)
        for (int c = 0; c < 4; c++) {
            const __m256i q = FN(load)(qs + 32 * c);
            __m256i lo = _mm256_and_si256(q, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (five) {
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(qh, 4), m16));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(qh, 3), m16));
                qh = _mm256_srli_epi16(qh, 2);
            }
            // Broadcast int16 scale 2c (and 2c+1) with a byte shuffle.
            const __m256i slo = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((4 * c + 1) << 8 | (4 * c))));
            const __m256i shi = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((4 * c + 3) << 8 | (4 * c + 2))));
            for (int k = 0; k < NA; k++) {
                const uint8_t *a = aq[k] + 256 * i + 64 * c;
                sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(lo, FN(load)(a)), slo);
                sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(hi, FN(load)(a + 32)), shi);
            }
        }
        for (int k = 0; k < NA; k++) {
            const float da = ad[k][i];
            // Sums per 32 (pairs of the per-16 sums) against the mins.
            const __m256i sums16 = FN(load)(bs[k] + 16 * i);
            const __m128i sums32 = _mm_hadd_epi16(_mm256_castsi256_si128(sums16), _mm256_extracti128_si256(sums16, 1));
            const __m128i pm = _mm_madd_epi16(sums32, mins);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
            accm[k] = _mm_fmadd_ps(_mm_set1_ps(dmin * da), _mm_cvtepi32_ps(pm), accm[k]);
        }
    }
    for (int k = 0; k < NA; k++) {
        __m128 m = accm[k];
        m = _mm_add_ps(m, _mm_movehl_ps(m, m));
        m = _mm_add_ss(m, _mm_movehdup_ps(m));
        res[k] = FN(hsum)(acc[k]) - _mm_cvtss_f32(m);
    }
}

/// Q6_K (210 bytes: ql[128], qh[64], int8 scales[16], d).
INLINE ATTR void FN(q6k_rows)(int64_t nb, int64_t i0, int64_t i1, const uint8_t *w, const uint8_t *const *aq,
                              int NA, float *res) {
    const float *ad[4];
    const int16_t *bs[4];
    __m256 acc[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 256 * nb);
        bs[k] = (const int16_t *)(ad[k] + nb);
        acc[k] = _mm256_setzero_ps();
    }
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *b = w + i * 210;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = FN(f16)(b + 208);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)sc);
        __m256i sumi[4];
        for (int k = 0; k < NA; k++) sumi[k] = _mm256_setzero_si256();
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = FN(load)(b + 64 * h), ql1 = FN(load)(b + 64 * h + 32);
            const __m256i qh = FN(load)(b + 128 + 32 * h);
            __m256i g[4];
            g[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            g[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            g[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30));
            g[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++) {
                const long long s = 8 * h + 2 * j;
                // [sc[s] ×8 | sc[s+1] ×8] as int16.
                const __m256i sv = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(
                    sc8, _mm_set_epi64x((s + 1) * 0x0101010101010101LL, s * 0x0101010101010101LL)));
                for (int k = 0; k < NA; k++) {
                    const __m256i a = FN(load)(aq[k] + 256 * i + 128 * h + 32 * j);
                    sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(g[j], a), sv);
                }
            }
        }
        const __m256i scales = _mm256_cvtepi8_epi16(sc8);
        for (int k = 0; k < NA; k++) {
            const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(FN(load)(bs[k] + 16 * i), scales), 5);
            const __m256i total = _mm256_sub_epi32(sumi[k], offset);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * ad[k][i]), _mm256_cvtepi32_ps(total), acc[k]);
        }
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(acc[k]);
}

/// Int16 lanes [s[j] ×8 | s[j+1] ×8] from the int8 scales `s8` (one per 16 elements): the
/// multipliers of one 32-element run's maddubs pairs.
INLINE ATTR __m256i FN(scale_pair)(__m128i s8, int j) {
    const long long lo = (long long)j * 0x0101010101010101LL, hi = (long long)(j + 1) * 0x0101010101010101LL;
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, _mm_set_epi64x(hi, lo)));
}

/// Q2_K (84 bytes: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin). Element
/// 128h + 32j + l is bits 2j, 2j+1 of qs[32h + l]; its 16-element sub-block is 8h + 2j (+1).
/// Σ w·a = d·Σ_s sc_s·Σ q·a − dmin·Σ_s m_s·bsum_s, both sums exact in int32.
INLINE ATTR void FN(q2k_rows)(int64_t nb, int64_t i0, int64_t i1, const uint8_t *w, const uint8_t *const *aq,
                              int NA, float *res) {
    const float *ad[4];
    const int16_t *bs[4];
    __m256 acc[4], accm[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 256 * nb);
        bs[k] = (const int16_t *)(ad[k] + nb);
        acc[k] = _mm256_setzero_ps();
        accm[k] = _mm256_setzero_ps();
    }
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *b = w + i * 84;
        const float d = FN(f16)(b + 80), dmin = FN(f16)(b + 82);
        const __m128i packed = _mm_loadu_si128((const __m128i *)b);
        const __m128i scales = _mm_and_si128(packed, m4);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
        __m256i sumi[4];
        for (int k = 0; k < NA; k++) sumi[k] = _mm256_setzero_si256();
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            const __m256i q = FN(load)(b + 16 + 32 * h);
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++) {
                const __m256i g = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                const __m256i sv = FN(scale_pair)(scales, 8 * h + 2 * j);
                for (int k = 0; k < NA; k++) {
                    const __m256i a = FN(load)(aq[k] + 256 * i + 128 * h + 32 * j);
                    sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(g, a), sv);
                }
            }
        }
        for (int k = 0; k < NA; k++) {
            const __m256i pm = _mm256_madd_epi16(FN(load)(bs[k] + 16 * i), mins);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * ad[k][i]), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
            accm[k] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * ad[k][i]), _mm256_cvtepi32_ps(pm), accm[k]);
        }
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(acc[k]) - FN(hsum)(accm[k]);
}

/// The sixteen 6-bit scales of a Q3_K block minus 32, as int8: sub-block s takes its low four
/// bits from nibble s/8 of byte s%8 and its high two from bits 2·(s/4) of byte 8 + s%4.
INLINE ATTR __m128i FN(q3k_scales)(const uint8_t *p) {
    uint32_t a0, a1, t;
    memcpy(&a0, p, 4);
    memcpy(&a1, p + 4, 4);
    memcpy(&t, p + 8, 4);
    const uint32_t low4 = 0x0f0f0f0f, low2 = 0x03030303;
    const uint32_t s0 = (a0 & low4) | ((t & low2) << 4);
    const uint32_t s1 = (a1 & low4) | (((t >> 2) & low2) << 4);
    const uint32_t s2 = ((a0 >> 4) & low4) | (((t >> 4) & low2) << 4);
    const uint32_t s3 = ((a1 >> 4) & low4) | (((t >> 6) & low2) << 4);
    return _mm_sub_epi8(_mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0), _mm_set1_epi8(32));
}

/// Q3_K (110 bytes: hmask[32], qs[64], scales[12], d). Element 128h + 32j + l is
/// u = bits 2j, 2j+1 of qs[32h + l] plus 4·(bit 4h + j of hmask[l]), w = u − 4; sub-blocks
/// as in Q2_K. Σ w·a = d·(Σ_s sc_s·Σ u·a − 4·Σ_s sc_s·bsum_s), exact in int32.
INLINE ATTR void FN(q3k_rows)(int64_t nb, int64_t i0, int64_t i1, const uint8_t *w, const uint8_t *const *aq,
                              int NA, float *res) {
    const float *ad[4];
    const int16_t *bs[4];
    __m256 acc[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 256 * nb);
        bs[k] = (const int16_t *)(ad[k] + nb);
        acc[k] = _mm256_setzero_ps();
    }
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *b = w + i * 110;
        const float d = FN(f16)(b + 108);
        const __m128i scales = FN(q3k_scales)(b + 96);
        const __m256i hm = FN(load)(b);
        __m256i sumi[4];
        for (int k = 0; k < NA; k++) sumi[k] = _mm256_setzero_si256();
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            const __m256i q = FN(load)(b + 32 + 32 * h);
#pragma clang loop unroll(full)
            for (int j = 0; j < 4; j++) {
                const int bit = 4 * h + j;   // moved to bit 2 (bits crossing bytes are masked off)
                const __m256i hb = bit >= 2 ? _mm256_srli_epi16(hm, bit - 2) : _mm256_slli_epi16(hm, 2 - bit);
                const __m256i g = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3),
                                                  _mm256_and_si256(hb, m4));
                const __m256i sv = FN(scale_pair)(scales, 8 * h + 2 * j);
                for (int k = 0; k < NA; k++) {
                    const __m256i a = FN(load)(aq[k] + 256 * i + 128 * h + 32 * j);
                    sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(g, a), sv);
                }
            }
        }
        const __m256i scales16 = _mm256_cvtepi8_epi16(scales);
        for (int k = 0; k < NA; k++) {
            const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(FN(load)(bs[k] + 16 * i), scales16), 2);
            const __m256i total = _mm256_sub_epi32(sumi[k], offset);
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * ad[k][i]), _mm256_cvtepi32_ps(total), acc[k]);
        }
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(acc[k]);
}

// MARK: - IQ4_XS against Q8_K

/// IQ4_XS (136 bytes: d, u16 scales_h, scales_l[4], qs[128]). Sub-block ib (32 elements, the
/// nibbles of qs[16ib ..< 16ib + 16] in IQ4_NL order) has scale ls − 32, with ls = nibble ib
/// of scales_l | bits 2ib, 2ib+1 of scales_h << 4. Signed values times signed activations with
/// the sign trick (|w| × a·sign(w), no zero among the values); exact int32 sums.
INLINE ATTR void FN(iq4xs_rows)(int64_t nb, int64_t i0, int64_t i1, const uint8_t *w, const uint8_t *const *aq,
                                int NA, float *res) {
    const float *ad[4];
    __m256 acc[4];
    for (int k = 0; k < NA; k++) {
        ad[k] = (const float *)(aq[k] + 256 * nb);
        acc[k] = _mm256_setzero_ps();
    }
    const __m256i values = FN(iq4_table)(0);
    const __m256i low_shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i high_shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *b = w + i * 136;
        const float d = FN(f16)(b);
        uint16_t sh;
        uint32_t sl;
        memcpy(&sh, b + 2, 2);
        memcpy(&sl, b + 4, 4);
        // Lane ib: nibble ib of scales_l (byte ib/2, low nibble first) and bits 2ib.. of scales_h.
        const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sl), low_shifts), _mm256_set1_epi32(15));
        const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(sh), high_shifts), _mm256_set1_epi32(3));
        const __m256i ls = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
        const __m128i ls16 = _mm_packs_epi32(_mm256_castsi256_si128(ls), _mm256_extracti128_si256(ls, 1));
        const __m256i scales = _mm256_set_m128i(ls16, ls16);
        __m256i sumi[4];
        for (int k = 0; k < NA; k++) sumi[k] = _mm256_setzero_si256();
#pragma clang loop unroll(full)
        for (int ib = 0; ib < 8; ib++) {
            const __m256i v = _mm256_shuffle_epi8(values, FN(nibbles)(b + 8 + 16 * ib));
            const __m256i magnitude = _mm256_sign_epi8(v, v);
            const __m256i sv = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((2 * ib + 1) << 8 | (2 * ib))));
            for (int k = 0; k < NA; k++) {
                const __m256i a = _mm256_sign_epi8(FN(load)(aq[k] + 256 * i + 32 * ib), v);
                sumi[k] = DOT_WS(sumi[k], _mm256_maddubs_epi16(magnitude, a), sv);
            }
        }
        for (int k = 0; k < NA; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * ad[k][i]), _mm256_cvtepi32_ps(sumi[k]), acc[k]);
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(acc[k]);
}

// MARK: - Float weights against f32 activations

INLINE ATTR __m256 FN(float8)(int type, const uint8_t *w, int64_t j) {
    switch (type) {
    case CK_F32: return _mm256_loadu_ps((const float *)w + j);
    case CK_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 2 * j)));
    default: /* BF16 */
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + 2 * j))), 16));
    }
}

INLINE ATTR float FN(float1)(int type, const uint8_t *w, int64_t j) {
    uint16_t h;
    switch (type) {
    case CK_F32: { float f; memcpy(&f, w + 4 * j, 4); return f; }
    case CK_F16: memcpy(&h, w + 2 * j, 2); return _cvtsh_ss(h);
    default: {
        memcpy(&h, w + 2 * j, 2);
        const uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    }
}

INLINE ATTR void FN(float_rows)(int type, int64_t n, const uint8_t *w, const uint8_t *const *aq,
                                int NA, float *res) {
    const float *x[4];
    __m256 acc0[4], acc1[4];
    for (int k = 0; k < NA; k++) {
        x[k] = (const float *)aq[k];
        acc0[k] = _mm256_setzero_ps();
        acc1[k] = _mm256_setzero_ps();
    }
    int64_t j = 0;
    if (NA == 1) {
        // One activation row: four FMA chains, so the loop streams at memory speed.
        __m256 c0 = acc0[0], c1 = acc1[0], c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
        for (; j + 32 <= n; j += 32) {
            c0 = _mm256_fmadd_ps(FN(float8)(type, w, j), _mm256_loadu_ps(x[0] + j), c0);
            c1 = _mm256_fmadd_ps(FN(float8)(type, w, j + 8), _mm256_loadu_ps(x[0] + j + 8), c1);
            c2 = _mm256_fmadd_ps(FN(float8)(type, w, j + 16), _mm256_loadu_ps(x[0] + j + 16), c2);
            c3 = _mm256_fmadd_ps(FN(float8)(type, w, j + 24), _mm256_loadu_ps(x[0] + j + 24), c3);
        }
        acc0[0] = _mm256_add_ps(c0, c2);
        acc1[0] = _mm256_add_ps(c1, c3);
    }
    for (; j + 16 <= n; j += 16) {
        const __m256 w0 = FN(float8)(type, w, j), w1 = FN(float8)(type, w, j + 8);
        for (int k = 0; k < NA; k++) {
            acc0[k] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[k] + j), acc0[k]);
            acc1[k] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[k] + j + 8), acc1[k]);
        }
    }
    for (; j + 8 <= n; j += 8) {
        const __m256 w0 = FN(float8)(type, w, j);
        for (int k = 0; k < NA; k++) acc0[k] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[k] + j), acc0[k]);
    }
    for (int k = 0; k < NA; k++) res[k] = FN(hsum)(_mm256_add_ps(acc0[k], acc1[k]));
    for (; j < n; j++) {
        const float wj = FN(float1)(type, w, j);
        for (int k = 0; k < NA; k++) res[k] += wj * x[k][j];
    }
}

// MARK: - Rows × activations

INLINE ATTR void FN(row_group)(int type, int64_t n, const uint8_t *w, const uint8_t *const *aq,
                               int NA, float *res) {
    switch (type) {
    case CK_Q8_0: FN(legacy_rows8)(CK_Q8_0, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_Q4_0: FN(legacy_rows8)(CK_Q4_0, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_Q4_1: FN(legacy_rows8)(CK_Q4_1, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_Q5_0: FN(legacy_rows8)(CK_Q5_0, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_Q5_1: FN(legacy_rows8)(CK_Q5_1, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_IQ4_NL: FN(legacy_rows8)(CK_IQ4_NL, n / 32, 0, n / 32, w, aq, NA, res); break;
    case CK_Q2_K: FN(q2k_rows)(n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_Q3_K: FN(q3k_rows)(n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_Q4_K: FN(q45k_rows)(CK_Q4_K, n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_Q5_K: FN(q45k_rows)(CK_Q5_K, n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_Q6_K: FN(q6k_rows)(n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_IQ4_XS: FN(iq4xs_rows)(n / 256, 0, n / 256, w, aq, NA, res); break;
    case CK_F32: FN(float_rows)(CK_F32, n, w, aq, NA, res); break;
    case CK_F16: FN(float_rows)(CK_F16, n, w, aq, NA, res); break;
    default: FN(float_rows)(CK_BF16, n, w, aq, NA, res); break;
    }
}

/// One type, NA activation rows at a time.
#define CK_DEFINE_TYPE_DRIVER(T)                                                                   \
    static ATTR void FN(driver_##T)(int64_t n, const uint8_t *w, size_t wrb, int64_t rows,        \
                                    const uint8_t *act, size_t arb, int64_t nact,                 \
                                    float *out, int64_t os) {                                     \
        for (int64_t r = 0; r < rows; r++) {                                                      \
            const uint8_t *wr = w + (size_t)r * wrb;                                               \
            for (int64_t k0 = 0; k0 < nact; k0 += 4) {                                             \
                const uint8_t *aq[4];                                                             \
                float res[4];                                                                     \
                const int64_t na = nact - k0 < 4 ? nact - k0 : 4;                                 \
                for (int64_t k = 0; k < na; k++) aq[k] = act + (size_t)(k0 + k) * arb;             \
                switch (na) {                                                                     \
                case 1: FN(row_group)(T, n, wr, aq, 1, res); break;                               \
                case 2: FN(row_group)(T, n, wr, aq, 2, res); break;                               \
                case 3: FN(row_group)(T, n, wr, aq, 3, res); break;                               \
                default: FN(row_group)(T, n, wr, aq, 4, res); break;                              \
                }                                                                                 \
                for (int64_t k = 0; k < na; k++) out[(k0 + k) * os + r] = res[k];                 \
            }                                                                                     \
        }                                                                                         \
    }

CK_DEFINE_TYPE_DRIVER(CK_F32)
CK_DEFINE_TYPE_DRIVER(CK_F16)
CK_DEFINE_TYPE_DRIVER(CK_BF16)
CK_DEFINE_TYPE_DRIVER(CK_Q4_0)
CK_DEFINE_TYPE_DRIVER(CK_Q4_1)
CK_DEFINE_TYPE_DRIVER(CK_Q5_0)
CK_DEFINE_TYPE_DRIVER(CK_Q5_1)
CK_DEFINE_TYPE_DRIVER(CK_Q8_0)
CK_DEFINE_TYPE_DRIVER(CK_Q4_K)
CK_DEFINE_TYPE_DRIVER(CK_Q5_K)
CK_DEFINE_TYPE_DRIVER(CK_Q6_K)
CK_DEFINE_TYPE_DRIVER(CK_Q2_K)
CK_DEFINE_TYPE_DRIVER(CK_Q3_K)
CK_DEFINE_TYPE_DRIVER(CK_IQ4_NL)
CK_DEFINE_TYPE_DRIVER(CK_IQ4_XS)

#define CK_DRIVER_CASE(T)                                                                          \
    case T: FN(driver_##T)(n, w, wrb, rows, act, arb, nact, out, os); return 1;

ATTR int FN(ck_gemv)(int type, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                     const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os) {
    switch (type) {
    CK_DRIVER_CASE(CK_F32)
    CK_DRIVER_CASE(CK_F16)
    CK_DRIVER_CASE(CK_BF16)
    CK_DRIVER_CASE(CK_Q4_0)
    CK_DRIVER_CASE(CK_Q4_1)
    CK_DRIVER_CASE(CK_Q5_0)
    CK_DRIVER_CASE(CK_Q5_1)
    CK_DRIVER_CASE(CK_Q8_0)
    CK_DRIVER_CASE(CK_Q4_K)
    CK_DRIVER_CASE(CK_Q5_K)
    CK_DRIVER_CASE(CK_Q6_K)
    CK_DRIVER_CASE(CK_Q2_K)
    CK_DRIVER_CASE(CK_Q3_K)
    CK_DRIVER_CASE(CK_IQ4_NL)
    CK_DRIVER_CASE(CK_IQ4_XS)
    default: return 0;
    }
}
