import Dispatch
import MatrixModule

/// Orthogonal initialization (Saxe, McClelland & Ganguli 2014) through a thread-invariant
/// Householder QR.
///
/// A `rows × columns` Gaussian matrix G (from `N(0, 1)` with the key) is factored `G = QR`;
/// Q's columns are multiplied by `sign(diag R)` so the result is Haar-distributed
/// (Mezzadri 2007), then by `gain`. The QR is `HouseholderQR.thinQ` (blocked Householder on the
/// package's own gemm, no BLAS call), so the bytes are identical for any fill-thread and OpenBLAS
/// thread count; they differ in the last bits from the earlier LAPACK `geqrf`/`orgqr` version
/// (same Q up to rounding). The Gaussian is filled beside the QR's first panel and the sign fix is
/// done in Q's last update (`thinQ(_:rows:columns:signFixGain:fillingColumns:)`): the same bytes
/// as filling first and fixing the signs in a separate pass. Wide and
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
            // The Gaussian is filled column by column of the QR (rows of w) beside the first panel's
            // factorization, and the sign fix is done in Q's last update: the bytes of filling first
            // and fixing the signs in a separate pass (element `start + j` of the key's stream is the
            // same whoever writes it; one rounding per product either way).
            guard let wBase = w.baseAddress, rows > 0 else { return }
            let base = SendablePointer(base: wBase)
            let m = columns
            do {
                _ = try HouseholderQR.thinQ(w, rows: columns, columns: rows, signFixGain: gain, fillingColumns: { range in
                    // mean 0, std 1: RandomFill.normal cannot throw.
                    try? RandomFill.normal(UnsafeMutableBufferPointer(start: base.base + range.lowerBound * m, count: range.count * m),
                                           mean: 0, std: 1, key: key, start: range.lowerBound * m, threads: 1)
                })
            } catch { throw .linearAlgebra("\(error)") }
        } else {
            var g = [S](repeating: 0, count: rows * columns)
            try g.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
                let base = SendablePointer(base: p.baseAddress!)
                let d: [S]
                do {
                    d = try HouseholderQR.thinQ(p, rows: rows, columns: columns, signFixGain: nil, fillingColumns: { range in
                        // mean 0, std 1: RandomFill.normal cannot throw.
                        try? RandomFill.normal(UnsafeMutableBufferPointer(start: base.base + range.lowerBound * rows, count: range.count * rows),
                                               mean: 0, std: 1, key: key, start: range.lowerBound * rows, threads: 1)
                    })
                } catch { throw .linearAlgebra("\(error)") }
                let factors = d.map { S($0 < 0 ? -gain : gain) }
                for i in 0..<rows { for j in 0..<columns { w[i * columns + j] = p[i + j * rows] * factors[j] } }
            }
        }
    }
}
