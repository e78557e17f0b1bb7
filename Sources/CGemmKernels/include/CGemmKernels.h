// CGemmKernels — a matrix product whose bytes depend only on its inputs, for the thread-invariant
// Householder QR behind orthogonal initialization (MatrixModule's InvariantGEMM calls it) and for
// Conv2D's im2col products (MatrixModule's SerialGEMM: wi_sgemm_serial, one thread, no allocation).
//
// Why not cblas_sgemm: OpenBLAS 0.3.21's results change with its thread count even for a small
// inner dimension (measured on Zen: 1 vs 2 threads differ in ~3-6% of the elements of a
// 1024x1024x8 product), because the threaded driver partitions M and N differently and the
// micro-kernel's edge paths round differently.
//
// Contract (column-major, op(A) m x kc packed by wi_?pack_a, op(B) kc x n):
//   C[i,j] = base + alpha * acc,  acc = fma chain over p = 0..kc-1 of op(A)[i,p]*op(B)[p,j] in
//   order starting from 0, base = (first ? (beta == 0 ? 0 : beta*C[i,j]) : C[i,j]), the product
//   alpha*acc and the sum each rounded once (no contraction). Every element is computed by that
//   same sequence whichever columns a call covers and on every code path (AVX2+FMA or portable
//   with fmaf), so splitting the columns over threads, in any way, gives identical bytes.
#ifndef CGEMM_KERNELS_H
#define CGEMM_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Rows per packed A panel: 16 (Float), 8 (Double). Columns per packed B panel: 6.
long wi_gemm_mr_f32(void);
long wi_gemm_mr_f64(void);
long wi_gemm_nr(void);

/// Packs op(A)[0:m, 0:kc] (a points at op(A)[0, 0]; transA: A stored kc x m) into ceil(m/MR)
/// panels of MR x kc (zero-padded): packed needs ceil(m/MR)*MR*kc elements.
void wi_spack_a(int transA, long m, long kc, const float *a, long lda, float *packed);
void wi_dpack_a(int transA, long m, long kc, const double *a, long lda, double *packed);

/// C[0:m, 0:n] per the contract above with op(B)[0:kc, 0:n] (b points at op(B)[0, 0]; transB:
/// B stored n x kc). work needs ceil(n/6)*6*kc elements (the packed B).
void wi_sgemm_packed(int transB, long m, long n, long kc, const float *packedA, const float *b, long ldb,
                     float alpha, float beta, int first, float *c, long ldc, float *work);
void wi_dgemm_packed(int transB, long m, long n, long kc, const double *packedA, const double *b, long ldb,
                     double alpha, double beta, int first, double *c, long ldc, double *work);

/// The same product with a band of the inner dimension per A panel: panel ip (at packedA + ip*panelStride, MR x kc)
/// contributes p in [lo, hi), lo = lo0 + loStep*ip, hi = hi0 + hiStep*ip clamped to [0, kc] (empty: C = base + alpha*0).
/// For a caller whose op(A) (or op(B)) is exactly zero outside the band, so that only leading and trailing zero terms of
/// each fma chain are left out: the bytes equal the full product's (the chain starts at +0, never holds -0, and adding
/// +-0 to it returns it). Inputs must be finite (0*inf would be NaN in the full product).
void wi_sgemm_packed_band(int transB, long m, long n, long kc, const float *packedA, long panelStride, const float *b, long ldb,
                          float alpha, float beta, int first, float *c, long ldc, float *work,
                          long lo0, long loStep, long hi0, long hiStep);
void wi_dgemm_packed_band(int transB, long m, long n, long kc, const double *packedA, long panelStride, const double *b, long ldb,
                          double alpha, double beta, int first, double *c, long ldc, double *work,
                          long lo0, long loStep, long hi0, long hiStep);

/// Unblocked Householder QR (LAPACK ?geqr2) of the rows x columns column-major panel p (leading
/// dimension ld): R on and above the diagonal, the reflectors' v (v_0 = 1 implied) below it, tau[k]
/// for column k (H = I - tau v v^T, R_kk = -sign(alpha) ||x||). Sequential; identical bytes on the
/// AVX2 and portable paths (see householder_leaf.c for the fixed summation order).
void wi_sgeqr2(long rows, long columns, float *p, long ld, float *tau);
void wi_dgeqr2(long rows, long columns, double *p, long ld, double *tau);

/// 1 when the AVX2+FMA path runs, 0 for the portable one (same bytes either way).
/// Column-major C = alpha*op(A)*op(B) + beta*C on the calling thread, the same per-element
/// arithmetic as InvariantGEMM (fma chains over k in chunks of 256, each chunk added into C).
/// work: wi_sgemm_serial_workspace(m, n, k) floats.
long wi_sgemm_serial_workspace(long m, long n, long k);
void wi_sgemm_serial(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, float *work);

int wi_gemm_uses_avx2(void);
/// Test hook: on != 0 forces the portable path (process-wide; the bytes do not change).
void wi_gemm_force_portable(int on);

// ---- dense-layer training products (dense_kernels.c) -------------------------------------------
// Row-major thinking: C is n rows of ldc floats, element (j, i) at c[j*ldc + i], i < m, j < n.
//   acc(i, j) = fma chain over p = 0..k-1, in order from 0, of A(i, p)·B(p, j), where A is either
//   packed by wi_spack_a (lda = 0: panels of 16 rows, zero-padded, kc = k: the whole inner
//   dimension at once) or read in place, column-major (lda > 0: A(i, p) = a[i + p*lda]), and
//   B(p, j) = b[p*bsp + j*bsj] is read in place (any strides);
//   mode WI_DENSE_STORE:      C = acc
//   mode WI_DENSE_BIAS:       C = acc + bias[i] (one rounding)
//   mode WI_DENSE_ACCUMULATE: C = C + acc
//   mode WI_DENSE_RELU_GATE:  C = gate(j, i) > 0 ? acc : +0, gate laid out like C (ldc)
//   mode WI_DENSE_BIAS_RELU:  C = v > 0 ? v : +0 with v = acc + bias[i] (the ReLU output alone)
// and, when y is not NULL, y[j*ldy + i] = C > 0 ? C : +0 (ReLU; NaN gives +0).
// Every element is that sequence whatever m, n and the tile it falls in, on the AVX2+FMA and the
// portable (fmaf) path alike: the bytes depend only on the inputs.
enum { WI_DENSE_STORE = 0, WI_DENSE_BIAS = 1, WI_DENSE_ACCUMULATE = 2, WI_DENSE_RELU_GATE = 3, WI_DENSE_BIAS_RELU = 4 };
void wi_dense_sgemm(long m, long n, long k, const float *a, long lda, const float *b, long bsp, long bsj,
                    float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate);
// The same with A packed (lda = 0), and each result row j's elements i (Y when y is given, else C)
// also copied to packed[(i/16)*panelStride + 16*j + i%16] (the packed-A layout of the result read as
// an m x n operand, positions j; lanes i >= m of the last panel are not written).
void wi_dense_sgemm_pack(long m, long n, long k, const float *a, const float *b, long bsp, long bsj,
                         float *c, long ldc, int mode, const float *bias, float *y, long ldy, const float *gate,
                         float *packed, long panelStride);

// ---- a team of threads with a barrier (team.c) --------------------------------------------------
// wi_team_create(n) starts n-1 threads (member 0 is whoever calls wi_team_run); NULL when n < 1 or a
// thread cannot be started. wi_team_run(t, fn, ctx) calls fn(ctx, i) on member i for every i in
// 0..n-1 at the same time and returns when all calls have returned (one wi_team_run at a time per
// team). Inside fn, wi_team_barrier(t) returns on each member once all n members have reached it
// (every member must call it the same number of times); memory written before the barrier is
// visible to every member after it. Waiting members spin, then yield (barrier) or sleep (between
// tasks). wi_team_destroy stops and joins the threads (no task may be running).
typedef struct wi_team wi_team;
typedef void (*wi_team_fn)(void *ctx, long member);
wi_team *wi_team_create(long n);
void wi_team_destroy(wi_team *t);
long wi_team_size(const wi_team *t);
void wi_team_run(wi_team *t, wi_team_fn fn, void *ctx);
void wi_team_barrier(wi_team *t);
// SGD on n elements (Optimizer.update's arithmetic, each operation rounded in its order):
// g' = g + lambda*w; mu == 0: w -= eta*g'; else v = mu*m + g', m = v, w -= eta*(nesterov ? g' + mu*v : v).
// m is not read when mu == 0. Same bytes on the AVX2 and portable paths.
void wi_sgd_update(long n, float *w, const float *g, float *m, float eta, float lambda, float mu, int nesterov);
// Hints the CPU to fetch the cache lines of [p, p + bytes) (no effect on results).
void wi_prefetch_range(const void *p, long bytes);

#ifdef __cplusplus
}
#endif
#endif
