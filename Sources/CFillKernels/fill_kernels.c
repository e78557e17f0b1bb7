// Philox4x32-10 fills with run-time SIMD dispatch. See include/CFillKernels.h for the
// contract (element i is a pure function of key and i; identical bytes on every path).
//
// Bit-identity rules used throughout: no implicit FP contraction (pragmas below), only
// correctly rounded IEEE + - * / sqrt, explicit fused multiply-adds (WI_FMAF / WI_FMA: one
// rounding everywhere, an instruction on AVX2/AVX-512/ARM, libm's fmaf on older x86), exact
// int<->float conversions of small integers, and the package's own polynomial log / sin / cos. The element math lives in always_inline helpers; each public
// kernel is instantiated three times (portable, target("avx2,fma"), target("avx512...")),
// and the compiler auto-vectorizes the fixed-size block loops inside each instance.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "CFillKernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define WI_X86 1
#include <cpuid.h>
#include <immintrin.h>
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

// ---------------------------------------------------------------------------------------
// Own log / sin / cos. Only correctly rounded IEEE operations (+ − × ÷ √ and fused
// multiply-add, fmaf / fma, which every path evaluates identically: a single rounding),
// exact integer <-> float conversions and bit operations; identical bytes everywhere.
// atanh series for log, Taylor series for the double sin / cos (coefficients are exact
// ratios folded by the compiler), minimax float polynomials with hex-float coefficients for
// the float sin / cos.
// ---------------------------------------------------------------------------------------
#if defined(__clang__) || defined(__GNUC__)
#define WI_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#define WI_FMA(a, b, c) __builtin_fma((a), (b), (c))
#else
#define WI_FMAF(a, b, c) fmaf((a), (b), (c))
#define WI_FMA(a, b, c) fma((a), (b), (c))
#endif

#define LN2HI_F 0.693145751953125f          /* 0x3f317200: e*LN2HI_F exact for |e| < 256 */
#define LN2LO_F 1.42860682030941723212e-06f
#define LN2HI_D 6.93147180369123816490e-01  /* 0x3fe62e42fee00000 */
#define LN2LO_D 1.90821492927058770002e-10
#define SQRTHALF_F_BITS 0x3F3504F3u          /* float √½ */
#define SQRTHALF_D_BITS 0x3FE6A09E667F3BCDull

// −2σ² log(v·2⁻²³) for an odd integer v in [1, 2²³) (the Box–Muller radius squared, times
// σ² folded into the constants c4 = −4σ², cl = 2σ² ln 2), float.
// v = 2^k m with m in [√½, √2) read off the bits of float(v) (exact) by an offset of the
// exponent field, s = (m−1)/(m+1), log m = 2 atanh s = 2s(1 + s²·p(s²)) with p a quadratic
// fitted to (atanh(s)/s − 1)/s² on |s| <= 0.1716 (relative error 8.3e-10 with the float
// coefficients; the Taylor coefficients 1/3, 1/5, 1/7 would give 8.5e-8);
// −2 log u = 2(23 − k) ln 2 − 2 log m.
WI_AI float neg2log_f32(uint32_t v, float c4, float cl) {
    uint32_t ix = f2u((float)(int32_t)v) - SQRTHALF_F_BITS;
    int32_t k = (int32_t)(ix >> 23);
    float m = u2f((ix & 0x7FFFFFu) + SQRTHALF_F_BITS);
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float p = WI_FMAF(s2, 0x1.31e0bcp-3f, 0x1.995ed0p-3f);
    p = WI_FMAF(p, s2, 0x1.55557ap-2f);
    float t = c4 * s;
    float lm = WI_FMAF(t, s2 * p, t);                       // −2σ² log m
    float e = (float)(23 - k);                              // exact, 0..23
    return WI_FMAF(e, cl, lm);
}

// −2 log u for u = (x + 1)·2⁻⁵², x < 2⁵² (u in (0, 1]), double; series to s²¹/21
// (truncation < 1e-18).
WI_AI double neg2log_f64(uint64_t x) {
    double u = (u52_to_d(x) + 1.0) * 0x1p-52;               // exact
    uint64_t ix = d2u(u) - SQRTHALF_D_BITS;
    int64_t k = (int64_t)ix >> 52;                          // u = 2^k m, m in [√½, √2), k in [-52, 0]
    double m = u2d((ix & 0xFFFFFFFFFFFFFull) + SQRTHALF_D_BITS);
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = WI_FMA(s2, 1.0 / 21.0, 1.0 / 19.0);
    p = WI_FMA(p, s2, 1.0 / 17.0);
    p = WI_FMA(p, s2, 1.0 / 15.0);
    p = WI_FMA(p, s2, 1.0 / 13.0);
    p = WI_FMA(p, s2, 1.0 / 11.0);
    p = WI_FMA(p, s2, 1.0 / 9.0);
    p = WI_FMA(p, s2, 1.0 / 7.0);
    p = WI_FMA(p, s2, 1.0 / 5.0);
    p = WI_FMA(p, s2, 1.0 / 3.0);
    double t = -4.0 * s;
    double lm = WI_FMA(t, s2 * p, t);                       // −2 log m
    double e = -s51_to_d(k);                                // exact, 0..52
    return WI_FMA(e, 2.0 * LN2HI_D, WI_FMA(e, 2.0 * LN2LO_D, lm));
}

// log u for u = ((hi·2³² + lo) >> 12) + 1)·2⁻⁵² in (0, 1] (−½ of neg2log_f64; exact scaling).
WI_AI double log_open0(uint32_t hi, uint32_t lo) {
    return -0.5 * neg2log_f64((((uint64_t)hi << 32) | lo) >> 12);
}

// Box–Muller, float: three pairs per Philox block (words w0..w3): pair k takes
// u22 = w_k >> 10 and the 20-bit r20 = w3 >> 12 (k = 0), (w0 & 0x3FF) << 10 | (w3 & 0x3FF)
// (k = 1), (w1 & 0x3FF) << 10 | (w2 & 0x3FF) (k = 2). v = 2·u22 + 1 = (w_k >> 9) | 1.
WI_AI void pair_bits_f32(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, int k,
                         uint32_t *v, uint32_t *r20) {
    uint32_t wu = k == 0 ? w0 : (k == 1 ? w1 : w2);
    uint32_t hi = k == 1 ? w0 : w1, lo = k == 1 ? w3 : w2;
    *v = (wu >> 9) | 1u;
    // Bits above 19 of r20 are don't-care: bm_f32 uses r20 modulo 2²⁰ (whole turns).
    *r20 = k == 0 ? w3 >> 12 : (hi << 10) | (lo & 0x3FFu);
}
// Parameters of bm_f32 for N(offset, scale²): σ² folded into the log constants when that
// keeps every intermediate a normal float (2⁻⁹⁰ <= σ² <= 2⁹⁰: no extra multiply), otherwise
// a multiply of R by σ afterwards (post_mul = 1). The two forms round differently; which one
// runs depends only on σ, so the bytes stay a pure function of (key, i, mean, σ).
typedef struct { float c4, cl, post, offset; int post_mul; } wi_bm32;
#define WI_2LN2_F (2.0f * 0x1.62e430p-1f) /* float ln 2 is within 0.03 ulp */
WI_AI wi_bm32 bm32_params(float scale, float offset) {
    wi_bm32 B;
    float s2 = scale * scale;
    if (s2 >= 0x1p-90f && s2 <= 0x1p90f) {
        B.c4 = -4.0f * s2; B.cl = WI_2LN2_F * s2; B.post = 1.0f; B.post_mul = 0;
    } else {
        B.c4 = -4.0f; B.cl = WI_2LN2_F; B.post = scale; B.post_mul = 1;
    }
    B.offset = offset;
    return B;
}

// u1 = v·2⁻²³ in (0, 1) (tails reach 5.65σ), θ = 2π r20 2⁻²⁰. Returns
// zc = fma(±R·σ, cos θ, offset), zs = fma(±R·σ, sin θ, offset) with R·σ = sqrt(−2σ² log u1)
// (or sqrt(−2 log u1)·σ, see bm32_params); `post_mul` must be a constant at the call site
// (B.post_mul), so each form compiles without a branch.
WI_AI void bm_f32(uint32_t v, uint32_t r20, const wi_bm32 *B, int post_mul, float *zc, float *zs) {
    float r = WI_SQRTF(neg2log_f32(v, B->c4, B->cl));
    if (post_mul) r *= B->post;
    float offset = B->offset;
    uint32_t h = r20 + (1u << 17);
    uint32_t n = h >> 18;           // nearest quadrant; only n mod 4 is used (n = 4 acts as 0)
    // f = r20·2⁻¹⁸ − n in [-0.5, 0.5) as (1 + g·2⁻¹⁸) − 1.5 with g = h mod 2¹⁸ (both exact).
    float f = u2f(((h << 5) & 0x7FFFE0u) | 0x3F800000u) - 1.5f;
    // sin(πf/2), cos(πf/2) directly in quarter turns: minimax polynomials on f in
    // [-0.5, 0.5] (max error about 1.5 ulp, checked against libm over all 2^18 grid points).
    float f2 = f * f;
    float sp = WI_FMAF(f2, -0x1.2d936cp-8f, 0x1.465e94p-4f);
    sp = WI_FMAF(sp, f2, -0x1.4abbbap-1f);
    sp = WI_FMAF(sp, f2, 0x1.921fb6p+0f);
    float s = f * sp;
    float cp = WI_FMAF(f2, 0x1.d9f82ap-11f, -0x1.55c666p-6f);
    cp = WI_FMAF(cp, f2, 0x1.03c1dep-2f);
    cp = WI_FMAF(cp, f2, -0x1.3bd3ccp+0f);
    float c = WI_FMAF(f2, cp, 1.0f);
    // Quadrant rotation: (cos, sin)(nπ/2 + x) = swap when n is odd, signs from n (applied to
    // r as sign-bit xors; n = 4 acts as n = 0).
    int odd = (int)(n & 1);
    float oc = odd ? s : c;
    float os = odd ? c : s;
    uint32_t rb = f2u(r);
    *zc = WI_FMAF(u2f(rb ^ (((n + 1) & 2) << 30)), oc, offset);
    *zs = WI_FMAF(u2f(rb ^ ((n & 2) << 30)), os, offset);
}

// Box–Muller, double: u1 in (0,1] from 52 bits of (w0,w1), θ from 53 bits of (w2,w3).
// Same scale / offset convention as bm_f32.
WI_AI void bm_f64(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, double scale,
                  double offset, double *zc, double *zs) {
    double r = WI_SQRT(neg2log_f64((((uint64_t)w0 << 32) | w1) >> 12)) * scale;
    uint64_t x53 = (((uint64_t)w2 << 32) | w3) >> 11;
    uint64_t n = (x53 + (1ull << 50)) >> 51;                          // 0..4
    double f = s51_to_d((int64_t)(x53 - (n << 51))) * 0x1p-51;        // [-0.5, 0.5), exact
    double x = f * 1.57079632679489661923;
    double x2 = x * x;
    double sp = WI_FMA(x2, -1.0 / 1307674368000.0, 1.0 / 6227020800.0);   // −(x¹⁵/15!) ...
    sp = WI_FMA(sp, x2, -1.0 / 39916800.0);
    sp = WI_FMA(sp, x2, 1.0 / 362880.0);
    sp = WI_FMA(sp, x2, -1.0 / 5040.0);
    sp = WI_FMA(sp, x2, 1.0 / 120.0);
    sp = WI_FMA(sp, x2, -1.0 / 6.0);
    double s = WI_FMA(x * x2, sp, x);
    double cp = WI_FMA(x2, 1.0 / 20922789888000.0, -1.0 / 87178291200.0);
    cp = WI_FMA(cp, x2, 1.0 / 479001600.0);
    cp = WI_FMA(cp, x2, -1.0 / 3628800.0);
    cp = WI_FMA(cp, x2, 1.0 / 40320.0);
    cp = WI_FMA(cp, x2, -1.0 / 720.0);
    cp = WI_FMA(cp, x2, 1.0 / 24.0);
    cp = WI_FMA(cp, x2, -0.5);
    double c = WI_FMA(x2, cp, 1.0);
    int odd = (int)(n & 1);
    double oc = odd ? s : c;
    double os = odd ? c : s;
    uint64_t rb = d2u(r);
    *zc = WI_FMA(u2d(rb ^ (((n + 1) & 2) << 62)), oc, offset);
    *zs = WI_FMA(u2d(rb ^ ((n & 2) << 62)), os, offset);
}

// ---------------------------------------------------------------------------------------
// Shared pieces of the level-specific kernels (fill_impl.h)
// ---------------------------------------------------------------------------------------
#define NB 16          /* Philox blocks per chunk */
#define E32 (4 * NB)   /* f32 elements per chunk */
#define E64 (2 * NB)   /* f64 elements per chunk */
#define EN32 (6 * NB)  /* f32 normal / truncated candidates per chunk (3 Box–Muller pairs per block) */
#define TG 16          /* chunks per truncation group */
#define ST32 (TG * EN32) /* f32 truncated outputs per group (1536) */
#define ST64 (TG * E64)  /* f64 truncated outputs per group (512) */
#define WI_TRUNC_CAP 10000u
#define WI_GROUP_CAP 4096u /* candidate chunks per group (expected <= 320 for mass >= 0.05), then Robert */
#define WI_REJECTION_MASS 0.05 /* rejection from the normal at or above this mass, Robert below */

// 24-bit uniform in [0, 1), exact.
WI_AI float unit24f(uint32_t w) { return (float)(int32_t)(w >> 8) * 0x1p-24f; }

typedef struct {
    double mean, std, a, b, alpha, beta;
    // f32 rejection path
    float meanf, stdf, alphaf, betaf, af, bf;
    // Robert path
    int method;     // 0 = uniform proposal, 1 = exponential proposal
    int mirror;     // sample -z on the mirrored interval
    double lo, hi;  // standardized interval after mirroring
    double width;   // (b − a)/std, computed directly (hi − lo can cancel to 0)
    double rho, lambda;
    int use_rejection;
} wi_trunc_params;

// Clamp to [lo, hi] with NaN -> lo; written as max / min with the operand order of the
// x86 maxps / minps instructions, so the AVX-512 path can use them with identical bytes
// (also for signed zeros).
WI_AI float clampf_nan(float x, float lo, float hi) {
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}
WI_AI double clampd_nan(double x, double lo, double hi) {
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

// One attempt of the Robert (1995) sampler from the four words of its Philox block (stream 3,
// block index = element index, ctr[2] = attempt): returns 1 on acceptance, and *x = the value,
// formed from a bound (x = a + (b − a)·u for the uniform proposal, a + std·(z − lo) for the
// exponential one; from b when mirrored), so that a narrow interval far from the mean keeps full
// precision (mean + std·z would round it away). `method` = P->method (a constant where the
// caller vectorizes).
WI_AI int robert_try(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, const wi_trunc_params *P,
                     int method, double *x) {
    double lo = P->lo, hi = P->hi, z, logacc, offset;   // offset: distance from a (b if mirrored)
    if (method == 0) {
        double u = unit53(w0, w1);
        z = lo + P->width * u;
        z = z <= hi ? z : hi;
        logacc = (P->rho - z * z) * 0.5;
        offset = (P->b - P->a) * u;
    } else {
        double e = -log_open0(w0, w1) / P->lambda;   // z − lo, exponential
        z = lo + e;
        double d = z - P->lambda;
        logacc = z <= hi ? -(d * d) * 0.5 : -INFINITY;
        offset = P->std * e;
    }
    *x = P->mirror ? P->b - offset : P->a + offset;
    return log_open0(w2, w3) <= logacc;
}

static double robert_x(uint64_t i, uint32_t first_attempt, uint32_t k0, uint32_t k1,
                       const wi_trunc_params *P);
// Robert-path element i as f32 / f64 (the fallback of the rejection path too).
// A Double value of the truncated normal as Float: inside [a, b], then inside its floats.
WI_AI float trunc_to_f32(double x, const wi_trunc_params *P) {
    return clampf_nan((float)clampd_nan(x, P->a, P->b), P->af, P->bf);
}
WI_AI float robert_f32(uint64_t i, uint32_t k0, uint32_t k1, const wi_trunc_params *P) {
    return trunc_to_f32(robert_x(i, 0, k0, k1, P), P);
}
WI_AI double robert_f64(uint64_t i, uint32_t k0, uint32_t k1, const wi_trunc_params *P) {
    return clampd_nan(robert_x(i, 0, k0, k1, P), P->a, P->b);
}

#if WI_X86
// Left-pack table of the AVX2 compaction (compact_f32 at level 1): entry m (an 8-bit mask of
// accepted lanes) holds the lane indices of the set bits of m in increasing order, 3 bits each
// (bits 3p .. 3p+2 = index of the p-th set bit; unused fields 0), and the number of set bits
// in bits 24 .. 27.
static const uint32_t wi_leftpack8[256] = {
    0x0000000u, 0x1000000u, 0x1000001u, 0x2000008u, 0x1000002u, 0x2000010u, 0x2000011u, 0x3000088u,
    0x1000003u, 0x2000018u, 0x2000019u, 0x30000C8u, 0x200001Au, 0x30000D0u, 0x30000D1u, 0x4000688u,
    0x1000004u, 0x2000020u, 0x2000021u, 0x3000108u, 0x2000022u, 0x3000110u, 0x3000111u, 0x4000888u,
    0x2000023u, 0x3000118u, 0x3000119u, 0x40008C8u, 0x300011Au, 0x40008D0u, 0x40008D1u, 0x5004688u,
    0x1000005u, 0x2000028u, 0x2000029u, 0x3000148u, 0x200002Au, 0x3000150u, 0x3000151u, 0x4000A88u,
    0x200002Bu, 0x3000158u, 0x3000159u, 0x4000AC8u, 0x300015Au, 0x4000AD0u, 0x4000AD1u, 0x5005688u,
    0x200002Cu, 0x3000160u, 0x3000161u, 0x4000B08u, 0x3000162u, 0x4000B10u, 0x4000B11u, 0x5005888u,
    0x3000163u, 0x4000B18u, 0x4000B19u, 0x50058C8u, 0x4000B1Au, 0x50058D0u, 0x50058D1u, 0x602C688u,
    0x1000006u, 0x2000030u, 0x2000031u, 0x3000188u, 0x2000032u, 0x3000190u, 0x3000191u, 0x4000C88u,
    0x2000033u, 0x3000198u, 0x3000199u, 0x4000CC8u, 0x300019Au, 0x4000CD0u, 0x4000CD1u, 0x5006688u,
    0x2000034u, 0x30001A0u, 0x30001A1u, 0x4000D08u, 0x30001A2u, 0x4000D10u, 0x4000D11u, 0x5006888u,
    0x30001A3u, 0x4000D18u, 0x4000D19u, 0x50068C8u, 0x4000D1Au, 0x50068D0u, 0x50068D1u, 0x6034688u,
    0x2000035u, 0x30001A8u, 0x30001A9u, 0x4000D48u, 0x30001AAu, 0x4000D50u, 0x4000D51u, 0x5006A88u,
    0x30001ABu, 0x4000D58u, 0x4000D59u, 0x5006AC8u, 0x4000D5Au, 0x5006AD0u, 0x5006AD1u, 0x6035688u,
    0x30001ACu, 0x4000D60u, 0x4000D61u, 0x5006B08u, 0x4000D62u, 0x5006B10u, 0x5006B11u, 0x6035888u,
    0x4000D63u, 0x5006B18u, 0x5006B19u, 0x60358C8u, 0x5006B1Au, 0x60358D0u, 0x60358D1u, 0x71AC688u,
    0x1000007u, 0x2000038u, 0x2000039u, 0x30001C8u, 0x200003Au, 0x30001D0u, 0x30001D1u, 0x4000E88u,
    0x200003Bu, 0x30001D8u, 0x30001D9u, 0x4000EC8u, 0x30001DAu, 0x4000ED0u, 0x4000ED1u, 0x5007688u,
    0x200003Cu, 0x30001E0u, 0x30001E1u, 0x4000F08u, 0x30001E2u, 0x4000F10u, 0x4000F11u, 0x5007888u,
    0x30001E3u, 0x4000F18u, 0x4000F19u, 0x50078C8u, 0x4000F1Au, 0x50078D0u, 0x50078D1u, 0x603C688u,
    0x200003Du, 0x30001E8u, 0x30001E9u, 0x4000F48u, 0x30001EAu, 0x4000F50u, 0x4000F51u, 0x5007A88u,
    0x30001EBu, 0x4000F58u, 0x4000F59u, 0x5007AC8u, 0x4000F5Au, 0x5007AD0u, 0x5007AD1u, 0x603D688u,
    0x30001ECu, 0x4000F60u, 0x4000F61u, 0x5007B08u, 0x4000F62u, 0x5007B10u, 0x5007B11u, 0x603D888u,
    0x4000F63u, 0x5007B18u, 0x5007B19u, 0x603D8C8u, 0x5007B1Au, 0x603D8D0u, 0x603D8D1u, 0x71EC688u,
    0x200003Eu, 0x30001F0u, 0x30001F1u, 0x4000F88u, 0x30001F2u, 0x4000F90u, 0x4000F91u, 0x5007C88u,
    0x30001F3u, 0x4000F98u, 0x4000F99u, 0x5007CC8u, 0x4000F9Au, 0x5007CD0u, 0x5007CD1u, 0x603E688u,
    0x30001F4u, 0x4000FA0u, 0x4000FA1u, 0x5007D08u, 0x4000FA2u, 0x5007D10u, 0x5007D11u, 0x603E888u,
    0x4000FA3u, 0x5007D18u, 0x5007D19u, 0x603E8C8u, 0x5007D1Au, 0x603E8D0u, 0x603E8D1u, 0x71F4688u,
    0x30001F5u, 0x4000FA8u, 0x4000FA9u, 0x5007D48u, 0x4000FAAu, 0x5007D50u, 0x5007D51u, 0x603EA88u,
    0x4000FABu, 0x5007D58u, 0x5007D59u, 0x603EAC8u, 0x5007D5Au, 0x603EAD0u, 0x603EAD1u, 0x71F5688u,
    0x4000FACu, 0x5007D60u, 0x5007D61u, 0x603EB08u, 0x5007D62u, 0x603EB10u, 0x603EB11u, 0x71F5888u,
    0x5007D63u, 0x603EB18u, 0x603EB19u, 0x71F58C8u, 0x603EB1Au, 0x71F58D0u, 0x71F58D1u, 0x8FAC688u,
};
#endif

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
    fn_trunc_f32 robert_f32;
    fn_trunc_f64 robert_f64;
} wi_kernel_table;

#define WI_SUFFIX port
#define WI_ATTR
#define WI_LEVEL 0
#include "fill_impl.h"
#undef WI_SUFFIX
#undef WI_ATTR
#undef WI_LEVEL

#if WI_X86
#define WI_SUFFIX avx2
#define WI_ATTR WI_T_AVX2
#define WI_LEVEL 1
#include "fill_impl.h"
#undef WI_SUFFIX
#undef WI_ATTR
#undef WI_LEVEL

#define WI_SUFFIX avx512
#define WI_ATTR WI_T_AVX512
#define WI_LEVEL 2
#include "fill_impl.h"
#undef WI_SUFFIX
#undef WI_ATTR
#undef WI_LEVEL
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
    P->width = (b - a) / std;
    double mass = normal_mass(P->alpha, P->beta);
    P->use_rejection = mass >= WI_REJECTION_MASS;
    if (is_f32) {
        P->meanf = (float)mean; P->stdf = (float)std;
        float af = (float)a, bf = (float)b;
        if ((double)af < a) af = nextafterf(af, INFINITY);
        if ((double)bf > b) bf = nextafterf(bf, -INFINITY);
        P->af = af; P->bf = bf;
    }
    // Robert parameters (also the fallback of a rejection group that runs out of candidates).
    double al = P->alpha, be = P->beta;
    if (al <= 0.0 && be >= 0.0) {
        P->method = 0; P->mirror = 0; P->lo = al; P->hi = al + P->width; P->rho = 0.0;
        return;
    }
    if (al > 0.0) { P->mirror = 0; P->lo = al; }
    else { P->mirror = 1; P->lo = -be; }
    P->hi = P->lo + P->width;
    double lo = P->lo, s = sqrt(lo * lo + 4.0);
    // Robert (1995), Prop. 2.3: exponential proposal beats uniform beyond this upper bound.
    double thr = lo + 2.0 * sqrt(exp(1.0)) / (lo + s) * exp((lo * lo - lo * s) / 4.0);
    if (P->hi > thr) { P->method = 1; P->lambda = (lo + s) / 2.0; }
    else { P->method = 0; P->rho = lo * lo; }
}

// Float parameters that the Float kernels cannot use: a mean or std that is not a finite
// float, a std that rounds to 0, or no float inside [a, b] (rejected by the Swift layer).
static int f32_degenerate(const wi_trunc_params *P) {
    return !(isfinite(P->meanf) && isfinite(P->stdf) && P->stdf > 0.0f && P->af <= P->bf);
}

// Robert (1995) sampler for element i (scalar, double), attempts first_attempt, first_attempt+1, …
static double robert_x(uint64_t i, uint32_t first_attempt, uint32_t k0, uint32_t k1,
                       const wi_trunc_params *P) {
    for (uint32_t t = first_attempt; t < WI_TRUNC_CAP; t++) {
        wi_u4 w = philox10((uint32_t)i, (uint32_t)(i >> 32), t, WI_STREAM_TRUNCATED_TAIL, k0, k1);
        double x;
        if (robert_try(w.v[0], w.v[1], w.v[2], w.v[3], P, P->method, &x)) return x;
    }
    return P->mirror ? P->b : P->a; // last resort (probability below 1e-300 per element)
}

// Float fill through the Double kernels (degenerate Float parameters): element i is the Double
// element i rounded to Float and kept inside the floats of [a, b].
static void trunc_f32_via_f64(float *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                              const wi_trunc_params *P) {
    double tmp[512];
    for (uint64_t s = 0; s < count; s += 512) {
        uint64_t n = count - s < 512 ? count - s : 512;
        if (P->use_rejection) table()->trunc_f64(tmp, start + s, n, k0, k1, P);
        else table()->robert_f64(tmp, start + s, n, k0, k1, P);
        for (uint64_t j = 0; j < n; j++) out[s + j] = clampf_nan((float)tmp[j], P->af, P->bf);
    }
}

void wi_fill_truncated_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, double mean, double std, double a, double b) {
    if (count == 0) return;
    wi_trunc_params P;
    trunc_setup(&P, mean, std, a, b, 1);
    if (f32_degenerate(&P)) {
        trunc_f32_via_f64(out, start, count, k0, k1, &P);
        return;
    }
    if (P.use_rejection) {
        table()->trunc_f32(out, start, count, k0, k1, &P);
        return;
    }
    table()->robert_f32(out, start, count, k0, k1, &P);
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
    table()->robert_f64(out, start, count, k0, k1, &P);
}

// ---------------------------------------------------------------------------------------
// Selection of the k smallest (score, index) pairs (sparse initialization's zero pattern)
// ---------------------------------------------------------------------------------------
WI_AI int pair_less(const wi_score_pair *x, const wi_score_pair *y) {
    return x->score < y->score || (x->score == y->score && x->index < y->index);
}

// Quickselect (Hoare partition, median-of-three pivot) on distinct pairs: afterwards
// work[0 .. k) holds the k smallest of work[0 .. n) in some order (1 <= k <= n).
static void select_pairs(wi_score_pair *work, uint32_t n, uint32_t k) {
    uint32_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        wi_score_pair a = work[lo], b = work[mid], c = work[hi], p;
        if (pair_less(&a, &b)) p = pair_less(&b, &c) ? b : (pair_less(&a, &c) ? c : a);
        else p = pair_less(&a, &c) ? a : (pair_less(&b, &c) ? c : b);
        uint32_t i = lo, j = hi;
        for (;;) {
            while (pair_less(&work[i], &p)) i++;
            while (pair_less(&p, &work[j])) j--;
            if (i >= j) break;
            wi_score_pair t = work[i]; work[i] = work[j]; work[j] = t;
            i++; j--;
        }
        // work[lo .. j] <= p <= work[j+1 .. hi]
        if (want <= j) hi = j; else lo = j + 1;
    }
}

void wi_select_smallest(const double *score, uint32_t n, uint32_t k, wi_score_pair *work,
                        uint32_t *out) {
    if (k == 0) return;
    if (k > n) k = n;
    if (k == n) {
        for (uint32_t i = 0; i < n; i++) out[i] = i;
        return;
    }
    // Scores in [0, 1) are meant to be uniform: a band of ±6 binomial standard deviations
    // around the k-th order statistic splits them into sure (below the band), possible (in
    // it) and excluded (above). One branch-free pass, then a selection inside the band only.
    // Any input is handled exactly: if the band misses the k-th pair, a full selection runs.
    double p = (double)k / (double)n, sd = sqrt((double)n * p * (1.0 - p)) + 1.0;
    double tlo = ((double)k - 6.0 * sd) / (double)n, thi = ((double)k + 6.0 * sd) / (double)n;
    uint32_t nlo = 0, nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        double s = score[i];
        out[nlo] = i;                      // out holds n entries: room for the unconditional write
        nlo += (uint32_t)(s < tlo);
        work[nb].score = s;
        work[nb].index = i;
        nb += (uint32_t)(s >= tlo && s < thi);
    }
    if (nlo <= k && nlo + nb >= k) {
        if (k > nlo) {
            select_pairs(work, nb, k - nlo);
            for (uint32_t i = 0; i < k - nlo; i++) out[nlo + i] = work[i].index;
        }
        return;
    }
    for (uint32_t i = 0; i < n; i++) { work[i].score = score[i]; work[i].index = i; }
    select_pairs(work, n, k);
    for (uint32_t i = 0; i < k; i++) out[i] = work[i].index;
}
