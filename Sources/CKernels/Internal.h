#ifndef PONDER_CKERNELS_INTERNAL_H
#define PONDER_CKERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum {
    CK_F32 = 0, CK_F16 = 1, CK_Q4_0 = 2, CK_Q4_1 = 3, CK_Q5_0 = 6, CK_Q5_1 = 7, CK_Q8_0 = 8,
    CK_Q2_K = 10, CK_Q3_K = 11, CK_Q4_K = 12, CK_Q5_K = 13, CK_Q6_K = 14, CK_IQ4_NL = 20, CK_IQ4_XS = 23,
    CK_BF16 = 30,
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

// MARK: - Prompt-batch products (GemmDecode.c)

/// How a weight type enters the integer microkernel: w = ws·(u − offset) − wm per sub-block.
typedef struct {
    int sub;          // S: elements per scale (16 or 32)
    int offset;       // c, subtracted from the unsigned bytes (0 for types with mins)
    int has_min;      // whether wm is used
    int block;        // elements per weight block
    int block_bytes;  // bytes per weight block
    int wide;         // whether bytes exceed 127 (no maddubs without vpdpbusd)
} ck_gemm_layout;

int ck_gemm_params(int type, ck_gemm_layout *p);
/// Decodes `rows` (≤ 32) weight rows into the panel at `scratch`; rows past `rows` are zeros.
void ck_gemm_decode_panel(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w,
                          size_t w_row_bytes, int64_t rows, uint8_t *scratch);

#define CK_PANEL_WQ(scratch, n, s) ((scratch) + (size_t)(s) * 16 * (size_t)(n))
#define CK_PANEL_WS(scratch, n, nsub, s) ((float *)((scratch) + 32 * (size_t)(n)) + (size_t)(s) * 16 * (size_t)(nsub))
#define CK_PANEL_WM(scratch, n, nsub, s) ((float *)((scratch) + 32 * (size_t)(n)) + (size_t)(2 + (s)) * 16 * (size_t)(nsub))

/// One instruction set's panel driver: out[b·os + r] for r < rows (a multiple of 32 apart
/// from the last panel), b < nact.
typedef void (*ck_gemm_fn)(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb,
                           int64_t rows, const uint8_t *act, size_t arb, int64_t nact, float *out,
                           int64_t os, uint8_t *scratch);
void ck_gemm_avx512(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                    const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch);
void ck_gemm_ymm_vnni512(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                         const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch);
void ck_gemm_ymm_avxvnni(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                         const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch);
void ck_gemm_ymm_avx2(int type, const ck_gemm_layout *p, int64_t n, const uint8_t *w, size_t wrb, int64_t rows,
                      const uint8_t *act, size_t arb, int64_t nact, float *out, int64_t os, uint8_t *scratch);

#endif
