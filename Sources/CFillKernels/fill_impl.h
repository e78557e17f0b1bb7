// Level-specific kernels of fill_kernels.c. Included once per code path with
//   WI_SUFFIX  name suffix (port, avx2, avx512)
//   WI_ATTR    function attribute (empty, target("avx2,fma"), target("avx512..."))
//   WI_LEVEL   0, 1, 2
// The Philox block generation and the AVX-512 compaction of truncated-normal candidates use
// intrinsics; the element math is the shared always_inline scalar code of fill_kernels.c,
// auto-vectorized per path. At level 1 (AVX2) the f32 uniform and normal element math and the
// truncated-normal compaction are written with intrinsics too (the auto-vectorizer split the
// 16 blocks of a chunk badly and spilled): the same operations in the same order as the scalar
// code, so the bytes are those of the portable path.
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
//        with ctr[2] = q / 16 (attempt) and ctr[3] = 2; its candidates (normal values with the
//        fill's mean and std) are taken in element order. Element S·g + r is the r-th
//        accepted candidate (a <= y <= b) of that stream.
#define WI_CAT2(a, b) a##_##b
#define WI_CAT(a, b) WI_CAT2(a, b)
#define WI_N(name) WI_CAT(name, WI_SUFFIX)
#define WI_FN WI_ATTR static inline __attribute__((always_inline))

// Philox4x32-10 of the 16 blocks of chunk c (blocks 16c .. 16c+15) with ctr[2] = c2,
// ctr[3] = c3; w[l][j] = word l of block 16c + j. At level 2 the state lives in registers
// (WI_N(pstate)) and the rounds can be run in stages, so that the Philox of the next chunk
// interleaves with the element math of the current one (run_bm_f32).
#if WI_LEVEL == 2
// 64-bit lanes (value in the low 32 bits, the high half is don't-care: mul_epu32 ignores it
// and xor keeps it separate), halves A = blocks 0..7, B = blocks 8..15.
typedef struct { __m512i a0, a1, a2, a3, b0, b1, b2, b3; } WI_N(pstate);

WI_FN void WI_N(pstart)(WI_N(pstate) *S, uint64_t c, uint32_t c2, uint32_t c3) {
    const __m512i j8 = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    S->a0 = _mm512_add_epi64(_mm512_set1_epi64((long long)(c * NB)), j8);
    S->b0 = _mm512_add_epi64(S->a0, _mm512_set1_epi64(8));
    S->a1 = _mm512_srli_epi64(S->a0, 32);
    S->b1 = _mm512_srli_epi64(S->b0, 32);
    S->a2 = S->b2 = _mm512_set1_epi32((int)c2);
    S->a3 = S->b3 = _mm512_set1_epi32((int)c3);
}

// Rounds r0 .. r1-1 (round r uses the key (k0 + r·W0, k1 + r·W1)).
WI_FN void WI_N(prounds)(WI_N(pstate) *S, int r0, int r1, uint32_t k0, uint32_t k1) {
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0);
    const __m512i m1 = _mm512_set1_epi32((int)PHILOX_M1);
#pragma GCC unroll 10
    for (int r = r0; r < r1; r++) {
        __m512i kk0 = _mm512_set1_epi32((int)(k0 + (uint32_t)r * PHILOX_W0));
        __m512i kk1 = _mm512_set1_epi32((int)(k1 + (uint32_t)r * PHILOX_W1));
        __m512i pa0 = _mm512_mul_epu32(S->a0, m0), pa1 = _mm512_mul_epu32(S->a2, m1);
        __m512i pb0 = _mm512_mul_epu32(S->b0, m0), pb1 = _mm512_mul_epu32(S->b2, m1);
        S->a0 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pa1, 32), S->a1, kk0, 0x96);
        S->a2 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pa0, 32), S->a3, kk1, 0x96);
        S->a1 = pa1;
        S->a3 = pa0;
        S->b0 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pb1, 32), S->b1, kk0, 0x96);
        S->b2 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(pb0, 32), S->b3, kk1, 0x96);
        S->b1 = pb1;
        S->b3 = pb0;
    }
}

WI_FN void WI_N(pfinish)(const WI_N(pstate) *S, uint32_t w[4][NB]) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    _mm512_storeu_si512((void *)w[0], _mm512_permutex2var_epi32(S->a0, even, S->b0));
    _mm512_storeu_si512((void *)w[1], _mm512_permutex2var_epi32(S->a1, even, S->b1));
    _mm512_storeu_si512((void *)w[2], _mm512_permutex2var_epi32(S->a2, even, S->b2));
    _mm512_storeu_si512((void *)w[3], _mm512_permutex2var_epi32(S->a3, even, S->b3));
}
#endif

#if WI_LEVEL == 1
// AVX2: 8 blocks per call, in two vectors of 64-bit lanes (value in the low 32 bits, as at
// level 2): A = blocks {0, 1, 4, 5}, B = blocks {2, 3, 6, 7}, so that one in-lane shuffle
// (shufps 0x88) packs word l of the 8 blocks in block order. 8 state vectors + 2 multipliers
// fit the 16 ymm registers; the round keys come from a schedule in memory (xor with a memory
// operand, no broadcast per round).
typedef struct { __m256i k0[10], k1[10]; } WI_N(keys);

WI_FN void WI_N(keysched)(WI_N(keys) *K, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        K->k0[r] = _mm256_set1_epi32((int)(k0 + (uint32_t)r * PHILOX_W0));
        K->k1[r] = _mm256_set1_epi32((int)(k1 + (uint32_t)r * PHILOX_W1));
    }
    // Opaque to the optimizer: the rounds then xor with the schedule in memory instead of
    // rebuilding each key (mov + broadcast) inside the loop.
    __asm__("" : "+m"(*K));
}

// o[l] = word l of Philox4x32-10 of blocks b .. b+7 (ctr[2] = c2, ctr[3] = c3), in block order.
WI_FN void WI_N(philox8)(const WI_N(keys) *K, uint64_t b, uint32_t c2, uint32_t c3, __m256i o[4]) {
    const __m256i base = _mm256_set1_epi64x((long long)b);
    __m256i a0 = _mm256_add_epi64(base, _mm256_setr_epi64x(0, 1, 4, 5));
    __m256i b0 = _mm256_add_epi64(base, _mm256_setr_epi64x(2, 3, 6, 7));
    __m256i a1 = _mm256_srli_epi64(a0, 32), b1 = _mm256_srli_epi64(b0, 32);
    __m256i a2 = _mm256_set1_epi32((int)c2), b2 = a2;
    __m256i a3 = _mm256_set1_epi32((int)c3), b3 = a3;
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0);
    const __m256i m1 = _mm256_set1_epi32((int)PHILOX_M1);
#pragma GCC unroll 10
    for (int r = 0; r < 10; r++) {
        __m256i pa0 = _mm256_mul_epu32(a0, m0), pa1 = _mm256_mul_epu32(a2, m1);
        __m256i pb0 = _mm256_mul_epu32(b0, m0), pb1 = _mm256_mul_epu32(b2, m1);
        // (x1 ^ key) does not wait for the multiply: one op less on the serial chain.
        a0 = _mm256_xor_si256(_mm256_srli_epi64(pa1, 32), _mm256_xor_si256(a1, K->k0[r]));
        a2 = _mm256_xor_si256(_mm256_srli_epi64(pa0, 32), _mm256_xor_si256(a3, K->k1[r]));
        a1 = pa1;
        a3 = pa0;
        b0 = _mm256_xor_si256(_mm256_srli_epi64(pb1, 32), _mm256_xor_si256(b1, K->k0[r]));
        b2 = _mm256_xor_si256(_mm256_srli_epi64(pb0, 32), _mm256_xor_si256(b3, K->k1[r]));
        b1 = pb1;
        b3 = pb0;
    }
#define WI_PACK(x, y) _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(x), _mm256_castsi256_ps(y), 0x88))
    o[0] = WI_PACK(a0, b0);
    o[1] = WI_PACK(a1, b1);
    o[2] = WI_PACK(a2, b2);
    o[3] = WI_PACK(a3, b3);
#undef WI_PACK
}
#endif

#if WI_LEVEL == 1
WI_FN void WI_N(philox_chunk_k)(const WI_N(keys) *K, uint64_t c, uint32_t c2, uint32_t c3,
                                uint32_t w[4][NB]) {
    for (int h = 0; h < 2; h++) {
        __m256i o[4];
        WI_N(philox8)(K, c * NB + 8u * (unsigned)h, c2, c3, o);
        for (int l = 0; l < 4; l++) _mm256_storeu_si256((__m256i *)(w[l] + 8 * h), o[l]);
    }
}
#endif

WI_FN void WI_N(philox_chunk)(uint64_t c, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t w[4][NB]) {
#if WI_LEVEL == 2
    WI_N(pstate) S;
    WI_N(pstart)(&S, c, c2, c3);
    WI_N(prounds)(&S, 0, 10, k0, k1);
    WI_N(pfinish)(&S, w);
#elif WI_LEVEL == 1
    WI_N(keys) K;
    WI_N(keysched)(&K, k0, k1);
    WI_N(philox_chunk_k)(&K, c, c2, c3, w);
#else
    for (int j = 0; j < NB; j++) {
        uint64_t b = c * NB + (uint64_t)j;
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

#if WI_LEVEL == 1
// AVX2: the same values, 8 blocks (32 values) at a time from registers.
WI_FN void WI_N(chunk_uniform_f32_v)(float *dst, uint64_t c, const WI_N(keys) *K, __m256 low,
                                     __m256 range, __m256 hmax) {
    const __m256 s24 = _mm256_set1_ps(0x1p-24f);
    for (int h = 0; h < 2; h++) {
        __m256i o[4];
        WI_N(philox8)(K, c * NB + 8u * (unsigned)h, 0, WI_STREAM_UNIFORM, o);
        for (int l = 0; l < 4; l++) {
            __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(o[l], 8)), s24);
            _mm256_storeu_ps(dst + NB * l + 8 * h, _mm256_min_ps(_mm256_fmadd_ps(u, range, low), hmax));
        }
    }
}
#endif

WI_FN void WI_N(impl_uniform_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                  uint32_t k1, float low, float high) {
    if (count == 0) return;
    float range = high - low;
    float hmax = nextafterf(high, low);
#if WI_LEVEL == 1
    WI_N(keys) K;
    WI_N(keysched)(&K, k0, k1);
    const __m256 vl = _mm256_set1_ps(low), vr = _mm256_set1_ps(range), vh = _mm256_set1_ps(hmax);
    WI_FOR_CHUNKS(float, E32, out, start, count, WI_N(chunk_uniform_f32_v)(dst_, c_, &K, vl, vr, vh));
#else
    WI_FOR_CHUNKS(float, E32, out, start, count,
                  WI_N(chunk_uniform_f32)(dst_, c_, k0, k1, low, range, hmax));
#endif
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
// Box–Muller pair k (0..2) of the 16 blocks in w: values 32k + j (cos) and 32k + 16 + j (sin)
// of the chunk, fma(±R·σ, cos/sin θ, offset) (bm_f32; PM = B->post_mul as a constant).
WI_FN void WI_N(bm_pairs_f32)(float *dst, uint32_t w[4][NB], int k, const wi_bm32 *B, int PM) {
    for (int j = 0; j < NB; j++) {
        float zc, zs;
        uint32_t v, r20;
        pair_bits_f32(w[0][j], w[1][j], w[2][j], w[3][j], k, &v, &r20);
        bm_f32(v, r20, B, PM, &zc, &zs);
        dst[2 * NB * k + j] = zc;
        dst[2 * NB * k + NB + j] = zs;
    }
}

#if WI_LEVEL == 1
// bm_f32 on 8 lanes with AVX2 intrinsics: the same operations in the same order (each one
// correctly rounded, fmadd where bm_f32 has WI_FMAF), hence the same bytes.
WI_FN void WI_N(bm8)(__m256i v, __m256i r20, const wi_bm32 *B, int PM, __m256 *zc, __m256 *zs) {
    const __m256i sqh = _mm256_set1_epi32((int)SQRTHALF_F_BITS);
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i ix = _mm256_sub_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(v)), sqh);
    __m256i k = _mm256_srli_epi32(ix, 23);
    __m256 m = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(ix, _mm256_set1_epi32(0x7FFFFF)), sqh));
    __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
    __m256 s2 = _mm256_mul_ps(s, s);
    __m256 p = _mm256_fmadd_ps(s2, _mm256_set1_ps(0x1.31e0bcp-3f), _mm256_set1_ps(0x1.995ed0p-3f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(0x1.55557ap-2f));
    __m256 t = _mm256_mul_ps(_mm256_set1_ps(B->c4), s);
    __m256 lm = _mm256_fmadd_ps(t, _mm256_mul_ps(s2, p), t);
    __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(23), k));
    __m256 r = _mm256_sqrt_ps(_mm256_fmadd_ps(e, _mm256_set1_ps(B->cl), lm));
    if (PM) r = _mm256_mul_ps(r, _mm256_set1_ps(B->post));
    __m256i h = _mm256_add_epi32(r20, _mm256_set1_epi32(1 << 17));
    __m256i n = _mm256_srli_epi32(h, 18);
    __m256 f = _mm256_sub_ps(
        _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(h, 5), _mm256_set1_epi32(0x7FFFE0)),
                                            _mm256_set1_epi32(0x3F800000))),
        _mm256_set1_ps(1.5f));
    __m256 f2 = _mm256_mul_ps(f, f);
    __m256 sp = _mm256_fmadd_ps(f2, _mm256_set1_ps(-0x1.2d936cp-8f), _mm256_set1_ps(0x1.465e94p-4f));
    sp = _mm256_fmadd_ps(sp, f2, _mm256_set1_ps(-0x1.4abbbap-1f));
    sp = _mm256_fmadd_ps(sp, f2, _mm256_set1_ps(0x1.921fb6p+0f));
    __m256 sn = _mm256_mul_ps(f, sp);
    __m256 cp = _mm256_fmadd_ps(f2, _mm256_set1_ps(0x1.d9f82ap-11f), _mm256_set1_ps(-0x1.55c666p-6f));
    cp = _mm256_fmadd_ps(cp, f2, _mm256_set1_ps(0x1.03c1dep-2f));
    cp = _mm256_fmadd_ps(cp, f2, _mm256_set1_ps(-0x1.3bd3ccp+0f));
    __m256 cs = _mm256_fmadd_ps(f2, cp, one);
    __m256 odd = _mm256_castsi256_ps(_mm256_slli_epi32(n, 31));
    __m256 oc = _mm256_blendv_ps(cs, sn, odd), os = _mm256_blendv_ps(sn, cs, odd);
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    __m256i rb = _mm256_castps_si256(r);
    __m256 rc = _mm256_castsi256_ps(_mm256_xor_si256(rb, _mm256_and_si256(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(1)), 30), sign)));
    __m256 rs = _mm256_castsi256_ps(_mm256_xor_si256(rb, _mm256_and_si256(_mm256_slli_epi32(n, 30), sign)));
    const __m256 off = _mm256_set1_ps(B->offset);
    *zc = _mm256_fmadd_ps(rc, oc, off);
    *zs = _mm256_fmadd_ps(rs, os, off);
}

// Values of blocks 8h .. 8h+7 of a chunk (words w0..w3 of those blocks): the three pairs
// (pair_bits_f32) to dst[32k + 8h + j] (cos) and dst[32k + 16 + 8h + j] (sin).
WI_FN void WI_N(bm_half_f32)(float *dst, int h, const __m256i o[4], const wi_bm32 *B, int PM) {
    const __m256i one = _mm256_set1_epi32(1), m10 = _mm256_set1_epi32(0x3FF);
    __m256 zc, zs;
    WI_N(bm8)(_mm256_or_si256(_mm256_srli_epi32(o[0], 9), one), _mm256_srli_epi32(o[3], 12), B, PM, &zc, &zs);
    _mm256_storeu_ps(dst + 8 * h, zc);
    _mm256_storeu_ps(dst + NB + 8 * h, zs);
    WI_N(bm8)(_mm256_or_si256(_mm256_srli_epi32(o[1], 9), one),
              _mm256_or_si256(_mm256_slli_epi32(o[0], 10), _mm256_and_si256(o[3], m10)), B, PM, &zc, &zs);
    _mm256_storeu_ps(dst + 2 * NB + 8 * h, zc);
    _mm256_storeu_ps(dst + 3 * NB + 8 * h, zs);
    WI_N(bm8)(_mm256_or_si256(_mm256_srli_epi32(o[2], 9), one),
              _mm256_or_si256(_mm256_slli_epi32(o[1], 10), _mm256_and_si256(o[2], m10)), B, PM, &zc, &zs);
    _mm256_storeu_ps(dst + 4 * NB + 8 * h, zc);
    _mm256_storeu_ps(dst + 5 * NB + 8 * h, zs);
}

WI_FN void WI_N(chunk_bm_f32_v)(float *dst, uint64_t c, uint32_t attempt, uint32_t stream,
                                const WI_N(keys) *K, const wi_bm32 *B, int PM) {
    for (int h = 0; h < 2; h++) {
        __m256i o[4];
        WI_N(philox8)(K, c * NB + 8u * (unsigned)h, attempt, stream, o);
        WI_N(bm_half_f32)(dst, h, o, B, PM);
    }
}
#endif

// One f32 chunk (96 values, chunk layout above).
WI_FN void WI_N(chunk_bm_f32)(float *dst, uint64_t c, uint32_t attempt, uint32_t stream,
                              uint32_t k0, uint32_t k1, const wi_bm32 *B, int PM) {
#if WI_LEVEL == 1
    WI_N(keys) K;
    WI_N(keysched)(&K, k0, k1);
    WI_N(chunk_bm_f32_v)(dst, c, attempt, stream, &K, B, PM);
#else
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    for (int k = 0; k < 3; k++) WI_N(bm_pairs_f32)(dst, w, k, B, PM);
#endif
}

// Chunks c0 .. c0+nc-1 into dst (96 values each). At level 2 the Philox rounds of chunk i+1
// run interleaved with the Box–Muller pairs of chunk i (the two compete for different
// execution ports; measured 15% faster than one after the other).
WI_FN void WI_N(run_bm_f32)(float *dst, uint64_t c0, uint64_t nc, uint32_t attempt,
                            uint32_t stream, uint32_t k0, uint32_t k1, const wi_bm32 *B, int PM) {
#if WI_LEVEL == 2
    if (nc == 0) return;
    uint32_t w[4][NB];
    WI_N(pstate) S;
    WI_N(philox_chunk)(c0, attempt, stream, k0, k1, w);
    for (uint64_t i = 0; i < nc; i++) {
        float *d = dst + EN32 * i;
        if (i + 1 == nc) {
            for (int k = 0; k < 3; k++) WI_N(bm_pairs_f32)(d, w, k, B, PM);
            break;
        }
        WI_N(pstart)(&S, c0 + i + 1, attempt, stream);
        WI_N(prounds)(&S, 0, 2, k0, k1);
        WI_N(bm_pairs_f32)(d, w, 0, B, PM);
        WI_N(prounds)(&S, 2, 4, k0, k1);
        WI_N(bm_pairs_f32)(d, w, 1, B, PM);
        WI_N(prounds)(&S, 4, 6, k0, k1);
        WI_N(bm_pairs_f32)(d, w, 2, B, PM);
        WI_N(prounds)(&S, 6, 10, k0, k1);
        WI_N(pfinish)(&S, w);
    }
#elif WI_LEVEL == 1
    WI_N(keys) K;
    WI_N(keysched)(&K, k0, k1);
    // Software pipeline over half chunks (8 blocks): the Philox rounds of the next half are
    // issued next to the Box–Muller of the current one (Philox is a serial chain of
    // multiplies; on its own it leaves the vector pipes idle).
    if (nc == 0) return;
    __m256i o[4];
    WI_N(philox8)(&K, c0 * NB, attempt, stream, o);
    for (uint64_t t = 0; t + 1 < 2 * nc; t++) {
        __m256i q[4];
        WI_N(philox8)(&K, c0 * NB + 8u * (t + 1), attempt, stream, q);
        WI_N(bm_half_f32)(dst + EN32 * (t >> 1), (int)(t & 1), o, B, PM);
        o[0] = q[0]; o[1] = q[1]; o[2] = q[2]; o[3] = q[3];
    }
    WI_N(bm_half_f32)(dst + EN32 * (nc - 1), 1, o, B, PM);
#else
    for (uint64_t i = 0; i < nc; i++)
        WI_N(chunk_bm_f32)(dst + EN32 * i, c0 + i, attempt, stream, k0, k1, B, PM);
#endif
}

WI_FN void WI_N(normal_f32_body)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, const wi_bm32 *B, int PM) {
    // Whole chunks in one pipelined run; a partial chunk at either end through the driver.
    uint64_t end = start + count, cf = (start + EN32 - 1) / EN32, cl = end / EN32;
    if (cf >= cl) {
        WI_FOR_CHUNKS(float, EN32, out, start, count,
                      WI_N(chunk_bm_f32)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, B, PM));
        return;
    }
    if (start < cf * EN32)
        WI_FOR_CHUNKS(float, EN32, out, start, cf * EN32 - start,
                      WI_N(chunk_bm_f32)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, B, PM));
    WI_N(run_bm_f32)(out + (cf * EN32 - start), cf, cl - cf, 0, WI_STREAM_NORMAL, k0, k1, B, PM);
    if (cl * EN32 < end)
        WI_FOR_CHUNKS(float, EN32, out + (cl * EN32 - start), cl * EN32, end - cl * EN32,
                      WI_N(chunk_bm_f32)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, B, PM));
}

WI_FN void WI_N(impl_normal_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, float mean, float std) {
    if (count == 0) return;
    if (std == 0.0f) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    wi_bm32 B = bm32_params(std, mean);
    if (B.post_mul) WI_N(normal_f32_body)(out, start, count, k0, k1, &B, 1);
    else WI_N(normal_f32_body)(out, start, count, k0, k1, &B, 0);
}

// Box–Muller of blocks j0 .. j0+7 of w (f64): values j (cos) and 16 + j (sin) of the chunk.
WI_FN void WI_N(bm_half_f64)(double *dst, uint32_t w[4][NB], int j0, double scale, double offset) {
    for (int j = j0; j < j0 + 8; j++) {
        double zc, zs;
        bm_f64(w[0][j], w[1][j], w[2][j], w[3][j], scale, offset, &zc, &zs);
        dst[j] = zc;
        dst[NB + j] = zs;
    }
}

// One f64 chunk (32 values).
WI_FN void WI_N(chunk_bm_f64)(double *dst, uint64_t c, uint32_t attempt, uint32_t stream,
                              uint32_t k0, uint32_t k1, double scale, double offset) {
    uint32_t w[4][NB];
    WI_N(philox_chunk)(c, attempt, stream, k0, k1, w);
    WI_N(bm_half_f64)(dst, w, 0, scale, offset);
    WI_N(bm_half_f64)(dst, w, 8, scale, offset);
}

// Chunks c0 .. c0+nc-1 into dst (32 values each); at level 2 pipelined as run_bm_f32.
WI_FN void WI_N(run_bm_f64)(double *dst, uint64_t c0, uint64_t nc, uint32_t attempt,
                            uint32_t stream, uint32_t k0, uint32_t k1, double scale, double offset) {
#if WI_LEVEL == 2
    if (nc == 0) return;
    uint32_t w[4][NB];
    WI_N(pstate) S;
    WI_N(philox_chunk)(c0, attempt, stream, k0, k1, w);
    for (uint64_t i = 0; i < nc; i++) {
        double *d = dst + E64 * i;
        if (i + 1 == nc) {
            WI_N(bm_half_f64)(d, w, 0, scale, offset);
            WI_N(bm_half_f64)(d, w, 8, scale, offset);
            break;
        }
        WI_N(pstart)(&S, c0 + i + 1, attempt, stream);
        WI_N(prounds)(&S, 0, 3, k0, k1);
        WI_N(bm_half_f64)(d, w, 0, scale, offset);
        WI_N(prounds)(&S, 3, 6, k0, k1);
        WI_N(bm_half_f64)(d, w, 8, scale, offset);
        WI_N(prounds)(&S, 6, 10, k0, k1);
        WI_N(pfinish)(&S, w);
    }
#elif WI_LEVEL == 1
    WI_N(keys) K;
    WI_N(keysched)(&K, k0, k1);
    for (uint64_t i = 0; i < nc; i++) {
        uint32_t w[4][NB];
        WI_N(philox_chunk_k)(&K, c0 + i, attempt, stream, w);
        WI_N(bm_half_f64)(dst + E64 * i, w, 0, scale, offset);
        WI_N(bm_half_f64)(dst + E64 * i, w, 8, scale, offset);
    }
#else
    for (uint64_t i = 0; i < nc; i++)
        WI_N(chunk_bm_f64)(dst + E64 * i, c0 + i, attempt, stream, k0, k1, scale, offset);
#endif
}

WI_FN void WI_N(impl_normal_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                 uint32_t k1, double mean, double std) {
    if (count == 0) return;
    if (std == 0.0) {
        for (uint64_t j = 0; j < count; j++) out[j] = mean;
        return;
    }
    uint64_t end = start + count, cf = (start + E64 - 1) / E64, cl = end / E64;
    if (cf >= cl) {
        WI_FOR_CHUNKS(double, E64, out, start, count,
                      WI_N(chunk_bm_f64)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, std, mean));
        return;
    }
    if (start < cf * E64)
        WI_FOR_CHUNKS(double, E64, out, start, cf * E64 - start,
                      WI_N(chunk_bm_f64)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, std, mean));
    WI_N(run_bm_f64)(out + (cf * E64 - start), cf, cl - cf, 0, WI_STREAM_NORMAL, k0, k1, std, mean);
    if (cl * E64 < end)
        WI_FOR_CHUNKS(double, E64, out + (cl * E64 - start), cl * E64, end - cl * E64,
                      WI_N(chunk_bm_f64)(dst_, c_, 0, WI_STREAM_NORMAL, k0, k1, std, mean));
}

// ---- truncated normal (rejection path) -------------------------------------------------
// Candidates are normal values y = fma(±R·std, cos/sin θ, mean) (the normal layout with
// stream 2); y is accepted iff a <= y <= b (for f32: the floats inside [a, b]), so every
// output lies in [a, b] with no clamping. Appends the accepted values of y[0 .. E) to dst[n ..]
// in order, stopping at S outputs; returns the new n (< S on entry). y may alias dst at or
// after dst + n (in-place compaction: writes never pass the read position).
WI_FN size_t WI_N(compact_f32)(float *dst, size_t n, const float *y, const wi_trunc_params *P) {
#if WI_LEVEL == 2
    const __m512 lo = _mm512_set1_ps(P->af), hi = _mm512_set1_ps(P->bf);
    if (n + EN32 <= ST32) {
        // Whole chunk fits: all loads and masks first, so that the only serial dependence
        // between the stores is one add per vector; plain 16-lane stores (the lanes past the
        // count are overwritten by the next store; the last one ends inside this chunk's
        // already-read candidates or below S).
        __mmask16 m[EN32 / 16];
        __m512 v[EN32 / 16];
        for (int l = 0; l < EN32 / 16; l++) {
            v[l] = _mm512_loadu_ps(y + 16 * l);
            m[l] = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(v[l], lo, _CMP_GE_OQ), v[l], hi, _CMP_LE_OQ);
        }
        for (int l = 0; l < EN32 / 16; l++) {
            unsigned cnt = (unsigned)__builtin_popcount((unsigned)m[l]);
            _mm512_storeu_ps(dst + n, _mm512_maskz_compress_ps(m[l], v[l]));
            n += cnt;
        }
        return n;
    }
    for (int l = 0; l < EN32; l += 16) {
        __m512 v = _mm512_loadu_ps(y + l);
        __mmask16 m = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(v, lo, _CMP_GE_OQ), v, hi, _CMP_LE_OQ);
        unsigned cnt = (unsigned)__builtin_popcount((unsigned)m);
        size_t room = ST32 - n;
        if (cnt > room) cnt = (unsigned)room;
        _mm512_mask_storeu_ps(dst + n, (__mmask16)((1u << cnt) - 1u), _mm512_maskz_compress_ps(m, v));
        n += cnt;
        if (n == ST32) break;
    }
    return n;
#elif WI_LEVEL == 1
    if (n + EN32 <= ST32) {
        // Whole chunk fits: per 8 candidates, the accepted lanes are moved to the front
        // (vpermps with the indices of wi_leftpack8) and all 8 lanes stored at dst + n; the
        // lanes past the count are overwritten by the next store or lie inside this chunk's
        // already-read candidates (n <= read position), never past them.
        const __m256 lo = _mm256_set1_ps(P->af), hi = _mm256_set1_ps(P->bf);
        const __m256i sh = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
        for (int l = 0; l < EN32; l += 8) {
            __m256 v = _mm256_loadu_ps(y + l);
            __m256 m = _mm256_and_ps(_mm256_cmp_ps(v, lo, _CMP_GE_OQ), _mm256_cmp_ps(v, hi, _CMP_LE_OQ));
            uint32_t e = wi_leftpack8[_mm256_movemask_ps(m)];
            __m256i idx = _mm256_srlv_epi32(_mm256_set1_epi32((int)e), sh);   // vpermps reads bits 0..2
            _mm256_storeu_ps(dst + n, _mm256_permutevar8x32_ps(v, idx));
            n += e >> 24;
        }
        return n;
    }
    // A chunk that may reach S: the scalar loop below (stops exactly at S).
#endif
#if WI_LEVEL != 2
    float af = P->af, bf = P->bf;
    for (int l = 0; l < EN32; l++) {
        float v = y[l];
        dst[n] = v;
        n += (size_t)(v >= af && v <= bf);
        if (n == ST32) break;
    }
    return n;
#endif
}

WI_FN size_t WI_N(compact_f64)(double *dst, size_t n, const double *y, const wi_trunc_params *P) {
#if WI_LEVEL == 2
    const __m512d lo = _mm512_set1_pd(P->a), hi = _mm512_set1_pd(P->b);
    if (n + E64 <= ST64) {
        __mmask8 m[E64 / 8];
        __m512d v[E64 / 8];
        for (int l = 0; l < E64 / 8; l++) {
            v[l] = _mm512_loadu_pd(y + 8 * l);
            m[l] = _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(v[l], lo, _CMP_GE_OQ), v[l], hi, _CMP_LE_OQ);
        }
        for (int l = 0; l < E64 / 8; l++) {
            unsigned cnt = (unsigned)__builtin_popcount((unsigned)m[l]);
            _mm512_storeu_pd(dst + n, _mm512_maskz_compress_pd(m[l], v[l]));
            n += cnt;
        }
        return n;
    }
    for (int l = 0; l < E64; l += 8) {
        __m512d v = _mm512_loadu_pd(y + l);
        __mmask8 m = _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(v, lo, _CMP_GE_OQ), v, hi, _CMP_LE_OQ);
        unsigned cnt = (unsigned)__builtin_popcount((unsigned)m);
        size_t room = ST64 - n;
        if (cnt > room) cnt = (unsigned)room;
        _mm512_mask_storeu_pd(dst + n, (__mmask8)((1u << cnt) - 1u), _mm512_maskz_compress_pd(m, v));
        n += cnt;
        if (n == ST64) break;
    }
    return n;
#else
    double a = P->a, b = P->b;
    for (int l = 0; l < E64; l++) {
        double v = y[l];
        dst[n] = v;
        n += (size_t)(v >= a && v <= b);
        if (n == ST64) break;
    }
    return n;
#endif
}

// The S outputs of group g (layout above) into dst[0 .. S).
WI_FN void WI_N(group_trunc_f32)(float *dst, uint64_t g, uint32_t k0, uint32_t k1,
                                 const wi_trunc_params *P, const wi_bm32 *B, int PM) {
    float z[EN32];
    size_t n = 0;
    // Candidate chunks 0..15 straight into dst (pipelined), then compacted in place (writes
    // never pass the read position); fusing the compaction into the pipeline measured slower.
    WI_N(run_bm_f32)(dst, g * TG, TG, 0, WI_STREAM_TRUNCATED, k0, k1, B, PM);
    for (int q = 0; q < TG; q++) n = WI_N(compact_f32)(dst, n, dst + EN32 * q, P);
    for (uint32_t q = TG; n < ST32; q++) {
        if (q >= WI_GROUP_CAP) { // float rounding left (almost) no candidate inside [a, b]
            for (; n < ST32; n++) dst[n] = robert_f32(g * ST32 + n, k0, k1, P);
            return;
        }
        WI_N(chunk_bm_f32)(z, g * TG + q % TG, q / TG, WI_STREAM_TRUNCATED, k0, k1, B, PM);
        n = WI_N(compact_f32)(dst, n, z, P);
    }
}

WI_FN void WI_N(group_trunc_f64)(double *dst, uint64_t g, uint32_t k0, uint32_t k1,
                                 const wi_trunc_params *P) {
    double z[E64];
    size_t n = 0;
    WI_N(run_bm_f64)(dst, g * TG, TG, 0, WI_STREAM_TRUNCATED, k0, k1, P->std, P->mean);
    for (int q = 0; q < TG; q++) n = WI_N(compact_f64)(dst, n, dst + E64 * q, P);
    for (uint32_t q = TG; n < ST64; q++) {
        if (q >= WI_GROUP_CAP) {
            for (; n < ST64; n++) dst[n] = robert_f64(g * ST64 + n, k0, k1, P);
            return;
        }
        WI_N(chunk_bm_f64)(z, g * TG + q % TG, q / TG, WI_STREAM_TRUNCATED, k0, k1, P->std, P->mean);
        n = WI_N(compact_f64)(dst, n, z, P);
    }
}

WI_FN void WI_N(impl_trunc_f32)(float *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    wi_bm32 B = bm32_params(P->stdf, P->meanf);
    if (B.post_mul)
        WI_FOR_CHUNKS(float, ST32, out, start, count, WI_N(group_trunc_f32)(dst_, c_, k0, k1, P, &B, 1));
    else
        WI_FOR_CHUNKS(float, ST32, out, start, count, WI_N(group_trunc_f32)(dst_, c_, k0, k1, P, &B, 0));
}

WI_FN void WI_N(impl_trunc_f64)(double *out, uint64_t start, uint64_t count, uint32_t k0,
                                uint32_t k1, const wi_trunc_params *P) {
    WI_FOR_CHUNKS(double, ST64, out, start, count, WI_N(group_trunc_f64)(dst_, c_, k0, k1, P));
}

// ---- truncated normal (Robert path, mass < 0.05) ---------------------------------------
// Attempt 0 of 16 consecutive elements (16c .. 16c+15: Philox blocks of the same index) in one
// vectorized pass; elements it rejects retry alone from attempt 1 (robert_x). Same bytes as
// the scalar sampler. (Further vectorized attempts for low acceptance rates measured slower.)
WI_FN void WI_N(robert_chunk)(double *x, uint64_t c, uint32_t k0, uint32_t k1,
                              const wi_trunc_params *P) {
    uint32_t w[4][NB];
    int acc[NB];
    WI_N(philox_chunk)(c, 0, WI_STREAM_TRUNCATED_TAIL, k0, k1, w);
    if (P->method == 0)
        for (int j = 0; j < NB; j++) acc[j] = robert_try(w[0][j], w[1][j], w[2][j], w[3][j], P, 0, &x[j]);
    else
        for (int j = 0; j < NB; j++) acc[j] = robert_try(w[0][j], w[1][j], w[2][j], w[3][j], P, 1, &x[j]);
    for (int j = 0; j < NB; j++)
        if (!acc[j]) x[j] = robert_x(c * NB + (uint64_t)j, 1, k0, k1, P);
}

WI_FN void WI_N(robert_chunk_f64)(double *dst, uint64_t c, uint32_t k0, uint32_t k1,
                                  const wi_trunc_params *P) {
    double x[NB];
    WI_N(robert_chunk)(x, c, k0, k1, P);
    for (int j = 0; j < NB; j++) dst[j] = clampd_nan(x[j], P->a, P->b);
}

WI_FN void WI_N(robert_chunk_f32)(float *dst, uint64_t c, uint32_t k0, uint32_t k1,
                                  const wi_trunc_params *P) {
    double x[NB];
    WI_N(robert_chunk)(x, c, k0, k1, P);
    for (int j = 0; j < NB; j++) dst[j] = trunc_to_f32(x[j], P);
}

WI_ATTR static void WI_N(robert_f32)(float *o, uint64_t s, uint64_t n, uint32_t k0, uint32_t k1,
                                     const wi_trunc_params *P) {
    WI_FOR_CHUNKS(float, NB, o, s, n, WI_N(robert_chunk_f32)(dst_, c_, k0, k1, P));
}
WI_ATTR static void WI_N(robert_f64)(double *o, uint64_t s, uint64_t n, uint32_t k0, uint32_t k1,
                                     const wi_trunc_params *P) {
    WI_FOR_CHUNKS(double, NB, o, s, n, WI_N(robert_chunk_f64)(dst_, c_, k0, k1, P));
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
    WI_N(uniform_f32), WI_N(uniform_f64), WI_N(normal_f32), WI_N(normal_f64),
    WI_N(trunc_f32),   WI_N(trunc_f64),   WI_N(robert_f32), WI_N(robert_f64)};

#undef WI_FN
#undef WI_N
#undef WI_CAT
#undef WI_CAT2
