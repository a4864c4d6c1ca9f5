#ifndef PONDER_CKERNELS_H
#define PONDER_CKERNELS_H

// The innermost SIMD loops of Ponder's matrix-vector products, in C with intrinsics, and a
// low-overhead thread pool. Kernels are compiled for AVX2+FMA+F16C (and AVX-512 VNNI where it
// helps) with per-function target attributes and chosen at run time from cpuid, so the binary
// still runs on a baseline x86-64 (or arm64) machine: there `ck_gemv` reports that it cannot
// help and the Swift caller takes its portable path.
//
// Weight types are ggml type ids (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0,
// 10 Q2_K, 11 Q3_K, 12 Q4_K, 13 Q5_K, 14 Q6_K, 20 IQ4_NL, 23 IQ4_XS, 30 BF16).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU features

/// 0: no SIMD kernels (portable paths only), 1: AVX2+FMA+F16C, 2: AVX2 and AVX-512 VNNI/VL/BW.
int ck_cpu_level(void);
/// The level the CPU supports, ignoring ck_set_cpu_level_cap.
int ck_cpu_level_detected(void);
/// Caps the level used from now on (tests and benchmarks compare paths); -1 restores the detected one.
void ck_set_cpu_level_cap(int cap);

// MARK: - Activation quantization

/// How activations are fed to the kernel for weights of `type`:
/// 0: f32 as they are, 1: Q8 per 32 (for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL), 2: Q8_K per 256
/// (K-quants and IQ4_XS), -1: this type has no kernel.
int ck_activation_kind(int type);

/// Bytes of one quantized activation row of `n` elements for weights of `type` (4n for kind 0).
///
/// Kind 1 row (nb = n/32 blocks): int8 q[32·nb], then float d[nb], then float s[nb], then
/// int16 isum[nb], with d = fp16(amax/127) (as ggml stores it), isum = Σq and s = d·Σq.
/// Kind 2 row (nb = n/256 blocks): int8 q[256·nb], then float d[nb], then int16 bsums[16·nb].
size_t ck_activation_row_bytes(int type, int64_t n);

/// Quantizes one row like ggml: Q8_0 as its x86 quantize_row_q8_0 (id = 127/amax, round to
/// nearest even), Q8_K as quantize_row_q8_K_ref (iscale = −127/max, nearest_int, d = 1/iscale).
/// For kind 0 copies the floats.
void ck_quantize_row(int type, const float *x, int64_t n, void *out);

/// y[i] = the f32 value of the f16 nearest to x[i] (ties to even), with F16C where the CPU
/// has it. `y` may alias `x`.
void ck_round_row_f16(const float *x, float *y, int64_t n);

// MARK: - Matrix-vector products

/// out[b·out_stride + r] = Σ_c W[r][c]·A[b][c] for r < rows, b < nact, where W row r is at
/// w + r·w_row_bytes (ggml blocks of `type`) and activation row b at act + b·act_row_bytes in the
/// layout of ck_activation_kind(type). Each weight block is decoded once and used for up to
/// four activation rows. Returns 0 when there is no kernel for this type on this CPU (nothing
/// written), 1 otherwise.
int ck_gemv(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows,
            const void *act, size_t act_row_bytes, int64_t nact, float *out, int64_t out_stride);

// MARK: - Prompt-batch products (integer GEMM)

/// Whether ck_gemm can multiply weights of `type` on this CPU (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
/// Q2_K…Q6_K, IQ4_NL, IQ4_XS with AVX-512 VNNI or AVX-VNNI; the same but Q8_0 and IQ4 with
/// AVX2 alone).
int ck_gemm_supported(int type);
/// Bytes of one activation row of `n` elements as ck_gemm_quantize_rows writes it for
/// weights of `type` (a multiple of 64): int8 q[n], float d[n/32] (q·d ≈ x, per 32), then
/// per weight sub-block of S = 16 or 32 elements int32 c·Σq and float d·Σq.
size_t ck_gemm_act_row_bytes(int type, int64_t n);
/// Quantizes `count` rows of `n` floats (row-major) for ck_gemm; row r at out + r·row bytes.
void ck_gemm_quantize_rows(int type, const float *x, int64_t n, int64_t count, void *out);
/// Bytes of scratch one concurrent ck_gemm call needs (64-byte aligned).
size_t ck_gemm_scratch_bytes(int type, int64_t n);
/// out[b·out_stride + r] = Σ_c W[r][c]·A[b][c] for r < rows, b < nact: the weights decoded 32
/// rows at a time into `scratch`, then multiplied with integer dot products (vpdpbusd). `act`
/// holds nact rows from ck_gemm_quantize_rows. Returns 0 (nothing written) without a kernel.
int ck_gemm(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, const void *act,
            int64_t nact, float *out, int64_t out_stride, void *scratch);
/// ck_gemm on the given microkernel (1–4 as ck_gemm_variant numbers them), whatever the forced
/// variant or level cap; 0 when this CPU or that microkernel cannot multiply `type`.
int ck_gemm_with(int variant, int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, const void *act,
                 int64_t nact, float *out, int64_t out_stride, void *scratch);
/// Whether microkernel `variant` can multiply `type` on this CPU (ignoring any level cap).
int ck_gemm_supported_by(int variant, int type);
/// Forces a microkernel (benchmarks): 0 automatic, 1 AVX2, 2 256-bit VNNI (the
/// AVX-VNNI source, EVEX-encoded), 3 AVX-512 VNNI. A variant the CPU lacks is not used.
void ck_set_gemm_variant(int variant);
/// The microkernel ck_gemm uses now (0 none, 1–3 as above, 4 AVX-VNNI).
int ck_gemm_variant(void);

/// F16/BF16 rows repacked (Repacked.c) × nact f32 activation rows (rounded to the weights'
/// type), for the sets [set0, set1): for a few activation rows (decode); 0 without AVX-512.
int ck_repacked_float_gemm(int type, int64_t n, const void *packed, int64_t rows, const float *x, int64_t nact,
                           float *out, int64_t out_stride, int64_t set0, int64_t set1);
/// Bytes of scratch one concurrent ck_gemm_float call needs.
size_t ck_gemm_float_scratch_bytes(void);
/// The same product for F16 (1) and BF16 (30) weights and f32 activations `x` (nact rows of n,
/// already rounded to the weights' type): weights converted to f32 32 rows × 2048 columns at a
/// time into `scratch`, then FMAs. With w_row_bytes 0, `w` is repacked rows (ck_repack) and
/// `rows` starts at a multiple of 32. Returns 0 (nothing written) for other types or without AVX2.
int ck_gemm_float(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, const float *x,
                  int64_t nact, float *out, int64_t out_stride, void *scratch);

// MARK: - Repacked weights (Repacked.c)

/// Whether weights of `type` can be repacked for the outer-product kernels on this CPU (Q8_0,
/// Q4_0, Q4_K, Q6_K, F16 and BF16 with AVX-512 VNNI).
int ck_repack_supported(int type);
/// Bytes of one set of sixteen repacked rows of `n` elements.
size_t ck_repack_set_bytes(int type, int64_t n);
/// Repacks sets [set0, set1) of sixteen rows (rows past `rows` are zeros) into dst, which holds
/// ceil(rows/16) sets of ck_repack_set_bytes each.
void ck_repack(int type, int64_t n, const void *w, size_t w_row_bytes, int64_t rows, int64_t set0, int64_t set1,
               void *dst);
/// out[b·out_stride + r] for the rows of sets [set0, set1) and b < nact, from repacked weights
/// and activation rows from ck_gemm_quantize_rows. Any nact, from one token to a prompt.
/// (F16/BF16 take ck_repacked_float_gemm, or ck_gemm_float with w_row_bytes 0 for prompts.)
int ck_repacked_gemm(int type, int64_t n, const void *packed, int64_t rows, const void *act, int64_t nact,
                     float *out, int64_t out_stride, int64_t set0, int64_t set1);

// MARK: - Memory bandwidth

/// Σ of `count` floats, vectorized with several accumulators (a streaming read).
float ck_stream_sum(const float *x, int64_t count);

// MARK: - Thread pool

typedef struct ck_pool ck_pool;
typedef void (*ck_task_fn)(void *context, int64_t task, int32_t worker);

/// A pool of `threads` participants: the calling thread plus threads−1 persistent workers that
/// spin briefly after each job and then sleep.
ck_pool *ck_pool_create(int32_t threads);
void ck_pool_destroy(ck_pool *pool);
/// Calls fn(context, task, worker) for every task in 0..<tasks, each exactly once, and returns
/// when all have finished. `worker` is in 0..<threads (0 is the caller) and no two tasks run
/// on the same worker at once. Calls from inside a task, or from a second thread while a job
/// is running, run their tasks inline on the calling thread.
void ck_pool_run(ck_pool *pool, int64_t tasks, ck_task_fn fn, void *context);
/// Online CPUs.
int32_t ck_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif
