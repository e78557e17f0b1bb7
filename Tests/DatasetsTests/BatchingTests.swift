import Testing
@testable import Datasets

// Oracles: Vigna's reference splitmix64.c and a C implementation of the documented shuffle
// (seed mixing + Lemire bounded integers + Fisher–Yates), run once to produce the pinned values
// below; set properties (permutation, coverage); naive copy loops.

@Suite("Batching")
struct BatchingTests {
    @Test("SplitMix64 matches Vigna's reference splitmix64.c")
    func splitMixKnownAnswers() {
        var g0 = SplitMix64(seed: 0)
        #expect((0..<5).map { _ in g0.next() } == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F, 0xF88B_B8A8_724C_81EC, 0x1B39_896A_51A8_749B])
        var g1 = SplitMix64(seed: 1_234_567)
        #expect((0..<5).map { _ in g1.next() } == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423, 4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
    }

    @Test("bounded integers stay in range and hit every value")
    func bounded() {
        var g = SplitMix64(seed: 7)
        #expect((0..<100).allSatisfy { _ in g.next(below: 1) == 0 })
        var seen = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 {
            let v = g.next(below: 7)
            #expect(v < 7)
            seen[Int(v)] += 1
        }
        // Each bucket expects 1000 with σ ≈ 29; 6σ bounds.
        #expect(seen.allSatisfy { abs($0 - 1000) < 180 }, "\(seen)")
        let huge = UInt64.max - 1
        for _ in 0..<100 { #expect(g.next(below: huge) < huge) }
    }

    @Test("the shuffle is pinned: seed 42, 10 items, epochs 0–2 (C reference)")
    func pinnedOrder() throws {
        let s = try EpochShuffler(count: 10, seed: 42)
        #expect(s.permutation(epoch: 0) == [9, 5, 2, 7, 0, 1, 4, 8, 3, 6])
        #expect(s.permutation(epoch: 1) == [0, 7, 6, 5, 9, 2, 4, 3, 1, 8])
        #expect(s.permutation(epoch: 2) == [1, 4, 3, 6, 0, 9, 8, 7, 5, 2])
    }

    @Test("each epoch is a permutation", arguments: [0, 1, 2, 3, 17, 1000, 60_000])
    func permutation(count: Int) throws {
        let s = try EpochShuffler(count: count, seed: 0xDEAD_BEEF)
        for epoch in 0..<3 {
            let order = s.permutation(epoch: epoch)
            #expect(order.count == count)
            var seen = [Bool](repeating: false, count: count)
            for i in order {
                #expect(i >= 0 && i < count)
                if i >= 0 && i < count {
                    #expect(!seen[i], "index \(i) twice")
                    seen[i] = true
                }
            }
            #expect(seen.allSatisfy { $0 })
        }
    }

    @Test("same (seed, epoch) gives the same order; different epochs or seeds differ")
    func determinism() throws {
        let a = try EpochShuffler(count: 1000, seed: 12345)
        let b = try EpochShuffler(count: 1000, seed: 12345)
        let c = try EpochShuffler(count: 1000, seed: 12346)
        for epoch in [0, 1, 5, 1_000_000, -1] {
            #expect(a.permutation(epoch: epoch) == b.permutation(epoch: epoch))
            #expect(a.permutation(epoch: epoch) != c.permutation(epoch: epoch))
        }
        let orders = (0..<20).map { a.permutation(epoch: $0) }
        for i in 0..<orders.count {
            for j in (i + 1)..<orders.count { #expect(orders[i] != orders[j], "epochs \(i) and \(j)") }
            #expect(orders[i] != Array(0..<1000))
        }
        // The reusing variant gives the same order, whatever the buffer held before.
        var buffer = [Int](repeating: -7, count: 1000)
        a.fillPermutation(&buffer, epoch: 3)
        #expect(buffer == orders[3])
        a.fillPermutation(&buffer, epoch: 4)
        #expect(buffer == orders[4])
        var wrongSize = [5, 5]
        a.fillPermutation(&wrongSize, epoch: 4)
        #expect(wrongSize == orders[4])
        // Position 0 of epoch e is roughly uniform over items: over 2000 epochs of 4 items each
        // item leads about 500 times (σ ≈ 19).
        let small = try EpochShuffler(count: 4, seed: 9)
        var leads = [Int](repeating: 0, count: 4)
        for e in 0..<2000 { leads[small.permutation(epoch: e)[0]] += 1 }
        #expect(leads.allSatisfy { abs($0 - 500) < 120 }, "\(leads)")
        expectDatasetError({ if case .invalidParameter("count", _, _) = $0 { true } else { false } }) {
            _ = try EpochShuffler(count: -1, seed: 0)
        }
    }

    @Test("batch ranges cover the set with a partial last batch, or drop it")
    func batchRanges() throws {
        let plan = try BatchPlan(count: 10, batchSize: 3)
        #expect(plan.batchCount == 4)
        #expect(plan.ranges == [0..<3, 3..<6, 6..<9, 9..<10])
        let dropped = try BatchPlan(count: 10, batchSize: 3, dropLast: true)
        #expect(dropped.batchCount == 3)
        #expect(dropped.ranges == [0..<3, 3..<6, 6..<9])
        #expect(try BatchPlan(count: 9, batchSize: 3, dropLast: true).ranges == [0..<3, 3..<6, 6..<9])
        #expect(try BatchPlan(count: 2, batchSize: 5).ranges == [0..<2])
        #expect(try BatchPlan(count: 2, batchSize: 5, dropLast: true).ranges == [])
        #expect(try BatchPlan(count: 0, batchSize: 5).ranges == [])
        // 60 000 / 128: 468 full batches and one of 96.
        let fm = try BatchPlan(count: 60_000, batchSize: 128)
        let ranges = fm.ranges
        #expect(ranges.count == 469)
        #expect(ranges.last == 59_904..<60_000)
        #expect(ranges.map(\.count).reduce(0, +) == 60_000)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
        expectDatasetError({ if case .invalidParameter("batch size", "0", _) = $0 { true } else { false } }) {
            _ = try BatchPlan(count: 10, batchSize: 0)
        }
        expectDatasetError({ if case .invalidParameter("count", _, _) = $0 { true } else { false } }) {
            _ = try BatchPlan(count: -1, batchSize: 2)
        }
    }

    @Test("gather copies exactly the requested rows into the reused buffer")
    func gatherRows() throws {
        let rows = 7, features = 5
        // source[r, f] = 100 r + f.
        let source: [Float] = (0..<rows).flatMap { r in (0..<features).map { f in Float(100 * r + f) } }
        let labels: [Int32] = (0..<rows).map { Int32(10 + $0) }
        var buffer = [Float](repeating: -1, count: 4 * features)
        var labelBuffer = [Int32](repeating: -1, count: 4)
        let indices = [6, 0, 3, 3]
        try Batching.gatherRows(indices[0..<3], from: source, features: features, into: &buffer)
        try Batching.gatherLabels(indices[0..<3], from: labels, into: &labelBuffer)
        // Naive oracle.
        var expected = [Float](repeating: -1, count: 4 * features)
        for (k, r) in indices[0..<3].enumerated() {
            for f in 0..<features { expected[k * features + f] = source[r * features + f] }
        }
        #expect(buffer == expected)
        #expect(labelBuffer == [16, 10, 13, -1])
        // Duplicates and a slice that does not start at 0.
        try Batching.gatherRows(indices[1..<4], from: source, features: features, into: &buffer)
        #expect(Array(buffer[0..<15]) == Array(source[0..<5]) + Array(source[15..<20]) + Array(source[15..<20]))

        expectDatasetError({ if case .invalidParameter("row index", "7", _) = $0 { true } else { false } }) {
            try Batching.gatherRows([1, 7][...], from: source, features: features, into: &buffer)
        }
        expectDatasetError({ if case .invalidParameter("row index", "-1", _) = $0 { true } else { false } }) {
            try Batching.gatherLabels([-1][...], from: labels, into: &labelBuffer)
        }
        expectDatasetError({ if case .invalidParameter("buffer.count", _, _) = $0 { true } else { false } }) {
            try Batching.gatherRows([0, 1, 2, 3, 4][...], from: source, features: features, into: &buffer)
        }
        expectDatasetError({ if case .invalidParameter("features", _, _) = $0 { true } else { false } }) {
            try Batching.gatherRows([0][...], from: source, features: 4, into: &buffer)
        }
    }

    @Test("one shuffled epoch through the data set visits every example once")
    func epochThroughDataSet() throws {
        let count = 23, rows = 2, columns = 3, features = 6
        let images: [Float] = (0..<count * features).map { Float($0) }
        let labels: [Int32] = (0..<count).map { Int32($0 % 10) }
        let data = try MNISTDataset(images: images, rows: rows, columns: columns, labels: labels)
        let shuffler = try EpochShuffler(count: count, seed: 99)
        let plan = try BatchPlan(count: count, batchSize: 5)
        var x = [Float](repeating: 0, count: plan.batchSize * features)
        var y = [Int32](repeating: 0, count: plan.batchSize)
        var visited = [Int](repeating: 0, count: count)
        let order = shuffler.permutation(epoch: 0)
        for r in plan.ranges {
            let n = try data.gather(order[r], images: &x, labels: &y)
            #expect(n == r.count)
            for k in 0..<n {
                // Row k of the batch must be example order[r.lowerBound + k], element by element.
                let example = order[r.lowerBound + k]
                for f in 0..<features { #expect(x[k * features + f] == images[example * features + f]) }
                #expect(y[k] == labels[example])
                // Recover the example from its first pixel (value example * features).
                visited[Int(x[k * features]) / features] += 1
            }
        }
        #expect(visited == [Int](repeating: 1, count: count))
    }
}
