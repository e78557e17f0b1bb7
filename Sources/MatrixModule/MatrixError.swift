/// Errors thrown by `Matrix`, `BLAS` and the LAPACK wrappers. Every case names the values
/// involved and the rule they broke; `description` is a sentence a user can act on.
public enum MatrixError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An element array whose count is not `rows × columns`.
    case countMismatch(rows: Int, columns: Int, count: Int)
    /// A negative row or column count.
    case negativeDimension(rows: Int, columns: Int)
    /// Rows of different lengths passed to `Matrix(_ rows: [[Scalar]])`.
    case raggedRows(expected: Int, row: Int, found: Int)
    /// Operand shapes that the operation cannot combine, e.g. `gemm` with op(A) `[m, k]`
    /// and op(B) `[k', n]`, `k ≠ k'`. Shapes are given as `"rows×columns"`.
    case shapeMismatch(operation: String, lhs: String, rhs: String)
    /// A leading dimension (`lda`, `ldb`, `ldc`) smaller than the row length of a row-major
    /// operand, or a buffer too short for the dimensions it was described with.
    case invalidArgument(operation: String, detail: String)
    /// A dimension that does not fit the 32-bit integers of the BLAS/LAPACK interface.
    case dimensionTooLarge(operation: String, value: Int)
    /// LAPACK returned `info ≠ 0`: negative means argument `-info` was illegal, positive
    /// means the algorithm failed (e.g. eigenvalues did not converge).
    case lapackFailure(routine: String, info: Int)
    /// A size that overflows `Int` or does not fit in the memory available (see `SizeError`).
    case size(SizeError)

    public var description: String {
        switch self {
        case let .countMismatch(rows, columns, count):
            let (need, overflow) = rows.multipliedReportingOverflow(by: columns)
            return "matrix of shape \(rows)×\(columns) needs \(overflow ? "more than Int.max" : "\(need)") elements, got \(count)"
        case let .negativeDimension(rows, columns):
            return "matrix dimensions must be ≥ 0, got \(rows)×\(columns)"
        case let .raggedRows(expected, row, found):
            return "all rows must have the same length: row 0 has \(expected) elements, row \(row) has \(found)"
        case let .shapeMismatch(operation, lhs, rhs):
            return "\(operation): shapes \(lhs) and \(rhs) are not compatible"
        case let .invalidArgument(operation, detail):
            return "\(operation): \(detail)"
        case let .dimensionTooLarge(operation, value):
            return "\(operation): dimension \(value) exceeds the 32-bit BLAS/LAPACK limit \(Int32.max)"
        case let .size(error):
            return error.description
        case let .lapackFailure(routine, info):
            return info < 0
                ? "\(routine): argument \(-info) was illegal (info = \(info))"
                : "\(routine): the algorithm failed to converge or the matrix is singular (info = \(info))"
        }
    }
}

@inline(__always)
func blasInt(_ value: Int, _ operation: String) throws(MatrixError) -> Int32 {
    guard value >= 0, value <= Int(Int32.max) else { throw .dimensionTooLarge(operation: operation, value: value) }
    return Int32(value)
}
