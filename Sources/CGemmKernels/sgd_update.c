// The SGD update of Optimizer.update (NeuralNetwork) on raw buffers, AVX2 when available: every
// operation rounded separately in the Swift code's order (no contraction), so both paths and the
// Swift loop give the same bytes.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "CGemmKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define WU_X86 1
#include <immintrin.h>
#define WU_AVX2 __attribute__((target("avx2,fma")))
#else
#define WU_X86 0
#endif

static void sgd_portable(long j, long n, float *w, const float *g, float *m, float eta, float lambda, float mu, int nesterov) {
    if (mu == 0) {
        for (; j < n; j++) { float gj = g[j] + lambda * w[j]; w[j] = w[j] - eta * gj; }
    } else if (nesterov) {
        for (; j < n; j++) { float gj = g[j] + lambda * w[j]; float v = mu * m[j] + gj; m[j] = v; w[j] = w[j] - eta * (gj + mu * v); }
    } else {
        for (; j < n; j++) { float gj = g[j] + lambda * w[j]; float v = mu * m[j] + gj; m[j] = v; w[j] = w[j] - eta * v; }
    }
}

#if WU_X86
WU_AVX2 static void sgd_avx2(long n, float *w, const float *g, float *m, float eta, float lambda, float mu, int nesterov) {
    __m256 e = _mm256_set1_ps(eta), l = _mm256_set1_ps(lambda), u = _mm256_set1_ps(mu);
    long j = 0;
    if (mu == 0) {
        for (; j + 8 <= n; j += 8) {
            __m256 wj = _mm256_loadu_ps(w + j);
            __m256 gj = _mm256_add_ps(_mm256_loadu_ps(g + j), _mm256_mul_ps(l, wj));
            _mm256_storeu_ps(w + j, _mm256_sub_ps(wj, _mm256_mul_ps(e, gj)));
        }
    } else {
        for (; j + 8 <= n; j += 8) {
            __m256 wj = _mm256_loadu_ps(w + j);
            __m256 gj = _mm256_add_ps(_mm256_loadu_ps(g + j), _mm256_mul_ps(l, wj));
            __m256 v = _mm256_add_ps(_mm256_mul_ps(u, _mm256_loadu_ps(m + j)), gj);
            _mm256_storeu_ps(m + j, v);
            __m256 step = nesterov ? _mm256_add_ps(gj, _mm256_mul_ps(u, v)) : v;
            _mm256_storeu_ps(w + j, _mm256_sub_ps(wj, _mm256_mul_ps(e, step)));
        }
    }
    sgd_portable(j, n, w, g, m, eta, lambda, mu, nesterov);
}
#endif

void wi_sgd_update(long n, float *w, const float *g, float *m, float eta, float lambda, float mu, int nesterov) {
    if (n <= 0) return;
#if WU_X86
    if (wi_gemm_uses_avx2()) { sgd_avx2(n, w, g, m, eta, lambda, mu, nesterov); return; }
#endif
    sgd_portable(0, n, w, g, m, eta, lambda, mu, nesterov);
}
