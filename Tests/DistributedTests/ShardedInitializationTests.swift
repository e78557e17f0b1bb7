import Distributed
import Foundation
import Initializers
import MatrixModule
import Testing

/// Bytes of a single-process fill (the whole tensor at once, default thread count).
func singleProcessFill(_ initializer: Initializer, shape: [Int], seed: UInt64, dtype: String) throws -> Data {
    let count = shape.reduce(1, *)
    if dtype == "f64" {
        var t = [Double](repeating: 0, count: count)
        try initializer.fill(&t, shape: shape, key: RandomKey(seed: seed))
        return t.withUnsafeBytes { Data($0) }
    }
    var t = [Float](repeating: 0, count: count)
    try initializer.fill(&t, shape: shape, key: RandomKey(seed: seed))
    return t.withUnsafeBytes { Data($0) }
}

/// Population standard deviation, two-pass in Double (a naive oracle).
func standardDeviation(_ x: [Float]) -> Double {
    let n = Double(x.count)
    let mean = x.reduce(0.0) { $0 + Double($1) } / n
    return (x.reduce(0.0) { let d = Double($1) - mean; return $0 + d * d } / n).squareRoot()
}

@Suite("Sharded initialization")
struct ShardedInitializationTests {
    /// C29: the fans come from the global shape (999, 1000), never from a shard.
    @Test("C29: 1000×999 xavier_normal seed 11 in 1, 2, 3, 4, 7 row shards: same SHA-256 as the whole fill, std √(2/1999) ± 1%",
          arguments: [1, 2, 3, 4, 7])
    func c29RowShards(shards: Int) throws {
        let shape = [1000, 999]
        let whole = try singleProcessFill(.xavierNormal(), shape: shape, seed: 11, dtype: "f32")
        var gathered: [Float] = []
        for r in 0..<shards {
            let rows = RowPartition.rows(1000, rank: r, worldSize: shards)
            var shard = [Float](repeating: 0, count: rows.count * 999)
            try shard.withUnsafeMutableBufferPointer { try Initializer.xavierNormal().fillShard($0, shape: shape, rows: rows, key: RandomKey(seed: 11)) }
            gathered += shard
        }
        let bytes = gathered.withUnsafeBytes { Data($0) }
        let (a, b) = (try sha256(bytes), try sha256(whole))
        #expect(a == b)
        let std = standardDeviation(gathered), expected = (2.0 / 1999).squareRoot()
        print("C29 \(shards) row shards: sha256 \(a.prefix(16))… (whole \(b.prefix(16))…), std \(std) vs √(2/1999) = \(expected), relative \(std / expected - 1); a shard's own fans at 4 shards would give \((2.0 / (999 + 250)).squareRoot())")
        // 999000 samples: the std's relative standard error is 1/√(2n) ≈ 0.0007, so ±1% is ~14 standard errors.
        #expect(abs(std / expected - 1) < 0.01)
    }

    @Test("Broadcast schemes are orthogonal and delta-orthogonal only")
    func broadcastSchemes() {
        #expect(ShardedInitialization.isBroadcast(.orthogonal()))
        #expect(ShardedInitialization.isBroadcast(.deltaOrthogonal()))
        for s: Initializer in [.xavierNormal(), .heUniform(), .sparse(sparsity: 0.5), .identity(), .dirac(), .truncatedNormal()] {
            #expect(!ShardedInitialization.isBroadcast(s))
        }
    }

    @Test("LocalCommunicator: fillLocalRows is the whole fill; bad shapes throw before anything is filled")
    func local() throws {
        let c = LocalCommunicator()
        let t: [Float] = try ShardedInitialization.fillLocalRows(.heNormal(), shape: [5, 8], key: RandomKey(seed: 3), communicator: c)
        #expect(t.withUnsafeBytes { Data($0) } == (try singleProcessFill(.heNormal(), shape: [5, 8], seed: 3, dtype: "f32")))
        #expect(throws: InitializationError.self) { let _: [Float] = try ShardedInitialization.fillLocalRows(.heNormal(), shape: [5], key: RandomKey(seed: 3), communicator: c) }
        #expect(throws: InitializationError.self) { let _: [Float] = try ShardedInitialization.fillGathered(.normal(), shape: [-1, 3], key: RandomKey(seed: 3), communicator: c) }
        #expect(throws: InitializationError.self) { let _: [Float] = try ShardedInitialization.fillGathered(.normal(), shape: [Int.max, 3], key: RandomKey(seed: 3), communicator: c) }
    }

    @Test("DistributedStatistics on one rank: mean and population variance of all elements (closed form)")
    func moments() throws {
        var m = Matrix<Float>(rows: 2, columns: 3)
        for i in 0..<6 { m[i / 3, i % 3] = Float(i + 1) }           // 1…6: mean 3.5, variance 35/12
        let (mean, variance, count) = try DistributedStatistics.moments(m, communicator: LocalCommunicator())
        #expect(mean == 3.5 && abs(variance - 35.0 / 12) < 1e-12 && count == 6)
    }
}

extension MPISuite {
    @Suite("sharded fill")
    struct ShardedFill {
        /// Under mpirun, every scheme × shape (rows 7, 13, 2, 1, 5 — not divisible by most N, and
        /// fewer rows than ranks) gathered from N processes equals the single-process fill, and C29
        /// holds for N processes. Orthogonal and delta-orthogonal (computed on rank 0 and broadcast)
        /// are compared with the N = 1 run under the same OPENBLAS_NUM_THREADS, since LAPACK's bytes
        /// depend on the BLAS thread count.
        @Test("N = 1, 2, 3, 4, 7 processes gather the single-process bytes for every scheme; C29 with that many processes")
        func processes() throws {
            guard mpiAvailable("sharded fill") else { return }
            let harness = try builtExecutable("DistributedHarness")
            var reference: [Int: Data] = [:]       // broadcast schemes: the N = 1 bytes
            for n in [1, 2, 3, 4, 7] {
                let dir = try temporaryDirectory("fill\(n)")
                defer { try? FileManager.default.removeItem(at: dir) }
                let r = try mpirun(n, harness, ["fill", dir.path], timeout: 90)
                #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
                let o = try jsonObject(r.stdout)
                #expect(o["world_size"] as? Int == n)
                let cases = try #require(o["cases"] as? [[String: Any]])
                #expect(cases.count > 60)
                var compared = 0, broadcast = 0
                for c in cases {
                    let d = try JSONDecoder().decode(CaseDescription.self, from: try JSONSerialization.data(withJSONObject: c))
                    let got = try Data(contentsOf: URL(fileURLWithPath: d.file))
                    if ShardedInitialization.isBroadcast(d.initializer) {
                        if n == 1 { reference[d.index] = got; continue }
                        #expect(got == reference[d.index], "\(d.initializer.name) \(d.shape) N=\(n)")
                        broadcast += 1
                        continue
                    }
                    let expected = try singleProcessFill(d.initializer, shape: d.shape, seed: d.seed, dtype: d.dtype)
                    #expect(got == expected, "\(d.initializer.name) \(d.shape) \(d.dtype) N=\(n)")
                    compared += 1
                    if d.shape == [1000, 999] {
                        let values = got.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                        let std = standardDeviation(values), expectedStd = (2.0 / 1999).squareRoot()
                        let (a, b) = (try sha256(got), try sha256(expected))
                        #expect(a == b)
                        #expect(abs(std / expectedStd - 1) < 0.01)
                        print("C29 \(n) processes: sha256 \(a) (single process \(b)), std \(std) (√(2/1999) = \(expectedStd))")
                    }
                }
                print("sharded fill N=\(n): \(compared) cases equal to the single-process fill, \(broadcast) broadcast cases equal to N=1, in \(String(format: "%.2f", r.seconds)) s")
            }
        }
    }
}

/// One case as the harness describes it.
struct CaseDescription: Decodable {
    var index: Int
    var initializer: Initializer
    var shape: [Int]
    var dtype: String
    var seed: UInt64
    var file: String
}
