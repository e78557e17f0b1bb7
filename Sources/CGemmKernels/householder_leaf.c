// The unblocked Householder QR of one panel leaf (LAPACK ?geqr2's algorithm) for the thread-invariant
// blocked QR (MatrixModule's HouseholderQR). AVX2 and portable paths give identical bytes: every
// dot product is eight lane sums s_l += x[8q+l]*y[8q+l] (product and sum rounded separately, never
// fused), the tail added into s_0, then ((s0+s4)+(s1+s5))+((s2+s6)+(s3+s7)); every update is
// y[i] - s*x[i] with the product rounded first. The AVX2 path only vectorizes those same
// operations (one lane per partial sum) and runs several columns' dot products side by side.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "CGemmKernels.h"
#include <float.h>
#include <math.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define HL_X86 1
#include <immintrin.h>
#define HL_AVX2 __attribute__((target("avx2,fma")))
#else
#define HL_X86 0
#endif

// ---- portable building blocks -------------------------------------------------------------------

#define DOT_PORTABLE(NAME, T)                                                                       \
static T NAME(const T *x, const T *y, long n) {                                                     \
    T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                              \
    long i = 0;                                                                                     \
    for (; i + 8 <= n; i += 8)                                                                      \
        for (int l = 0; l < 8; l++) { T p = x[i + l] * y[i + l]; s[l] = s[l] + p; }                 \
    for (; i < n; i++) { T p = x[i] * y[i]; s[0] = s[0] + p; }                                      \
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));                       \
}
DOT_PORTABLE(dot_s, float)
DOT_PORTABLE(dot_d, double)

#define AXPY_PORTABLE(NAME, T)                                                                      \
static void NAME(T s, const T *x, T *y, long n) {                                                   \
    for (long i = 0; i < n; i++) { T p = s * x[i]; y[i] = y[i] - p; }                               \
}
AXPY_PORTABLE(axpy_s, float)
AXPY_PORTABLE(axpy_d, double)

#if HL_X86
// Four dot products x·y_c (c = 0..3) at once: lane l of acc_c is s_l of column c.
HL_AVX2 static void dot4_s_avx2(const float *x, const float *const *y, long n, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(xv, _mm256_loadu_ps(y0 + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(xv, _mm256_loadu_ps(y1 + i)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(xv, _mm256_loadu_ps(y2 + i)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(xv, _mm256_loadu_ps(y3 + i)));
    }
    __m256 acc[4] = {a0, a1, a2, a3};
    for (int c = 0; c < 4; c++) {
        float s[8];
        _mm256_storeu_ps(s, acc[c]);
        for (long t = i; t < n; t++) { float p = x[t] * y[c][t]; s[0] = s[0] + p; }
        out[c] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    }
}

HL_AVX2 static float dot1_s_avx2(const float *x, const float *y, long n) {
    __m256 a = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    float s[8];
    _mm256_storeu_ps(s, a);
    for (; i < n; i++) { float p = x[i] * y[i]; s[0] = s[0] + p; }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

HL_AVX2 static void axpy_s_avx2(float s, const float *x, float *y, long n) {
    __m256 vs = _mm256_set1_ps(s);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(vs, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) { float p = s * x[i]; y[i] = y[i] - p; }
}

HL_AVX2 static void scale_s_avx2(float s, float *x, long n) {
    __m256 vs = _mm256_set1_ps(s);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++) x[i] = x[i] * s;
}

// Double: s_0..s_3 in one vector, s_4..s_7 in the other (eight lane sums as the portable path).
HL_AVX2 static void dot2_d_avx2(const double *x, const double *y0, const double *y1, long n, double *out) {
    __m256d a0 = _mm256_setzero_pd(), b0 = a0, a1 = a0, b1 = a0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d xl = _mm256_loadu_pd(x + i), xh = _mm256_loadu_pd(x + i + 4);
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(xl, _mm256_loadu_pd(y0 + i)));
        b0 = _mm256_add_pd(b0, _mm256_mul_pd(xh, _mm256_loadu_pd(y0 + i + 4)));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(xl, _mm256_loadu_pd(y1 + i)));
        b1 = _mm256_add_pd(b1, _mm256_mul_pd(xh, _mm256_loadu_pd(y1 + i + 4)));
    }
    double s[8], t[8];
    _mm256_storeu_pd(s, a0); _mm256_storeu_pd(s + 4, b0);
    _mm256_storeu_pd(t, a1); _mm256_storeu_pd(t + 4, b1);
    for (long q = i; q < n; q++) { double p = x[q] * y0[q]; s[0] = s[0] + p; p = x[q] * y1[q]; t[0] = t[0] + p; }
    out[0] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    out[1] = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

HL_AVX2 static void axpy_d_avx2(double s, const double *x, double *y, long n) {
    __m256d vs = _mm256_set1_pd(s);
    long i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, _mm256_sub_pd(_mm256_loadu_pd(y + i), _mm256_mul_pd(vs, _mm256_loadu_pd(x + i))));
    for (; i < n; i++) { double p = s * x[i]; y[i] = y[i] - p; }
}
#endif

// ---- the leaf ---------------------------------------------------------------------------------

// ||x||_2 (n > 0), scaled by the largest magnitude when the plain sum of squares over- or underflows.
#define NORM(NAME, T, DOT, MIN)                                                                     \
static T NAME(const T *x, long n, T ss) {                                                           \
    if (isfinite(ss) && ss >= MIN) return sqrt##DOT(ss);                                            \
    T big = 0;                                                                                      \
    for (long i = 0; i < n; i++) { T v = x[i] < 0 ? -x[i] : x[i]; big = big < v ? v : big; }        \
    if (big == 0 || !isfinite(big)) return big;                                                     \
    T s = 0;                                                                                        \
    for (long i = 0; i < n; i++) { T y = x[i] / big; T p = y * y; s = s + p; }                      \
    return big * sqrt##DOT(s);                                                                      \
}
#define sqrtS sqrtf
#define sqrtD sqrt
NORM(norm_s, float, S, FLT_MIN)
NORM(norm_d, double, D, DBL_MIN)

// The reflector of one column (LAPACK ?larfg with xnorm ≠ 0): beta = −sign(alpha)·‖(alpha, x)‖
// (hypot without overflow), tau = (beta − alpha)/beta, and the scale 1/(alpha − beta) of x.
#define REFLECTOR(NAME, T, SQRT)                                                                    \
static T NAME(T alpha, T xnorm, T *betaOut, T *scaleOut) {                                          \
    T aa = alpha < 0 ? -alpha : alpha;                                                              \
    T big = xnorm >= aa ? xnorm : aa, small = aa <= xnorm ? aa : xnorm;                             \
    T r = small / big, rr = r * r;                                                                  \
    T norm = big * SQRT((T)1 + rr);                                                                 \
    T beta = alpha >= 0 ? -norm : norm;                                                             \
    *betaOut = beta;                                                                                \
    *scaleOut = (T)1 / (alpha - beta);                                                              \
    return (beta - alpha) / beta;                                                                   \
}
REFLECTOR(reflector_s, float, sqrtf)
REFLECTOR(reflector_d, double, sqrt)

void wi_sgeqr2(long rows, long columns, float *p, long ld, float *tau) {
#if HL_X86
    int avx2 = wi_gemm_uses_avx2();
#else
    int avx2 = 0;
#endif
    for (long k = 0; k < columns; k++) {
        float *col = p + k + k * ld;
        long len = rows - k;
        float alpha = col[0], tk = 0;
        float xnorm = 0;
        if (len > 1) {
            float ss;
#if HL_X86
            if (avx2) ss = dot1_s_avx2(col + 1, col + 1, len - 1); else
#endif
            ss = dot_s(col + 1, col + 1, len - 1);
            xnorm = norm_s(col + 1, len - 1, ss);
        }
        if (xnorm != 0) {
            float beta, scale;
            tk = reflector_s(alpha, xnorm, &beta, &scale);
#if HL_X86
            if (avx2) scale_s_avx2(scale, col + 1, len - 1); else
#endif
            for (long i = 1; i < len; i++) col[i] = col[i] * scale;
            col[0] = beta;
        }
        tau[k] = tk;
        if (tk == 0) continue;
        long j = k + 1;
#if HL_X86
        if (avx2) {
            for (; j + 4 <= columns; j += 4) {
                const float *ys[4];
                float d[4];
                for (int c = 0; c < 4; c++) ys[c] = p + k + (j + c) * ld + 1;
                dot4_s_avx2(col + 1, ys, len - 1, d);
                for (int c = 0; c < 4; c++) {
                    float *cj = p + k + (j + c) * ld;
                    float s = tk * (cj[0] + d[c]);
                    cj[0] = cj[0] - s;
                    axpy_s_avx2(s, col + 1, cj + 1, len - 1);
                }
            }
            for (; j < columns; j++) {
                float *cj = p + k + j * ld;
                float s = tk * (cj[0] + dot1_s_avx2(col + 1, cj + 1, len - 1));
                cj[0] = cj[0] - s;
                axpy_s_avx2(s, col + 1, cj + 1, len - 1);
            }
            continue;
        }
#endif
        for (; j < columns; j++) {
            float *cj = p + k + j * ld;
            float s = tk * (cj[0] + dot_s(col + 1, cj + 1, len - 1));
            cj[0] = cj[0] - s;
            axpy_s(s, col + 1, cj + 1, len - 1);
        }
    }
}

void wi_dgeqr2(long rows, long columns, double *p, long ld, double *tau) {
#if HL_X86
    int avx2 = wi_gemm_uses_avx2();
#else
    int avx2 = 0;
#endif
    for (long k = 0; k < columns; k++) {
        double *col = p + k + k * ld;
        long len = rows - k;
        double alpha = col[0], tk = 0;
        double xnorm = 0;
        if (len > 1) xnorm = norm_d(col + 1, len - 1, dot_d(col + 1, col + 1, len - 1));
        if (xnorm != 0) {
            double beta, scale;
            tk = reflector_d(alpha, xnorm, &beta, &scale);
            for (long i = 1; i < len; i++) col[i] = col[i] * scale;
            col[0] = beta;
        }
        tau[k] = tk;
        if (tk == 0) continue;
        long j = k + 1;
#if HL_X86
        if (avx2) {
            for (; j + 2 <= columns; j += 2) {
                double *c0 = p + k + j * ld, *c1 = c0 + ld, d[2];
                dot2_d_avx2(col + 1, c0 + 1, c1 + 1, len - 1, d);
                double s0 = tk * (c0[0] + d[0]);
                c0[0] = c0[0] - s0;
                axpy_d_avx2(s0, col + 1, c0 + 1, len - 1);
                double s1 = tk * (c1[0] + d[1]);
                c1[0] = c1[0] - s1;
                axpy_d_avx2(s1, col + 1, c1 + 1, len - 1);
            }
        }
#endif
        for (; j < columns; j++) {
            double *cj = p + k + j * ld;
            double s = tk * (cj[0] + dot_d(col + 1, cj + 1, len - 1));
            cj[0] = cj[0] - s;
            axpy_d(s, col + 1, cj + 1, len - 1);
        }
    }
}
