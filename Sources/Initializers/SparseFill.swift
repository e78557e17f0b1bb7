import CFillKernels
import Dispatch

/// Sparse initialization (Martens 2010, PyTorch `sparse_`): `N(0, std²)` values with exactly
/// `⌈sparsity·rows⌉` zeros in every column.
///
/// The zero rows of column `c` are the `⌈sparsity·rows⌉` rows with the smallest scores
/// `u(c·rows + r)`, uniform draws from the key folded with `0x5BA45E` (stream 16), ties broken by
/// row index — so the pattern is a pure function of the key, reproducible and shardable. The
/// rows are found in one pass plus a selection inside a narrow band of scores
/// (`wi_select_smallest`, O(rows) per column).
enum SparseFill {
    static let stream: UInt32 = 16

    static func fill<S: InitializerScalar>(_ shard: UnsafeMutableBufferPointer<S>, rows: Int, columns: Int, rowRange: Range<Int>,
                                           sparsity: Double, std: Double, key: RandomKey, threads: Int?) throws(InitializationError) {
        guard rows <= Int(UInt32.max) else {
            throw .unsupportedShape(scheme: "sparse", shape: [rows, columns], reason: "at most 2³² − 1 rows")
        }
        try RandomFill.normal(shard, mean: 0, std: std, key: key, start: rowRange.lowerBound * columns, threads: threads)
        let zeros = Int((sparsity * Double(rows)).rounded(.up))
        guard zeros > 0 else { return }
        let patternKey = key.folding(in: 0x5BA45E)
        let p = SendablePointer(base: shard.baseAddress!)
        // Columns in blocks of 16: the patterns of a block become one 16-bit mask per row, and
        // the zeros are then written row by row (one cache line per row and block) instead of
        // down a column (one cache line per zero).
        let blockWidth = 16
        let blocks = (columns + blockWidth - 1) / blockWidth
        let workers = max(1, min(threads ?? FillThreads.defaultCount, blocks))
        let perWorker = (blocks + workers - 1) / workers
        let firstRow = rowRange.lowerBound, shardRows = rowRange.count
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let b0 = w * perWorker, b1 = min(blocks, b0 + perWorker)
            guard b0 < b1 else { return }
            let scores = UnsafeMutablePointer<Double>.allocate(capacity: rows)
            let work = UnsafeMutablePointer<wi_score_pair>.allocate(capacity: rows)
            let chosen = UnsafeMutablePointer<UInt32>.allocate(capacity: rows)
            let masks = UnsafeMutablePointer<UInt16>.allocate(capacity: shardRows)
            defer { scores.deallocate(); work.deallocate(); chosen.deallocate(); masks.deallocate() }
            for b in b0..<b1 {
                let c0 = b * blockWidth, c1 = min(columns, c0 + blockWidth)
                masks.update(repeating: 0, count: shardRows)
                for c in c0..<c1 {
                    wi_fill_unit_uniform_f64(scores, UInt64(c * rows), UInt64(rows), patternKey.k0, patternKey.k1, stream)
                    wi_select_smallest(scores, UInt32(rows), UInt32(zeros), work, chosen)
                    let bit = UInt16(1) << UInt16(c - c0)
                    for k in 0..<zeros {
                        let r = Int(chosen[k]) - firstRow
                        if r >= 0 && r < shardRows { masks[r] |= bit }
                    }
                }
                for r in 0..<shardRows {
                    var m = masks[r]
                    let row = p.base + r * columns + c0
                    while m != 0 {
                        row[m.trailingZeroBitCount] = 0
                        m &= m - 1
                    }
                }
            }
        }
    }
}
