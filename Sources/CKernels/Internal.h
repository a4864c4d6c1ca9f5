#ifndef PONDER_CKERNELS_INTERNAL_H
#define PONDER_CKERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum {
    CK_F32 = 0, CK_F16 = 1, CK_Q4_0 = 2, CK_Q4_1 = 3, CK_Q5_0 = 6, CK_Q5_1 = 7, CK_Q8_0 = 8,
    CK_Q2_K = 10, CK_Q3_K = 11, CK_Q4_K = 12, CK_Q5_K = 13, CK_Q6_K = 14, CK_BF16 = 30,
};

/// Bytes per block of activations: Q8 per 32 (32 quants, d, s) and Q8_K (256 quants, d, 16 sums).
#define CK_Q8_32_BYTES 42
#define CK_Q8_K_BYTES 292

float ck_round_to_f16(float f);

/// One kernel family: rows × nact products (see ck_gemv).
typedef void (*ck_gemv_fn)(int type, int64_t n, const uint8_t *w, size_t w_row_bytes, int64_t rows,
                           const uint8_t *act, size_t act_row_bytes, int64_t nact,
                           float *out, int64_t out_stride);

/// Returns 1 when it handled `type`.
int ck_gemv_avx2(int type, int64_t n, const uint8_t *w, size_t w_row_bytes, int64_t rows,
                 const uint8_t *act, size_t act_row_bytes, int64_t nact, float *out, int64_t out_stride);
int ck_gemv_vnni(int type, int64_t n, const uint8_t *w, size_t w_row_bytes, int64_t rows,
                 const uint8_t *act, size_t act_row_bytes, int64_t nact, float *out, int64_t out_stride);

#endif
