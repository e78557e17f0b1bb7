/// Checked LAPACK factorizations on raw column-major buffers, for code that factors in
/// place (orthogonal initialization factors the weight buffer itself). `info ≠ 0` becomes
/// `MatrixError.lapackFailure`.
public enum LAPACK {
    /// Replaces the column-major `m × n` matrix `a` (`m ≥ n`, leading dimension `m`) by the
    /// `m × n` factor Q of its thin QR decomposition `A = Q·R` (orthonormal columns), and
    /// returns the diagonal of R (`n` values) — the signs orthogonal initialization needs
    /// to make Q Haar-distributed (Mezzadri 2007).
    /// - Throws: `MatrixError.invalidArgument` when `m < n` or the buffer is short;
    ///   `MatrixError.lapackFailure` when LAPACK reports `info ≠ 0`.
    /// - Calls `LAPACKE_?geqrf` then `LAPACKE_?orgqr` (`LAPACK_COL_MAJOR`).
    public static func thinQR<S: BLASScalar>(_ a: UnsafeMutableBufferPointer<S>, rows m: Int, columns n: Int) throws(MatrixError) -> [S] {
        guard m >= n, n >= 0 else { throw .invalidArgument(operation: "thinQR", detail: "needs rows ≥ columns, got \(m)×\(n)") }
        let (needed, overflow) = m.multipliedReportingOverflow(by: n)
        guard !overflow, a.count >= needed else {
            throw .invalidArgument(operation: "thinQR", detail: "buffer has \(a.count) elements, needs \(overflow ? "more than Int.max" : "\(needed)")")
        }
        if n == 0 { return [] }
        let mm = try blasInt(m, "geqrf"), nn = try blasInt(n, "geqrf")
        var tau = [S](repeating: 0, count: n)
        let info = tau.withUnsafeMutableBufferPointer { t in S._geqrf(m: mm, n: nn, a: a.baseAddress, lda: mm, tau: t.baseAddress) }
        guard info == 0 else { throw .lapackFailure(routine: "LAPACKE_\(S._blasPrefix)geqrf", info: Int(info)) }
        let diagonal = (0..<n).map { a[$0 + $0 * m] }
        let info2 = tau.withUnsafeBufferPointer { t in S._orgqr(m: mm, n: nn, k: nn, a: a.baseAddress, lda: mm, tau: t.baseAddress) }
        guard info2 == 0 else { throw .lapackFailure(routine: "LAPACKE_\(S._blasPrefix)orgqr", info: Int(info2)) }
        return diagonal
    }
}

extension Matrix {
    /// The reduced QR decomposition `A = Q·R` of this `m × n` matrix, `k = min(m, n)`:
    /// Q is `m × k` with orthonormal columns, R is `k × n` upper triangular (upper
    /// trapezoidal when wide). Works for tall, square and wide matrices.
    /// - Throws: `MatrixError.lapackFailure`.
    /// - Calls `LAPACKE_?geqrf` and `LAPACKE_?orgqr`.
    public func qrDecomposition() throws(MatrixError) -> (q: Matrix, r: Matrix) {
        let m = rows, n = columns, k = min(m, n)
        if k == 0 { return (Matrix(rows: m, columns: 0), Matrix(rows: 0, columns: n)) }
        var a = transposed().elements            // column-major m×n, leading dimension m
        let mm = try blasInt(m, "geqrf"), nn = try blasInt(n, "geqrf"), kk = Int32(k)
        var tau = [Scalar](repeating: 0, count: k)
        let info = a.withUnsafeMutableBufferPointer { p in tau.withUnsafeMutableBufferPointer { t in Scalar._geqrf(m: mm, n: nn, a: p.baseAddress, lda: mm, tau: t.baseAddress) } }
        guard info == 0 else { throw .lapackFailure(routine: "LAPACKE_\(Scalar._blasPrefix)geqrf", info: Int(info)) }
        var r = Matrix(rows: k, columns: n)
        for j in 0..<n { for i in 0...min(j, k - 1) { r[i, j] = a[i + j * m] } }
        let info2 = a.withUnsafeMutableBufferPointer { p in tau.withUnsafeBufferPointer { t in Scalar._orgqr(m: mm, n: kk, k: kk, a: p.baseAddress, lda: mm, tau: t.baseAddress) } }
        guard info2 == 0 else { throw .lapackFailure(routine: "LAPACKE_\(Scalar._blasPrefix)orgqr", info: Int(info2)) }
        var q = Matrix(rows: m, columns: k)
        for i in 0..<m { for j in 0..<k { q[i, j] = a[i + j * m] } }
        return (q, r)
    }

    /// Eigenvalues (ascending) and, when `vectors` is true, orthonormal eigenvectors (as the
    /// columns of an `n × n` matrix) of this symmetric matrix; only the lower triangle is read.
    /// - Throws: `MatrixError.shapeMismatch` for a non-square matrix,
    ///   `MatrixError.lapackFailure` when it does not converge.
    /// - Calls `LAPACKE_?syevd`.
    public func symmetricEigen(vectors: Bool = true) throws(MatrixError) -> (values: [Scalar], vectors: Matrix?) {
        guard rows == columns else { throw .shapeMismatch(operation: "syevd", lhs: shapeDescription, rhs: "a square matrix") }
        let n = rows
        if n == 0 { return ([], vectors ? Matrix(rows: 0, columns: 0) : nil) }
        var a = transposed().elements
        var w = [Scalar](repeating: 0, count: n)
        let nn = try blasInt(n, "syevd")
        let info = a.withUnsafeMutableBufferPointer { p in w.withUnsafeMutableBufferPointer { pw in Scalar._syevd(vectors: vectors, n: nn, a: p.baseAddress, lda: nn, w: pw.baseAddress) } }
        guard info == 0 else { throw .lapackFailure(routine: "LAPACKE_\(Scalar._blasPrefix)syevd", info: Int(info)) }
        guard vectors else { return (w, nil) }
        let colMajor = try Matrix(rows: n, columns: n, elements: a)   // holds Vᵀ row-major
        return (w, colMajor.transposed())
    }

    /// Singular values in descending order (`min(rows, columns)` of them).
    /// - Throws: `MatrixError.lapackFailure`. - Calls `LAPACKE_?gesdd` (jobz = 'N').
    public func singularValues() throws(MatrixError) -> [Scalar] {
        let m = rows, n = columns
        if min(m, n) == 0 { return [] }
        var a = transposed().elements
        var s = [Scalar](repeating: 0, count: min(m, n))
        let mm = try blasInt(m, "gesdd"), nn = try blasInt(n, "gesdd")
        let info = a.withUnsafeMutableBufferPointer { p in s.withUnsafeMutableBufferPointer { ps in Scalar._gesddValues(m: mm, n: nn, a: p.baseAddress, lda: mm, s: ps.baseAddress) } }
        guard info == 0 else { throw .lapackFailure(routine: "LAPACKE_\(Scalar._blasPrefix)gesdd", info: Int(info)) }
        return s
    }
}
