// A packed matrix product with a per-element arithmetic that does not depend on how the columns
// are split (see include/CGemmKernels.h for the contract). GotoBLAS-style layout: op(A) packed in
// panels of MR rows, op(B) in panels of 6 columns, a register-blocked MR x 6 micro-kernel
// (AVX2+FMA, or portable C with fmaf: each accumulator is one C element, fused multiply-adds in
// p order from 0, so both paths give the same bytes), then C = base + alpha*acc with the product
// and the sum rounded separately.
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
#define WG_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define WG_AVX2 __attribute__((target("avx2,fma")))
#else
#define WG_X86 0
#endif

#define MR_S 16
#define MR_D 8
#define NR 6
// A panels per cache block (128 rows): the A block stays in L2 while the B panels pass over it.
#define MC_PANELS_S 8
#define MC_PANELS_D 16
// Inner-dimension chunk of wi_sgemm_serial (the same as InvariantGEMM.kc).
#define WI_SERIAL_KC 256

long wi_gemm_mr_f32(void) { return MR_S; }
long wi_gemm_mr_f64(void) { return MR_D; }
long wi_gemm_nr(void) { return NR; }

static int g_avx2 = -1;

static int detect_avx2(void) {
#if WG_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1;
#else
    return 0;
#endif
}

static int g_force_portable = 0;

int wi_gemm_uses_avx2(void) {
    if (__atomic_load_n(&g_force_portable, __ATOMIC_RELAXED)) return 0;
    int v = __atomic_load_n(&g_avx2, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect_avx2();
        __atomic_store_n(&g_avx2, v, __ATOMIC_RELAXED);
    }
    return v;
}

void wi_gemm_force_portable(int on) { __atomic_store_n(&g_force_portable, on ? 1 : 0, __ATOMIC_RELAXED); }

// ---- packing ---------------------------------------------------------------------------------

#define PACK_A(NAME, T, MR)                                                                         \
static void NAME(int transA, long m, long kc, const T *a, long lda, T *packed) {                          \
    long panels = (m + MR - 1) / MR;                                                                \
    for (long ip = 0; ip < panels; ip++) {                                                          \
        T *dst = packed + ip * MR * kc;                                                             \
        long i0 = ip * MR, mv = m - i0 < MR ? m - i0 : MR;                                          \
        if (!transA && mv == MR) {  /* full panel: fixed-size copies */                             \
            for (long p = 0; p < kc; p++) memcpy(dst + p * MR, a + i0 + p * lda, MR * sizeof(T));    \
        } else if (!transA) {                                                                       \
            for (long p = 0; p < kc; p++) {                                                         \
                const T *src = a + i0 + p * lda;                                                    \
                T *d = dst + p * MR;                                                                \
                long i = 0;                                                                         \
                for (; i < mv; i++) d[i] = src[i];                                                  \
                for (; i < MR; i++) d[i] = 0;                                                       \
            }                                                                                       \
        } else {                                                                                    \
            /* MR rows of A read side by side, each panel row written contiguously */               \
            const T *src = a + i0 * lda;                                                            \
            for (long p = 0; p < kc; p++) {                                                         \
                T *d = dst + p * MR;                                                                \
                long i = 0;                                                                         \
                for (; i < mv; i++) d[i] = src[i * lda + p];                                        \
                for (; i < MR; i++) d[i] = 0;                                                       \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
}
PACK_A(pack_a_s_portable, float, MR_S)
PACK_A(pack_a_d_portable, double, MR_D)

void wi_dpack_a(int transA, long m, long kc, const double *a, long lda, double *packed) {
    pack_a_d_portable(transA, m, kc, a, lda, packed);
}

#if WG_X86
// transA Float packing with 8x8 register transposes (pure data movement: same packed bytes).
WG_AVX2 static void pack_a_s_trans_avx2(long m, long kc, const float *a, long lda, float *packed) {
    long panels = (m + MR_S - 1) / MR_S;
    for (long ip = 0; ip < panels; ip++) {
        float *dst = packed + ip * MR_S * kc;
        long i0 = ip * MR_S, mv = m - i0 < MR_S ? m - i0 : MR_S;
        if (mv < MR_S) { pack_a_s_portable(1, mv, kc, a + i0 * lda, lda, dst); continue; }
        long p = 0;
        for (; p + 8 <= kc; p += 8) {
            for (int h = 0; h < 2; h++) {
                const float *src = a + (i0 + 8 * h) * lda + p;
                __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lda), r2 = _mm256_loadu_ps(src + 2 * lda),
                       r3 = _mm256_loadu_ps(src + 3 * lda), r4 = _mm256_loadu_ps(src + 4 * lda), r5 = _mm256_loadu_ps(src + 5 * lda),
                       r6 = _mm256_loadu_ps(src + 6 * lda), r7 = _mm256_loadu_ps(src + 7 * lda);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                       t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                       t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44),
                       u3 = _mm256_shuffle_ps(t1, t3, 0xEE), u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                       u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *d = dst + p * MR_S + 8 * h;
                _mm256_storeu_ps(d + 0 * MR_S, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(d + 1 * MR_S, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(d + 2 * MR_S, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(d + 3 * MR_S, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(d + 4 * MR_S, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(d + 5 * MR_S, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(d + 6 * MR_S, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(d + 7 * MR_S, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
        for (; p < kc; p++)
            for (long i = 0; i < MR_S; i++) dst[p * MR_S + i] = a[(i0 + i) * lda + p];
    }
}
#endif

void wi_spack_a(int transA, long m, long kc, const float *a, long lda, float *packed) {
#if WG_X86
    if (transA && wi_gemm_uses_avx2()) { pack_a_s_trans_avx2(m, kc, a, lda, packed); return; }
#endif
    pack_a_s_portable(transA, m, kc, a, lda, packed);
}

#define PACK_B(NAME, T)                                                                             \
static void NAME(int transB, long n, long kc, const T *b, long ldb, T *packed) {                    \
    long panels = (n + NR - 1) / NR;                                                                \
    for (long jp = 0; jp < panels; jp++) {                                                          \
        T *dst = packed + jp * NR * kc;                                                             \
        long c0 = jp * NR, nv = n - c0 < NR ? n - c0 : NR;                                          \
        if (!transB && nv == NR) {                                                                  \
            const T *s0 = b + c0 * ldb, *s1 = s0 + ldb, *s2 = s1 + ldb, *s3 = s2 + ldb,             \
                    *s4 = s3 + ldb, *s5 = s4 + ldb;                                                 \
            if (jp + 1 < panels)  /* the next panel's columns, so the loads below find them cached */ \
                for (long j = 0; j < NR && c0 + NR + j < n; j++)                                    \
                    for (long p = 0; p < kc; p += 64 / (long)sizeof(T))                             \
                        __builtin_prefetch(b + (c0 + NR + j) * ldb + p, 0, 3);                      \
            for (long p = 0; p < kc; p++) {                                                         \
                T *d = dst + p * NR;                                                                \
                d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p]; \
            }                                                                                       \
            continue;                                                                               \
        }                                                                                           \
        if (transB && nv == NR) {                                                                   \
            for (long p = 0; p < kc; p++) {                                                         \
                const T *s = b + c0 + p * ldb; T *d = dst + p * NR;                                 \
                d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3]; d[4] = s[4]; d[5] = s[5];       \
            }                                                                                       \
            continue;                                                                               \
        }                                                                                           \
        for (long j = 0; j < NR; j++) {                                                             \
            long col = c0 + j;                                                                      \
            if (col >= n) { for (long p = 0; p < kc; p++) dst[p * NR + j] = 0; continue; }         \
            if (!transB) {                                                                          \
                const T *src = b + col * ldb;                                                       \
                for (long p = 0; p < kc; p++) dst[p * NR + j] = src[p];                             \
            } else {                                                                                \
                for (long p = 0; p < kc; p++) dst[p * NR + j] = b[col + p * ldb];                   \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
}
PACK_B(pack_b_s, float)
PACK_B(pack_b_d, double)

// ---- write-back (scalar; the same formula as the vector write-back) ----------------------------

#define WRITE_BACK(NAME, T, MR)                                                                     \
static void NAME(T *c, long ldc, long mv, long nv, const T *acc, T alpha, T beta, int first) {     \
    for (long j = 0; j < nv; j++) {                                                                 \
        T *cj = c + j * ldc;                                                                        \
        const T *aj = acc + j * MR;                                                                 \
        for (long i = 0; i < mv; i++) {                                                             \
            T base = first ? (beta == 0 ? (T)0 : beta * cj[i]) : cj[i];                             \
            T t = alpha * aj[i];                                                                    \
            cj[i] = base + t;                                                                       \
        }                                                                                           \
    }                                                                                               \
}
WRITE_BACK(write_back_s, float, MR_S)
WRITE_BACK(write_back_d, double, MR_D)

// ---- portable micro-kernels -------------------------------------------------------------------

static void kernel_s_portable(long kc, const float *A, const float *B, float *acc) {
    for (long i = 0; i < MR_S * NR; i++) acc[i] = 0;
    for (long p = 0; p < kc; p++) {
        const float *ap = A + p * MR_S, *bp = B + p * NR;
        for (long j = 0; j < NR; j++) {
            float bj = bp[j];
            float *aj = acc + j * MR_S;
            for (long i = 0; i < MR_S; i++) aj[i] = fmaf(ap[i], bj, aj[i]);
        }
    }
}

static void kernel_d_portable(long kc, const double *A, const double *B, double *acc) {
    for (long i = 0; i < MR_D * NR; i++) acc[i] = 0;
    for (long p = 0; p < kc; p++) {
        const double *ap = A + p * MR_D, *bp = B + p * NR;
        for (long j = 0; j < NR; j++) {
            double bj = bp[j];
            double *aj = acc + j * MR_D;
            for (long i = 0; i < MR_D; i++) aj[i] = fma(ap[i], bj, aj[i]);
        }
    }
}

// ---- AVX2+FMA micro-kernels -------------------------------------------------------------------

#if WG_X86
// 16 x 6 Float tile: 12 accumulators, 2 A vectors, 1 broadcast. full: write C directly.
WG_AVX2 static void kernel_s_avx2(long kc, const float *A, const float *B, float *acc, int full,
                                  float *c, long ldc, float alpha, float beta, int first) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    if (full) for (int j = 0; j < NR; j++) { _mm_prefetch((const char *)(c + j * ldc), _MM_HINT_T0); _mm_prefetch((const char *)(c + j * ldc + 15), _MM_HINT_T0); }
    for (long p = 0; p < kc; p++) {
        __m256 a0 = _mm256_loadu_ps(A + p * MR_S), a1 = _mm256_loadu_ps(A + p * MR_S + 8);
        const float *bp = B + p * NR;
        __m256 b;
        b = _mm256_broadcast_ss(bp + 0); c00 = _mm256_fmadd_ps(a0, b, c00); c10 = _mm256_fmadd_ps(a1, b, c10);
        b = _mm256_broadcast_ss(bp + 1); c01 = _mm256_fmadd_ps(a0, b, c01); c11 = _mm256_fmadd_ps(a1, b, c11);
        b = _mm256_broadcast_ss(bp + 2); c02 = _mm256_fmadd_ps(a0, b, c02); c12 = _mm256_fmadd_ps(a1, b, c12);
        b = _mm256_broadcast_ss(bp + 3); c03 = _mm256_fmadd_ps(a0, b, c03); c13 = _mm256_fmadd_ps(a1, b, c13);
        b = _mm256_broadcast_ss(bp + 4); c04 = _mm256_fmadd_ps(a0, b, c04); c14 = _mm256_fmadd_ps(a1, b, c14);
        b = _mm256_broadcast_ss(bp + 5); c05 = _mm256_fmadd_ps(a0, b, c05); c15 = _mm256_fmadd_ps(a1, b, c15);
    }
    __m256 lo[NR] = {c00, c01, c02, c03, c04, c05}, hi[NR] = {c10, c11, c12, c13, c14, c15};
    if (!full) {
        for (int j = 0; j < NR; j++) { _mm256_storeu_ps(acc + j * MR_S, lo[j]); _mm256_storeu_ps(acc + j * MR_S + 8, hi[j]); }
        return;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), zero = _mm256_setzero_ps();
    for (int j = 0; j < NR; j++) {
        float *cj = c + j * ldc;
        __m256 b0 = _mm256_loadu_ps(cj), b1 = _mm256_loadu_ps(cj + 8);
        if (first) {
            if (beta == 0) { b0 = zero; b1 = zero; }
            else { b0 = _mm256_mul_ps(vb, b0); b1 = _mm256_mul_ps(vb, b1); }
        }
        _mm256_storeu_ps(cj, _mm256_add_ps(b0, _mm256_mul_ps(va, lo[j])));
        _mm256_storeu_ps(cj + 8, _mm256_add_ps(b1, _mm256_mul_ps(va, hi[j])));
    }
}

// The same tile with op(B) read in place (not transposed: column j at b + j*ldb, p-th element b[j*ldb + p]):
// the same broadcasts in the same order, so the same fma chains and bytes as packing B first.
WG_AVX2 static void kernel_s_avx2_inplace(long kc, const float *A, const float *b, long ldb, float *c, long ldc,
                                          float alpha, float beta, int first) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    const float *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb, *b4 = b + 4 * ldb, *b5 = b + 5 * ldb;
    for (int j = 0; j < NR; j++) { _mm_prefetch((const char *)(c + j * ldc), _MM_HINT_T0); _mm_prefetch((const char *)(c + j * ldc + 15), _MM_HINT_T0); }
    for (long p = 0; p < kc; p++) {
        __m256 a0 = _mm256_loadu_ps(A + p * MR_S), a1 = _mm256_loadu_ps(A + p * MR_S + 8);
        __m256 x;
        x = _mm256_broadcast_ss(b0 + p); c00 = _mm256_fmadd_ps(a0, x, c00); c10 = _mm256_fmadd_ps(a1, x, c10);
        x = _mm256_broadcast_ss(b1 + p); c01 = _mm256_fmadd_ps(a0, x, c01); c11 = _mm256_fmadd_ps(a1, x, c11);
        x = _mm256_broadcast_ss(b2 + p); c02 = _mm256_fmadd_ps(a0, x, c02); c12 = _mm256_fmadd_ps(a1, x, c12);
        x = _mm256_broadcast_ss(b3 + p); c03 = _mm256_fmadd_ps(a0, x, c03); c13 = _mm256_fmadd_ps(a1, x, c13);
        x = _mm256_broadcast_ss(b4 + p); c04 = _mm256_fmadd_ps(a0, x, c04); c14 = _mm256_fmadd_ps(a1, x, c14);
        x = _mm256_broadcast_ss(b5 + p); c05 = _mm256_fmadd_ps(a0, x, c05); c15 = _mm256_fmadd_ps(a1, x, c15);
    }
    __m256 lo[NR] = {c00, c01, c02, c03, c04, c05}, hi[NR] = {c10, c11, c12, c13, c14, c15};
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), zero = _mm256_setzero_ps();
    for (int j = 0; j < NR; j++) {
        float *cj = c + j * ldc;
        __m256 x0 = _mm256_loadu_ps(cj), x1 = _mm256_loadu_ps(cj + 8);
        if (first) {
            if (beta == 0) { x0 = zero; x1 = zero; }
            else { x0 = _mm256_mul_ps(vb, x0); x1 = _mm256_mul_ps(vb, x1); }
        }
        _mm256_storeu_ps(cj, _mm256_add_ps(x0, _mm256_mul_ps(va, lo[j])));
        _mm256_storeu_ps(cj + 8, _mm256_add_ps(x1, _mm256_mul_ps(va, hi[j])));
    }
}

// 8 x 6 Double tile.
WG_AVX2 static void kernel_d_avx2(long kc, const double *A, const double *B, double *acc, int full,
                                  double *c, long ldc, double alpha, double beta, int first) {
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
    __m256d c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00;
    for (long p = 0; p < kc; p++) {
        __m256d a0 = _mm256_loadu_pd(A + p * MR_D), a1 = _mm256_loadu_pd(A + p * MR_D + 4);
        const double *bp = B + p * NR;
        __m256d b;
        b = _mm256_broadcast_sd(bp + 0); c00 = _mm256_fmadd_pd(a0, b, c00); c10 = _mm256_fmadd_pd(a1, b, c10);
        b = _mm256_broadcast_sd(bp + 1); c01 = _mm256_fmadd_pd(a0, b, c01); c11 = _mm256_fmadd_pd(a1, b, c11);
        b = _mm256_broadcast_sd(bp + 2); c02 = _mm256_fmadd_pd(a0, b, c02); c12 = _mm256_fmadd_pd(a1, b, c12);
        b = _mm256_broadcast_sd(bp + 3); c03 = _mm256_fmadd_pd(a0, b, c03); c13 = _mm256_fmadd_pd(a1, b, c13);
        b = _mm256_broadcast_sd(bp + 4); c04 = _mm256_fmadd_pd(a0, b, c04); c14 = _mm256_fmadd_pd(a1, b, c14);
        b = _mm256_broadcast_sd(bp + 5); c05 = _mm256_fmadd_pd(a0, b, c05); c15 = _mm256_fmadd_pd(a1, b, c15);
    }
    __m256d lo[NR] = {c00, c01, c02, c03, c04, c05}, hi[NR] = {c10, c11, c12, c13, c14, c15};
    if (!full) {
        for (int j = 0; j < NR; j++) { _mm256_storeu_pd(acc + j * MR_D, lo[j]); _mm256_storeu_pd(acc + j * MR_D + 4, hi[j]); }
        return;
    }
    __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta), zero = _mm256_setzero_pd();
    for (int j = 0; j < NR; j++) {
        double *cj = c + j * ldc;
        __m256d b0 = _mm256_loadu_pd(cj), b1 = _mm256_loadu_pd(cj + 4);
        if (first) {
            if (beta == 0) { b0 = zero; b1 = zero; }
            else { b0 = _mm256_mul_pd(vb, b0); b1 = _mm256_mul_pd(vb, b1); }
        }
        _mm256_storeu_pd(cj, _mm256_add_pd(b0, _mm256_mul_pd(va, lo[j])));
        _mm256_storeu_pd(cj + 4, _mm256_add_pd(b1, _mm256_mul_pd(va, hi[j])));
    }
}
#endif

// ---- drivers ----------------------------------------------------------------------------------

// One mv × nv tile of C (mv ≤ MR_S, nv ≤ NR) from a packed A panel and a packed B panel: the AVX2
// kernel writes full tiles itself; partial tiles and the portable kernel go through write_back_s.
// Shared by the parallel (wi_sgemm_packed) and the serial (wi_sgemm_serial) drivers.
static inline void tile_s(int avx2, long kc, const float *ap, const float *bp, float *acc, long mv, long nv,
                          float *ct, long ldc, float alpha, float beta, int first) {
    int full = mv == MR_S && nv == NR;
#if WG_X86
    if (avx2) {
        kernel_s_avx2(kc, ap, bp, acc, full, ct, ldc, alpha, beta, first);
        if (!full) write_back_s(ct, ldc, mv, nv, acc, alpha, beta, first);
        return;
    }
#endif
    (void)avx2; (void)full;
    kernel_s_portable(kc, ap, bp, acc);
    write_back_s(ct, ldc, mv, nv, acc, alpha, beta, first);
}

// Panel ip of the packed A (at packedA + ip*panelStride, MR_S x kc) is used for p in [lo, hi), lo = lo0 + loStep*ip,
// hi = hi0 + hiStep*ip, both clamped to [0, kc]: the terms outside are exact zeros the caller knows of (a triangular
// or trapezoidal op(A), or zero rows of op(B)), and leaving out leading or trailing zero terms of an fma chain that
// starts at +0 changes no bit (the chain never holds -0; adding +-0 to a nonzero sum, or to +0, returns it).
static inline void band_range(long ip, long kc, long lo0, long loStep, long hi0, long hiStep, long *lo, long *hi) {
    long l = lo0 + loStep * ip, h = hi0 + hiStep * ip;
    l = l < 0 ? 0 : l > kc ? kc : l;
    h = h < 0 ? 0 : h > kc ? kc : h;
    *lo = l; *hi = h < l ? l : h;
}

void wi_sgemm_packed_band(int transB, long m, long n, long kc, const float *packedA, long panelStride, const float *b, long ldb,
                          float alpha, float beta, int first, float *c, long ldc, float *work,
                          long lo0, long loStep, long hi0, long hiStep) {
    if (m <= 0 || n <= 0 || kc <= 0) return;
    long mp = (m + MR_S - 1) / MR_S, np = (n + NR - 1) / NR;
    int avx2 = wi_gemm_uses_avx2();
    float acc[MR_S * NR];
#if WG_X86
    if (avx2 && !transB && mp <= MC_PANELS_S && m % MR_S == 0) {
        // One cache block of A rows, untransposed B, whole A panels: B is read once per column panel, so the
        // full column panels read it in place (no packing pass); a last partial panel is packed as usual.
        long npFull = n / NR;
        for (long jp = 0; jp < npFull; jp++) {
            const float *bj = b + jp * NR * ldb;
            for (long ip = 0; ip < mp; ip++) {
                long lo, hi;
                band_range(ip, kc, lo0, loStep, hi0, hiStep, &lo, &hi);
                kernel_s_avx2_inplace(hi - lo, packedA + ip * panelStride + lo * MR_S, bj + lo, ldb,
                                      c + ip * MR_S + jp * NR * ldc, ldc, alpha, beta, first);
            }
        }
        if (npFull == np) return;
        long nv = n - npFull * NR;
        pack_b_s(0, nv, kc, b + npFull * NR * ldb, ldb, work);
        for (long ip = 0; ip < mp; ip++) {
            long lo, hi;
            band_range(ip, kc, lo0, loStep, hi0, hiStep, &lo, &hi);
            tile_s(avx2, hi - lo, packedA + ip * panelStride + lo * MR_S, work + lo * NR, acc, MR_S, nv,
                   c + ip * MR_S + npFull * NR * ldc, ldc, alpha, beta, first);
        }
        return;
    }
#endif
    pack_b_s(transB, n, kc, b, ldb, work);
    for (long ic = 0; ic < mp; ic += MC_PANELS_S) {
        long icEnd = ic + MC_PANELS_S < mp ? ic + MC_PANELS_S : mp;
        for (long jp = 0; jp < np; jp++) {
            const float *bp = work + jp * NR * kc;
            long nv = n - jp * NR < NR ? n - jp * NR : NR;
            for (long ip = ic; ip < icEnd; ip++) {
                long lo, hi;
                band_range(ip, kc, lo0, loStep, hi0, hiStep, &lo, &hi);
                const float *ap = packedA + ip * panelStride + lo * MR_S;
                long mv = m - ip * MR_S < MR_S ? m - ip * MR_S : MR_S;
                float *ct = c + ip * MR_S + jp * NR * ldc;
                tile_s(avx2, hi - lo, ap, bp + lo * NR, acc, mv, nv, ct, ldc, alpha, beta, first);
            }
        }
    }
}

void wi_sgemm_packed(int transB, long m, long n, long kc, const float *packedA, const float *b, long ldb,
                     float alpha, float beta, int first, float *c, long ldc, float *work) {
    wi_sgemm_packed_band(transB, m, n, kc, packedA, MR_S * kc, b, ldb, alpha, beta, first, c, ldc, work, 0, 0, kc, 0);
}

void wi_dgemm_packed_band(int transB, long m, long n, long kc, const double *packedA, long panelStride, const double *b, long ldb,
                          double alpha, double beta, int first, double *c, long ldc, double *work,
                          long lo0, long loStep, long hi0, long hiStep) {
    if (m <= 0 || n <= 0 || kc <= 0) return;
    pack_b_d(transB, n, kc, b, ldb, work);
    long mp = (m + MR_D - 1) / MR_D, np = (n + NR - 1) / NR;
    int avx2 = wi_gemm_uses_avx2();
    double acc[MR_D * NR];
    for (long ic = 0; ic < mp; ic += MC_PANELS_D) {
        long icEnd = ic + MC_PANELS_D < mp ? ic + MC_PANELS_D : mp;
        for (long jp = 0; jp < np; jp++) {
            const double *bp0 = work + jp * NR * kc;
            long nv = n - jp * NR < NR ? n - jp * NR : NR;
            for (long ip = ic; ip < icEnd; ip++) {
                long lo, hi;
                band_range(ip, kc, lo0, loStep, hi0, hiStep, &lo, &hi);
                const double *ap = packedA + ip * panelStride + lo * MR_D, *bp = bp0 + lo * NR;
                long kcur = hi - lo;
                long mv = m - ip * MR_D < MR_D ? m - ip * MR_D : MR_D;
                double *ct = c + ip * MR_D + jp * NR * ldc;
                int full = mv == MR_D && nv == NR;
#if WG_X86
                if (avx2) {
                    kernel_d_avx2(kcur, ap, bp, acc, full, ct, ldc, alpha, beta, first);
                    if (!full) write_back_d(ct, ldc, mv, nv, acc, alpha, beta, first);
                    continue;
                }
#endif
                (void)avx2; (void)full;
                kernel_d_portable(kcur, ap, bp, acc);
                write_back_d(ct, ldc, mv, nv, acc, alpha, beta, first);
            }
        }
    }
}

void wi_dgemm_packed(int transB, long m, long n, long kc, const double *packedA, const double *b, long ldb,
                     double alpha, double beta, int first, double *c, long ldc, double *work) {
    wi_dgemm_packed_band(transB, m, n, kc, packedA, MR_D * kc, b, ldb, alpha, beta, first, c, ldc, work, 0, 0, kc, 0);
}

// ---- single-threaded driver (no allocation; the caller's workspace) ----------------------------

// The serial driver packs A with wi_spack_a (AVX2 transposes for transA, fixed-size copies of
// full untransposed panels): the packed bytes do not depend on the path.
static void pack_a_s_serial(int avx2, int transA, long m, long kc, const float *a, long lda, float *packed) {
    (void)avx2;
    wi_spack_a(transA, m, kc, a, lda, packed);
}

long wi_sgemm_serial_workspace(long m, long n, long k) {
    long kc = k < WI_SERIAL_KC ? k : WI_SERIAL_KC;
    if (kc < 1) kc = 1;
    long mb = m < MR_S * MC_PANELS_S ? m : MR_S * MC_PANELS_S;
    return ((mb + MR_S - 1) / MR_S * MR_S + (n + NR - 1) / NR * NR) * kc;
}

void wi_sgemm_serial(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, float *work) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (long j = 0; j < n; j++) for (long i = 0; i < m; i++) c[i + j * ldc] = beta == 0 ? 0 : beta * c[i + j * ldc];
        return;
    }
    long kcMax = k < WI_SERIAL_KC ? k : WI_SERIAL_KC;
    float *packedB = work, *packedA = work + (n + NR - 1) / NR * NR * kcMax;
    long np = (n + NR - 1) / NR;
    int avx2 = wi_gemm_uses_avx2();
    float acc[MR_S * NR];
    for (long k0 = 0; k0 < k; k0 += WI_SERIAL_KC) {
        long kc = k - k0 < WI_SERIAL_KC ? k - k0 : WI_SERIAL_KC;
        int first = k0 == 0;
        pack_b_s(transB, n, kc, transB ? b + k0 * ldb : b + k0, ldb, packedB);
        for (long i0 = 0; i0 < m; i0 += MR_S * MC_PANELS_S) {
            long mb = m - i0 < MR_S * MC_PANELS_S ? m - i0 : MR_S * MC_PANELS_S;
            pack_a_s_serial(avx2, transA, mb, kc, transA ? a + k0 + i0 * lda : a + i0 + k0 * lda, lda, packedA);
            long mp = (mb + MR_S - 1) / MR_S;
            for (long jp = 0; jp < np; jp++) {
                const float *bp = packedB + jp * NR * kc;
                long nv = n - jp * NR < NR ? n - jp * NR : NR;
                for (long ip = 0; ip < mp; ip++) {
                    const float *ap = packedA + ip * MR_S * kc;
                    long mv = mb - ip * MR_S < MR_S ? mb - ip * MR_S : MR_S;
                    float *ct = c + i0 + ip * MR_S + jp * NR * ldc;
                    tile_s(avx2, kc, ap, bp, acc, mv, nv, ct, ldc, alpha, beta, first);
                }
            }
        }
    }
}
