import CFillKernels
import Dispatch

/// Sparse initialization (Martens 2010, PyTorch `sparse_`): `N(0, std²)` values with exactly
/// `⌈sparsity·rows⌉` zeros in every column.
///
/// The zero rows of column `c` are the `⌈sparsity·rows⌉` rows with the smallest scores
/// `u(c·rows + r)`, uniform draws from the key folded with `0x5BA45E` (stream 16), ties broken by
/// row index — so the pattern is a pure function of the key, reproducible and shardable.
enum SparseFill {
    static let stream: UInt32 = 16

    static func fill<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, rows: Int, columns: Int, rowRange: Range<Int>,
                                           sparsity: Double, std: Double, key: RandomKey, threads: Int?) throws(InitializationError) {
        try RandomFill.normal(shard, mean: 0, std: std, key: key, start: rowRange.lowerBound * columns, threads: threads)
        let zeros = Int((sparsity * Double(rows)).rounded(.up))
        guard zeros > 0 else { return }
        let patternKey = key.folding(in: 0x5BA45E)
        let p = SendablePointer(base: shard.baseAddress!)
        let workers = max(1, min(threads ?? FillThreads.defaultCount, columns))
        let perWorker = (columns + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var scores = [Double](repeating: 0, count: rows)
            var order = [Int](repeating: 0, count: rows)
            let c0 = w * perWorker, c1 = min(columns, c0 + perWorker)
            guard c0 < c1 else { return }
            for c in c0..<c1 {
                scores.withUnsafeMutableBufferPointer { s in
                    wi_fill_unit_uniform_f64(s.baseAddress, UInt64(c * rows), UInt64(rows), patternKey.k0, patternKey.k1, stream)
                }
                for r in 0..<rows { order[r] = r }
                order.sort { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
                for k in 0..<zeros {
                    let r = order[k]
                    if rowRange.contains(r) { p.base[(r - rowRange.lowerBound) * columns + c] = 0 }
                }
            }
        }
    }
}
