// Elementwise operations, broadcasts and reductions that dense layers need. Loops run over
// raw buffers so the optimizer can vectorize them; shapes are checked first.

extension Matrix {
    @usableFromInline func requireSameShape(_ other: Matrix, _ op: String) throws(MatrixError) {
        guard rows == other.rows, columns == other.columns else {
            throw .shapeMismatch(operation: op, lhs: shapeDescription, rhs: other.shapeDescription)
        }
    }

    /// Elementwise sum. - Throws: `MatrixError.shapeMismatch` naming both shapes.
    @inlinable public func adding(_ other: Matrix) throws(MatrixError) -> Matrix {
        try requireSameShape(other, "add")
        var r = self
        r.withUnsafeMutableBufferPointer { p in other.withUnsafeBufferPointer { q in for i in p.indices { p[i] += q[i] } } }
        return r
    }

    /// Elementwise difference `self − other`. - Throws: `MatrixError.shapeMismatch`.
    @inlinable public func subtracting(_ other: Matrix) throws(MatrixError) -> Matrix {
        try requireSameShape(other, "subtract")
        var r = self
        r.withUnsafeMutableBufferPointer { p in other.withUnsafeBufferPointer { q in for i in p.indices { p[i] -= q[i] } } }
        return r
    }

    /// Elementwise (Hadamard) product. - Throws: `MatrixError.shapeMismatch`.
    @inlinable public func multipliedElementwise(by other: Matrix) throws(MatrixError) -> Matrix {
        try requireSameShape(other, "hadamard")
        var r = self
        r.withUnsafeMutableBufferPointer { p in other.withUnsafeBufferPointer { q in for i in p.indices { p[i] *= q[i] } } }
        return r
    }

    /// `self[i, j] ← self[i, j] · other[i, j]` in place. - Throws: `MatrixError.shapeMismatch`.
    @inlinable public mutating func multiplyElementwise(by other: Matrix) throws(MatrixError) {
        try requireSameShape(other, "hadamard")
        withUnsafeMutableBufferPointer { p in other.withUnsafeBufferPointer { q in for i in p.indices { p[i] *= q[i] } } }
    }

    /// Elementwise sum, precondition on shapes (message names both).
    @inlinable public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        do { return try lhs.adding(rhs) } catch { preconditionFailure("\(error)") }
    }
    /// Elementwise difference, precondition on shapes (message names both).
    @inlinable public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        do { return try lhs.subtracting(rhs) } catch { preconditionFailure("\(error)") }
    }
    /// Every element times `scalar`.
    @inlinable public static func * (scalar: Scalar, matrix: Matrix) -> Matrix {
        var r = matrix
        r.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= scalar } }
        return r
    }

    /// A new matrix with `transform` applied to every element.
    @inlinable public func map(_ transform: (Scalar) throws -> Scalar) rethrows -> Matrix {
        var r = self
        try r.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = try transform(p[i]) } }
        return r
    }

    /// Applies `transform` to every element in place.
    @inlinable public mutating func apply(_ transform: (Scalar) -> Scalar) {
        withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = transform(p[i]) } }
    }

    /// Broadcast add of a row vector: `self[i, j] += vector[j]` for every row `i` (a dense
    /// layer's bias). - Throws: `MatrixError.shapeMismatch` when `vector.count != columns`.
    @inlinable public mutating func addRowVector(_ vector: [Scalar]) throws(MatrixError) {
        guard vector.count == columns else {
            throw .shapeMismatch(operation: "addRowVector", lhs: shapeDescription, rhs: "vector \(vector.count)")
        }
        let c = columns, r = rows
        withUnsafeMutableBufferPointer { p in
            vector.withUnsafeBufferPointer { v in
                for i in 0..<r { let base = i * c; for j in 0..<c { p[base + j] += v[j] } }
            }
        }
    }

    /// Sum over rows: element `j` is `Σᵢ self[i, j]` (`columns` elements; a dense layer's
    /// bias gradient from `dY`). Accumulates in row order, so the result is deterministic.
    @inlinable public func columnSums() -> [Scalar] {
        var sums = [Scalar](repeating: 0, count: columns)
        columnSums(into: &sums)
        return sums
    }

    /// `columnSums()` written into `sums` (resized to `columns` if needed), without allocating
    /// when `sums` already has the right count.
    @inlinable public func columnSums(into sums: inout [Scalar]) {
        if sums.count != columns { sums = [Scalar](repeating: 0, count: columns) }
        let c = columns
        withUnsafeBufferPointer { p in
            sums.withUnsafeMutableBufferPointer { s in
                s.update(repeating: 0)
                for i in 0..<rows { let base = i * c; for j in 0..<c { s[j] += p[base + j] } }
            }
        }
    }

    /// Sum over columns: element `i` is `Σⱼ self[i, j]` (`rows` elements).
    @inlinable public func rowSums() -> [Scalar] {
        let c = columns
        return withUnsafeBufferPointer { p in
            (0..<rows).map { i in var s: Scalar = 0; for j in 0..<c { s += p[i * c + j] }; return s }
        }
    }

    /// Sum of all elements, accumulated in `Double` for accuracy.
    @inlinable public func sum() -> Double {
        withUnsafeBufferPointer { p in var s = 0.0; for x in p { s += Double(x) }; return s }
    }

    /// Mean of all elements (0 for an empty matrix), accumulated in `Double`.
    @inlinable public func mean() -> Double { count == 0 ? 0 : sum() / Double(count) }

    /// Frobenius norm `sqrt(Σ x²)`, accumulated in `Double`.
    @inlinable public func frobeniusNorm() -> Double {
        withUnsafeBufferPointer { p in var s = 0.0; for x in p { s += Double(x) * Double(x) }; return s.squareRoot() }
    }

    /// Largest absolute element (0 for an empty matrix; NaN if any element is NaN).
    @inlinable public func maxAbsolute() -> Scalar {
        withUnsafeBufferPointer { p in
            var m: Scalar = 0
            for x in p { if x.isNaN { return .nan }; m = Swift.max(m, abs(x)) }
            return m
        }
    }

    /// `true` when no element is NaN or infinite.
    @inlinable public var isFinite: Bool { withUnsafeBufferPointer { p in p.allSatisfy { $0.isFinite } } }
}
