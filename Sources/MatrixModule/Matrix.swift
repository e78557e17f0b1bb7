/// A dense row-major matrix of `Float` or `Double` with value semantics.
///
/// - Layout: element `(i, j)` is stored at `i * columns + j` in one contiguous buffer, the
///   layout `cblas_?gemm` calls `CblasRowMajor` with leading dimension `columns`. A dense
///   layer's weight is `[out, in]` (PyTorch's layout): `rows = fanOut`, `columns = fanIn`.
/// - Copy-on-write: copies share storage until one of them is mutated; mutating a uniquely
///   referenced matrix never copies.
/// - Shapes may be empty (`0×n`, `n×0`); every operation on them is a no-op that returns
///   correctly shaped results.
///
/// ```swift
/// var w = Matrix<Float>(rows: 256, columns: 784)          // zeros
/// let x = try Matrix<Float>(rows: 2, columns: 2, elements: [1, 2, 3, 4])
/// let y = try x.multiplied(by: x, transposeOther: true)   // X·Xᵀ through cblas_sgemm
/// ```
public struct Matrix<Scalar: BLASScalar>: Sendable, Equatable, Codable {
    /// Number of rows (for a dense weight: `fanOut`).
    public let rows: Int
    /// Number of columns, the row length and leading dimension (for a dense weight: `fanIn`).
    public let columns: Int
    /// The elements in row-major order, `rows × columns` of them.
    public var elements: [Scalar] { _elements }
    /// Storage; `count == rows * columns` always holds.
    @usableFromInline internal var _elements: [Scalar]

    private enum CodingKeys: String, CodingKey { case rows, columns, elements }

    /// Decodes `{"rows", "columns", "elements"}`.
    /// - Throws: `MatrixError.countMismatch` or `.negativeDimension` for inconsistent data.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(rows: c.decode(Int.self, forKey: .rows), columns: c.decode(Int.self, forKey: .columns),
                      elements: c.decode([Scalar].self, forKey: .elements))
    }

    /// Encodes `{"rows", "columns", "elements"}` (row-major).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rows, forKey: .rows); try c.encode(columns, forKey: .columns); try c.encode(_elements, forKey: .elements)
    }

    /// A `rows × columns` matrix of zeros. Negative dimensions are a programming error
    /// (precondition); use `init(rows:columns:elements:)` for checked construction.
    public init(rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, repeating: 0)
    }

    /// A `rows × columns` matrix with every element equal to `value`. Negative dimensions and an
    /// element count that overflows `Int` are programming errors (precondition); sizes that come
    /// from outside go through `zeros(rows:columns:)`, which throws instead.
    public init(rows: Int, columns: Int, repeating value: Scalar) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be ≥ 0, got \(rows)×\(columns)")
        precondition(!rows.multipliedReportingOverflow(by: columns).overflow, "Matrix \(rows)×\(columns): element count overflows Int")
        self.rows = rows
        self.columns = columns
        self._elements = [Scalar](repeating: value, count: rows * columns)
    }

    /// A matrix over row-major `elements`.
    /// - Throws: `MatrixError.countMismatch` when `elements.count != rows * columns`,
    ///   `MatrixError.negativeDimension` for negative dimensions.
    public init(rows: Int, columns: Int, elements: [Scalar]) throws(MatrixError) {
        guard rows >= 0, columns >= 0 else { throw .negativeDimension(rows: rows, columns: columns) }
        guard rows.multipliedReportingOverflow(by: columns).overflow == false,
              elements.count == rows * columns
        else { throw .countMismatch(rows: rows, columns: columns, count: elements.count) }
        self.rows = rows
        self.columns = columns
        self._elements = elements
    }

    /// A matrix from an array of rows, e.g. `[[1, 2, 3], [4, 5, 6]]` is `2×3`.
    /// - Throws: `MatrixError.raggedRows` when rows differ in length.
    public init(_ rowArrays: [[Scalar]]) throws(MatrixError) {
        let columns = rowArrays.first?.count ?? 0
        var elements: [Scalar] = []
        elements.reserveCapacity(rowArrays.count * columns)
        for (index, row) in rowArrays.enumerated() {
            guard row.count == columns else { throw .raggedRows(expected: columns, row: index, found: row.count) }
            elements.append(contentsOf: row)
        }
        self.rows = rowArrays.count
        self.columns = columns
        self._elements = elements
    }

    /// A `rows × columns` matrix of zeros, with the sizes checked: the checked form of
    /// `init(rows:columns:)` for sizes that come from outside.
    /// - Throws: `MatrixError.negativeDimension` for a negative dimension, `MatrixError.size`
    ///   when `rows × columns × MemoryLayout<Scalar>.size` overflows `Int` or exceeds the memory
    ///   available to the process (`CheckedSize.availableMemory()`).
    public static func zeros(rows: Int, columns: Int) throws(MatrixError) -> Matrix {
        guard rows >= 0, columns >= 0 else { throw .negativeDimension(rows: rows, columns: columns) }
        do {
            let bytes = try CheckedSize.byteCount([rows, columns], elementBytes: MemoryLayout<Scalar>.stride, what: "matrix \(rows)×\(columns)")
            try CheckedSize.requireMemory(bytes, what: "matrix \(rows)×\(columns)")
        } catch { throw .size(error) }
        return Matrix(rows: rows, columns: columns)
    }

    /// The `n × n` identity matrix.
    /// - Throws: `MatrixError.negativeDimension` for `n < 0`, `MatrixError.size` when `n²`
    ///   elements overflow or do not fit in memory (as `zeros(rows:columns:)`).
    public static func identity(_ n: Int) throws(MatrixError) -> Matrix {
        var m = try zeros(rows: n, columns: n)
        for i in 0..<n { m._elements[i * n + i] = 1 }
        return m
    }

    /// `rows × columns`, the number of elements.
    @inlinable public var count: Int { rows * columns }
    /// `(rows, columns)`.
    @inlinable public var shape: (rows: Int, columns: Int) { (rows, columns) }
    /// The shape as `"rows×columns"`, as used in error messages.
    public var shapeDescription: String { "\(rows)×\(columns)" }
    /// `true` when the matrix has no elements.
    @inlinable public var isEmpty: Bool { rows == 0 || columns == 0 }

    /// Element `(row, column)`. Out-of-range indices are a precondition failure naming them.
    @inlinable
    public subscript(row: Int, column: Int) -> Scalar {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                         "index (\(row), \(column)) out of range for \(rows)×\(columns)")
            return _elements[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                         "index (\(row), \(column)) out of range for \(rows)×\(columns)")
            _elements[row * columns + column] = newValue
        }
    }

    /// A copy of row `i` (`columns` elements).
    public func row(_ i: Int) -> [Scalar] {
        precondition(i >= 0 && i < rows, "row \(i) out of range for \(rows)×\(columns)")
        return Array(_elements[(i * columns)..<((i + 1) * columns)])
    }

    /// Replaces row `i`. - Throws: `MatrixError.countMismatch` when `values.count != columns`.
    public mutating func setRow(_ i: Int, to values: [Scalar]) throws(MatrixError) {
        precondition(i >= 0 && i < rows, "row \(i) out of range for \(rows)×\(columns)")
        guard values.count == columns else { throw .countMismatch(rows: 1, columns: columns, count: values.count) }
        _elements.replaceSubrange((i * columns)..<((i + 1) * columns), with: values)
    }

    /// A copy of column `j` (`rows` elements).
    public func column(_ j: Int) -> [Scalar] {
        precondition(j >= 0 && j < columns, "column \(j) out of range for \(rows)×\(columns)")
        return (0..<rows).map { _elements[$0 * columns + j] }
    }

    /// The transposed copy, `columns × rows` (blocked for cache locality).
    public func transposed() -> Matrix {
        var result = Matrix(rows: columns, columns: rows)
        let r = rows, c = columns
        guard r > 0, c > 0 else { return result }
        _elements.withUnsafeBufferPointer { src in
            result._elements.withUnsafeMutableBufferPointer { dst in
                let block = 32
                var i0 = 0
                while i0 < r {
                    let i1 = min(i0 + block, r)
                    var j0 = 0
                    while j0 < c {
                        let j1 = min(j0 + block, c)
                        for i in i0..<i1 { for j in j0..<j1 { dst[j * r + i] = src[i * c + j] } }
                        j0 = j1
                    }
                    i0 = i1
                }
            }
        }
        return result
    }

    /// Calls `body` with the row-major elements (`count` of them).
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>!
        _elements.withUnsafeBufferPointer { buffer in
            do throws(E) { result = .success(try body(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Calls `body` with mutable access to the row-major elements, copying first only if the
    /// storage is shared (copy-on-write). The buffer must not escape `body`.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(_ body: (UnsafeMutableBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>!
        _elements.withUnsafeMutableBufferPointer { buffer in
            do throws(E) { result = .success(try body(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Sets every element to `value`.
    public mutating func fill(with value: Scalar) {
        _elements.withUnsafeMutableBufferPointer { $0.update(repeating: value) }
    }

    /// Reshapes without moving data (same row-major order).
    /// - Throws: `MatrixError.countMismatch` when `rows × columns ≠ count`.
    public func reshaped(rows newRows: Int, columns newColumns: Int) throws(MatrixError) -> Matrix {
        try Matrix(rows: newRows, columns: newColumns, elements: elements)
    }
}

extension Matrix: CustomStringConvertible {
    /// A readable dump (all elements up to 8×8, otherwise the shape and corners).
    public var description: String {
        if rows <= 8 && columns <= 8 {
            let lines = (0..<rows).map { i in (0..<columns).map { "\(self[i, $0])" }.joined(separator: ", ") }
            return "Matrix<\(Scalar.self)> \(shapeDescription) [\n  " + lines.joined(separator: "\n  ") + "\n]"
        }
        return "Matrix<\(Scalar.self)> \(shapeDescription)"
    }
}
