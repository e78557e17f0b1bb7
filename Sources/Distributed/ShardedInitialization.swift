import Initializers
import MatrixModule

/// How the rows (first axis) of a tensor are split over the ranks of a world.
///
/// Rank `r` of `N` owns rows `[⌊r·R/N⌋, ⌊(r+1)·R/N⌋)` of a tensor with `R` rows: contiguous,
/// in rank order, covering every row exactly once, sizes differing by at most one; when
/// `N > R` some ranks own no row. The products are formed in 128 bits, so any `R` works.
public enum RowPartition {
    /// The rows of `total` that rank `rank` of `worldSize` owns.
    /// - Precondition: `total ≥ 0`, `worldSize ≥ 1`, `0 ≤ rank < worldSize` (internal invariants
    ///   of a communicator; external sizes are validated by the callers).
    public static func rows(_ total: Int, rank: Int, worldSize: Int) -> Range<Int> {
        precondition(total >= 0 && worldSize >= 1 && (0..<worldSize).contains(rank), "RowPartition: rows \(total), rank \(rank), world size \(worldSize)")
        return boundary(total, rank, worldSize) ..< boundary(total, rank + 1, worldSize)
    }

    /// The row counts of every rank, in rank order (they sum to `total`).
    public static func counts(_ total: Int, worldSize: Int) -> [Int] {
        (0..<worldSize).map { rows(total, rank: $0, worldSize: worldSize).count }
    }

    static func boundary(_ total: Int, _ r: Int, _ n: Int) -> Int {
        let product = r.multipliedFullWidth(by: total)       // r ≤ n and total ≥ 0: no sign issues
        return n.dividingFullWidth(product).quotient
    }
}

/// Initialization of a tensor split by rows over the ranks of a communicator — each rank fills
/// only the rows `RowPartition.rows` gives it, and the gathered bytes equal the single-process
/// fill (README "Beyond one machine").
///
/// - Random and structured schemes (constant, uniform, normal, both truncated normals, every
///   variance-scaling preset — Xavier/Glorot, He/Kaiming, LeCun —, identity, dirac, sparse) run
///   sharded: each rank calls `Initializer.fillShard` for its rows. Element `i` is a pure function
///   of `(key, i)` and the fans come from the GLOBAL shape, so the bytes do not depend on the
///   world size or the thread count, and no rank ever holds more than its rows. Sparse computes
///   each column's zero pattern from all row scores (O(rows) per column, no whole tensor).
/// - Orthogonal and delta-orthogonal need a QR of the whole matrix, whose LAPACK bytes depend on
///   the OpenBLAS kernel and thread count (README, "OpenBLAS on these machines"): they are
///   computed once on rank 0 and broadcast, so every rank gets rank 0's bytes — equal to a
///   single-process fill on rank 0's machine with the same BLAS thread count.
/// - Data-based schemes (LSUV, data-dependent, layer-ratio, MetaInit) need forward passes; see
///   `DataParallelTrainer` and `DistributedStatistics`: in training they run on rank 0 over the
///   whole calibration batch and the parameters are broadcast; `DistributedStatistics.moments`
///   gives the all-reduced statistics of a batch split over ranks for code that calibrates
///   sharded.
public enum ShardedInitialization {
    /// Whether `initializer` is computed on rank 0 and broadcast (orthogonal, delta-orthogonal)
    /// rather than filled row-sharded on every rank.
    public static func isBroadcast(_ initializer: Initializer) -> Bool {
        switch initializer {
        case .orthogonal, .deltaOrthogonal: return true
        default: return false
        }
    }

    /// Fills this rank's rows of a tensor of `shape` (row-major) and returns them:
    /// `RowPartition.rows(shape[0], rank, size).count × (elements per row)` values, equal to
    /// those rows of `initializer.fill(…, shape: shape, key: key)` in one process.
    /// - Parameters: as `Initializer.fillShard`; `threads` is the fill thread count per rank.
    /// - Throws: `InitializationError` for the scheme or the shape (thrown identically on every
    ///   rank, before any communication, so no rank is left waiting), `DistributedError` from the
    ///   broadcast of broadcast schemes.
    public static func fillLocalRows<S: InitializerScalar & BitwiseCopyable>(_ initializer: Initializer, shape: [Int], layout: KernelLayout = .outInSpatial,
                                                          groups: Int = 1, key: RandomKey, communicator: any Communicator,
                                                          threads: Int? = nil, of type: S.Type = S.self) throws -> [S] {
        let (total, perRow) = try sizes(shape)
        let rows = RowPartition.rows(shape.first ?? 1, rank: communicator.rank, worldSize: communicator.size)
        if isBroadcast(initializer) && communicator.size > 1 {
            try initializer.validate()
            var whole = [S](repeating: 0, count: total)
            var failure: InitializationError?
            if communicator.isRoot {
                do { try initializer.fill(&whole, shape: shape, layout: layout, groups: groups, key: key, threads: threads) } catch { failure = error }
            }
            // Rank 0 tells the others whether it succeeded before they wait for the tensor.
            let ok = try communicator.allReduce(Int32(failure == nil ? 0 : 1), .max)
            if let failure { throw failure }
            guard ok == 0 else {
                throw DistributedError.mismatch(rank: communicator.rank, what: "\(initializer.name) on rank 0", detail: "rank 0 failed to compute the tensor")
            }
            try communicator.broadcast(&whole, root: 0)
            return Array(whole[(rows.lowerBound * perRow) ..< (rows.upperBound * perRow)])
        }
        var local = [S](repeating: 0, count: rows.count * perRow)
        try local.withUnsafeMutableBufferPointer { (p) throws in
            try initializer.fillShard(p, shape: shape, rows: rows, layout: layout, groups: groups, key: key, threads: threads)
        }
        return local
    }

    /// Fills the tensor row-sharded (`fillLocalRows`) and all-gathers it: every rank returns the
    /// whole tensor, equal to the single-process fill. Needs memory for the whole tensor on every
    /// rank; use it for models that every rank holds whole (data-parallel training) and for tests.
    /// - Throws: as `fillLocalRows`, and `DistributedError` from the all-gather.
    public static func fillGathered<S: InitializerScalar & BitwiseCopyable>(_ initializer: Initializer, shape: [Int], layout: KernelLayout = .outInSpatial,
                                                         groups: Int = 1, key: RandomKey, communicator: any Communicator,
                                                         threads: Int? = nil, of type: S.Type = S.self) throws -> [S] {
        let (_, perRow) = try sizes(shape)
        let local: [S] = try fillLocalRows(initializer, shape: shape, layout: layout, groups: groups, key: key, communicator: communicator, threads: threads)
        let counts = RowPartition.counts(shape.first ?? 1, worldSize: communicator.size).map { $0 * perRow }
        return try communicator.allGatherV(local, counts: counts)
    }

    /// Element count and elements per row of `shape`, overflow-checked.
    static func sizes(_ shape: [Int]) throws(InitializationError) -> (total: Int, perRow: Int) {
        if let bad = shape.first(where: { $0 < 0 }) { throw .invalidParameter(name: "dimension", value: Double(bad), rule: "must be ≥ 0") }
        var total = 1
        for d in shape {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o else { throw .invalidParameter(name: "element count of \(shape)", value: .infinity, rule: "must fit in Int") }
            total = p
        }
        let first = shape.first ?? 1
        return (total, first == 0 ? 0 : total / first)
    }
}

/// Statistics of a batch whose rows are split over the ranks (each rank holds its slice of one
/// global calibration batch): sums are all-reduced in Double, so the moments are those of the
/// whole batch, equal to the single-process ones up to the order of the partial sums.
public enum DistributedStatistics {
    /// Mean and population variance of all elements of the global matrix whose rows this rank's
    /// `local` holds (LSUV's statistic, `Σx/n`, `Σx²/n − mean²`, in Double).
    /// - Throws: `DistributedError` from the all-reduce.
    public static func moments(_ local: Matrix<Float>, communicator: any Communicator) throws -> (mean: Double, variance: Double, count: Int) {
        var sums = [0.0, 0.0, Double(local.count)]
        local.withUnsafeBufferPointer { p in
            for x in p { let v = Double(x); sums[0] += v; sums[1] += v * v }
        }
        try communicator.allReduce(&sums, .sum)
        let n = sums[2]
        guard n > 0 else { return (0, 0, 0) }
        let mean = sums[0] / n
        return (mean, max(0, sums[1] / n - mean * mean), Int(n))
    }
}
