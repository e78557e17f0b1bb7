// Standalone test + benchmark of Sources/CFillKernels (dev tool; see run.sh).
// Checks: Philox KAT, bit-identical paths (portable/AVX2/AVX-512), split invariance,
// moments at n = 1e7 (|err| <= 6 standard errors), bounds; dumps samples for ks.py; GB/s.
#include "CFillKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL: " __VA_ARGS__); printf("\n"); } } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

enum { U32, U64, N32, N64, T32, T64, UU64, NKIND };
static const char *kname[NKIND] = {"uniform_f32", "uniform_f64", "normal_f32", "normal_f64", "trunc_f32", "trunc_f64", "unit_uniform_f64"};
typedef struct { double p0, p1, a, b; } prm;

static size_t esize(int k) { return (k == U32 || k == N32 || k == T32) ? 4 : 8; }

static void fill(int k, void *o, uint64_t s, uint64_t n, prm p) {
    const uint32_t k0 = 0x12345678u, k1 = 0x9abcdef0u;
    switch (k) {
    case U32: wi_fill_uniform_f32(o, s, n, k0, k1, (float)p.p0, (float)p.p1); break;
    case U64: wi_fill_uniform_f64(o, s, n, k0, k1, p.p0, p.p1); break;
    case N32: wi_fill_normal_f32(o, s, n, k0, k1, (float)p.p0, (float)p.p1); break;
    case N64: wi_fill_normal_f64(o, s, n, k0, k1, p.p0, p.p1); break;
    case T32: wi_fill_truncated_normal_f32(o, s, n, k0, k1, p.p0, p.p1, p.a, p.b); break;
    case T64: wi_fill_truncated_normal_f64(o, s, n, k0, k1, p.p0, p.p1, p.a, p.b); break;
    case UU64: wi_fill_unit_uniform_f64(o, s, n, k0, k1, 17); break;
    }
}

static double get(int k, const void *o, size_t i) { return esize(k) == 4 ? ((const float *)o)[i] : ((const double *)o)[i]; }

static double phi(double x) { return isinf(x) ? 0.0 : exp(-0.5 * x * x) / sqrt(2 * M_PI); }
static double Phi_mass(double al, double be) {
    const double r2 = 0.70710678118654752440;
    if (al >= 0) return 0.5 * (erfc(al * r2) - erfc(be * r2));
    if (be <= 0) return 0.5 * (erfc(-be * r2) - erfc(-al * r2));
    return 1.0 - 0.5 * erfc(-al * r2) - 0.5 * erfc(be * r2);
}
static void expected(int k, prm p, double *m, double *sd) {
    if (k == U32 || k == U64) { *m = 0.5 * (p.p0 + p.p1); *sd = (p.p1 - p.p0) / sqrt(12.0); return; }
    if (k == UU64) { *m = 0.5; *sd = 1 / sqrt(12.0); return; }
    if (k == N32 || k == N64) { *m = p.p0; *sd = p.p1; return; }
    double al = (p.a - p.p0) / p.p1, be = (p.b - p.p0) / p.p1, Z = Phi_mass(al, be);
    double d = (phi(al) - phi(be)) / Z;
    double t = (isinf(al) ? 0 : al * phi(al)) - (isinf(be) ? 0 : be * phi(be));
    *m = p.p0 + p.p1 * d;
    *sd = p.p1 * sqrt(1 + t / Z - d * d);
}

static int levels[3], nlevels = 0;

static void test_identity_and_split(int k, prm p) {
    const uint64_t n = 100003;
    size_t es = esize(k);
    unsigned char *ref = malloc(n * es), *x = malloc(n * es);
    wi_set_kernel_level(0);
    fill(k, ref, 0, n, p);
    for (int li = 0; li < nlevels; li++) {
        wi_set_kernel_level(levels[li]);
        memset(x, 0xAB, n * es);
        fill(k, x, 0, n, p);
        CHECK(memcmp(ref, x, n * es) == 0, "%s: level %d differs from portable", kname[k], levels[li]);
        const uint64_t splits[] = {1, 3, 63, 65, 127, 4097, 33333, 99999};
        for (size_t si = 0; si < sizeof splits / sizeof splits[0]; si++) {
            uint64_t s = splits[si];
            memset(x, 0xCD, n * es);
            fill(k, x, 0, s, p);
            fill(k, x + s * es, s, n - s, p);
            CHECK(memcmp(ref, x, n * es) == 0, "%s level %d: split at %llu differs", kname[k], levels[li], (unsigned long long)s);
        }
        // many small odd pieces
        memset(x, 0xEF, n * es);
        for (uint64_t s = 0, step = 1; s < n; s += step, step = (step * 7 + 3) % 301 + 1) {
            uint64_t c = (s + step > n) ? n - s : step;
            fill(k, x + s * es, s, c, p);
        }
        CHECK(memcmp(ref, x, n * es) == 0, "%s level %d: ragged split differs", kname[k], levels[li]);
    }
    free(ref); free(x);
}

static void test_moments(int k, prm p, const char *dump, double bound_lo, double bound_hi) {
    const uint64_t n = 10000000;
    size_t es = esize(k);
    void *o = malloc(n * es);
    wi_set_kernel_level(-1);
    fill(k, o, 0, n, p);
    double s1 = 0, mn = INFINITY, mx = -INFINITY;
    for (uint64_t i = 0; i < n; i++) { double v = get(k, o, i); s1 += v; if (v < mn) mn = v; if (v > mx) mx = v; }
    double mean = s1 / n, m2 = 0, m4 = 0;
    for (uint64_t i = 0; i < n; i++) { double d = get(k, o, i) - mean; m2 += d * d; m4 += d * d * d * d; }
    m2 /= n; m4 /= n;
    double sd = sqrt(m2), em, esd;
    expected(k, p, &em, &esd);
    double se_m = esd / sqrt((double)n), se_sd = sqrt((m4 - m2 * m2) / n) / (2 * sd);
    double zm = (mean - em) / se_m, zs = (sd - esd) / se_sd;
    printf("  %-16s p=(%g,%g,[%g,%g]) mean %.7g (exp %.7g, %+.2f se)  std %.7g (exp %.7g, %+.2f se)  min %.5g max %.5g\n",
           kname[k], p.p0, p.p1, p.a, p.b, mean, em, zm, sd, esd, zs, mn, mx);
    CHECK(fabs(zm) <= 6 && fabs(zs) <= 6, "%s moments off", kname[k]);
    CHECK(mn >= bound_lo && mx <= bound_hi, "%s out of bounds [%g,%g]: min %g max %g", kname[k], bound_lo, bound_hi, mn, mx);
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (f) { fwrite(o, es, n, f); fclose(f); }
    }
    free(o);
}

static void *(*volatile memset_v)(void *, int, size_t) = memset;

// 2-thread timing: each thread fills one half of the buffer (a split: identical bytes).
typedef struct { int k; char *buf; uint64_t s, n; prm p; int memset_only; } job;
static void *run_job(void *a) {
    job *j = a;
    if (j->memset_only) memset_v(j->buf + j->s * 4, 3, j->n * 4);
    else fill(j->k, j->buf + j->s * esize(j->k), j->s, j->n, j->p);
    return NULL;
}
static double time2(int k, void *buf, uint64_t n, prm p, int memset_only) {
    job j[2] = {{k, buf, 0, n / 2, p, memset_only}, {k, buf, n / 2, n - n / 2, p, memset_only}};
    pthread_t t;
    double t0 = now();
    pthread_create(&t, NULL, run_job, &j[1]);
    run_job(&j[0]);
    pthread_join(t, NULL);
    return now() - t0;
}

static void bench(void) {
    const uint64_t n = 4096ull * 4096ull;
    void *buf = aligned_alloc(64, n * 8);
    memset(buf, 1, n * 8);
    double best = 1e9;
    for (int r = 0; r < 5; r++) { double t = now(); memset_v(buf, r, n * 4); t = now() - t; if (t < best) best = t; }
    double memset_gbps = n * 4 / best / 1e9;
    printf("bench n=4096^2, single thread, best of 5. memset(64MB) %.2f GB/s\n", memset_gbps);
    prm ps[NKIND] = {{-1, 1, 0, 0}, {-1, 1, 0, 0}, {0, 1, 0, 0}, {0, 1, 0, 0}, {0, 1, -2, 2}, {0, 1, -2, 2}, {0, 1, 0, 0}};
    printf("  %-18s", "kernel");
    for (int li = 0; li < nlevels; li++) printf("   level %d GB/s (x memset)", levels[li]);
    printf("\n");
    for (int k = 0; k < NKIND; k++) {
        if (k == UU64) continue;
        printf("  %-18s", kname[k]);
        for (int li = 0; li < nlevels; li++) {
            wi_set_kernel_level(levels[li]);
            double b = 1e9;
            for (int r = 0; r < 5; r++) { double t = now(); fill(k, buf, 0, n, ps[k]); t = now() - t; if (t < b) b = t; }
            double g = n * esize(k) / b / 1e9;
            printf("   %8.2f (%.2f)          ", g, g / memset_gbps);
        }
        printf("\n");
    }
    // two threads, best level, halves of the buffer
    int reps = getenv("WI_BENCH_REPS") ? atoi(getenv("WI_BENCH_REPS")) : 7;
    double b2 = 1e9;
    for (int r = 0; r < reps; r++) { double t = time2(0, buf, n, ps[0], 1); if (t < b2) b2 = t; }
    double memset2 = n * 4 / b2 / 1e9;
    wi_set_kernel_level(-1);
    printf("bench 2 threads (halves), level %d, best of %d. memset(64MB) %.2f GB/s\n", wi_kernel_level(), reps, memset2);
    for (int k = 0; k < NKIND; k++) {
        if (k == UU64) continue;
        double b = 1e9;
        for (int r = 0; r < reps; r++) { double t = time2(k, buf, n, ps[k], 0); if (t < b) b = t; }
        double g = n * esize(k) / b / 1e9;
        printf("  %-18s %8.2f GB/s (%.2f x 2-thread memset)\n", kname[k], g, g / memset2);
    }
    free(buf);
}

int main(int argc, char **argv) {
    const char *dumpdir = argc > 1 ? argv[1] : NULL;
    int do_bench = !(argc > 2 && strcmp(argv[2], "nobench") == 0);
    if (argc > 2 && strcmp(argv[2], "benchonly") == 0) {
        int mx = wi_kernel_max_level();
        for (int l = 0; l <= mx; l++) levels[nlevels++] = l;
        bench();
        return 0;
    }
    // Philox KATs (Random123 kat_vectors)
    struct { uint32_t c[4], k[2], r[4]; } kat[3] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t o[4];
        wi_philox4x32_10(kat[i].c, kat[i].k, o);
        CHECK(memcmp(o, kat[i].r, 16) == 0, "KAT %d: got %08x %08x %08x %08x", i, o[0], o[1], o[2], o[3]);
    }
    printf("KAT: %s\n", failures ? "FAILED" : "ok");
    int mx = wi_kernel_max_level();
    for (int l = 0; l <= mx; l++) levels[nlevels++] = l;
    printf("max kernel level %d\n", mx);

    prm pu = {-1, 2, 0, 0}, pn = {0.5, 2, 0, 0};
    prm trunc_cases[] = {
        {0, 1, -2, 2},          // rejection path, Keras/JAX ±2σ
        {1, 3, -1, 20},         // rejection, asymmetric
        {0, 1, 3, 5},           // Robert exponential tail
        {0, 1, -12, -9},        // mirrored far tail
        {0, 1, 2.0, 2.2},       // narrow tail interval (uniform proposal, rho = a^2)
        {0, 1, -0.1, 0.15},     // narrow interval containing 0
        {0, 1, 0.6, INFINITY},  // one-sided, mass 0.27
        {0, 0.001, -2, 2},      // tiny std: max |x| < 0.01
    };
    int ntc = sizeof trunc_cases / sizeof trunc_cases[0];
    for (int k = 0; k < NKIND; k++) {
        if (k == T32 || k == T64) for (int c = 0; c < ntc; c++) test_identity_and_split(k, trunc_cases[c]);
        else test_identity_and_split(k, (k == N32 || k == N64) ? pn : pu);
    }
    // std == 0 gives exactly mean
    { float f[77]; wi_fill_normal_f32(f, 5, 77, 1, 2, 0.25f, 0.0f); int ok = 1; for (int i = 0; i < 77; i++) ok &= f[i] == 0.25f; CHECK(ok, "normal std 0"); }
    printf("identity across levels + split invariance: %s\n", failures ? "FAILED" : "ok");

    // wi_select_smallest vs a naive (score, index) ranking, with many ties and sizes 1..300
    {
        uint64_t st = 12345;
        int bad = 0;
        for (int trial = 0; trial < 3000 && !bad; trial++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t n = 1 + (uint32_t)((st >> 33) % 300), k = (uint32_t)((st >> 13) % (n + 1));
            int levels_of_ties = 1 + (int)((st >> 50) % 5);
            double sc[300]; wi_score_pair work[300]; uint32_t out[300]; unsigned char chosen[300] = {0};
            for (uint32_t i = 0; i < n; i++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                sc[i] = trial % 3 == 0 ? (double)((st >> 40) % (uint64_t)levels_of_ties) * 0.25 : (trial % 3 == 1 ? (double)(st >> 11) * 0x1p-53 : 0.3 + (double)(st >> 11) * 0x1p-60);
            }
            wi_select_smallest(sc, n, k, work, out);
            for (uint32_t i = 0; i < k; i++) chosen[out[i]]++;
            for (uint32_t i = 0; i < n; i++) { // rank of i = number of pairs smaller than (sc[i], i)
                uint32_t rank = 0;
                for (uint32_t j = 0; j < n; j++) rank += sc[j] < sc[i] || (sc[j] == sc[i] && j < i);
                if ((rank < k) != (chosen[i] == 1)) { bad = 1; CHECK(0, "select: trial %d n %u k %u element %u rank %u chosen %d", trial, n, k, i, rank, chosen[i]); break; }
            }
        }
        printf("select smallest vs naive ranking (ties included): %s\n", bad ? "FAILED" : "ok");
    }

    printf("moments, n = 1e7 (level %d):\n", wi_kernel_max_level());
    char path[512];
#define DUMP(name) (dumpdir ? (snprintf(path, sizeof path, "%s/%s", dumpdir, name), path) : NULL)
    test_moments(U32, pu, DUMP("uniform_f32.bin"), -1, 2 - 1e-7);
    test_moments(U64, pu, DUMP("uniform_f64.bin"), -1, 2 - 1e-15);
    test_moments(UU64, pu, DUMP("unit_uniform_f64.bin"), 0, 1 - 1e-17);
    test_moments(N32, pn, DUMP("normal_f32.bin"), -1e9, 1e9);
    test_moments(N64, pn, DUMP("normal_f64.bin"), -1e9, 1e9);
    const char *tn32[] = {"trunc0_f32.bin", "trunc1_f32.bin", "trunc2_f32.bin", "trunc3_f32.bin", "trunc4_f32.bin", "trunc5_f32.bin", "trunc6_f32.bin", "trunc7_f32.bin"};
    const char *tn64[] = {"trunc0_f64.bin", "trunc1_f64.bin", "trunc2_f64.bin", "trunc3_f64.bin", "trunc4_f64.bin", "trunc5_f64.bin", "trunc6_f64.bin", "trunc7_f64.bin"};
    for (int c = 0; c < ntc; c++) {
        prm p = trunc_cases[c];
        test_moments(T32, p, DUMP(tn32[c]), p.a, p.b);
        test_moments(T64, p, DUMP(tn64[c]), p.a, p.b);
    }
    { // tiny std
        static float f[1000000]; wi_fill_truncated_normal_f32(f, 0, 1000000, 3, 4, 0.0, 0.001, -2, 2);
        float m = 0; for (int i = 0; i < 1000000; i++) if (fabsf(f[i]) > m) m = fabsf(f[i]);
        printf("  trunc std 0.001 bounds ±2: max|x| = %g\n", m); CHECK(m < 0.01, "tiny std max %g", m);
    }
    if (do_bench) bench();
    printf("%s (%d failures)\n", failures ? "FAILED" : "ALL OK", failures);
    return failures != 0;
}
