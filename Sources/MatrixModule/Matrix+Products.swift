extension Matrix {
    /// `C ← α·op(A)·op(B) + β·C` on whole matrices (gemm), where op(X) is X or Xᵀ.
    ///
    /// Shapes: op(A) `m × k`, op(B) `k × n`, C `m × n`. C must already have the result shape;
    /// with `β = 0` its old contents are never read (NaN there does not propagate).
    /// - Throws: `MatrixError.shapeMismatch` naming both shapes.
    /// - Calls `cblas_sgemm` / `cblas_dgemm` with `CblasRowMajor`.
    public static func gemm(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        alpha: Scalar = 1, beta: Scalar = 0, into c: inout Matrix
    ) throws(MatrixError) {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let kb = transposeB ? b.columns : b.rows, n = transposeB ? b.rows : b.columns
        let opA = transposeA ? "Aᵀ \(m)×\(k)" : "A \(m)×\(k)", opB = transposeB ? "Bᵀ \(kb)×\(n)" : "B \(kb)×\(n)"
        guard k == kb else { throw .shapeMismatch(operation: "\(Scalar._blasPrefix)gemm", lhs: opA, rhs: opB) }
        guard c.rows == m, c.columns == n else {
            throw .shapeMismatch(operation: "\(Scalar._blasPrefix)gemm (result)", lhs: "op(A)·op(B) \(m)×\(n)", rhs: "C \(c.shapeDescription)")
        }
        try a._elements.withUnsafeBufferPointer { (pa) throws(MatrixError) in
            try b._elements.withUnsafeBufferPointer { (pb) throws(MatrixError) in
                try c.withUnsafeMutableBufferPointer { (pc) throws(MatrixError) in
                    try BLAS.gemmUnchecked(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                           a: pa.baseAddress, lda: max(a.columns, 1), b: pb.baseAddress, ldb: max(b.columns, 1),
                                           beta: beta, c: pc.baseAddress, ldc: max(n, 1))
                }
            }
        }
    }

    /// `α·op(self)·op(other)` as a new matrix (gemm with `β = 0`).
    /// - Throws: `MatrixError.shapeMismatch`. - Calls `cblas_sgemm` / `cblas_dgemm`.
    public func multiplied(by other: Matrix, transposeSelf: Bool = false, transposeOther: Bool = false, alpha: Scalar = 1) throws(MatrixError) -> Matrix {
        var c = Matrix(rows: transposeSelf ? columns : rows, columns: transposeOther ? other.rows : other.columns)
        try Matrix.gemm(self, transposeA: transposeSelf, other, transposeB: transposeOther, alpha: alpha, beta: 0, into: &c)
        return c
    }

    /// Matrix product `lhs · rhs`. Mismatched inner dimensions are a precondition failure
    /// naming both shapes; use `multiplied(by:)` for a throwing version.
    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        do { return try lhs.multiplied(by: rhs) } catch { preconditionFailure("\(error)") }
    }

    /// `y ← α·op(self)·x + β·y` (gemv). `x` has `columns` elements (`rows` when transposed),
    /// `y` has `rows` (`columns` when transposed); `β = 0` never reads `y`.
    /// - Throws: `MatrixError.shapeMismatch`. - Calls `cblas_sgemv` / `cblas_dgemv`.
    public func gemv(_ x: [Scalar], transpose: Bool = false, alpha: Scalar = 1, beta: Scalar = 0, into y: inout [Scalar]) throws(MatrixError) {
        let xNeeded = transpose ? rows : columns, yNeeded = transpose ? columns : rows
        guard x.count == xNeeded, y.count == yNeeded else {
            throw .shapeMismatch(operation: "\(Scalar._blasPrefix)gemv", lhs: (transpose ? "Aᵀ " : "A ") + (transpose ? "\(columns)×\(rows)" : shapeDescription),
                                 rhs: "x \(x.count), y \(y.count)")
        }
        try _elements.withUnsafeBufferPointer { (pa) throws(MatrixError) in
            try x.withUnsafeBufferPointer { (px) throws(MatrixError) in
                try y.withUnsafeMutableBufferPointer { (py) throws(MatrixError) in
                    try BLAS.gemv(transpose: transpose, m: rows, n: columns, alpha: alpha, a: pa, lda: max(columns, 1), x: px, beta: beta, y: py)
                }
            }
        }
    }

    /// `op(self)·x` as a new vector. - Throws: `MatrixError.shapeMismatch`.
    public func multiplied(by x: [Scalar], transpose: Bool = false) throws(MatrixError) -> [Scalar] {
        var y = [Scalar](repeating: 0, count: transpose ? columns : rows)
        try gemv(x, transpose: transpose, into: &y)
        return y
    }

    /// `self ← self + α·other` (axpy over all elements).
    /// - Throws: `MatrixError.shapeMismatch`. - Calls `cblas_saxpy` / `cblas_daxpy`.
    public mutating func add(_ other: Matrix, scaledBy alpha: Scalar = 1) throws(MatrixError) {
        guard rows == other.rows, columns == other.columns else {
            throw .shapeMismatch(operation: "\(Scalar._blasPrefix)axpy", lhs: shapeDescription, rhs: other.shapeDescription)
        }
        let n = try blasInt(count, "\(Scalar._blasPrefix)axpy")
        if n == 0 { return }
        other._elements.withUnsafeBufferPointer { px in
            _elements.withUnsafeMutableBufferPointer { py in Scalar._axpy(n: n, alpha: alpha, x: px.baseAddress, incx: 1, y: py.baseAddress, incy: 1) }
        }
    }

    /// `self ← α·self` (scal). Unlike some BLAS builds, `α = 0` gives exact zeros only where
    /// the element is finite: NaN stays NaN (IEEE `0·NaN`), so corruption is never hidden.
    /// - Calls `cblas_sscal` / `cblas_dscal` for `α ≠ 0`.
    public mutating func scale(by alpha: Scalar) {
        guard count > 0 else { return }
        if alpha == 0 {
            _elements.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = p[i] * 0 } }
            return
        }
        _elements.withUnsafeMutableBufferPointer { p in
            var offset = 0
            while offset < p.count {     // chunks of at most Int32.max elements (the BLAS integer limit)
                let n = min(p.count - offset, Int(Int32.max))
                Scalar._scal(n: Int32(n), alpha: alpha, x: p.baseAddress! + offset, incx: 1)
                offset += n
            }
        }
    }

    /// `xᵀy` over all elements of two equally shaped matrices (the Frobenius inner product).
    /// - Throws: `MatrixError.shapeMismatch`. - Calls `cblas_sdot` / `cblas_ddot`.
    public func dot(_ other: Matrix) throws(MatrixError) -> Scalar {
        guard rows == other.rows, columns == other.columns else {
            throw .shapeMismatch(operation: "\(Scalar._blasPrefix)dot", lhs: shapeDescription, rhs: other.shapeDescription)
        }
        if count == 0 { return 0 }
        let n = try blasInt(count, "\(Scalar._blasPrefix)dot")
        return _elements.withUnsafeBufferPointer { px in
            other._elements.withUnsafeBufferPointer { py in Scalar._dot(n: n, x: px.baseAddress, incx: 1, y: py.baseAddress, incy: 1) }
        }
    }
}
