// Deterministic per-epoch shuffling and mini-batching.
//
// The order of an epoch is a pure function of (seed, epoch): SplitMix64 (Steele, Lea & Flood,
// "Fast splittable pseudorandom number generators", OOPSLA 2014; constants of Vigna's reference
// C code, https://prng.di.unimi.it/splitmix64.c), Lemire's unbiased bounded integers
// ("Fast random integer generation in an interval", ACM TOMACS 2019) and the Fisher–Yates /
// Durstenfeld shuffle. Everything is self-contained, so the order does not depend on the Swift
// standard library's generator or on its `shuffle` algorithm.

/// The SplitMix64 generator: a 64-bit state advanced by the golden-ratio increment
/// `0x9E3779B97F4A7C15` and passed through a bijective finalizer.
///
/// Output matches Vigna's reference `splitmix64.c` bit for bit. Period 2^64; not
/// cryptographically secure. Source: Steele, Lea & Flood, OOPSLA 2014.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The current state; the next output is `mix(state + 0x9E3779B97F4A7C15)`.
    public var state: UInt64

    /// Creates a generator whose state is `seed` (as in the reference code).
    public init(seed: UInt64) {
        state = seed
    }

    /// The SplitMix64 finalizer (a bijection on UInt64; variant 13 of Stafford's mixers):
    /// `z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB; z ^ z>>31`.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Advances the state by `0x9E3779B97F4A7C15` and returns the mixed state.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniformly distributed integer in `0..<bound`, without modulo bias (Lemire 2019:
    /// multiply-high with rejection of the `2^64 mod bound` low products).
    ///
    /// - Precondition: `bound > 0`.
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "SplitMix64.next(below:): bound must be > 0")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }
}

/// Deterministic shuffling of `0..<count` per epoch.
///
/// The permutation of epoch `e` is the Fisher–Yates (Durstenfeld) shuffle of the identity, driven
/// by ``SplitMix64`` seeded with ``generatorSeed(seed:epoch:)``: a pure function of
/// `(count, seed, epoch)`, identical on every platform and Swift version.
public struct EpochShuffler: Sendable, Equatable {
    /// Number of examples being shuffled.
    public let count: Int
    /// The run's seed.
    public let seed: UInt64

    /// Creates a shuffler for `count` examples.
    ///
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` if `count < 0`.
    public init(count: Int, seed: UInt64) throws {
        guard count >= 0 else {
            throw DatasetError.invalidParameter(name: "count", value: "\(count)", rule: "must be ≥ 0")
        }
        self.count = count
        self.seed = seed
    }

    /// The SplitMix64 seed of an epoch:
    /// `seed ^ SplitMix64.mix(UInt64(bitPattern: epoch) &* 0x9E3779B97F4A7C15 &+ 0xD1B54A32D192ED03)`.
    /// The epoch term is a bijection of the epoch, so different epochs give different streams.
    public static func generatorSeed(seed: UInt64, epoch: Int) -> UInt64 {
        let e = UInt64(bitPattern: Int64(epoch))
        return seed ^ SplitMix64.mix(e &* 0x9E37_79B9_7F4A_7C15 &+ 0xD1B5_4A32_D192_ED03)
    }

    /// The order of epoch `epoch`: a permutation of `0..<count`.
    public func permutation(epoch: Int) -> [Int] {
        var order = [Int]()
        fillPermutation(&order, epoch: epoch)
        return order
    }

    /// Writes the order of epoch `epoch` into `order` (resized to `count`; reuses its storage
    /// when it already holds `count` elements). Same result as ``permutation(epoch:)``.
    ///
    /// Algorithm: `order = [0, 1, …, count-1]`; for `i` from `count-1` down to 1,
    /// `j = generator.next(below: i + 1)`, swap `order[i]` and `order[j]`.
    public func fillPermutation(_ order: inout [Int], epoch: Int) {
        if order.count != count {
            order = Array(0..<count)
        } else {
            for i in 0..<count { order[i] = i }
        }
        guard count > 1 else { return }
        var generator = SplitMix64(seed: Self.generatorSeed(seed: seed, epoch: epoch))
        order.withUnsafeMutableBufferPointer { p in
            var i = count - 1
            while i > 0 {
                let j = Int(generator.next(below: UInt64(i + 1)))
                p.swapAt(i, j)
                i -= 1
            }
        }
    }
}

/// How `count` examples are cut into mini-batches of `batchSize` consecutive positions of an
/// epoch's order: batch `b` covers positions `b*batchSize ..< min((b+1)*batchSize, count)`.
/// The last batch is partial when `batchSize` does not divide `count`, unless `dropLast` is set,
/// in which case it is omitted.
public struct BatchPlan: Sendable, Equatable {
    /// Number of examples per epoch.
    public let count: Int
    /// Examples per full batch.
    public let batchSize: Int
    /// Whether a final partial batch is omitted (default `false`: it is kept).
    public let dropLast: Bool

    /// Creates a plan.
    ///
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` if `count < 0` or `batchSize < 1`.
    public init(count: Int, batchSize: Int, dropLast: Bool = false) throws {
        guard count >= 0 else {
            throw DatasetError.invalidParameter(name: "count", value: "\(count)", rule: "must be ≥ 0")
        }
        guard batchSize >= 1 else {
            throw DatasetError.invalidParameter(name: "batch size", value: "\(batchSize)", rule: "must be ≥ 1")
        }
        self.count = count
        self.batchSize = batchSize
        self.dropLast = dropLast
    }

    /// Number of batches per epoch: `count / batchSize` rounded up (down when `dropLast`).
    public var batchCount: Int {
        dropLast ? count / batchSize : (count + batchSize - 1) / batchSize
    }

    /// Positions covered by batch `index` (into the epoch's order).
    ///
    /// - Precondition: `0 <= index < batchCount`.
    public func range(ofBatch index: Int) -> Range<Int> {
        precondition(index >= 0 && index < batchCount, "BatchPlan: batch \(index) outside 0..<\(batchCount)")
        let start = index * batchSize
        return start..<min(start + batchSize, count)
    }

    /// All batch ranges in order; together they cover `0..<count` (or `0..<batchCount*batchSize` with `dropLast`).
    public var ranges: [Range<Int>] {
        (0..<batchCount).map { range(ofBatch: $0) }
    }
}

/// Copying selected examples into reusable, contiguous batch buffers.
public enum Batching {
    /// Copies rows `indices` of the row-major matrix `source` (`[rows, features]`) into the first
    /// `indices.count * features` elements of `buffer`, in the order given: buffer row `k` is
    /// source row `indices[k]`. Elements of `buffer` past that prefix are left untouched, so a
    /// buffer sized for a full batch can be reused for the partial last batch. Allocates nothing
    /// when `buffer` is uniquely referenced.
    ///
    /// - Parameters:
    ///   - indices: row numbers, each in `0..<source.count / features`.
    ///   - source: row-major `[rows, features]` Float matrix.
    ///   - features: row length, ≥ 1, dividing `source.count`.
    ///   - buffer: destination, at least `indices.count * features` elements.
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` for a bad `features`, a buffer
    ///   that is too small, or an index out of range (checked before anything is written).
    public static func gatherRows(_ indices: ArraySlice<Int>, from source: [Float], features: Int, into buffer: inout [Float]) throws {
        guard features >= 1, source.count % features == 0 else {
            throw DatasetError.invalidParameter(name: "features", value: "\(features)", rule: "must be ≥ 1 and divide the source size \(source.count)")
        }
        let rowCount = source.count / features
        try checkIndices(indices, rowCount: rowCount)
        let needed = indices.count * features
        guard buffer.count >= needed else {
            throw DatasetError.invalidParameter(name: "buffer.count", value: "\(buffer.count)", rule: "must be ≥ \(indices.count) rows × \(features) features = \(needed)")
        }
        source.withUnsafeBufferPointer { src in
            buffer.withUnsafeMutableBufferPointer { dst in
                var k = 0
                for row in indices {
                    let from = src.baseAddress! + row * features
                    (dst.baseAddress! + k * features).update(from: from, count: features)
                    k += 1
                }
            }
        }
    }

    /// Copies `labels[indices[k]]` into `buffer[k]` for each `k`; other elements are untouched.
    ///
    /// - Throws: ``DatasetError/invalidParameter(name:value:rule:)`` for a buffer shorter than
    ///   `indices.count` or an index outside `0..<labels.count`.
    public static func gatherLabels<Label: Sendable>(_ indices: ArraySlice<Int>, from labels: [Label], into buffer: inout [Label]) throws {
        try checkIndices(indices, rowCount: labels.count)
        guard buffer.count >= indices.count else {
            throw DatasetError.invalidParameter(name: "label buffer.count", value: "\(buffer.count)", rule: "must be ≥ \(indices.count)")
        }
        var k = 0
        for row in indices {
            buffer[k] = labels[row]
            k += 1
        }
    }

    private static func checkIndices(_ indices: ArraySlice<Int>, rowCount: Int) throws {
        for i in indices where i < 0 || i >= rowCount {
            throw DatasetError.invalidParameter(name: "row index", value: "\(i)", rule: "must be in 0..<\(rowCount)")
        }
    }
}

extension MNISTDataset {
    /// Gathers examples `indices` into reusable buffers: image rows into `images`
    /// (row-major `[indices.count, features]` prefix) and labels into `labels` (`[indices.count]` prefix).
    ///
    /// Typical use: `let order = shuffler.permutation(epoch: e)`, then for each
    /// `r in plan.ranges` call `gather(order[r], images: &x, labels: &y)` with `x` sized
    /// `batchSize * features` and `y` sized `batchSize`, allocated once.
    ///
    /// - Returns: the number of examples written (`indices.count`).
    /// - Throws: as ``Batching/gatherRows(_:from:features:into:)`` and ``Batching/gatherLabels(_:from:into:)``.
    @discardableResult
    public func gather(_ indices: ArraySlice<Int>, images buffer: inout [Float], labels labelBuffer: inout [Int32]) throws -> Int {
        try Batching.gatherRows(indices, from: images, features: features, into: &buffer)
        try Batching.gatherLabels(indices, from: labels, into: &labelBuffer)
        return indices.count
    }
}
