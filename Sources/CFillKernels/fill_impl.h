// Level-specific kernels of fill_kernels.c. Included once per code path with
//   WI_SUFFIX  name suffix (port, avx2, avx512)
//   WI_ATTR    function attribute (empty, target("avx2,fma"), target("avx512..."))
//   WI_LEVEL   0, 1, 2
// The Philox block generation and the AVX-512 compaction of truncated-normal candidates use
// intrinsics; the element math is the shared always_inline scalar code of fill_kernels.c,
// auto-vectorized per path.
//
// Chunk layout (pure function of the element index i, identical on every path):
//   f32 uniform: chunk c = i / 64 uses Philox blocks 16c .. 16c+15; element 64c + 16p + j
//        comes from block 16c + j, word p.
//   f32 normal: chunk c = i / 96 uses blocks 16c .. 16c+15; element 96c + 16p + j
//        (p = 0..5) comes from block 16c + j: R cos (p even) / R sin (p odd) of Box–Muller pair
//        p >> 1 of that block (pair_bits_f32).
//   f64: chunk c = i / 32 uses blocks 16c .. 16c+15; element 32c + 16h + j comes from block
//        16c + j: uniform: words (w[2h], w[2h+1]); normal: h = 0/1 -> R cos / R sin.
//   truncated (rejection path): group g = i / S (S = 1536 for f32, 512 for f64) of 16 chunks.
//        Candidate chunk q = 0, 1, 2, ... of group g is chunk 16g + q % 16 of the normal layout
//        with ctr[2] = q / 16 (attempt) and ctr[3] = 2; its candidates are taken in element
//        order. Element S·g + r is the r-th accepted candidate (α <= z <= β) of that stream.
#define WI_CAT2(a, b) a##_##b
#define WI_CAT(a, b) WI_CAT2(a, b)
#define WI_N(name) WI_CAT(name, WI_SUFFIX)
#define WI_FN WI_ATTR static inline __attribute__((always_inline))

// Philox4x32-10 of blocks blk[0..NB-1] with ctr[2] = c2, ctr[3] = c3; w[l][j] = word l of
// block blk[j].
WI_FN void WI_N(philox_blocks)(const uint64_t blk[NB], uint32_t c2, uint32_t c3, uint32_t k0,
                               uint32_t k1, uint32_t w[4][NB]) {
#if WI_LEVEL == 2
    // 64-bit lanes (value in the low 32 bits, the high half is don't-care: mul_epu32 ignores
    // it and xor keeps it separate), halves A = blocks 0..7, B = blocks 8..15.
    __m512i a0 = _mm512_loadu_si512((const void *)blk);
    __m512i b0v = _mm512_loadu_si512((const void *)(blk + 8));
    __m512i a1 = _mm512_srli_epi64(a0, 32), b1 = _mm512_srli_epi64(b0v, 32);
    __m512i a2 = _mm512_set1_epi32((int)c2), b2 = a2;
    __m512i a3 = _mm512_set1_epi32((int)c3), b3 = a3;
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0);
    const __m512i m1 = _mm512_set1_epi32((int)PHILOX_M1);
#define WI_P512_ROUND(q0, q1)                                                                 \
    do {                                                                                      \
        __m512i kk0 = _mm512_set1_epi32((int)(q0)), kk1 = _mm512_set1_epi32((int)(q1));       \
        __m512i pa0 = _mm512_mul_epu32(a0, m0), pa1 = _mm512_mul_epu32(a2, m1);               \
        __m512i pb0 = _mm512_mul_epu32(b0v, m0), pb1 = _mm512_mul_epu32(b2, m1);              \
        a0 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pa1, 32), a1, kk0, 0x96);            \
        a2 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pa0, 32), a3, kk1, 0x96);            \
        a1 = pa1; a3 = pa0;                                                                   \
        b0v = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pb1, 32), b1, kk0, 0x96);           \
        b2 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pb0, 32), b3, kk1, 0x96);            \
        b1 = pb1; b3 = pb0;                                                                   \
    } while (0)
    WI_P512_ROUND(k0, k1);
    WI_P512_ROUND(k0 + 1u * PHILOX_W0, k1 + 1u * PHILOX_W1);
    WI_P512_ROUND(k0 + 2u * PHILOX_W0, k1 + 2u * PHILOX_W1);
    WI_P512_ROUND(k0 + 3u * PHILOX_W0, k1 + 3u * PHILOX_W1);
    WI_P512_ROUND(k0 + 4u * PHILOX_W0, k1 + 4u * PHILOX_W1);
    WI_P512_ROUND(k0 + 5u * PHILOX_W0, k1 + 5u * PHILOX_W1);
    WI_P512_ROUND(k0 + 6u * PHILOX_W0, k1 + 6u * PHILOX_W1);
    WI_P512_ROUND(k0 + 7u * PHILOX_W0, k1 + 7u * PHILOX_W1);
    WI_P512_ROUND(k0 + 8u * PHILOX_W0, k1 + 8u * PHILOX_W1);
    WI_P512_ROUND(k0 + 9u * PHILOX_W0, k1 + 9u * PHILOX_W1);
#undef WI_P512_ROUND
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    _mm512_storeu_si512((void *)w[0], _mm512_permutex2var_epi32(a0, even, b0v));
    _mm512_storeu_si512((void *)w[1], _mm512_permutex2var_epi32(a1, even, b1));
    _mm512_storeu_si512((void *)w[2], _mm512_permutex2var_epi32(a2, even, b2));
    _mm512_storeu_si512((void *)w[3], _mm512_permutex2var_epi32(a3, even, b3));
#elif WI_LEVEL == 1
    // Same scheme with 4 blocks per 256-bit vector, four vectors per word.
    __m256i x[4][4];
    for (int v = 0; v < 4; v++) {
        x[0][v] = _mm256_loadu_si256((const __m256i *)(blk + 4 * v));
        x[1][v] = _mm256_srli_epi64(x[0][v], 32);
        x[2][v] = _mm256_set1_epi32((int)c2);
        x[3][v] = _mm256_set1_epi32((int)c3);
    }
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)PHILOX_M1);
    uint32_t q0 = k0, q1 = k1;
    for (int r = 0; r < 10; r++) {
        __m256i kk0 = _mm256_set1_epi32((int)q0), kk1 = _mm256_set1_epi32((int)q1);
        for (int v = 0; v < 4; v++) {
            __m256i p0 = _mm256_mul_epu32(x[0][v], m0), p1 = _mm256_mul_epu32(x[2][v], m1);
            x[0][v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), x[1][v]), kk0);
            x[2][v] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), x[3][v]), kk1);
            x[1][v] = p1;
            x[3][v] = p0;
        }
        q0 += PHILOX_W0;
        q1 += PHILOX_W1;
    }
    for (int l = 0; l < 4; l++)
        for (int h = 0; h < 2; h++) {
            // low halves of x[l][2h], x[l][2h+1] -> 8 consecutive u32
            __m256 lo = _mm256_castsi256_ps(x[l][2 * h]), hi = _mm256_castsi256_ps(x[l][2 * h + 1]);
            __m256 sh = _mm256_shuffle_ps(lo, hi, 0x88); // a0 a2 b0 b2 | a4 a6 b4 b6 (32-bit idx)
            __m256i o = _mm256_permute4x64_epi64(_mm256_castps_si256(sh), 0xD8);
            _mm256_storeu_si256((__m256i *)(w[l] + 8 * h), o);
        }
#else
    for (int j = 0; j < NB; j++) {
        uint64_t b = blk[j];
        wi_u4 o = philox10((uint32_t)b, (uint32_t)(b >> 32), c2, c3, k0, k1);
        w[0][j] = o.v[0]; w[1][j] = o.v[1]; w[2][j] = o.v[2]; w[3][j] = o.v[3];
    }
#endif
}

// Blocks 16c .. 16c+15 of chunk c.
WI_FN void WI_N(philox_chunk)(uint64_t c, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t w[4][NB]) {
    uint64_t blk[NB];
    for (int j = 0; j < NB; j++) blk[j] = c * NB + (uint64_t)j;
    WI_N(philox_blocks)(blk, c2, c3, k0, k1, w);
}

// Chunk driver: chunks of E elements aligned to multiples of E in element index space;
// chunks fully inside [start, start+count) are written in place, partial ones go through a
// stack buffer.
#ifndef WI_FOR_CHUNKS
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
#endif

// ---- uniform ---------------------------------------------------------------------------
// x = fma(u, high − low, low), u = (w >> 8)·2⁻²⁴; a result that rounds to high becomes hmax
// (the largest value below high; min(x, hmax) equals that for x in [low, high]).
WI_FN void WI_N(chunk_uniform_f32)(float *dst, uint64_t c, uint32_t k0, uint32_t k1, float low,
                                   float range, float hmax) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, 0, WI_STREAM_UNIFORM, k0, k1, w);
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < NB; j++) {
            float x = WI_FMAF(unit24f(w[l][j]), range, low);
            dst[NB * l + j] = x < hmax ? x : hmax;
        }
}

WI_FN void WI_N(impl_uniform_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, float low, float high) {
    if (count == 0) return;
    float range = high - low;
    float hmax = nextafterf(high, low);
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  WI_N(chunk_uniform_f32)(dst_, c_, k0, k1, low, range, hmax));
}

WI_FN void WI_N(chunk_uniform_f64)(double *dst, uint64_t c, uint32_t k0, uint32_t k1,
                                   uint32_t stream, double low, double range, double hmax) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, 0, stream, k0, k1, w);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < NB; j++) {
            double x = WI_FMA(unit53(w[2 * h][j], w[2 * h + 1][j]), range, low);
            dst[NB * h + j] = x < hmax ? x : hmax;
        }
}

WI_FN void WI_N(impl_uniform_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, uint32_t stream, double low, double high) {
    if (count == 0) return;
    double range = high - low;
    double hmax = nextafter(high, low);
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  WI_N(chunk_uniform_f64)(dst_, c_, k0, k1, stream, low, range, hmax));
}

// ---- normal ----------------------------------------------------------------------------
// One f32 chunk (96 values, chunk layout above): fma(±R·scale, cos/sin θ, offset).
WI_FN void WI_N(chunk_bm_f32)(float *dst, uint64_t c, uint32_t attempt, uint32_t stream,
                              uint32_t k0, uint32_t k1, float scale, float offset) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < NB; j++) {
            float zc, zs;
            uint32_t v, r20;
            pair_bits_f32(w[0][j], w[1][j], w[2][j], w[3][j], k, &v, &r20);
            bm_f32(v, r20, scale, offset, &zc, &zs);
            dst[2 * NB * k + j] = zc;
            dst[2 * NB * k + NB + j] = zs;
        }
}

WI_FN void WI_N(impl_normal_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, float mean, float std) {
    if (count == 0) return;
    if (std == 0.0f) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(float, EN32, out, start, count,
                  WI_N(chunk_bm_f32)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, std, mean));
}

// One f64 chunk (32 values).
WI_FN void WI_N(chunk_bm_f64)(double *dst, uint64_t c, uint32_t attempt, uint32_t stream,
                              uint32_t k0, uint32_t k1, double scale, double offset) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    for (int j = 0; j < NB; j++) {
        double zc, zs;
        bm_f64(w[0][j], w[1][j], w[2][j], w[3][j], scale, offset, &zc, &zs);
        dst[j] = zc;
        dst[NB + j] = zs;
    }
}

WI_FN void WI_N(impl_normal_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, double mean, double std) {
    if (count == 0) return;
    if (std == 0.0) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  WI_N(chunk_bm_f64)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, std, mean));
}

// ---- truncated normal (rejection path) -------------------------------------------------
// Appends the accepted candidates of z[0 .. E) to dst[n ..] as clamp(fma(std, z, mean), a, b),
// stopping at S outputs; returns the new n (< S on entry).
WI_FN size_t WI_N(compact_f32)(float *dst, size_t n, const float *z, const wi_trunc_params *P) {
#if WI_LEVEL == 2
    const __m512 al = _mm512_set1_ps(P->alphaf), be = _mm512_set1_ps(P->betaf);
    const __m512 sd = _mm512_set1_ps(P->stdf), mu = _mm512_set1_ps(P->meanf);
    const __m512 lo = _mm512_set1_ps(P->af), hi = _mm512_set1_ps(P->bf);
    for (int l = 0; l < EN32; l += 16) {
        __m512 zz = _mm512_loadu_ps(z + l);
        __mmask16 m = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(zz, al, _CMP_GE_OQ), zz, be, _CMP_LE_OQ);
        __m512 y = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(sd, zz, mu), lo), hi);
        unsigned cnt = (unsigned)__builtin_popcount((unsigned)m);
        size_t room = ST32 - n;
        if (cnt > room) cnt = (unsigned)room;
        _mm512_mask_storeu_ps(dst + n, (__mmask16)((1u << cnt) - 1u), _mm512_maskz_compress_ps(m, y));
        n += cnt;
        if (n == ST32) break;
    }
    return n;
#else
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf, af = P->af, bf = P->bf;
    for (int l = 0; l < EN32; l++) {
        float zz = z[l];
        dst[n] = clampf_nan(WI_FMAF(stdf, zz, meanf), af, bf);
        n += (size_t)(zz >= alf && zz <= bef);
        if (n == ST32) break;
    }
    return n;
#endif
}

WI_FN size_t WI_N(compact_f64)(double *dst, size_t n, const double *z, const wi_trunc_params *P) {
#if WI_LEVEL == 2
    const __m512d al = _mm512_set1_pd(P->alpha), be = _mm512_set1_pd(P->beta);
    const __m512d sd = _mm512_set1_pd(P->std), mu = _mm512_set1_pd(P->mean);
    const __m512d lo = _mm512_set1_pd(P->a), hi = _mm512_set1_pd(P->b);
    for (int l = 0; l < E64; l += 8) {
        __m512d zz = _mm512_loadu_pd(z + l);
        __mmask8 m = _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(zz, al, _CMP_GE_OQ), zz, be, _CMP_LE_OQ);
        __m512d y = _mm512_min_pd(_mm512_max_pd(_mm512_fmadd_pd(sd, zz, mu), lo), hi);
        unsigned cnt = (unsigned)__builtin_popcount((unsigned)m);
        size_t room = ST64 - n;
        if (cnt > room) cnt = (unsigned)room;
        _mm512_mask_storeu_pd(dst + n, (__mmask8)((1u << cnt) - 1u), _mm512_maskz_compress_pd(m, y));
        n += cnt;
        if (n == ST64) break;
    }
    return n;
#else
    double mean = P->mean, std = P->std, al = P->alpha, be = P->beta, a = P->a, b = P->b;
    for (int l = 0; l < E64; l++) {
        double zz = z[l];
        dst[n] = clampd_nan(WI_FMA(std, zz, mean), a, b);
        n += (size_t)(zz >= al && zz <= be);
        if (n == ST64) break;
    }
    return n;
#endif
}

// The S outputs of group g (layout above) into dst[0 .. S).
WI_FN void WI_N(group_trunc_f32)(float *dst, uint64_t g, uint32_t k0, uint32_t k1,
                                 const wi_trunc_params *P) {
    float z[EN32];
    size_t n = 0;
    for (uint32_t q = 0; n < ST32; q++) {
        if (q >= WI_GROUP_CAP) { // last resort; never reached for mass >= 0.3
            for (; n < ST32; n++) dst[n] = clampf_nan(P->meanf, P->af, P->bf);
            return;
        }
        WI_N(chunk_bm_f32)(z, g * TG + q % TG, q / TG, WI_STREAM_TRUNCATED, k0, k1, 1.0f, 0.0f);
        n = WI_N(compact_f32)(dst, n, z, P);
    }
}

WI_FN void WI_N(group_trunc_f64)(double *dst, uint64_t g, uint32_t k0, uint32_t k1,
                                 const wi_trunc_params *P) {
    double z[E64];
    size_t n = 0;
    for (uint32_t q = 0; n < ST64; q++) {
        if (q >= WI_GROUP_CAP) {
            for (; n < ST64; n++) dst[n] = clampd_nan(P->mean, P->a, P->b);
            return;
        }
        WI_N(chunk_bm_f64)(z, g * TG + q % TG, q / TG, WI_STREAM_TRUNCATED, k0, k1, 1.0, 0.0);
        n = WI_N(compact_f64)(dst, n, z, P);
    }
}

WI_FN void WI_N(impl_trunc_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    WI_FOR_CHUNKS(float, ST32, out, start, count, WI_N(group_trunc_f32)(dst_, c_, k0, k1, P));
}

WI_FN void WI_N(impl_trunc_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    WI_FOR_CHUNKS(double, ST64, out, start, count, WI_N(group_trunc_f64)(dst_, c_, k0, k1, P));
}

// ---- entry points of this level ---------------------------------------------------------
WI_ATTR static void WI_N(uniform_f32)(float *o, uint64_t s, uint64_t n, uint32_t k0,
                                      uint32_t k1, float lo, float hi) {
    WI_N(impl_uniform_f32)(o, s, n, k0, k1, lo, hi);
}
WI_ATTR static void WI_N(uniform_f64)(double *o, uint64_t s, uint64_t n, uint32_t k0,
                                      uint32_t k1, uint32_t st, double lo, double hi) {
    WI_N(impl_uniform_f64)(o, s, n, k0, k1, st, lo, hi);
}
WI_ATTR static void WI_N(normal_f32)(float *o, uint64_t s, uint64_t n, uint32_t k0,
                                     uint32_t k1, float m, float sd) {
    WI_N(impl_normal_f32)(o, s, n, k0, k1, m, sd);
}
WI_ATTR static void WI_N(normal_f64)(double *o, uint64_t s, uint64_t n, uint32_t k0,
                                     uint32_t k1, double m, double sd) {
    WI_N(impl_normal_f64)(o, s, n, k0, k1, m, sd);
}
WI_ATTR static void WI_N(trunc_f32)(float *o, uint64_t s, uint64_t n, uint32_t k0, uint32_t k1,
                                    const wi_trunc_params *P) {
    WI_N(impl_trunc_f32)(o, s, n, k0, k1, P);
}
WI_ATTR static void WI_N(trunc_f64)(double *o, uint64_t s, uint64_t n, uint32_t k0, uint32_t k1,
                                    const wi_trunc_params *P) {
    WI_N(impl_trunc_f64)(o, s, n, k0, k1, P);
}
static const wi_kernel_table WI_N(table) = {
    WI_N(uniform_f32), WI_N(uniform_f64), WI_N(normal_f32),
    WI_N(normal_f64),  WI_N(trunc_f32),   WI_N(trunc_f64)};

#undef WI_FN
#undef WI_N
#undef WI_CAT
#undef WI_CAT2
