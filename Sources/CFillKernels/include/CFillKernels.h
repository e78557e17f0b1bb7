// CFillKernels — Philox4x32-10 counter-based random fills for WeightInit.
//
// Every fill writes `out[j]` = element `start + j` of a conceptual infinite stream, and
// element `i` is a pure function of (k0, k1, i, parameters): any split of [0, n) into
// sub-ranges filled separately gives exactly the bytes of one call, and the portable,
// AVX2 and AVX-512 code paths give identical bytes (only correctly rounded IEEE operations:
// + - * / sqrt and explicit fused multiply-adds (fmaf / fma, one rounding on every path), no
// implicit FP contraction, and the package's own polynomial log / sin / cos; no libm in the
// element math).
//
// Generator: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC'11), checked against the Random123 known-answer vectors.
//
// Counter layout for one Philox block: ctr[0] = low 32 bits of the block index b,
// ctr[1] = high 32 bits of b, ctr[2] = attempt number (rejection sampling; 0 otherwise),
// ctr[3] = stream tag. Key = (k0, k1).
//
// Stream tags (ctr[3]) and element -> block mapping. Fills work in chunks of 16 Philox blocks:
// chunk c uses blocks 16c .. 16c+15 and covers elements [Ec, Ec+E) with E = 64 (f32 uniform),
// 96 (f32 normal and truncated rejection path) or 32 (f64); element Ec + 16p + j comes from
// block 16c + j:
//   0 WI_STREAM_UNIFORM    f32: word p, u = (w >> 8) * 2^-24.
//                          f64 (p = 0, 1): words (w[2p], w[2p+1]) -> top 53 bits, u = x * 2^-53.
//   1 WI_STREAM_NORMAL     Box–Muller. f32 (p = 0..5): R cos θ (p even) / R sin θ (p odd) of
//                          pair k = p >> 1; the block's 128 bits hold three pairs (22-bit u1,
//                          20-bit θ): u22 = w_k >> 10, r20 = w3 >> 12 (k = 0),
//                          (w0 & 0x3FF) << 10 | (w3 & 0x3FF) (k = 1), (w1 & 0x3FF) << 10 |
//                          (w2 & 0x3FF) (k = 2); u1 = (u22 + 0.5) 2^-22 in (0, 1) (float),
//                          θ = 2π r20 2^-20; tails reach 5.65σ.
//                          f64: p = 0/1 -> R cos θ / R sin θ, u1 from 52 bits of (w0, w1) in
//                          (0, 1], θ from 53 bits of (w2, w3); tails reach 8.49σ.
//                          out = fma(±R·std, cos/sin, mean) (the sign from the quadrant).
//   2 WI_STREAM_TRUNCATED  truncated normal, rejection from the stream-1 construction with
//                          ctr[3] = 2, in groups of 16 chunks (S = 1536 f32 / 512 f64
//                          elements): candidate chunk q = 0, 1, 2, ... of group g is chunk
//                          16g + q % 16 with ctr[2] = q / 16; its candidates (normal values
//                          y = fma(±R·std, cos/sin, mean)) are taken in element order and element
//                          S·g + r is the r-th accepted one (a <= y <= b; for f32 the floats
//                          inside [a, b]). The accepted values of an i.i.d. stream are i.i.d.
//                          truncated normal; at ±2σ a group needs one extra chunk (99.5%).
//   3 WI_STREAM_TRUNCATED_TAIL  truncated normal when the mass Φ(β)−Φ(α) < 0.05: one Philox
//                          block per element and attempt, block index = i, ctr[2] = attempt;
//                          Robert (1995) uniform or exponential proposal, in double; the value
//                          is formed from a bound (a + (b − a)·u for the uniform proposal,
//                          a + std·(exponential increment) in the tail; from b when mirrored),
//                          so narrow intervals far from the mean keep full precision.
//   Other values are free for wi_fill_unit_uniform_f64 (use tags >= 16 for new purposes).
//
// Performance paths: AVX-512 (F/DQ/BW/VL), AVX2+FMA, and a portable baseline (which calls
// libm's fmaf / fma where the CPU lacks the instruction), chosen at run time (x86-64 only; elsewhere portable).
// No allocation inside the kernels.
#ifndef CFILLKERNELS_H
#define CFILLKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WI_STREAM_UNIFORM 0u
#define WI_STREAM_NORMAL 1u
#define WI_STREAM_TRUNCATED 2u
#define WI_STREAM_TRUNCATED_TAIL 3u

/// Philox4x32-10 block function: out = Philox4x32-10(ctr, key).
void wi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/// Selects the code path: -1 = automatic (best the CPU supports), 0 = portable, 1 = AVX2,
/// 2 = AVX-512. Values above what the CPU supports are clamped down. Results are identical
/// on every level; this exists for tests and benchmarks.
void wi_set_kernel_level(int level);
/// The level in use (0 portable, 1 AVX2, 2 AVX-512).
int wi_kernel_level(void);
/// The best level this CPU supports.
int wi_kernel_max_level(void);

/// Uniform on [low, high): out[j] = low + (high − low)·u, u = element (start+j) of stream 0;
/// a result that rounds to `high` is replaced by nextafter(high, low). Caller checks
/// low < high, both finite (and high − low finite).
void wi_fill_uniform_f32(float *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                         float low, float high);
void wi_fill_uniform_f64(double *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                         double low, double high);

/// Normal N(mean, std²) by Box–Muller (stream 1): out[j] = mean + std·z. std == 0 gives
/// exactly `mean`. Caller checks std >= 0 and finite, mean finite.
void wi_fill_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                        float mean, float std);
void wi_fill_normal_f64(double *out, uint64_t start, uint64_t count, uint32_t k0, uint32_t k1,
                        double mean, double std);

/// Truncated normal: parent N(mean, std²) conditioned on [a, b] (absolute bounds, PyTorch
/// `trunc_normal_` semantics). Every output lies in [a, b] (for f32: in the floats inside
/// [a, b]). With α = (a−mean)/std, β = (b−mean)/std: if Φ(β)−Φ(α) >= 0.05, rejection from the
/// normal generator (stream 2), else Robert (1995) proposals in double (stream 3). Attempts
/// are capped (10000 per element on stream 3, 4096 candidate chunks per group on stream 2,
/// then stream 3), after which the value is the nearer bound (probability < 1e-300 per
/// element). f32 with a mean or std that is not a finite float, or a std that rounds to 0 in
/// float: element i is the f64 element i rounded to float (inside the floats of [a, b]).
/// Caller checks std > 0 finite, a < b, mean finite, and (f32) that a float lies in [a, b].
void wi_fill_truncated_normal_f32(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, double mean, double std, double a, double b);
void wi_fill_truncated_normal_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, double mean, double std, double a, double b);

/// Raw uniform in [0, 1) with 53 bits (f64 uniform mapping, ctr[3] = stream).
void wi_fill_unit_uniform_f64(double *out, uint64_t start, uint64_t count, uint32_t k0,
                              uint32_t k1, uint32_t stream);

/// A (score, index) pair for wi_select_smallest.
typedef struct {
    double score;
    uint32_t index;
} wi_score_pair;

/// Writes to out[0 .. k) the indices (in some order) of the k smallest pairs (score[i], i)
/// in lexicographic order (ties in score broken by the smaller index). Fast for scores
/// uniform on [0, 1) (one pass plus a selection in a band around the k-th order statistic),
/// exact for any scores (falls back to quickselect). `work` and `out` hold n entries each
/// (out[k .. n) is scratch). k > n is treated as n.
void wi_select_smallest(const double *score, uint32_t n, uint32_t k, wi_score_pair *work,
                        uint32_t *out);

#ifdef __cplusplus
}
#endif

#endif
