// Matrix products of dense-layer training (forward Z = X·Wᵀ + b, dX = dZ·W, dW = dZᵀ·X) on the
// packed micro-kernel of gemm_kernels.c's design, with the second operand read in place (no copy)
// and the output written once, bias and ReLU fused into that write (see include/CGemmKernels.h).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "CGemmKernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define WD_X86 1
#include <immintrin.h>
#define WD_AVX2 __attribute__((target("avx2,fma")))
#else
#define WD_X86 0
#endif

#define MR 16
#define NR 6

// The epilogue of one element: acc is the fma chain, i the row of C (bias index), cij points at C.
static inline void epilogue1(float acc, long i, float *cij, float *yij, int mode, const float *bias, const float *gij) {
    float v;
    switch (mode) {
    case WI_DENSE_STORE: v = acc; break;
    case WI_DENSE_BIAS: v = acc + bias[i]; break;
    case WI_DENSE_ACCUMULATE: v = *cij + acc; break;
    case WI_DENSE_BIAS_RELU: v = acc + bias[i]; v = v > 0 ? v : 0; break;
    default: v = *gij > 0 ? acc : 0; break;   // WI_DENSE_RELU_GATE
    }
    *cij = v;
    if (yij) *yij = v > 0 ? v : 0;
}

static void tile_portable(long k, const float *A, long lda, const float *const *bj, long bsp, long mv, long nv, long i0,
                          float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *g) {
    float acc[NR][MR];
    for (long j = 0; j < NR; j++) for (long i = 0; i < MR; i++) acc[j][i] = 0;
    for (long p = 0; p < k; p++) {
        const float *ap = A + p * lda;
        for (long j = 0; j < nv; j++) {
            float bv = bj[j][p * bsp];
            for (long i = 0; i < mv; i++) acc[j][i] = fmaf(ap[i], bv, acc[j][i]);
        }
    }
    for (long j = 0; j < nv; j++)
        for (long i = 0; i < mv; i++)
            epilogue1(acc[j][i], i0 + i, c + j * ldc + i, y ? y + j * ldy + i : 0, mode, bias, g ? g + j * ldc + i : 0);
}

#if WD_X86
// The accumulation of one 16 x 6 tile, alone in a function so that the loop keeps its pointers
// and accumulators in registers (the package builds C with -O2 and a frame pointer; inlined into
// the panel loop, clang spilled some of them inside the loop). acc receives the 6 columns x 16.
WD_AVX2 __attribute__((noinline)) static void micro_avx2(long k, const float *A, long lda, const float *p0, const float *p3,
                                                         long bsp, long bsj, float *acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    const float *ap = A;
    for (long p = 0; p < k; p++, p0 += bsp, p3 += bsp, ap += lda) {
        __m256 a0 = _mm256_loadu_ps(ap), a1 = _mm256_loadu_ps(ap + 8);
        __m256 b;
        b = _mm256_broadcast_ss(p0); c00 = _mm256_fmadd_ps(a0, b, c00); c10 = _mm256_fmadd_ps(a1, b, c10);
        b = _mm256_broadcast_ss(p0 + bsj); c01 = _mm256_fmadd_ps(a0, b, c01); c11 = _mm256_fmadd_ps(a1, b, c11);
        b = _mm256_broadcast_ss(p0 + 2 * bsj); c02 = _mm256_fmadd_ps(a0, b, c02); c12 = _mm256_fmadd_ps(a1, b, c12);
        b = _mm256_broadcast_ss(p3); c03 = _mm256_fmadd_ps(a0, b, c03); c13 = _mm256_fmadd_ps(a1, b, c13);
        b = _mm256_broadcast_ss(p3 + bsj); c04 = _mm256_fmadd_ps(a0, b, c04); c14 = _mm256_fmadd_ps(a1, b, c14);
        b = _mm256_broadcast_ss(p3 + 2 * bsj); c05 = _mm256_fmadd_ps(a0, b, c05); c15 = _mm256_fmadd_ps(a1, b, c15);
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c10); _mm256_storeu_ps(acc + 16, c01); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c02); _mm256_storeu_ps(acc + 40, c12); _mm256_storeu_ps(acc + 48, c03); _mm256_storeu_ps(acc + 56, c13);
    _mm256_storeu_ps(acc + 64, c04); _mm256_storeu_ps(acc + 72, c14); _mm256_storeu_ps(acc + 80, c05); _mm256_storeu_ps(acc + 88, c15);
}

// The same for an edge tile (fewer than 6 valid columns: the missing ones repeat column 0).
WD_AVX2 __attribute__((noinline)) static void micro_edge_avx2(long k, const float *A, long lda, const float *const *bj, long bsp, float *acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    const float *b0 = bj[0], *b1 = bj[1], *b2 = bj[2], *b3 = bj[3], *b4 = bj[4], *b5 = bj[5];
    long off = 0;
    const float *ap = A;
    for (long p = 0; p < k; p++, off += bsp, ap += lda) {
        __m256 a0 = _mm256_loadu_ps(ap), a1 = _mm256_loadu_ps(ap + 8);
        __m256 b;
        b = _mm256_broadcast_ss(b0 + off); c00 = _mm256_fmadd_ps(a0, b, c00); c10 = _mm256_fmadd_ps(a1, b, c10);
        b = _mm256_broadcast_ss(b1 + off); c01 = _mm256_fmadd_ps(a0, b, c01); c11 = _mm256_fmadd_ps(a1, b, c11);
        b = _mm256_broadcast_ss(b2 + off); c02 = _mm256_fmadd_ps(a0, b, c02); c12 = _mm256_fmadd_ps(a1, b, c12);
        b = _mm256_broadcast_ss(b3 + off); c03 = _mm256_fmadd_ps(a0, b, c03); c13 = _mm256_fmadd_ps(a1, b, c13);
        b = _mm256_broadcast_ss(b4 + off); c04 = _mm256_fmadd_ps(a0, b, c04); c14 = _mm256_fmadd_ps(a1, b, c14);
        b = _mm256_broadcast_ss(b5 + off); c05 = _mm256_fmadd_ps(a0, b, c05); c15 = _mm256_fmadd_ps(a1, b, c15);
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c10); _mm256_storeu_ps(acc + 16, c01); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c02); _mm256_storeu_ps(acc + 40, c12); _mm256_storeu_ps(acc + 48, c03); _mm256_storeu_ps(acc + 56, c13);
    _mm256_storeu_ps(acc + 64, c04); _mm256_storeu_ps(acc + 72, c14); _mm256_storeu_ps(acc + 80, c05); _mm256_storeu_ps(acc + 88, c15);
}

// An edge tile of at most 4 valid columns: 8 accumulators keep both FMA pipes busy, so it costs
// about 4/6 of a 6-column tile instead of a whole one. Columns 4 and 5 of acc repeat column 0.
WD_AVX2 __attribute__((noinline)) static void micro4_avx2(long k, const float *A, long lda, const float *const *bj, long bsp, float *acc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    const float *b0 = bj[0], *b1 = bj[1], *b2 = bj[2], *b3 = bj[3];
    long off = 0;
    const float *ap = A;
    for (long p = 0; p < k; p++, off += bsp, ap += lda) {
        __m256 a0 = _mm256_loadu_ps(ap), a1 = _mm256_loadu_ps(ap + 8);
        __m256 b;
        b = _mm256_broadcast_ss(b0 + off); c00 = _mm256_fmadd_ps(a0, b, c00); c10 = _mm256_fmadd_ps(a1, b, c10);
        b = _mm256_broadcast_ss(b1 + off); c01 = _mm256_fmadd_ps(a0, b, c01); c11 = _mm256_fmadd_ps(a1, b, c11);
        b = _mm256_broadcast_ss(b2 + off); c02 = _mm256_fmadd_ps(a0, b, c02); c12 = _mm256_fmadd_ps(a1, b, c12);
        b = _mm256_broadcast_ss(b3 + off); c03 = _mm256_fmadd_ps(a0, b, c03); c13 = _mm256_fmadd_ps(a1, b, c13);
    }
    _mm256_storeu_ps(acc + 0, c00); _mm256_storeu_ps(acc + 8, c10); _mm256_storeu_ps(acc + 16, c01); _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c02); _mm256_storeu_ps(acc + 40, c12); _mm256_storeu_ps(acc + 48, c03); _mm256_storeu_ps(acc + 56, c13);
    _mm256_storeu_ps(acc + 64, c00); _mm256_storeu_ps(acc + 72, c10); _mm256_storeu_ps(acc + 80, c00); _mm256_storeu_ps(acc + 88, c10);
}

// One 16-row panel of C: every 6-column tile of columns [0, n) (one call per panel: no per-tile
// call overhead). A(i, p) at A + i + p*lda (lda = 16 when packed).
WD_AVX2 __attribute__((noinline)) static void panel_avx2(long k, const float *A, long lda, const float *b, long bsp, long bsj, long n,
                                                         long mv, long i0, float *c, long ldc, int mode, const float *bias,
                                                         float *y, long ldy, const float *gate) {
  for (long j0 = 0; j0 < n; j0 += NR) {
    long nv = n - j0 < NR ? n - j0 : NR;
    float *cj0 = c + j0 * ldc;
    float *yj0 = y ? y + j0 * ldy : 0;
    const float *g = gate ? gate + j0 * ldc : 0;
    const float *b0 = b + j0 * bsj;
    float accs[NR * MR];
    // The tile's C (and Y, gate) lines are fetched while the micro-kernel runs: the epilogue's
    // loads and stores would otherwise wait for L2/L3 (a layer's activations rarely stay in L1).
    for (long j = 0; j < nv; j++) {
        __builtin_prefetch(cj0 + j * ldc, 1, 3); __builtin_prefetch(cj0 + j * ldc + MR - 1, 1, 3);
        if (yj0) { __builtin_prefetch(yj0 + j * ldy, 1, 3); __builtin_prefetch(yj0 + j * ldy + MR - 1, 1, 3); }
        if (g) { __builtin_prefetch(g + j * ldc, 0, 3); __builtin_prefetch(g + j * ldc + MR - 1, 0, 3); }
    }
    if (nv == NR) micro_avx2(k, A, lda, b0, b0 + 3 * bsj, bsp, bsj, accs);
    else {
        const float *bj[NR];
        for (long j = 0; j < NR; j++) bj[j] = b + (j0 + (j < nv ? j : 0)) * bsj;
        if (nv <= 4) micro4_avx2(k, A, lda, bj, bsp, accs); else micro_edge_avx2(k, A, lda, bj, bsp, accs);
    }
    __m256 c00 = _mm256_loadu_ps(accs + 0), c10 = _mm256_loadu_ps(accs + 8), c01 = _mm256_loadu_ps(accs + 16), c11 = _mm256_loadu_ps(accs + 24);
    __m256 c02 = _mm256_loadu_ps(accs + 32), c12 = _mm256_loadu_ps(accs + 40), c03 = _mm256_loadu_ps(accs + 48), c13 = _mm256_loadu_ps(accs + 56);
    __m256 c04 = _mm256_loadu_ps(accs + 64), c14 = _mm256_loadu_ps(accs + 72), c05 = _mm256_loadu_ps(accs + 80), c15 = _mm256_loadu_ps(accs + 88);
    __m256 lo[NR] = {c00, c01, c02, c03, c04, c05}, hi[NR] = {c10, c11, c12, c13, c14, c15};
    float *c = cj0, *y = yj0;   // this tile's C and Y (shadowing the panel's)
    if (mv == MR) {
        __m256 zero = _mm256_setzero_ps();
        __m256 bl = zero, bh = zero;
        if (mode == WI_DENSE_BIAS || mode == WI_DENSE_BIAS_RELU) { bl = _mm256_loadu_ps(bias + i0); bh = _mm256_loadu_ps(bias + i0 + 8); }
        for (long j = 0; j < nv; j++) {
            float *cj = c + j * ldc;
            __m256 vl = lo[j], vh = hi[j];
            switch (mode) {
            case WI_DENSE_STORE: break;
            case WI_DENSE_BIAS: vl = _mm256_add_ps(vl, bl); vh = _mm256_add_ps(vh, bh); break;
            case WI_DENSE_ACCUMULATE: vl = _mm256_add_ps(_mm256_loadu_ps(cj), vl); vh = _mm256_add_ps(_mm256_loadu_ps(cj + 8), vh); break;
            case WI_DENSE_BIAS_RELU:   // v > 0 ? v : +0 (NaN and -0 give +0): max_ps returns its second operand unless v > 0
                vl = _mm256_max_ps(_mm256_add_ps(vl, bl), zero); vh = _mm256_max_ps(_mm256_add_ps(vh, bh), zero); break;
            default: {
                const float *gj = g + j * ldc;
                vl = _mm256_and_ps(vl, _mm256_cmp_ps(_mm256_loadu_ps(gj), zero, _CMP_GT_OQ));
                vh = _mm256_and_ps(vh, _mm256_cmp_ps(_mm256_loadu_ps(gj + 8), zero, _CMP_GT_OQ));
                // and with an all-zero mask gives +0, as `g > 0 ? acc : 0` does
            }
            }
            _mm256_storeu_ps(cj, vl); _mm256_storeu_ps(cj + 8, vh);
            if (y) {   // v > 0 ? v : 0 (NaN and -0 give +0): max_ps returns its second operand unless v > 0
                float *yj = y + j * ldy;
                _mm256_storeu_ps(yj, _mm256_max_ps(vl, zero)); _mm256_storeu_ps(yj + 8, _mm256_max_ps(vh, zero));
            }
        }
        continue;
    }
    float acc[NR][MR];
    for (int j = 0; j < NR; j++) { _mm256_storeu_ps(acc[j], lo[j]); _mm256_storeu_ps(acc[j] + 8, hi[j]); }
    for (long j = 0; j < nv; j++)
        for (long i = 0; i < mv; i++)
            epilogue1(acc[j][i], i0 + i, c + j * ldc + i, y ? y + j * ldy + i : 0, mode, bias, g ? g + j * ldc + i : 0);
  }
}
#endif

// The tile loop: panels of 16 rows of C outer (the A panel stays in L1 while the B columns pass).
// packed: A panel ip at A + ip*16*k, stride 16 per p; otherwise A(i, p) at A + i + p*lda (the last
// panel, when m is not a multiple of 16, on the portable tile, which reads only the valid rows).
#define DRIVER_BODY(TILE)                                                                            \
    long mp = (m + MR - 1) / MR;                                                                    \
    for (long ip = 0; ip < mp; ip++) {                                                              \
        long i0 = ip * MR, mv = m - i0 < MR ? m - i0 : MR;                                          \
        const float *ap = lda == 0 ? A + ip * MR * k : A + i0;                                      \
        long as = lda == 0 ? MR : lda;                                                              \
        for (long j0 = 0; j0 < n; j0 += NR) {                                                       \
            long nv = n - j0 < NR ? n - j0 : NR;                                                    \
            const float *bj[NR];                                                                    \
            for (long j = 0; j < NR; j++) bj[j] = b + (j0 + (j < nv ? j : 0)) * bsj;                \
            float *ct = c + j0 * ldc + i0;                                                          \
            float *yt = y ? y + j0 * ldy + i0 : 0;                                                  \
            const float *gt = gate ? gate + j0 * ldc + i0 : 0;                                      \
            if (lda != 0 && mv < MR) tile_portable(k, ap, as, bj, bsp, mv, nv, i0, ct, ldc, mode, bias, yt, ldy, gt); \
            else TILE(k, ap, as, bj, bsp, mv, nv, i0, ct, ldc, mode, bias, yt, ldy, gt);            \
        }                                                                                           \
    }

static void driver_portable(long m, long n, long k, const float *A, long lda, const float *b, long bsp, long bsj,
                            float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate) {
    DRIVER_BODY(tile_portable)
}

#if WD_X86
WD_AVX2 static void driver_avx2(long m, long n, long k, const float *A, long lda, const float *b, long bsp, long bsj,
                                float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate) {
    long mp = (m + MR - 1) / MR;
    for (long ip = 0; ip < mp; ip++) {
        long i0 = ip * MR, mv = m - i0 < MR ? m - i0 : MR;
        if (lda != 0 && mv < MR) {   // an in-place A's last partial panel: the portable tiles read only its rows
            const float *ap = A + i0;
            for (long j0 = 0; j0 < n; j0 += NR) {
                long nv = n - j0 < NR ? n - j0 : NR;
                const float *bj[NR];
                for (long j = 0; j < NR; j++) bj[j] = b + (j0 + (j < nv ? j : 0)) * bsj;
                tile_portable(k, ap, lda, bj, bsp, mv, nv, i0, c + j0 * ldc + i0, ldc, mode, bias,
                              y ? y + j0 * ldy + i0 : 0, ldy, gate ? gate + j0 * ldc + i0 : 0);
            }
            continue;
        }
        panel_avx2(k, lda == 0 ? A + ip * MR * k : A + i0, lda == 0 ? MR : lda, b, bsp, bsj, n, mv, i0, c + i0, ldc, mode, bias,
                   y ? y + i0 : 0, ldy, gate ? gate + i0 : 0);
    }
}
#endif

void wi_dense_sgemm(long m, long n, long k, const float *a, long lda, const float *b, long bsp, long bsj,
                    float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate) {
    if (m <= 0 || n <= 0) return;
#if WD_X86
    if (wi_gemm_uses_avx2()) { driver_avx2(m, n, k, a, lda, b, bsp, bsj, c, ldc, mode, bias, y, ldy, gate); return; }
#endif
    driver_portable(m, n, k, a, lda, b, bsp, bsj, c, ldc, mode, bias, y, ldy, gate);
}

// wi_dense_sgemm with A packed (lda = 0), panel by panel, each panel's result rows (Y when y is
// given, else C) copied into the packed layout while they are still in L1 (see the header).
void wi_dense_sgemm_pack(long m, long n, long k, const float *a, const float *b, long bsp, long bsj,
                         float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate,
                         float *packed, long panelStride) {
    if (m <= 0 || n <= 0) return;
    long mp = (m + MR - 1) / MR;
    for (long ip = 0; ip < mp; ip++) {
        long i0 = ip * MR, mv = m - i0 < MR ? m - i0 : MR;
        wi_dense_sgemm(mv, n, k, a + ip * MR * k, 0, b, bsp, bsj, c + i0, ldc, mode, bias ? bias + i0 : 0,
                       y ? y + i0 : 0, ldy, gate ? gate + i0 : 0);
        const float *src = y ? y + i0 : c + i0;
        long lds = y ? ldy : ldc;
        float *dst = packed + ip * panelStride;
        for (long j = 0; j < n; j++) memcpy(dst + j * MR, src + j * lds, (size_t)mv * sizeof(float));
    }
}
