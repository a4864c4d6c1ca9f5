// (Included by GemmFloat.c twice; not a standalone header.) The FMA microkernel and driver
// over f32 panels, for one register budget: TATTR the target, TFN(x) the name suffix, MRV the
// 8-row vectors per tile (2 with AVX2's sixteen registers, 4 with AVX-512VL's thirty-two).

/// acc(8·MRV rows of the panel from row `r0`, NA activation rows) over kc columns; added to
/// res[k][r0 ..< r0 + 8·MRV] (or stored when `first`).
INLINE TATTR void TFN(tile)(const float *panel, int r0, int64_t kc, const float *const *x, const int NA,
                            float (*res)[32], int first) {
    __m256 acc[MRV][6];
    for (int v = 0; v < MRV; v++)
        for (int k = 0; k < NA; k++) acc[v][k] = _mm256_setzero_ps();
    const float *p = panel + r0;
    for (int64_t j = 0; j < kc; j++) {
        __m256 w[MRV];
        for (int v = 0; v < MRV; v++) w[v] = _mm256_load_ps(p + 32 * j + 8 * v);
        for (int k = 0; k < NA; k++) {
            const __m256 b = _mm256_broadcast_ss(x[k] + j);
            for (int v = 0; v < MRV; v++) acc[v][k] = _mm256_fmadd_ps(w[v], b, acc[v][k]);
        }
    }
    for (int k = 0; k < NA; k++) {
        for (int v = 0; v < MRV; v++) {
            float *r = res[k] + r0 + 8 * v;
            _mm256_storeu_ps(r, first ? acc[v][k] : _mm256_add_ps(_mm256_loadu_ps(r), acc[v][k]));
        }
    }
}

static TATTR void TFN(gemm)(int type, int64_t n, const uint8_t *wb, size_t wrb, int64_t rows, const float *x,
                            int64_t nact, float *out, int64_t os, float *panel) {
    float res[6][32];
    for (int64_t r0 = 0; r0 < rows; r0 += 32) {
        const int64_t nr = rows - r0 < 32 ? rows - r0 : 32;
        const uint8_t *wr = wb + (size_t)r0 * wrb;
        for (int64_t k0 = 0; k0 < n; k0 += KC) {
            const int64_t kc = n - k0 < KC ? n - k0 : KC;
            if (wrb == 0)   // repacked: sets of sixteen rows, 32·n bytes each
                decode_packed(type, wb + (size_t)(r0 / 16) * 32 * (size_t)n, n, nr, k0, kc, panel);
            else
                decode(type, wr, wrb, nr, k0, kc, panel);
            for (int64_t b0 = 0; b0 < nact; b0 += 6) {
                const int64_t na = nact - b0 < 6 ? nact - b0 : 6;
                const float *xs[6];
                float *dst[6];
                for (int64_t k = 0; k < na; k++) {
                    xs[k] = x + (size_t)(b0 + k) * (size_t)n + k0;
                    dst[k] = out + (b0 + k) * os + r0;
                    if (k0 > 0) memcpy(res[k], dst[k], (size_t)nr * 4);
                }
                for (int t0 = 0; t0 < nr; t0 += 8 * MRV) {
                    switch (na) {
                    case 1: TFN(tile)(panel, t0, kc, xs, 1, res, k0 == 0); break;
                    case 2: TFN(tile)(panel, t0, kc, xs, 2, res, k0 == 0); break;
                    case 3: TFN(tile)(panel, t0, kc, xs, 3, res, k0 == 0); break;
                    case 4: TFN(tile)(panel, t0, kc, xs, 4, res, k0 == 0); break;
                    case 5: TFN(tile)(panel, t0, kc, xs, 5, res, k0 == 0); break;
                    default: TFN(tile)(panel, t0, kc, xs, 6, res, k0 == 0); break;
                    }
                }
                for (int64_t k = 0; k < na; k++) memcpy(dst[k], res[k], (size_t)nr * 4);
            }
        }
    }
}
