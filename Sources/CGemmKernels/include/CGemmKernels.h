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

#ifdef __cplusplus
}
#endif
#endif
