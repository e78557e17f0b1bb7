import Dispatch
import MatrixModule

/// Orthogonal initialization (Saxe, McClelland & Ganguli 2014) through a thread-invariant
/// Householder QR.
///
/// A `rows × columns` Gaussian matrix G (from `N(0, 1)` with the key) is factored `G = QR`;
/// Q's columns are multiplied by `sign(diag R)` so the result is Haar-distributed
/// (Mezzadri 2007), then by `gain`. The QR is `HouseholderQR.thinQ` (blocked Householder whose
/// gemm calls never let OpenBLAS split the inner dimension), so the bytes are identical for any
/// fill-thread and OpenBLAS thread count on a given machine and OpenBLAS kernel; they differ in the
/// last bits from the earlier LAPACK `geqrf`/`orgqr` version (same Q up to rounding). Wide and
/// square matrices (rows ≤ columns) get orthonormal rows (`W·Wᵀ = gain²·I`), tall ones orthonormal columns (`Wᵀ·W = gain²·I`) — PyTorch
/// `orthogonal_`. Wide matrices are factored in place: the row-major `rows × columns` buffer is
/// the column-major `columns × rows` matrix Gᵀ, so the QR is `columns × rows` (a conv kernel
/// (100, 100, 3, 3) is a 900×100 problem, never 900×900).
enum Orthogonal {
    static func fill<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, rows: Int, columns: Int, rowRange: Range<Int>,
                                           gain: Double, key: RandomKey, threads: Int?) throws(InitializationError) {
        if rowRange == 0..<rows {
            try fillWhole(shard, rows: rows, columns: columns, gain: gain, key: key, threads: threads)
            return
        }
        var full = [S](repeating: 0, count: rows * columns)
        try full.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
            try fillWhole(p, rows: rows, columns: columns, gain: gain, key: key, threads: threads)
            let base = rowRange.lowerBound * columns
            for j in 0..<shard.count { shard[j] = p[base + j] }
        }
    }

    static func fillWhole<S: InitializerScalar>(_ w: UnsafeMutableBufferPointer<S>, rows: Int, columns: Int, gain: Double,
                                                key: RandomKey, threads: Int?) throws(InitializationError) {
        if rows <= columns {
            try RandomFill.normal(w, mean: 0, std: 1, key: key, threads: threads)
            let d: [S]
            do { d = try HouseholderQR.thinQ(w, rows: columns, columns: rows) } catch { throw .linearAlgebra("\(error)") }
            // The sign fix, rows split over workers when the matrix is large (elementwise: same bytes).
            let factors = d.map { S($0 < 0 ? -gain : gain) }
            let base = SendablePointer(base: w.baseAddress!)
            let rowsPerTask = max(1, (1 << 18) / max(columns, 1))
            let tasks = (rows + rowsPerTask - 1) / rowsPerTask
            let body: @Sendable (Int) -> Void = { t in
                for j in (t * rowsPerTask)..<min(rows, (t + 1) * rowsPerTask) {
                    let f = factors[j], row = base.base + j * columns
                    for i in 0..<columns { row[i] *= f }
                }
            }
            if tasks > 1 { DispatchQueue.concurrentPerform(iterations: tasks, execute: body) } else { body(0) }
        } else {
            var g = [S](repeating: 0, count: rows * columns)
            try g.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
                try RandomFill.normal(p, mean: 0, std: 1, key: key, threads: threads)
                let d: [S]
                do { d = try HouseholderQR.thinQ(p, rows: rows, columns: columns) } catch { throw .linearAlgebra("\(error)") }
                let factors = d.map { S($0 < 0 ? -gain : gain) }
                for i in 0..<rows { for j in 0..<columns { w[i * columns + j] = p[i + j * rows] * factors[j] } }
            }
        }
    }
}
