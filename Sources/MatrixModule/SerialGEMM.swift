/// Single-threaded Float matrix products on the package's own packed kernel (`CGemmKernels`,
/// the kernel behind `HouseholderQR`), for callers that run several products side by side on
/// their own threads — e.g. `Conv2D`, one block of samples per thread.
///
/// Why not `cblas_sgemm` there: OpenBLAS's thread count is process-wide, a product called from
/// two application threads still uses all of OpenBLAS's threads, and its bytes change with that
/// count. These products run on the calling thread only, allocate nothing (the caller passes a
/// workspace), never read or change OpenBLAS's state, and their bytes depend only on the inputs:
/// every element of C is `base + α·acc`, `acc` a fused-multiply-add chain over the inner
/// dimension in order, restarted every 256 terms and added into C chunk after chunk
/// (`base = β·C` on the first chunk, 0 when `β = 0`, so C is then never read). The same bytes
/// on the AVX2+FMA and the portable code paths, and the same bytes as `InvariantGEMM`.
///
/// Layout: row-major, the CBLAS convention of `BLAS.gemm` (an operand stored `r × c` needs
/// `ld ≥ max(1, c)` and `(r − 1)·ld + c` elements). Speed on an AVX2 EPYC core: about the
/// single-threaded OpenBLAS `sgemm` for conv-sized products (64–83 GFLOP/s per core).
public enum SerialGEMM {
    /// Floats of `workspace` that `sgemm` needs for a row-major `m × n` result with inner
    /// dimension `k` (packed panels of both operands; at most `(128 + n + 5)·256`).
    public static func workspaceCount(m: Int, n: Int, k: Int) -> Int {
        guard m > 0, n > 0, k > 0 else { return 0 }
        return InvariantGEMM.serialWorkspace(m: n, n: m, k: k)
    }

    /// `C ← α·op(A)·op(B) + β·C`, row-major, op(A) `m × k`, op(B) `k × n`, C `m × n`, on the
    /// calling thread (see the type's documentation for the arithmetic).
    ///
    /// - A is stored `m × k` (`transposeA == false`, `lda ≥ k`) or `k × m` (`lda ≥ m`); B is
    ///   stored `k × n` (`ldb ≥ n`) or `n × k` (`ldb ≥ k`); C is `m × n`, `ldc ≥ n`;
    ///   `workspace` has at least `workspaceCount(m:n:k:)` floats and overlaps no operand.
    /// - `β = 0` never reads C; `k = 0` or `α = 0` scales C by `β` without reading A or B.
    /// - Throws: `MatrixError.invalidArgument` for negative sizes, a short leading dimension,
    ///   operand buffer or workspace.
    public static func sgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafeBufferPointer<Float>, lda: Int, b: UnsafeBufferPointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutableBufferPointer<Float>, ldc: Int,
                             workspace: UnsafeMutableBufferPointer<Float>) throws(MatrixError) {
        let name = "SerialGEMM.sgemm"
        guard m >= 0, n >= 0, k >= 0 else {
            throw .invalidArgument(operation: name, detail: "dimensions must be ≥ 0, got m=\(m) n=\(n) k=\(k)")
        }
        try BLAS.checkOperand(name, "A", rows: transposeA ? k : m, columns: transposeA ? m : k, ld: lda, count: a.count)
        try BLAS.checkOperand(name, "B", rows: transposeB ? n : k, columns: transposeB ? k : n, ld: ldb, count: b.count)
        try BLAS.checkOperand(name, "C", rows: m, columns: n, ld: ldc, count: c.count)
        if m == 0 || n == 0 { return }
        if k == 0 || alpha == 0 {
            guard beta != 1, let cp = c.baseAddress else { return }
            for i in 0..<m {
                let row = cp + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
            return
        }
        let need = workspaceCount(m: m, n: n, k: k)
        guard workspace.count >= need, let w = workspace.baseAddress else {
            throw .invalidArgument(operation: name, detail: "workspace has \(workspace.count) floats, needs \(need)")
        }
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ on the same buffers.
        InvariantGEMM.serialFloat(transA: transposeB, transB: transposeA, m: n, n: m, k: k, alpha: alpha,
                                  a: b.baseAddress!, lda: ldb, b: a.baseAddress!, ldb: lda, beta: beta,
                                  c: c.baseAddress!, ldc: ldc, work: w)
    }
}
