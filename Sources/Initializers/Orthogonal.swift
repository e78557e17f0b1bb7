import MatrixModule

/// Orthogonal initialization (Saxe, McClelland & Ganguli 2014) through a thread-invariant QR.
///
/// A `rows × columns` Gaussian matrix G (from `N(0, 1)` with the key) is factored `G = QR` with
/// a positive diagonal of R — the unique such Q, i.e. LAPACK's Q with its columns multiplied by
/// `sign(diag R)` — so the result is Haar-distributed (Mezzadri 2007), then scaled by `gain`.
/// The factorization is CholeskyQR(2) in Double on a fixed tile grid
/// (`LAPACK.orthonormalize`): the bytes are identical for any fill-thread count and any
/// OpenBLAS thread count (per machine and OpenBLAS kernel). Since this method replaced LAPACK's
/// Householder `geqrf`/`orgqr`, the bytes differ from earlier versions in the last bits (same Q
/// up to rounding). Wide and square matrices (rows ≤ columns) get orthonormal
/// rows (`W·Wᵀ = gain²·I`), tall ones orthonormal columns (`Wᵀ·W = gain²·I`) — PyTorch
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
            do { _ = try LAPACK.orthonormalize(w, rows: columns, columns: rows, scale: S(gain), workers: threads) }
            catch { throw .linearAlgebra("\(error)") }
        } else {
            var g = [S](repeating: 0, count: rows * columns)
            try g.withUnsafeMutableBufferPointer { (p) throws(InitializationError) in
                try RandomFill.normal(p, mean: 0, std: 1, key: key, threads: threads)
                do { _ = try LAPACK.orthonormalize(p, rows: rows, columns: columns, scale: S(gain), workers: threads) }
                catch { throw .linearAlgebra("\(error)") }
                for i in 0..<rows { for j in 0..<columns { w[i * columns + j] = p[i + j * rows] } }
            }
        }
    }
}
