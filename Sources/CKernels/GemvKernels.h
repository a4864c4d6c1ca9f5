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

#include "GemvKQuants.h"

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
