// Level-specific kernels of fill_kernels.c. Included once per code path with
//   WI_SUFFIX  name suffix (port, avx2, avx512)
//   WI_ATTR    function attribute (empty, target("avx2,fma"), target("avx512..."))
//   WI_LEVEL   0, 1, 2
// Only the Philox block generation uses intrinsics; the element math is the shared
// always_inline scalar code of fill_kernels.c, auto-vectorized per path.
//
// Chunk layout (pure function of the element index i, identical on every path):
//   f32 uniform: chunk c = i / 64 uses Philox blocks 16c .. 16c+15; element 64c + 16p + j
//        comes from block 16c + j, word p.
//   f32 normal / truncated: chunk c = i / 96 uses blocks 16c .. 16c+15; element 96c + 16p + j
//        (p = 0..5) comes from block 16c + j: R cos (p even) / R sin (p odd) of Box–Muller pair
//        p >> 1 of that block (pair_bits_f32).
//   f64: chunk c = i / 32 uses blocks 16c .. 16c+15; element 32c + 16h + j comes from block
//        16c + j: uniform: words (w[2h], w[2h+1]); normal: h = 0/1 -> R cos / R sin.

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

// Appends base+l for rej[l] != 0 to idx (may write 8 entries past the new end).
WI_FN size_t WI_N(collect)(const uint8_t *rej, int E, uint64_t base, uint64_t *idx, size_t n) {
#if WI_LEVEL == 2
    // Branch-free: a data-dependent loop over the set bits mispredicts about once per chunk.
    const __m512i j8 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    for (int g = 0; g < E; g += 8) {
        uint64_t word;
        memcpy(&word, rej + g, 8);
        __mmask8 m = (__mmask8)((word * 0x0102040810204080ull) >> 56);
        __m512i v = _mm512_add_epi64(_mm512_set1_epi64((long long)(base + (uint64_t)g)), j8);
        _mm512_storeu_si512((void *)(idx + n), _mm512_maskz_compress_epi64(m, v));
        n += (size_t)__builtin_popcount(m);
    }
    return n;
#else
    return collect_rejects(rej, E, base, idx, n);
#endif
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
WI_FN void WI_N(chunk_uniform_f32)(float *dst, uint64_t c, uint32_t k0, uint32_t k1, float low,
                                   float range, float hmax, float high) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, 0, WI_STREAM_UNIFORM, k0, k1, w);
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < NB; j++) {
            float x = low + range * unit24f(w[l][j]);
            dst[NB * l + j] = x < high ? x : hmax;
        }
}

WI_FN void WI_N(impl_uniform_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, float low, float high) {
    if (count == 0) return;
    float range = high - low;
    float hmax = nextafterf(high, low);
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  WI_N(chunk_uniform_f32)(dst_, c_, k0, k1, low, range, hmax, high));
}

WI_FN void WI_N(chunk_uniform_f64)(double *dst, uint64_t c, uint32_t k0, uint32_t k1,
                                   uint32_t stream, double low, double range, double hmax,
                                   double high) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, 0, stream, k0, k1, w);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < NB; j++) {
            double x = low + range * unit53(w[2 * h][j], w[2 * h + 1][j]);
            dst[NB * h + j] = x < high ? x : hmax;
        }
}

WI_FN void WI_N(impl_uniform_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, uint32_t stream, double low, double high) {
    if (count == 0) return;
    double range = high - low;
    double hmax = nextafter(high, low);
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  WI_N(chunk_uniform_f64)(dst_, c_, k0, k1, stream, low, range, hmax, high));
}

// ---- normal ----------------------------------------------------------------------------
// Standard normals of one f32 chunk (96 values, chunk layout above).
WI_FN void WI_N(chunk_stdnormal_f32)(float *z, uint64_t c, uint32_t attempt, uint32_t stream,
                                     uint32_t k0, uint32_t k1) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < NB; j++) {
            float zc, zs;
            uint32_t u22, r20;
            pair_bits_f32(w[0][j], w[1][j], w[2][j], w[3][j], k, &u22, &r20);
            bm_f32(u22, r20, &zc, &zs);
            z[2 * NB * k + j] = zc;
            z[2 * NB * k + NB + j] = zs;
        }
}

WI_FN void WI_N(chunk_normal_f32)(float *dst, uint64_t c, uint32_t k0, uint32_t k1, float mean,
                                  float std) {
    float z[EN32];
    WI_N(chunk_stdnormal_f32)(z, c, 0, WI_STREAM_NORMAL, k0, k1);
    for (int l = 0; l < EN32; l++) dst[l] = mean + std * z[l];
}

WI_FN void WI_N(impl_normal_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, float mean, float std) {
    if (count == 0) return;
    if (std == 0.0f) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(float, EN32, out, start, count,
                  WI_N(chunk_normal_f32)(dst_, c_, k0, k1, mean, std));
}

WI_FN void WI_N(chunk_stdnormal_f64)(double *z, uint64_t c, uint32_t attempt, uint32_t stream,
                                     uint32_t k0, uint32_t k1) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    for (int j = 0; j < NB; j++) {
        double zc, zs;
        bm_f64(w[0][j], w[1][j], w[2][j], w[3][j], &zc, &zs);
        z[j] = zc;
        z[NB + j] = zs;
    }
}

WI_FN void WI_N(chunk_normal_f64)(double *dst, uint64_t c, uint32_t k0, uint32_t k1,
                                  double mean, double std) {
    double z[E64];
    WI_N(chunk_stdnormal_f64)(z, c, 0, WI_STREAM_NORMAL, k0, k1);
    for (int l = 0; l < E64; l++) dst[l] = mean + std * z[l];
}

WI_FN void WI_N(impl_normal_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, double mean, double std) {
    if (count == 0) return;
    if (std == 0.0) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(double, E64, out, start, count,
                  WI_N(chunk_normal_f64)(dst_, c_, k0, k1, mean, std));
}

// ---- truncated normal (rejection path) -------------------------------------------------
WI_FN void WI_N(retry_f32)(float *out, uint64_t start, uint64_t *idx, size_t n, uint32_t k0,
                           uint32_t k1, const wi_trunc_params *P) {
    float z[WI_RETRY_BUF + NB];
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf;
    float af = P->af, bf = P->bf;
    for (uint32_t t = 1; n > 0; t++) {
        for (size_t j = n; j < n + NB; j++) idx[j] = idx[n - 1]; // pad: whole groups of NB
        if (t >= WI_TRUNC_CAP) { // last resort; never reached in practice
            for (size_t j = 0; j < n; j++) out[idx[j] - start] = clampf_nan(meanf, af, bf);
            return;
        }
        for (size_t g = 0; g < n; g += NB) {
            uint64_t blk[NB];
            uint32_t w[4][NB];
            for (int j = 0; j < NB; j++) {
                uint64_t i = idx[g + j];
                blk[j] = (i / EN32) * NB + (i % EN32) % NB;
            }
            WI_N(philox_blocks)(blk, t, WI_STREAM_TRUNCATED, k0, k1, w);
            for (int j = 0; j < NB; j++) {
                uint64_t i = idx[g + j];
                uint32_t p = (uint32_t)(i % EN32) / NB; // pair p >> 1, cos/sin p & 1 (chunk layout)
                uint32_t u22, r20;
                pair_bits_f32(w[0][j], w[1][j], w[2][j], w[3][j], (int)(p >> 1), &u22, &r20);
                float zc, zs;
                bm_f32(u22, r20, &zc, &zs);
                z[g + j] = (p & 1) ? zs : zc;
            }
        }
        size_t m = 0;
        for (size_t j = 0; j < n; j++) { // branch-free compaction
            float zz = z[j];
            int acc = zz >= alf && zz <= bef;
            float *o = out + (idx[j] - start);
            *o = acc ? clampf_nan(meanf + stdf * zz, af, bf) : *o;
            idx[m] = idx[j];
            m += (size_t)!acc;
        }
        n = m;
    }
}

WI_FN void WI_N(retry_f64)(double *out, uint64_t start, uint64_t *idx, size_t n, uint32_t k0,
                           uint32_t k1, const wi_trunc_params *P) {
    double z[WI_RETRY_BUF + NB];
    double mean = P->mean, std = P->std, al = P->alpha, be = P->beta, a = P->a, b = P->b;
    for (uint32_t t = 1; n > 0; t++) {
        for (size_t j = n; j < n + NB; j++) idx[j] = idx[n - 1]; // pad: whole groups of NB
        if (t >= WI_TRUNC_CAP) {
            for (size_t j = 0; j < n; j++) out[idx[j] - start] = clampd_nan(mean, a, b);
            return;
        }
        for (size_t g = 0; g < n; g += NB) {
            uint64_t blk[NB];
            uint32_t w[4][NB];
            for (int j = 0; j < NB; j++) {
                uint64_t i = idx[g + j];
                blk[j] = (i / E64) * NB + (i % NB);
            }
            WI_N(philox_blocks)(blk, t, WI_STREAM_TRUNCATED, k0, k1, w);
            for (int j = 0; j < NB; j++) {
                uint64_t i = idx[g + j];
                double zc, zs;
                bm_f64(w[0][j], w[1][j], w[2][j], w[3][j], &zc, &zs);
                z[g + j] = ((i % E64) / NB) ? zs : zc;
            }
        }
        size_t m = 0;
        for (size_t j = 0; j < n; j++) { // branch-free compaction
            double zz = z[j];
            int acc = zz >= al && zz <= be;
            double *o = out + (idx[j] - start);
            *o = acc ? clampd_nan(mean + std * zz, a, b) : *o;
            idx[m] = idx[j];
            m += (size_t)!acc;
        }
        n = m;
    }
}

WI_FN void WI_N(impl_trunc_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF + NB];
    size_t nr = 0;
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf;
    float af = P->af, bf = P->bf;
    uint64_t end = start + count;
    for (uint64_t c = start / EN32; c * EN32 < end; c++) {
        uint64_t cs = c * EN32;
        int full = cs >= start && cs + EN32 <= end;
        float tmp[EN32], z[EN32];
        uint8_t rej[EN32];
        float *dst = full ? out + (cs - start) : tmp;
        WI_N(chunk_stdnormal_f32)(z, c, 0, WI_STREAM_TRUNCATED, k0, k1);
        for (int l = 0; l < EN32; l++) {
            float zz = z[l];
            rej[l] = !(zz >= alf && zz <= bef);
            dst[l] = clampf_nan(meanf + stdf * zz, af, bf);
        }
        if (!full) {
            uint64_t lo = cs < start ? start : cs;
            uint64_t hi = cs + EN32 < end ? cs + EN32 : end;
            memcpy(out + (lo - start), tmp + (lo - cs), (hi - lo) * sizeof(float));
            for (int l = 0; l < EN32; l++)
                if (cs + (uint64_t)l < lo || cs + (uint64_t)l >= hi) rej[l] = 0;
        }
        nr = WI_N(collect)(rej, EN32, cs, idx, nr);
        if (nr > WI_RETRY_BUF - EN32) {
            WI_N(retry_f32)(out, start, idx, nr, k0, k1, P);
            nr = 0;
        }
    }
    WI_N(retry_f32)(out, start, idx, nr, k0, k1, P);
}

WI_FN void WI_N(impl_trunc_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF + NB];
    size_t nr = 0;
    double mean = P->mean, std = P->std, al = P->alpha, be = P->beta, a = P->a, b = P->b;
    uint64_t end = start + count;
    for (uint64_t c = start / E64; c * E64 < end; c++) {
        uint64_t cs = c * E64;
        int full = cs >= start && cs + E64 <= end;
        double tmp[E64], z[E64];
        uint8_t rej[E64];
        double *dst = full ? out + (cs - start) : tmp;
        WI_N(chunk_stdnormal_f64)(z, c, 0, WI_STREAM_TRUNCATED, k0, k1);
        for (int l = 0; l < E64; l++) {
            double zz = z[l];
            rej[l] = !(zz >= al && zz <= be);
            dst[l] = clampd_nan(mean + std * zz, a, b);
        }
        if (!full) {
            uint64_t lo = cs < start ? start : cs;
            uint64_t hi = cs + E64 < end ? cs + E64 : end;
            memcpy(out + (lo - start), tmp + (lo - cs), (hi - lo) * sizeof(double));
            for (int l = 0; l < E64; l++)
                if (cs + (uint64_t)l < lo || cs + (uint64_t)l >= hi) rej[l] = 0;
        }
        nr = WI_N(collect)(rej, E64, cs, idx, nr);
        if (nr > WI_RETRY_BUF - E64) {
            WI_N(retry_f64)(out, start, idx, nr, k0, k1, P);
            nr = 0;
        }
    }
    WI_N(retry_f64)(out, start, idx, nr, k0, k1, P);
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
