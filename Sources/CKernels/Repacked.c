// Weights repacked at load for the outer-product microkernel, with AVX-512 VNNI.
//
// The mmapped layout keeps each row's blocks together, so a kernel reads one row at a time
// and must sum its lanes horizontally; at one to a few activation rows (decode, beam search)
// that costs more instructions than the memory it reads. Repacked, sixteen rows are
// interleaved 4 bytes at a time (the layout of GemmDecode.c's panels), so one 512-bit load
// feeds sixteen rows and vpdpbusd needs no reduction, and the 4-bit types stay 4-bit: a load
// of packed nibbles unpacks into two vectors with an AND and a shift. Same size as the
// original (Q4_K: +2.8% for byte-wide scales). Sets of 16 rows follow one another; inside a
// set, units (32 elements for Q8_0/Q4_0, 256 for Q4_K/Q6_K) follow one another:
//
// Each unit starts with its scales and then holds its 64-byte vectors in the order the kernel
// reads them, so that a unit is read front to back:
//
//   Q8_0  unit 544 B: 16 × f16 d, then 8 × 64 B bytes u = q ^ 0x80 (group g: row l's four
//         bytes at 32 + 64g + 4l)
//   Q4_0  unit 288 B: 16 × f16 d, then 4 × 64 B of the rows' original qs words (vector p: low
//         nibbles elements 4p + b, high nibbles 16 + 4p + b)
//   Q4_K  unit 2368 B: 16 × f16 d, 16 × f16 dmin, u8 sc[8][16], u8 m[8][16], then 32 × 64 B of
//         qs words (vector 8c + q: bytes qs[32c + 4q ..], low nibbles sub-block 2c, high 2c + 1)
//   F16, BF16  16 rows × 1 column per 32 B: row l's element k at 32k + 2l (the float kernels
//         of GemmFloat.c read these)
//   Q6_K  unit 3360 B: 16 × f16 d, i8 sc[16][16], then for h, q (16 steps) three vectors: ql
//         words ql[64h + 4q ..], ql[64h + 32 + 4q ..] and qh words qh[32h + 4q ..]
//
// Activations are ck_gemm_quantize_rows' rows, and the arithmetic is GemmDecode.c's.

#include "CKernels.h"
#include "Internal.h"

#include <string.h>

static int unit_params(int type, int *unit, int *bytes) {
    switch (type) {
    case CK_Q8_0: *unit = 32; *bytes = 544; return 1;
    case CK_Q4_0: *unit = 32; *bytes = 288; return 1;
    case CK_Q4_K: *unit = 256; *bytes = 2368; return 1;
    case CK_Q6_K: *unit = 256; *bytes = 3360; return 1;
    case CK_F16: case CK_BF16: *unit = 1; *bytes = 32; return 1;
    default: return 0;
    }
}

int ck_repack_supported(int type) {
    int unit, bytes;
    // The detected level, not a test's cap: weights repacked once must always have their kernel.
    return unit_params(type, &unit, &bytes) && ck_cpu_level_detected() >= 2;
}

size_t ck_repack_set_bytes(int type, int64_t n) {
    int unit, bytes;
    if (!unit_params(type, &unit, &bytes)) return 0;
    return (size_t)(n / unit) * (size_t)bytes;
}

static void put_word(uint8_t *dst, int lane, const uint8_t *src) { memcpy(dst + 4 * lane, src, 4); }

/// Q4_K 6-bit scale and min of sub-block j (0..7).
static void scale_min(const uint8_t *q, int j, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 15) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void ck_repack(int type, int64_t n, const void *w, size_t wrb, int64_t rows, int64_t set0, int64_t set1, void *dst) {
    int unit, ubytes;
    if (!unit_params(type, &unit, &ubytes)) return;
    const int64_t units = n / unit;
    const size_t set_bytes = (size_t)units * (size_t)ubytes;
    if (type == CK_F16 || type == CK_BF16) {
        for (int64_t s = set0; s < set1; s++) {
            uint16_t *set = (uint16_t *)((uint8_t *)dst + (size_t)s * set_bytes);
            memset(set, 0, set_bytes);
            for (int lane = 0; lane < 16 && 16 * s + lane < rows; lane++) {
                const uint16_t *row = (const uint16_t *)((const uint8_t *)w + (size_t)(16 * s + lane) * wrb);
                for (int64_t k = 0; k < n; k++) set[16 * k + lane] = row[k];
            }
        }
        return;
    }
    for (int64_t s = set0; s < set1; s++) {
        uint8_t *set = (uint8_t *)dst + (size_t)s * set_bytes;
        memset(set, 0, set_bytes);   // rows past the matrix: zero bytes and scales
        for (int lane = 0; lane < 16; lane++) {
            const int64_t r = 16 * s + lane;
            if (r >= rows) break;
            const uint8_t *row = (const uint8_t *)w + (size_t)r * wrb;
            for (int64_t j = 0; j < units; j++) {
                uint8_t *u = set + (size_t)j * (size_t)ubytes;
                switch (type) {
                case CK_Q8_0: {
                    const uint8_t *b = row + 34 * j;
                    for (int g = 0; g < 8; g++) {
                        uint8_t word[4];
                        for (int i = 0; i < 4; i++) word[i] = (uint8_t)(b[2 + 4 * g + i] ^ 0x80);
                        put_word(u + 32 + 64 * g, lane, word);
                    }
                    memcpy(u + 2 * lane, b, 2);
                    break;
                }
                case CK_Q4_0: {
                    const uint8_t *b = row + 18 * j;
                    for (int p = 0; p < 4; p++) put_word(u + 32 + 64 * p, lane, b + 2 + 4 * p);
                    memcpy(u + 2 * lane, b, 2);
                    break;
                }
                case CK_Q4_K: {
                    const uint8_t *b = row + 144 * j, *qs = b + 16;
                    for (int c = 0; c < 4; c++)
                        for (int q = 0; q < 8; q++) put_word(u + 320 + 64 * (8 * c + q), lane, qs + 32 * c + 4 * q);
                    memcpy(u + 2 * lane, b, 2);
                    memcpy(u + 32 + 2 * lane, b + 2, 2);
                    for (int sb = 0; sb < 8; sb++) scale_min(b + 4, sb, u + 64 + 16 * sb + lane, u + 192 + 16 * sb + lane);
                    break;
                }
                default: { /* Q6_K */
                    const uint8_t *b = row + 210 * j;
                    for (int h = 0; h < 2; h++)
                        for (int q = 0; q < 8; q++) {
                            uint8_t *v = u + 288 + 192 * (8 * h + q);
                            put_word(v, lane, b + 64 * h + 4 * q);
                            put_word(v + 64, lane, b + 64 * h + 32 + 4 * q);
                            put_word(v + 128, lane, b + 128 + 32 * h + 4 * q);
                        }
                    memcpy(u + 2 * lane, b + 208, 2);
                    for (int sb = 0; sb < 16; sb++) u[32 + 16 * sb + lane] = b[192 + sb];
                    break;
                }
                }
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

INLINE ATTR __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/// A 64-byte load of repacked weights; with several activation rows, also a prefetch of the
/// line `ahead` bytes on (the same line of a later unit). Measured on Zen 4 (Q4_K_M, 2 threads):
/// at four rows the prefetch lifts decode from 84 to 100-109 t/s, the kernel being busy enough
/// that the hardware prefetcher falls behind; at one row, a pure stream in address order, it
/// costs 8% (34.5 to 31.5 t/s), so one-row tiles go without it.
INLINE ATTR __m512i wload(const uint8_t *p, int ahead, int NA) {
    if (NA > 1) _mm_prefetch((const char *)(p + ahead), _MM_HINT_T0);
    return _mm512_loadu_si512((const void *)p);
}

INLINE ATTR __m512 f16x16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/// Activation row k's arrays (ck_gemm_quantize_rows' layout for sub-blocks of S).
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *off;
    const float *fs;
} act_row;

INLINE ATTR void act_rows(const uint8_t *act, size_t arb, int64_t n, int S, int NA, act_row *a) {
    for (int k = 0; k < NA; k++) {
        const uint8_t *row = act + (size_t)k * arb;
        a[k].q = (const int8_t *)row;
        a[k].d = (const float *)(row + n);
        a[k].off = (const int32_t *)(a[k].d + n / 32);
        a[k].fs = (const float *)(a[k].off + n / S);
    }
}

/// Sixteen rows of one set × NA activation rows.
INLINE ATTR void set_tile(int type, int64_t n, const uint8_t *set, const uint8_t *act, size_t arb,
                          const int NA, float (*res)[16]) {
    __m512 f[4];
    for (int k = 0; k < NA; k++) f[k] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    if (type == CK_Q8_0 || type == CK_Q4_0) {
        act_row a[4];
        act_rows(act, arb, n, 32, NA, a);
        const int eight = type == CK_Q8_0;
        const int ub = eight ? 544 : 288;
        for (int64_t j = 0; j < n / 32; j++) {
            const uint8_t *u = set + (size_t)j * (size_t)ub;
            // Two accumulators per activation row (even and odd groups, or low and high
            // nibbles), so that one row's sums are two dependency chains, not one.
            __m512i acc[4], acc2[4];
            for (int k = 0; k < NA; k++) acc[k] = acc2[k] = _mm512_setzero_si512();
            if (eight) {
#pragma clang loop unroll(full)
                for (int g = 0; g < 8; g += 2) {
                    const __m512i v0 = wload(u + 32 + 64 * g, 1536, NA);
                    const __m512i v1 = wload(u + 96 + 64 * g, 1536, NA);
                    for (int k = 0; k < NA; k++) {
                        acc[k] = _mm512_dpbusd_epi32(acc[k], v0, bcast4(a[k].q + 32 * j + 4 * g));
                        acc2[k] = _mm512_dpbusd_epi32(acc2[k], v1, bcast4(a[k].q + 32 * j + 4 * g + 4));
                    }
                }
            } else {
#pragma clang loop unroll(full)
                for (int p = 0; p < 4; p++) {
                    const __m512i v = wload(u + 32 + 64 * p, 1536, NA);
                    const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                    for (int k = 0; k < NA; k++) {
                        acc[k] = _mm512_dpbusd_epi32(acc[k], lo, bcast4(a[k].q + 32 * j + 4 * p));
                        acc2[k] = _mm512_dpbusd_epi32(acc2[k], hi, bcast4(a[k].q + 32 * j + 16 + 4 * p));
                    }
                }
            }
            for (int k = 0; k < NA; k++) acc[k] = _mm512_add_epi32(acc[k], acc2[k]);
            const __m512 ws = f16x16(u);
            for (int k = 0; k < NA; k++) {
                const __m512i i = _mm512_sub_epi32(acc[k], _mm512_set1_epi32(a[k].off[j]));
                f[k] = _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_set1_ps(a[k].d[j])), _mm512_cvtepi32_ps(i), f[k]);
            }
        }
    } else if (type == CK_Q4_K) {
        const int ub = 2368;
        act_row a[4];
        act_rows(act, arb, n, 32, NA, a);
        for (int64_t j = 0; j < n / 256; j++) {
            const uint8_t *u = set + (size_t)j * (size_t)ub;
            const __m512 d = f16x16(u), dmin = f16x16(u + 32);
            for (int c = 0; c < 4; c++) {
                // Even and odd groups in separate accumulators: four dependency chains per
                // activation row instead of two.
                __m512i lo_acc[4], hi_acc[4], lo2[4], hi2[4];
                for (int k = 0; k < NA; k++) lo_acc[k] = hi_acc[k] = lo2[k] = hi2[k] = _mm512_setzero_si512();
                const int64_t e = 256 * j + 64 * c;
#pragma clang loop unroll(full)
                for (int q = 0; q < 8; q += 2) {
                    const __m512i v0 = wload(u + 320 + 64 * (8 * c + q), ub, NA), v1 = wload(u + 384 + 64 * (8 * c + q), ub, NA);
                    const __m512i lo0 = _mm512_and_si512(v0, m4), hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
                    const __m512i lo1 = _mm512_and_si512(v1, m4), hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
                    for (int k = 0; k < NA; k++) {
                        lo_acc[k] = _mm512_dpbusd_epi32(lo_acc[k], lo0, bcast4(a[k].q + e + 4 * q));
                        hi_acc[k] = _mm512_dpbusd_epi32(hi_acc[k], hi0, bcast4(a[k].q + e + 32 + 4 * q));
                        lo2[k] = _mm512_dpbusd_epi32(lo2[k], lo1, bcast4(a[k].q + e + 4 * q + 4));
                        hi2[k] = _mm512_dpbusd_epi32(hi2[k], hi1, bcast4(a[k].q + e + 36 + 4 * q));
                    }
                }
                for (int k = 0; k < NA; k++) {
                    lo_acc[k] = _mm512_add_epi32(lo_acc[k], lo2[k]);
                    hi_acc[k] = _mm512_add_epi32(hi_acc[k], hi2[k]);
                }
                for (int half = 0; half < 2; half++) {
                    const int sb = 2 * c + half;
                    const __m512 ws = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                        _mm_loadu_si128((const __m128i *)(u + 64 + 16 * sb)))));
                    const __m512 wm = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                        _mm_loadu_si128((const __m128i *)(u + 192 + 16 * sb)))));
                    const int64_t blk = 8 * j + sb;
                    for (int k = 0; k < NA; k++) {
                        const __m512i i = half ? hi_acc[k] : lo_acc[k];
                        f[k] = _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_set1_ps(a[k].d[blk])), _mm512_cvtepi32_ps(i), f[k]);
                        f[k] = _mm512_fnmadd_ps(wm, _mm512_set1_ps(a[k].fs[blk]), f[k]);
                    }
                }
            }
        }
    } else { /* Q6_K: sub-blocks of 16 */
        act_row a[4];
        act_rows(act, arb, n, 16, NA, a);
        const __m512i m3 = _mm512_set1_epi8(3), m30 = _mm512_set1_epi8(0x30);
        for (int64_t j = 0; j < n / 256; j++) {
            const uint8_t *u = set + (size_t)j * 3360;
            const __m512 d = f16x16(u);
            for (int h = 0; h < 2; h++) {
                for (int qq = 0; qq < 2; qq++) {
                    // Sub-blocks 8h + qq + 2t (t = 0..3): elements 128h + 32t + 16qq ..< +16.
                    __m512i acc[4][4];
                    for (int t = 0; t < 4; t++)
                        for (int k = 0; k < NA; k++) acc[t][k] = _mm512_setzero_si512();
#pragma clang loop unroll(full)
                    for (int q = 4 * qq; q < 4 * qq + 4; q++) {
                        const uint8_t *vq = u + 288 + 192 * (8 * h + q);
                        const __m512i l0 = wload(vq, 3360, NA), l1 = wload(vq + 64, 3360, NA), hb = wload(vq + 128, 3360, NA);
                        __m512i v[4];
                        v[0] = _mm512_or_si512(_mm512_and_si512(l0, m4), _mm512_slli_epi16(_mm512_and_si512(hb, m3), 4));
                        v[1] = _mm512_or_si512(_mm512_and_si512(l1, m4), _mm512_and_si512(_mm512_slli_epi16(hb, 2), m30));
                        v[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), m4), _mm512_and_si512(hb, m30));
                        v[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), m4),
                                               _mm512_and_si512(_mm512_srli_epi16(hb, 2), m30));
                        for (int t = 0; t < 4; t++) {
                            const int64_t e = 256 * j + 128 * h + 32 * t + 4 * q;
                            for (int k = 0; k < NA; k++) acc[t][k] = _mm512_dpbusd_epi32(acc[t][k], v[t], bcast4(a[k].q + e));
                        }
                    }
                    for (int t = 0; t < 4; t++) {
                        const int sb = 8 * h + 2 * t + qq;   // sub-block of 16 within the unit
                        const __m512 ws = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                            _mm_loadu_si128((const __m128i *)(u + 32 + 16 * sb)))));
                        const int64_t s16 = 16 * j + sb;
                        for (int k = 0; k < NA; k++) {
                            const __m512i i = _mm512_sub_epi32(acc[t][k], _mm512_set1_epi32(a[k].off[s16]));
                            f[k] = _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_set1_ps(a[k].d[s16 / 2])),
                                                   _mm512_cvtepi32_ps(i), f[k]);
                        }
                    }
                }
            }
        }
    }
    for (int k = 0; k < NA; k++) _mm512_storeu_ps(res[k], f[k]);
}

#define CK_SET_DRIVER(T, NAME)                                                                       \
    static ATTR void NAME(int64_t n, const uint8_t *set, const uint8_t *act, size_t arb, int64_t nact, \
                          float (*res)[16], float *out, int64_t os, int64_t nr) {                     \
        for (int64_t b0 = 0; b0 < nact; b0 += 4) {                                                   \
            const int64_t na = nact - b0 < 4 ? nact - b0 : 4;                                       \
            const uint8_t *a = act + (size_t)b0 * arb;                                               \
            switch (na) {                                                                            \
            case 1: set_tile(T, n, set, a, arb, 1, res); break;                                      \
            case 2: set_tile(T, n, set, a, arb, 2, res); break;                                      \
            case 3: set_tile(T, n, set, a, arb, 3, res); break;                                      \
            default: set_tile(T, n, set, a, arb, 4, res); break;                                     \
            }                                                                                        \
            for (int64_t k = 0; k < na; k++) memcpy(out + (b0 + k) * os, res[k], (size_t)nr * 4);   \
        }                                                                                            \
    }

CK_SET_DRIVER(CK_Q8_0, sets_q8_0)
CK_SET_DRIVER(CK_Q4_0, sets_q4_0)
CK_SET_DRIVER(CK_Q4_K, sets_q4_k)
CK_SET_DRIVER(CK_Q6_K, sets_q6_k)

int ck_repacked_gemm(int type, int64_t n, const void *packed, int64_t rows, const void *act, int64_t nact,
                     float *out, int64_t os, int64_t set0, int64_t set1) {
    if (!ck_repack_supported(type) || type == CK_F16 || type == CK_BF16) return 0;
    const size_t set_bytes = ck_repack_set_bytes(type, n);
    const size_t arb = ck_gemm_act_row_bytes(type, n);
    float res[4][16];
    for (int64_t s = set0; s < set1; s++) {
        const uint8_t *set = (const uint8_t *)packed + (size_t)s * set_bytes;
        const int64_t nr = rows - 16 * s < 16 ? rows - 16 * s : 16;
        float *o = out + 16 * s;
        switch (type) {
        case CK_Q8_0: sets_q8_0(n, set, (const uint8_t *)act, arb, nact, res, o, os, nr); break;
        case CK_Q4_0: sets_q4_0(n, set, (const uint8_t *)act, arb, nact, res, o, os, nr); break;
        case CK_Q4_K: sets_q4_k(n, set, (const uint8_t *)act, arb, nact, res, o, os, nr); break;
        default: sets_q6_k(n, set, (const uint8_t *)act, arb, nact, res, o, os, nr); break;
        }
    }
    return 1;
}
#else
int ck_repacked_gemm(int type, int64_t n, const void *packed, int64_t rows, const void *act, int64_t nact,
                     float *out, int64_t os, int64_t set0, int64_t set1) {
    (void)type; (void)n; (void)packed; (void)rows; (void)act; (void)nact; (void)out; (void)os; (void)set0; (void)set1;
    return 0;
}
#endif
