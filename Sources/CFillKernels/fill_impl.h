// Level-specific kernels of fill_kernels.c. Included once per code path with
//   WI_SUFFIX  name suffix (port, avx2, avx512)
//   WI_ATTR    function attribute (empty, target("avx2,fma"), target("avx512..."))
//   WI_LEVEL   0, 1, 2
// Only the Philox block generation uses intrinsics; the element math is the shared
// always_inline scalar code of fill_kernels.c, auto-vectorized per path.
//
// Chunk layout (pure function of the element index i, identical on every path):
//   f32: chunk c = i / 64 uses Philox blocks 16c .. 16c+15; element 64c + 16p + j comes from
//        block 16c + j: uniform: word p; normal: p = 0/1 -> R cos / R sin of words (w0, w1),
//        p = 2/3 -> R cos / R sin of words (w2, w3).
//   f64: chunk c = i / 32 uses blocks 16c .. 16c+15; element 32c + 16h + j comes from block
//        16c + j: uniform: words (w[2h], w[2h+1]); normal: h = 0/1 -> R cos / R sin.

#define WI_CAT2(a, b) a##_##b
#define WI_CAT(a, b) WI_CAT2(a, b)
#define WI_N(name) WI_CAT(name, WI_SUFFIX)
#define WI_FN WI_ATTR static inline __attribute__((always_inline))

// Philox4x32-10 of blocks b0 .. b0+NB-1 with ctr[2] = c2, ctr[3] = c3; w[l][j] = word l of
// block b0 + j.
WI_FN void WI_N(philox_chunk)(uint64_t b0, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t w[4][NB]) {
#if WI_LEVEL == 2
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i blo = _mm512_set1_epi32((int)(uint32_t)b0);
    const __m512i bhi = _mm512_set1_epi32((int)(uint32_t)(b0 >> 32));
    __m512i x0 = _mm512_add_epi32(blo, lane);
    __mmask16 carry = _mm512_cmplt_epu32_mask(x0, blo);
    __m512i x1 = _mm512_mask_add_epi32(bhi, carry, bhi, _mm512_set1_epi32(1));
    __m512i x2 = _mm512_set1_epi32((int)c2);
    __m512i x3 = _mm512_set1_epi32((int)c3);
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0);
    const __m512i m1 = _mm512_set1_epi32((int)PHILOX_M1);
    for (int r = 0; r < 10; r++) {
        __m512i pe0 = _mm512_mul_epu32(x0, m0);
        __m512i po0 = _mm512_mul_epu32(_mm512_srli_epi64(x0, 32), m0);
        __m512i pe1 = _mm512_mul_epu32(x2, m1);
        __m512i po1 = _mm512_mul_epu32(_mm512_srli_epi64(x2, 32), m1);
        __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe0, 32), po0);
        __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, pe0, _mm512_slli_epi64(po0, 32));
        __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe1, 32), po1);
        __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, pe1, _mm512_slli_epi64(po1, 32));
        __m512i kk0 = _mm512_set1_epi32((int)k0), kk1 = _mm512_set1_epi32((int)k1);
        x0 = _mm512_ternarylogic_epi32(hi1, x1, kk0, 0x96);
        x1 = lo1;
        x2 = _mm512_ternarylogic_epi32(hi0, x3, kk1, 0x96);
        x3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    _mm512_storeu_si512((void *)w[0], x0);
    _mm512_storeu_si512((void *)w[1], x1);
    _mm512_storeu_si512((void *)w[2], x2);
    _mm512_storeu_si512((void *)w[3], x3);
#elif WI_LEVEL == 1
    for (int h = 0; h < NB; h += 8) {
        uint64_t bb = b0 + (uint64_t)h;
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i blo = _mm256_set1_epi32((int)(uint32_t)bb);
        const __m256i bhi = _mm256_set1_epi32((int)(uint32_t)(bb >> 32));
        const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
        __m256i x0 = _mm256_add_epi32(blo, lane);
        // carry = (x0 <u blo), via signed compare of sign-flipped values; carry lanes are -1
        __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(blo, sign), _mm256_xor_si256(x0, sign));
        __m256i x1 = _mm256_sub_epi32(bhi, carry);
        __m256i x2 = _mm256_set1_epi32((int)c2);
        __m256i x3 = _mm256_set1_epi32((int)c3);
        const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0);
        const __m256i m1 = _mm256_set1_epi32((int)PHILOX_M1);
        uint32_t q0 = k0, q1 = k1;
        for (int r = 0; r < 10; r++) {
            __m256i pe0 = _mm256_mul_epu32(x0, m0);
            __m256i po0 = _mm256_mul_epu32(_mm256_srli_epi64(x0, 32), m0);
            __m256i pe1 = _mm256_mul_epu32(x2, m1);
            __m256i po1 = _mm256_mul_epu32(_mm256_srli_epi64(x2, 32), m1);
            __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
            __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
            __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
            __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
            x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32((int)q0));
            x1 = lo1;
            x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32((int)q1));
            x3 = lo0;
            q0 += PHILOX_W0;
            q1 += PHILOX_W1;
        }
        _mm256_storeu_si256((__m256i *)(w[0] + h), x0);
        _mm256_storeu_si256((__m256i *)(w[1] + h), x1);
        _mm256_storeu_si256((__m256i *)(w[2] + h), x2);
        _mm256_storeu_si256((__m256i *)(w[3] + h), x3);
    }
#else
    for (int j = 0; j < NB; j++) {
        uint64_t b = b0 + (uint64_t)j;
        wi_u4 o = philox10((uint32_t)b, (uint32_t)(b >> 32), c2, c3, k0, k1);
        w[0][j] = o.v[0]; w[1][j] = o.v[1]; w[2][j] = o.v[2]; w[3][j] = o.v[3];
    }
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
    WI_N(philox_chunk)(c * NB, 0, WI_STREAM_UNIFORM, k0, k1, w);
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
    WI_N(philox_chunk)(c * NB, 0, stream, k0, k1, w);
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
// Standard normals of one f32 chunk (64 values, chunk layout above).
WI_FN void WI_N(chunk_stdnormal_f32)(float *z, uint64_t c, uint32_t attempt, uint32_t stream,
                                     uint32_t k0, uint32_t k1) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c * NB, attempt, stream, k0, k1, w);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < NB; j++) {
            float zc, zs;
            bm_f32(w[2 * h][j], w[2 * h + 1][j], &zc, &zs);
            z[2 * NB * h + j] = zc;
            z[2 * NB * h + NB + j] = zs;
        }
}

WI_FN void WI_N(chunk_normal_f32)(float *dst, uint64_t c, uint32_t k0, uint32_t k1, float mean,
                                  float std) {
    float z[E32];
    WI_N(chunk_stdnormal_f32)(z, c, 0, WI_STREAM_NORMAL, k0, k1);
    for (int l = 0; l < E32; l++) dst[l] = mean + std * z[l];
}

WI_FN void WI_N(impl_normal_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, float mean, float std) {
    if (count == 0) return;
    if (std == 0.0f) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  WI_N(chunk_normal_f32)(dst_, c_, k0, k1, mean, std));
}

WI_FN void WI_N(chunk_stdnormal_f64)(double *z, uint64_t c, uint32_t attempt, uint32_t stream,
                                     uint32_t k0, uint32_t k1) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c * NB, attempt, stream, k0, k1, w);
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

WI_FN void WI_N(retry_f64)(double *out, uint64_t start, uint64_t *idx, size_t n, uint32_t k0,
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

WI_FN void WI_N(impl_trunc_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF];
    size_t nr = 0;
    float meanf = P->meanf, stdf = P->stdf, alf = P->alphaf, bef = P->betaf;
    float af = P->af, bf = P->bf;
    uint64_t end = start + count;
    for (uint64_t c = start / E32; c * E32 < end; c++) {
        uint64_t cs = c * E32;
        int full = cs >= start && cs + E32 <= end;
        float tmp[E32], z[E32];
        uint8_t rej[E32];
        float *dst = full ? out + (cs - start) : tmp;
        WI_N(chunk_stdnormal_f32)(z, c, 0, WI_STREAM_TRUNCATED, k0, k1);
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
            WI_N(retry_f32)(out, start, idx, nr, k0, k1, P);
            nr = 0;
        }
    }
    WI_N(retry_f32)(out, start, idx, nr, k0, k1, P);
}

WI_FN void WI_N(impl_trunc_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    uint64_t idx[WI_RETRY_BUF];
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
        nr = collect_rejects(rej, E64, cs, idx, nr);
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
