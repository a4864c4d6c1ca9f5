// (Included by GemvKernels.h; not a standalone header.) The 256-element block types against
// Q8_K activations: Q4_K, Q5_K, Q6_K, Q2_K, Q3_K and IQ4_XS, one weight row at a time for up
// to four activation rows, with GemvKernels.h's macros (ATTR, FN, DOT_US, DOT_WS, CK_VNNI).

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

