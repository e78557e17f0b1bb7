/// Checked entry points to the BLAS routines on raw row-major buffers, for code that keeps
/// its own storage (padded rows, sub-matrices, arena buffers). Every call validates the
/// dimensions, the leading dimensions and the buffer lengths first and throws
/// `MatrixError` naming the bad value — nothing malformed ever reaches OpenBLAS (whose
/// `xerbla` would only print and return).
///
/// Row-major rules (the CBLAS convention): an operand stored as `r × c` needs a leading
/// dimension `ld ≥ max(1, c)` and a buffer of at least `(r − 1)·ld + c` elements.
public enum BLAS {
    /// `C ← α·op(A)·op(B) + β·C`, row-major, op(A) `m × k`, op(B) `k × n`, C `m × n`.
    ///
    /// - A is stored `m × k` (`transposeA == false`, `lda ≥ k`) or `k × m` (`lda ≥ m`).
    /// - B is stored `k × n` (`ldb ≥ n`) or `n × k` (`ldb ≥ k`); C is `m × n`, `ldc ≥ n`.
    /// - `β = 0` never reads C, so garbage or NaN in C does not reach the result.
    /// - Throws: `MatrixError.invalidArgument` for a short leading dimension or buffer,
    ///   `MatrixError.dimensionTooLarge` beyond 32-bit BLAS integers.
    /// - Calls `cblas_sgemm` / `cblas_dgemm` (`CblasRowMajor`).
    public static func gemm<S: BLASScalar>(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int, alpha: S = 1,
        a: UnsafeBufferPointer<S>, lda: Int,
        b: UnsafeBufferPointer<S>, ldb: Int,
        beta: S = 0,
        c: UnsafeMutableBufferPointer<S>, ldc: Int
    ) throws(MatrixError) {
        let name = "\(S._blasPrefix)gemm"
        guard m >= 0, n >= 0, k >= 0 else {
            throw .invalidArgument(operation: name, detail: "dimensions must be ≥ 0, got m=\(m) n=\(n) k=\(k)")
        }
        try checkOperand(name, "A", rows: transposeA ? k : m, columns: transposeA ? m : k, ld: lda, count: a.count)
        try checkOperand(name, "B", rows: transposeB ? n : k, columns: transposeB ? k : n, ld: ldb, count: b.count)
        try checkOperand(name, "C", rows: m, columns: n, ld: ldc, count: c.count)
        try gemmUnchecked(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                          a: a.baseAddress, lda: lda, b: b.baseAddress, ldb: ldb, beta: beta,
                          c: c.baseAddress, ldc: ldc)
    }

    /// `y ← α·op(A)·x + β·y` with A stored `m × n` row-major (`lda ≥ n`); `x` has `n`
    /// elements (`m` when transposed) and `y` has `m` (`n` when transposed). `β = 0` never
    /// reads `y`. - Throws: `MatrixError`. - Calls `cblas_sgemv` / `cblas_dgemv`.
    public static func gemv<S: BLASScalar>(
        transpose: Bool = false, m: Int, n: Int, alpha: S = 1,
        a: UnsafeBufferPointer<S>, lda: Int, x: UnsafeBufferPointer<S>,
        beta: S = 0, y: UnsafeMutableBufferPointer<S>
    ) throws(MatrixError) {
        let name = "\(S._blasPrefix)gemv"
        guard m >= 0, n >= 0 else { throw .invalidArgument(operation: name, detail: "dimensions must be ≥ 0, got m=\(m) n=\(n)") }
        try checkOperand(name, "A", rows: m, columns: n, ld: lda, count: a.count)
        let xCount = transpose ? m : n, yCount = transpose ? n : m
        guard x.count >= xCount else { throw .invalidArgument(operation: name, detail: "x has \(x.count) elements, needs \(xCount)") }
        guard y.count >= yCount else { throw .invalidArgument(operation: name, detail: "y has \(y.count) elements, needs \(yCount)") }
        if yCount == 0 { return }
        if beta == 0 { y.baseAddress!.update(repeating: 0, count: yCount) }
        if xCount == 0 || alpha == 0 {
            if beta != 0 && beta != 1 { for i in 0..<yCount { y[i] *= beta } }
            return
        }
        S._gemv(trans: transpose, m: try blasInt(m, name), n: try blasInt(n, name), alpha: alpha,
                a: a.baseAddress, lda: try blasInt(max(lda, 1), name), x: x.baseAddress, incx: 1,
                beta: beta, y: y.baseAddress, incy: 1)
    }

    static func checkOperand(_ op: String, _ label: String, rows: Int, columns: Int, ld: Int, count: Int) throws(MatrixError) {
        guard ld >= max(1, columns) else {
            throw .invalidArgument(operation: op, detail: "ld\(label.lowercased()) = \(ld) is less than max(1, \(columns)), the row length of row-major \(label) (\(rows)×\(columns))")
        }
        if rows > 0 && columns > 0 {
            let (span, o1) = (rows - 1).multipliedReportingOverflow(by: ld)
            let (needed, o2) = span.addingReportingOverflow(columns)
            guard !o1, !o2, needed <= count else {
                let need = (o1 || o2) ? "more than Int.max" : "\(needed)"
                throw .invalidArgument(operation: op, detail: "\(label) (\(rows)×\(columns), ld \(ld)) needs \(need) elements, buffer has \(count)")
            }
        }
    }

    /// gemm after validation; handles the degenerate cases itself so that `β = 0` never reads
    /// C and `k = 0` or `α = 0` scale C by `β` exactly as the BLAS standard defines.
    @inline(__always)
    static func gemmUnchecked<S: BLASScalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: S,
        a: UnsafePointer<S>?, lda: Int, b: UnsafePointer<S>?, ldb: Int,
        beta: S, c: UnsafeMutablePointer<S>?, ldc: Int
    ) throws(MatrixError) {
        if m == 0 || n == 0 { return }
        let name = "\(S._blasPrefix)gemm"
        if k == 0 || alpha == 0 {
            guard beta != 1, let c else { return }
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
            return
        }
        S._gemm(transA: transposeA, transB: transposeB, m: try blasInt(m, name), n: try blasInt(n, name),
                k: try blasInt(k, name), alpha: alpha, a: a, lda: try blasInt(lda, name), b: b,
                ldb: try blasInt(ldb, name), beta: beta, c: c, ldc: try blasInt(ldc, name))
    }
}
