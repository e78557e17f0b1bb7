// Philox4x32-10 fills with run-time SIMD dispatch. See include/CFillKernels.h for the
// contract (element i is a pure function of key and i; identical bytes on every path).
//
// Bit-identity rules used throughout: no FP contraction (pragmas below), only correctly
// rounded IEEE + - * / sqrt and exact int<->float conversions of small integers, own
// polynomial log / sin / cos. The element math lives in always_inline helpers; each public
// kernel is instantiated three times (portable, target("avx2,fma"), target("avx512...")),
// and the compiler auto-vectorizes the fixed-size block loops inside each instance.
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#include "CFillKernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define WI_X86 1
#include <cpuid.h>
#define WI_T_AVX2 __attribute__((target("avx2,fma")))
#define WI_T_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#else
#define WI_X86 0
#endif

#define WI_AI static inline __attribute__((always_inline))

#if defined(__clang__) && __has_builtin(__builtin_elementwise_sqrt)
#define WI_SQRTF(x) __builtin_elementwise_sqrt(x)
#define WI_SQRT(x) __builtin_elementwise_sqrt(x)
#else
#define WI_SQRTF(x) sqrtf(x)
#define WI_SQRT(x) sqrt(x)
#endif

// ---------------------------------------------------------------------------------------
// Philox4x32-10
// ---------------------------------------------------------------------------------------
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

typedef struct { uint32_t v[4]; } wi_u4;

WI_AI wi_u4 philox10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    wi_u4 o = {{c0, c1, c2, c3}};
    return o;
}

void wi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    wi_u4 o = philox10(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1]);
    out[0] = o.v[0]; out[1] = o.v[1]; out[2] = o.v[2]; out[3] = o.v[3];
}

// ---------------------------------------------------------------------------------------
// Bit casts and exact conversions
// ---------------------------------------------------------------------------------------
WI_AI uint32_t f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
WI_AI float u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
WI_AI uint64_t d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
WI_AI double u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

// Exact double of an integer 0 <= v < 2^52 (magic-number trick; vectorizes on any ISA).
WI_AI double u52_to_d(uint64_t v) { return u2d(0x4330000000000000ull | v) - 0x1p52; }
// Exact double of an integer 0 <= v < 2^53.
WI_AI double u53_to_d(uint64_t v) {
    return u52_to_d(v & 0xFFFFFFFFFFFFFull) + ((v >> 52) ? 0x1p52 : 0.0);
}
// Exact double of an integer |v| < 2^51.
WI_AI double s51_to_d(int64_t v) { return u2d(0x4338000000000000ull + (uint64_t)v) - 0x1.8p52; }

// 53-bit uniform in [0, 1) from two words.
WI_AI double unit53(uint32_t hi, uint32_t lo) {
    uint64_t x = (((uint64_t)hi << 32) | lo) >> 11;
    return u53_to_d(x) * 0x1p-53;
}
// 52-bit uniform in (0, 1] from two words.
WI_AI double unit52_open0(uint32_t hi, uint32_t lo) {
    uint64_t x = (((uint64_t)hi << 32) | lo) >> 12;
    return (u52_to_d(x) + 1.0) * 0x1p-52;
}

// ---------------------------------------------------------------------------------------
// Own log / sin / cos (Taylor / atanh series; coefficients are exact ratios folded by the
// compiler, identical everywhere).
// ---------------------------------------------------------------------------------------
#define LN2HI_F 0.693145751953125f          /* 0x3f317200: e*LN2HI_F exact for |e| < 256 */
#define LN2LO_F 1.42860682030941723212e-06f
#define LN2HI_D 6.93147180369123816490e-01  /* 0x3fe62e42fee00000 */
#define LN2LO_D 1.90821492927058770002e-10

// log(x) for positive normal float x. x = 2^e m, m in [√½, √2), s = (m−1)/(m+1),
// log m = 2 atanh s = 2(s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9) (|s| <= 0.1716, truncation < 2e-9).
WI_AI float wi_logf(float x) {
    uint32_t b = f2u(x);
    int32_t e = (int32_t)(b >> 23) - 127;
    float m = u2f((b & 0x7FFFFFu) | 0x3F800000u);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float p = (float)(1.0 / 9.0);
    p = p * s2 + (float)(1.0 / 7.0);
    p = p * s2 + (float)(1.0 / 5.0);
    p = p * s2 + (float)(1.0 / 3.0);
    float t = 2.0f * s;
    float lm = t + t * (s2 * p);
    float ef = (float)e;
    return ef * LN2HI_F + (ef * LN2LO_F + lm);
}

// log(x) for positive normal double x; series to s^21/21 (truncation < 1e-18).
WI_AI double wi_log(double x) {
    uint64_t b = d2u(x);
    uint64_t eb = b >> 52; // biased exponent (x > 0)
    double m = u2d((b & 0xFFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    eb = big ? eb + 1 : eb;
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    double t = 2.0 * s;
    double lm = t + t * (s2 * p);
    double ed = u52_to_d(eb) - 1023.0;
    return ed * LN2HI_D + (ed * LN2LO_D + lm);
}

// Quadrant rotation: (cos, sin) of (n·π/2 + x) from (c, s) = (cos x, sin x).
#define WI_ROTATE(q, c, s, oc, os)                \
    do {                                          \
        oc = ((q) & 1) ? (s) : (c);               \
        os = ((q) & 1) ? (c) : (s);               \
        oc = (((q) + 1) & 2) ? -oc : oc;          \
        os = ((q) & 2) ? -os : os;                \
    } while (0)

// Box–Muller, float: (R cos 2πu2, R sin 2πu2), u1 from wa (31 bits), u2 from wb (24 bits).
WI_AI void bm_f32(uint32_t wa, uint32_t wb, float *zc, float *zs) {
    float u1 = ((float)(int32_t)(wa >> 1) + 0.5f) * 0x1p-31f; // (0, 1]
    float r = WI_SQRTF(-2.0f * wi_logf(u1));
    uint32_t r24 = wb >> 8;
    uint32_t n = (r24 + (1u << 21)) >> 22;                          // nearest quadrant 0..4
    float f = (float)(int32_t)(r24 - (n << 22)) * 0x1p-22f;          // [-0.5, 0.5), exact
    float x = f * 1.57079632679489661923f;                            // [-π/4, π/4)
    float x2 = x * x;
    float sp = (float)(1.0 / 362880.0);
    sp = sp * x2 - (float)(1.0 / 5040.0);
    sp = sp * x2 + (float)(1.0 / 120.0);
    sp = sp * x2 - (float)(1.0 / 6.0);
    float s = x + x * (x2 * sp);
    float cp = -(float)(1.0 / 3628800.0);
    cp = cp * x2 + (float)(1.0 / 40320.0);
    cp = cp * x2 - (float)(1.0 / 720.0);
    cp = cp * x2 + (float)(1.0 / 24.0);
    cp = cp * x2 - 0.5f;
    float c = 1.0f + x2 * cp;
    uint32_t q = n & 3;
    float oc, os;
    WI_ROTATE(q, c, s, oc, os);
    *zc = r * oc;
    *zs = r * os;
}

// Box–Muller, double: u1 in (0,1] from 52 bits of (w0,w1), θ from 53 bits of (w2,w3).
WI_AI void bm_f64(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, double *zc, double *zs) {
    double u1 = unit52_open0(w0, w1);
    double r = WI_SQRT(-2.0 * wi_log(u1));
    uint64_t x53 = (((uint64_t)w2 << 32) | w3) >> 11;
    uint64_t n = (x53 + (1ull << 50)) >> 51;                          // 0..4
    double f = s51_to_d((int64_t)(x53 - (n << 51))) * 0x1p-51;        // [-0.5, 0.5), exact
    double x = f * 1.57079632679489661923;
    double x2 = x * x;
    double sp = 1.0 / 1307674368000.0;    // x^15/15!
    sp = sp * x2 - 1.0 / 6227020800.0;
    sp = sp * x2 + 1.0 / 39916800.0;
    sp = sp * x2 - 1.0 / 362880.0;
    sp = sp * x2 + 1.0 / 5040.0;
    sp = sp * x2 - 1.0 / 120.0;
    sp = sp * x2 + 1.0 / 6.0;
    sp = -sp; // -(1/6 - x2/120 + ...)
    double s = x + x * (x2 * sp);
    double cp = 1.0 / 20922789888000.0;   // x^16/16!
    cp = cp * x2 - 1.0 / 87178291200.0;
    cp = cp * x2 + 1.0 / 479001600.0;
    cp = cp * x2 - 1.0 / 3628800.0;
    cp = cp * x2 + 1.0 / 40320.0;
    cp = cp * x2 - 1.0 / 720.0;
    cp = cp * x2 + 1.0 / 24.0;
    cp = cp * x2 - 0.5;
    double c = 1.0 + x2 * cp;
    uint64_t q = n & 3;
    double oc, os;
    WI_ROTATE(q, c, s, oc, os);
    *zc = r * oc;
    *zs = r * os;
}

// ---------------------------------------------------------------------------------------
// Chunk driver: chunks of E elements aligned to multiples of E in element index space;
// chunks fully inside [start, start+count) are written in place, the (at most two) partial
// ones go through a stack buffer.
// ---------------------------------------------------------------------------------------
#define NB 16          /* Philox blocks per chunk */
#define E32 (4 * NB)   /* f32 elements per chunk */
#define E64 (2 * NB)   /* f64 elements per chunk */

#define WI_FOR_CHUNKS(T, E, out, start, count, CHUNK)                                       \
    do {                                                                                    \
        uint64_t end_ = (start) + (count);                                                  \
        for (uint64_t c_ = (start) / (E); c_ * (E) < end_; c_++) {                          \
            uint64_t cs_ = c_ * (E);                                                        \
            if (cs_ >= (start) && cs_ + (E) <= end_) {                                      \
                T *dst_ = (out) + (cs_ - (start));                                          \
                CHUNK;                                                                      \
            } else {                                                                        \
                T tmp_[E];                                                                  \
                T *dst_ = tmp_;                                                             \
                CHUNK;                                                                      \
                uint64_t lo_ = cs_ < (start) ? (start) : cs_;                               \
                uint64_t hi_ = cs_ + (E) < end_ ? cs_ + (E) : end_;                         \
                memcpy((out) + (lo_ - (start)), tmp_ + (lo_ - cs_), (hi_ - lo_) * sizeof(T)); \
            }                                                                               \
        }                                                                                   \
    } while (0)

// ---- uniform ---------------------------------------------------------------------------
WI_AI void chunk_uniform_f32(float *dst, uint64_t b0, uint32_t k0, uint32_t k1, float low,
                             float range, float hmax, float high) {
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), 0, WI_STREAM_UNIFORM, k0, k1);
        for (int l = 0; l < 4; l++) {
            float u = (float)(int32_t)(w.v[l] >> 8) * 0x1p-24f;
            float x = low + range * u;
            dst[4 * j + l] = x < high ? x : hmax;
        }
    }
}

WI_AI void impl_uniform_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                            uint32_t k1, float low, float high) {
    if (count == 0) return;
    float range = high - low;
    float hmax = nextafterf(high, low);
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  chunk_uniform_f32(dst_, c_ * NB, k0, k1, low, range, hmax, high));
}

WI_AI void chunk_uniform_f64(double *dst, uint64_t b0, uint32_t k0, uint32_t k1,
                             uint32_t stream, double low, double range, double hmax,
                             double high) {
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), 0, stream, k0, k1);
        double u0 = unit53(w.v[0], w.v[1]);
        double u1 = unit53(w.v[2], w.v[3]);
        double x0 = low + range * u0;
        double x1 = low + range * u1;
        dst[2 * j] = x0 < high ? x0 : hmax;
        dst[2 * j + 1] = x1 < high ? x1 : hmax;
    }
}

WI_AI void impl_uniform_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                            uint32_t k1, uint32_t stream, double low, double high) {
    if (count == 0) return;
    double range = high - low;
    double hmax = nextafter(high, low);
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  chunk_uniform_f64(dst_, c_ * NB, k0, k1, stream, low, range, hmax, high));
}

// ---- normal ----------------------------------------------------------------------------
// Standard normals of NB f32 blocks (4 per block), into z[4*NB] in element order.
WI_AI void chunk_stdnormal_f32(float *z, uint64_t b0, uint32_t attempt, uint32_t stream,
                               uint32_t k0, uint32_t k1) {
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), attempt, stream, k0, k1);
        float a0, a1, a2, a3;
        bm_f32(w.v[0], w.v[1], &a0, &a1);
        bm_f32(w.v[2], w.v[3], &a2, &a3);
        z[4 * j] = a0; z[4 * j + 1] = a1; z[4 * j + 2] = a2; z[4 * j + 3] = a3;
    }
}

WI_AI void chunk_normal_f32(float *dst, uint64_t b0, uint32_t k0, uint32_t k1, float mean,
                            float std) {
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), 0, WI_STREAM_NORMAL, k0, k1);
        float a0, a1, a2, a3;
        bm_f32(w.v[0], w.v[1], &a0, &a1);
        bm_f32(w.v[2], w.v[3], &a2, &a3);
        dst[4 * j] = mean + std * a0;
        dst[4 * j + 1] = mean + std * a1;
        dst[4 * j + 2] = mean + std * a2;
        dst[4 * j + 3] = mean + std * a3;
    }
}

WI_AI void impl_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                           uint32_t k1, float mean, float std) {
    if (count == 0) return;
    if (std == 0.0f) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  chunk_normal_f32(dst_, c_ * NB, k0, k1, mean, std));
}

WI_AI void chunk_normal_f64(double *dst, uint64_t b0, uint32_t k0, uint32_t k1, double mean,
                            double std) {
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), 0, WI_STREAM_NORMAL, k0, k1);
        double a0, a1;
        bm_f64(w.v[0], w.v[1], w.v[2], w.v[3], &a0, &a1);
        dst[2 * j] = mean + std * a0;
        dst[2 * j + 1] = mean + std * a1;
    }
}

WI_AI void impl_normal_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                           uint32_t k1, double mean, double std) {
    if (count == 0) return;
    if (std == 0.0) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  chunk_normal_f64(dst_, c_ * NB, k0, k1, mean, std));
}

// ---- truncated normal ------------------------------------------------------------------
#define WI_TRUNC_CAP 10000u
#define WI_RETRY_BUF 512

typedef struct {
    double mean, std, a, b, alpha, beta;
    // f32 rejection path
    float meanf, stdf, alphaf, betaf, af, bf;
    // Robert path
    int method;     // 0 = uniform proposal, 1 = exponential proposal
    int mirror;     // sample -z on the mirrored interval
    double lo, hi;  // standardized interval after mirroring
    double rho, lambda;
    int use_rejection;
} wi_trunc_params;

WI_AI float clampf_nan(float x, float lo, float hi) {
    x = x >= lo ? x : lo; // NaN -> lo
    return x <= hi ? x : hi;
}
WI_AI double clampd_nan(double x, double lo, double hi) {
    x = x >= lo ? x : lo;
    return x <= hi ? x : hi;
}

// One standard normal for element i at `attempt`, f32 layout (block i/4, lane i%4).
WI_AI float z_elem_f32(uint64_t i, uint32_t attempt, uint32_t k0, uint32_t k1) {
    uint64_t b = i >> 2;
    uint32_t lane = (uint32_t)i & 3;
    wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), attempt, WI_STREAM_TRUNCATED, k0, k1);
    uint32_t wa = (lane & 2) ? w.v[2] : w.v[0];
    uint32_t wb = (lane & 2) ? w.v[3] : w.v[1];
    float zc, zs;
    bm_f32(wa, wb, &zc, &zs);
    return (lane & 1) ? zs : zc;
}

WI_AI double z_elem_f64(uint64_t i, uint32_t attempt, uint32_t k0, uint32_t k1) {
    uint64_t b = i >> 1;
    wi_u4 w = philox10((uint32_t)b, (uint32_t)(b >> 32), attempt, WI_STREAM_TRUNCATED, k0, k1);
    double zc, zs;
    bm_f64(w.v[0], w.v[1], w.v[2], w.v[3], &zc, &zs);
    return (i & 1) ? zs : zc;
}

// Appends the indices base+l with rej[l] != 0 (rej has E bytes, E % 8 == 0).
WI_AI size_t collect_rejects(const uint8_t *rej, int E, uint64_t base, uint64_t *idx,
                             size_t n) {
    for (int g = 0; g < E; g += 8) {
        uint64_t word;
        memcpy(&word, rej + g, 8);
        while (word) {
            int bit = __builtin_ctzll(word);
            idx[n++] = base + (uint64_t)g + (uint64_t)(bit >> 3);
            word &= word - 1;
        }
    }
    return n;
}

WI_AI void retry_f32(float *out, uint64_t start, uint64_t *idx, size_t n, uint32_t k0,
                     uint32_t k1, const wi_trunc_params *P) {
    float z[WI_RETRY_BUF];
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf;
    float af = P->af, bf = P->bf;
    for (uint32_t t = 1; n > 0; t++) {
        if (t >= WI_TRUNC_CAP) { // last resort; never reached in practice
            for (size_t j = 0; j < n; j++) out[idx[j] - start] = clampf_nan(meanf, af, bf);
            return;
        }
        for (size_t j = 0; j < n; j++) z[j] = z_elem_f32(idx[j], t, k0, k1);
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            float zz = z[j];
            if (zz >= alf && zz <= bef)
                out[idx[j] - start] = clampf_nan(meanf + stdf * zz, af, bf);
            else
                idx[m++] = idx[j];
        }
        n = m;
    }
}

WI_AI void retry_f64(double *out, uint64_t start, uint64_t *idx, size_t n, uint32_t k0,
                     uint32_t k1, const wi_trunc_params *P) {
    double z[WI_RETRY_BUF];
    double mean = P->mean, std = P->std, al = P->alpha, be = P->beta, a = P->a, b = P->b;
    for (uint32_t t = 1; n > 0; t++) {
        if (t >= WI_TRUNC_CAP) {
            for (size_t j = 0; j < n; j++) out[idx[j] - start] = clampd_nan(mean, a, b);
            return;
        }
        for (size_t j = 0; j < n; j++) z[j] = z_elem_f64(idx[j], t, k0, k1);
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            double zz = z[j];
            if (zz >= al && zz <= be)
                out[idx[j] - start] = clampd_nan(mean + std * zz, a, b);
            else
                idx[m++] = idx[j];
        }
        n = m;
    }
}

WI_AI void impl_trunc_rej_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                              uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF];
    size_t nr = 0;
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf;
    float af = P->af, bf = P->bf;
    uint64_t end = start + count;
    for (uint64_t c = start / E32; c * E32 < end; c++) {
        uint64_t cs = c * E32;
        int full = cs >= start && cs + E32 <= end;
        float tmp[E32];
        uint8_t rej[E32];
        float *dst = full ? out + (cs - start) : tmp;
        float z[E32];
        chunk_stdnormal_f32(z, c * NB, 0, WI_STREAM_TRUNCATED, k0, k1);
        for (int l = 0; l < E32; l++) {
            float zz = z[l];
            rej[l] = !(zz >= alf && zz <= bef);
            dst[l] = clampf_nan(meanf + stdf * zz, af, bf);
        }
        if (!full) {
            uint64_t lo = cs < start ? start : cs;
            uint64_t hi = cs + E32 < end ? cs + E32 : end;
            memcpy(out + (lo - start), tmp + (lo - cs), (hi - lo) * sizeof(float));
            for (int l = 0; l < E32; l++)
                if (cs + (uint64_t)l < lo || cs + (uint64_t)l >= hi) rej[l] = 0;
        }
        nr = collect_rejects(rej, E32, cs, idx, nr);
        if (nr > WI_RETRY_BUF - E32) {
            retry_f32(out, start, idx, nr, k0, k1, P);
            nr = 0;
        }
    }
    retry_f32(out, start, idx, nr, k0, k1, P);
}

WI_AI void impl_trunc_rej_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                              uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF];
    size_t nr = 0;
    double mean = P->mean, std = P->std, al = P->alpha, be = P->beta, a = P->a, b = P->b;
    uint64_t end = start + count;
    for (uint64_t c = start / E64; c * E64 < end; c++) {
        uint64_t cs = c * E64;
        int full = cs >= start && cs + E64 <= end;
        double tmp[E64];
        uint8_t rej[E64];
        double *dst = full ? out + (cs - start) : tmp;
        for (int j = 0; j < NB; j++) {
            uint64_t bb = c * NB + (uint64_t)j;
            wi_u4 w = philox10((uint32_t)bb, (uint32_t)(bb >> 32), 0, WI_STREAM_TRUNCATED, k0, k1);
            double z0, z1;
            bm_f64(w.v[0], w.v[1], w.v[2], w.v[3], &z0, &z1);
            rej[2 * j] = !(z0 >= al && z0 <= be);
            rej[2 * j + 1] = !(z1 >= al && z1 <= be);
            dst[2 * j] = clampd_nan(mean + std * z0, a, b);
            dst[2 * j + 1] = clampd_nan(mean + std * z1, a, b);
        }
        if (!full) {
            uint64_t lo = cs < start ? start : cs;
            uint64_t hi = cs + E64 < end ? cs + E64 : end;
            memcpy(out + (lo - start), tmp + (lo - cs), (hi - lo) * sizeof(double));
            for (int l = 0; l < E64; l++)
                if (cs + (uint64_t)l < lo || cs + (uint64_t)l >= hi) rej[l] = 0;
        }
        nr = collect_rejects(rej, E64, cs, idx, nr);
        if (nr > WI_RETRY_BUF - E64) {
            retry_f64(out, start, idx, nr, k0, k1, P);
            nr = 0;
        }
    }
    retry_f64(out, start, idx, nr, k0, k1, P);
}

// ---------------------------------------------------------------------------------------
// Instantiation per level
// ---------------------------------------------------------------------------------------
typedef void (*fn_uniform_f32)(float *, uint64_t, uint64_t, uint32_t, uint32_t, float, float);
typedef void (*fn_uniform_f64)(double *, uint64_t, uint64_t, uint32_t, uint32_t, uint32_t,
                               double, double);
typedef void (*fn_normal_f32)(float *, uint64_t, uint64_t, uint32_t, uint32_t, float, float);
typedef void (*fn_normal_f64)(double *, uint64_t, uint64_t, uint32_t, uint32_t, double, double);
typedef void (*fn_trunc_f32)(float *, uint64_t, uint64_t, uint32_t, uint32_t,
                             const wi_trunc_params *);
typedef void (*fn_trunc_f64)(double *, uint64_t, uint64_t, uint32_t, uint32_t,
                             const wi_trunc_params *);

typedef struct {
    fn_uniform_f32 uniform_f32;
    fn_uniform_f64 uniform_f64;
    fn_normal_f32 normal_f32;
    fn_normal_f64 normal_f64;
    fn_trunc_f32 trunc_f32;
    fn_trunc_f64 trunc_f64;
} wi_kernel_table;

#define WI_INSTANTIATE(SUFFIX, ATTR)                                                         \
    ATTR static void uniform_f32_##SUFFIX(float *o, uint64_t s, uint64_t n, uint32_t k0,     \
                                          uint32_t k1, float lo, float hi) {                 \
        impl_uniform_f32(o, s, n, k0, k1, lo, hi);                                           \
    }                                                                                        \
    ATTR static void uniform_f64_##SUFFIX(double *o, uint64_t s, uint64_t n, uint32_t k0,    \
                                          uint32_t k1, uint32_t st, double lo, double hi) {  \
        impl_uniform_f64(o, s, n, k0, k1, st, lo, hi);                                       \
    }                                                                                        \
    ATTR static void normal_f32_##SUFFIX(float *o, uint64_t s, uint64_t n, uint32_t k0,      \
                                         uint32_t k1, float m, float sd) {                   \
        impl_normal_f32(o, s, n, k0, k1, m, sd);                                             \
    }                                                                                        \
    ATTR static void normal_f64_##SUFFIX(double *o, uint64_t s, uint64_t n, uint32_t k0,     \
                                         uint32_t k1, double m, double sd) {                 \
        impl_normal_f64(o, s, n, k0, k1, m, sd);                                             \
    }                                                                                        \
    ATTR static void trunc_f32_##SUFFIX(float *o, uint64_t s, uint64_t n, uint32_t k0,       \
                                        uint32_t k1, const wi_trunc_params *P) {             \
        impl_trunc_rej_f32(o, s, n, k0, k1, P);                                              \
    }                                                                                        \
    ATTR static void trunc_f64_##SUFFIX(double *o, uint64_t s, uint64_t n, uint32_t k0,      \
                                        uint32_t k1, const wi_trunc_params *P) {             \
        impl_trunc_rej_f64(o, s, n, k0, k1, P);                                              \
    }                                                                                        \
    static const wi_kernel_table table_##SUFFIX = {                                          \
        uniform_f32_##SUFFIX, uniform_f64_##SUFFIX, normal_f32_##SUFFIX,                     \
        normal_f64_##SUFFIX, trunc_f32_##SUFFIX, trunc_f64_##SUFFIX};

WI_INSTANTIATE(port, )
#if WI_X86
WI_INSTANTIATE(avx2, WI_T_AVX2)
WI_INSTANTIATE(avx512, WI_T_AVX512)
#endif

// ---------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------
static int g_max_level = -1;   // -1 = not yet detected
static int g_level = -1;       // -1 = not yet chosen

static int detect_max_level(void) {
#if WI_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    if ((xlo & 6u) != 6u) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (!(avx2 && fma)) return 0;
    if (f && dq && bw && vl && (xlo & 0xE6u) == 0xE6u) return 2;
    return 1;
#else
    return 0;
#endif
}

int wi_kernel_max_level(void) {
    int m = __atomic_load_n(&g_max_level, __ATOMIC_RELAXED);
    if (m < 0) {
        m = detect_max_level();
        __atomic_store_n(&g_max_level, m, __ATOMIC_RELAXED);
    }
    return m;
}

void wi_set_kernel_level(int level) {
    int m = wi_kernel_max_level();
    if (level < 0 || level > m) level = m;
    __atomic_store_n(&g_level, level, __ATOMIC_RELAXED);
}

int wi_kernel_level(void) {
    int l = __atomic_load_n(&g_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = wi_kernel_max_level();
        __atomic_store_n(&g_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

static const wi_kernel_table *table(void) {
#if WI_X86
    switch (wi_kernel_level()) {
    case 2: return &table_avx512;
    case 1: return &table_avx2;
    default: return &table_port;
    }
#else
    return &table_port;
#endif
}

// ---------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------
void wi_fill_uniform_f32(float *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                         float low, float high) {
    table()->uniform_f32(out, start, count, k0, k1, low, high);
}

void wi_fill_uniform_f64(double *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                         double low, double high) {
    table()->uniform_f64(out, start, count, k0, k1, WI_STREAM_UNIFORM, low, high);
}

void wi_fill_unit_uniform_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                              uint32_t k1, uint32_t stream) {
    table()->uniform_f64(out, start, count, k0, k1, stream, 0.0, 1.0);
}

void wi_fill_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                        float mean, float std) {
    table()->normal_f32(out, start, count, k0, k1, mean, std);
}

void wi_fill_normal_f64(double *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                        double mean, double std) {
    table()->normal_f64(out, start, count, k0, k1, mean, std);
}

// Φ(β) − Φ(α), computed on the side that avoids cancellation.
static double normal_mass(double alpha, double beta) {
    const double r2 = 0.70710678118654752440;
    if (alpha >= 0.0) return 0.5 * (erfc(alpha * r2) - erfc(beta * r2));
    if (beta <= 0.0) return 0.5 * (erfc(-beta * r2) - erfc(-alpha * r2));
    return 1.0 - 0.5 * erfc(-alpha * r2) - 0.5 * erfc(beta * r2);
}

static void trunc_setup(wi_trunc_params *P, double mean, double std, double a, double b,
                        int is_f32) {
    memset(P, 0, sizeof *P);
    P->mean = mean; P->std = std; P->a = a; P->b = b;
    P->alpha = (a - mean) / std;
    P->beta = (b - mean) / std;
    double mass = normal_mass(P->alpha, P->beta);
    P->use_rejection = mass >= 0.3;
    if (is_f32) {
        P->meanf = (float)mean; P->stdf = (float)std;
        P->alphaf = (float)P->alpha; P->betaf = (float)P->beta;
        float af = (float)a, bf = (float)b;
        if ((double)af < a) af = nextafterf(af, INFINITY);
        if ((double)bf > b) bf = nextafterf(bf, -INFINITY);
        P->af = af; P->bf = bf;
    }
    if (P->use_rejection) return;
    double al = P->alpha, be = P->beta;
    if (al <= 0.0 && be >= 0.0) {
        P->method = 0; P->mirror = 0; P->lo = al; P->hi = be; P->rho = 0.0;
        return;
    }
    if (al > 0.0) { P->mirror = 0; P->lo = al; P->hi = be; }
    else { P->mirror = 1; P->lo = -be; P->hi = -al; }
    double lo = P->lo, s = sqrt(lo * lo + 4.0);
    // Robert (1995), Prop. 2.3: exponential proposal beats uniform beyond this upper bound.
    double thr = lo + 2.0 * sqrt(exp(1.0)) / (lo + s) * exp((lo * lo - lo * s) / 4.0);
    if (P->hi > thr) { P->method = 1; P->lambda = (lo + s) / 2.0; }
    else { P->method = 0; P->rho = lo * lo; }
}

// Robert (1995) sampler for element i (scalar, double; stream 3, block index = i).
static double robert_z(uint64_t i, uint32_t k0, uint32_t k1, const wi_trunc_params *P) {
    double lo = P->lo, hi = P->hi;
    for (uint32_t t = 0; t < WI_TRUNC_CAP; t++) {
        wi_u4 w = philox10((uint32_t)i, (uint32_t)(i >> 32), t, WI_STREAM_TRUNCATED_TAIL, k0, k1);
        double v = unit52_open0(w.v[2], w.v[3]);
        double z, logacc;
        if (P->method == 0) {
            double u = unit53(w.v[0], w.v[1]);
            z = lo + (hi - lo) * u;
            z = z <= hi ? z : hi;
            logacc = (P->rho - z * z) * 0.5;
        } else {
            double u = unit52_open0(w.v[0], w.v[1]);
            z = lo - wi_log(u) / P->lambda;
            if (!(z <= hi)) continue;
            double d = z - P->lambda;
            logacc = -(d * d) * 0.5;
        }
        if (wi_log(v) <= logacc) return P->mirror ? -z : z;
    }
    return P->mirror ? -lo : lo; // last resort
}

void wi_fill_truncated_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, double mean, double std, double a, double b) {
    if (count == 0) return;
    wi_trunc_params P;
    trunc_setup(&P, mean, std, a, b, 1);
    if (P.use_rejection) {
        table()->trunc_f32(out, start, count, k0, k1, &P);
        return;
    }
    for (uint64_t j = 0; j < count; j++) {
        double z = robert_z(start + j, k0, k1, &P);
        out[j] = clampf_nan((float)clampd_nan(mean + std * z, a, b), P.af, P.bf);
    }
}

void wi_fill_truncated_normal_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, double mean, double std, double a, double b) {
    if (count == 0) return;
    wi_trunc_params P;
    trunc_setup(&P, mean, std, a, b, 0);
    if (P.use_rejection) {
        table()->trunc_f64(out, start, count, k0, k1, &P);
        return;
    }
    for (uint64_t j = 0; j < count; j++) {
        double z = robert_z(start + j, k0, k1, &P);
        out[j] = clampd_nan(mean + std * z, a, b);
    }
}
