import Distributed
import Foundation
import Initializers
import MatrixModule
import NeuralNetwork
import Testing

/// Synthetic classification data (uniform inputs, labels from a fixed random linear map).
func syntheticData(count: Int, features: Int = 12, seed: UInt64) throws -> LabeledData {
    var g = PhiloxGenerator(seed: seed), w = PhiloxGenerator(seed: 4242)
    let map = (0..<(features * 10)).map { _ in Float(Double(w.next() % 2001) / 1000 - 1) }
    var inputs: [Float] = [], labels: [Int32] = []
    for _ in 0..<count {
        let x = (0..<features).map { _ in Float(Double(g.next() % 2001) / 1000 - 1) }
        let scores = (0..<10).map { c in (0..<features).reduce(Float(0)) { $0 + map[c * features + $1] * x[$1] } }
        inputs += x; labels.append(Int32(scores.indices.max { scores[$0] < scores[$1] }!))
    }
    return try LabeledData(features: features, inputs: inputs, labels: labels)
}

func floats(_ url: URL) throws -> [Float] {
    let d = try Data(contentsOf: url)
    return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
}

@Suite("Data-parallel training")
struct DataParallelTrainerTests {
    @Test("world size 1: DataParallelTrainer equals the single-process Trainer bit for bit after every step (SGD Nesterov, Adam, tiny buckets)",
          arguments: ["sgd", "adam"])
    func oneRankIsTrainer(optimizer: String) throws {
        let train = try syntheticData(count: 203, seed: 1), test = try syntheticData(count: 50, seed: 2)
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 32; cfg.seed = 9
        if optimizer == "adam" { cfg.optimizer = .adam(); cfg.learningRate = 0.003 }
        let a = try Sequential(sizes: [12, 8, 10], activation: .tanh, seed: 1)
        let b = try Sequential(sizes: [12, 8, 10], activation: .tanh, seed: 1)
        var traceA: [[Float]] = [], traceB: [[Float]] = []
        let dp = try DataParallelTrainer(model: a, configuration: cfg, communicator: LocalCommunicator(), bucketBytes: 64)
        try dp.verifyIdenticalModels(train: train, test: test)
        let ra = try dp.fit(train: train, test: test, stepEnded: { _ in traceA.append(a.flatValues) })
        let rb = try Trainer(model: b, configuration: cfg).fit(train: train, test: test, progress: { _ in traceB.append(b.flatValues) })
        #expect(traceA.count == 14 && traceA == traceB)
        #expect(ra.map(\.testAccuracy) == rb.map(\.testAccuracy))
        // 64-byte buckets of 16 floats: ⌈(12·8 + 8 + 8·10 + 10 + 2) / 16⌉ = ⌈196 / 16⌉ = 13 all-reduces per step.
        #expect(dp.allReduceStatistics.calls == 14 * 13 && dp.allReduceStatistics.bytesPerStep == 196 * 4)
        print("world size 1 (\(optimizer)): 14 steps bitwise equal to Trainer; train loss \(ra.last!.trainLoss) vs \(rb.last!.trainLoss)")
    }

    @Test("bad inputs: a bucket below 16 bytes, diagnostics; a non-finite loss stops every rank at the same step")
    func errors() throws {
        let m = try Sequential(sizes: [12, 4, 10], activation: .relu, seed: 0)
        #expect(throws: TrainingError.self) { _ = try DataParallelTrainer(model: m, configuration: TrainingConfiguration(), communicator: LocalCommunicator(), bucketBytes: 8) }
        var cfg = TrainingConfiguration(); cfg.diagnostics = true
        #expect(throws: TrainingError.self) { _ = try DataParallelTrainer(model: m, configuration: cfg, communicator: LocalCommunicator()) }
        var blowUp = TrainingConfiguration(); blowUp.learningRate = 1e30; blowUp.optimizer = .sgd(momentum: 0, nesterov: false); blowUp.epochs = 3
        let dp = try DataParallelTrainer(model: m, configuration: blowUp, communicator: LocalCommunicator())
        let data = try syntheticData(count: 64, seed: 3)
        #expect(throws: TrainingError.self) { _ = try dp.fit(train: data, test: data) }
    }

    @Test("checksums: equal models and data agree, one changed parameter or label changes the checksum")
    func checksums() throws {
        let a = try Sequential(sizes: [12, 4, 10], activation: .relu, seed: 0), b = try Sequential(sizes: [12, 4, 10], activation: .relu, seed: 0)
        #expect(DataParallelTrainer.checksum(of: a) == DataParallelTrainer.checksum(of: b))
        b.layers[1].bias[3] = 1e-30
        #expect(DataParallelTrainer.checksum(of: a) != DataParallelTrainer.checksum(of: b))
        let d = try syntheticData(count: 10, seed: 1)
        var labels = d.labels; labels[9] = (labels[9] + 1) % 10
        #expect(DataParallelTrainer.checksum(of: d) != DataParallelTrainer.checksum(of: try LabeledData(features: 12, inputs: d.inputs, labels: labels)))
    }
}

extension MPISuite {
    /// The harness trains a 20-16-10 ReLU MLP for 3 epochs of 299 samples in global batches of 37
    /// (27 steps; each epoch ends with a batch of 3, fewer rows than 4 ranks) with 400-byte buckets.
    @Suite("data-parallel training")
    struct Training {
        @Test("N = 2, 3, 4 vs one process with the same global batch: every rank bitwise equal after every step; parameters within rtol 1e-5",
              arguments: [(2, "sgd"), (4, "sgd-decay"), (3, "adam")])
        func equivalence(n: Int, optimizer: String) throws {
            guard mpiAvailable("training N=\(n)") else { return }
            let dir = try temporaryDirectory("train\(n)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try mpirun(n, try builtExecutable("DistributedHarness"), ["train", dir.path, "3", "37", optimizer], timeout: 90)
            #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
            let o = try jsonObject(r.stdout)
            #expect(o["world_size"] as? Int == n && o["steps"] as? Int == 27)
            let p = try #require(o["parameters"] as? Int)
            let single = try floats(dir.appendingPathComponent("single.bin"))
            #expect(single.count == 27 * p)
            let ranks = try (0..<n).map { try floats(dir.appendingPathComponent("rank-\($0).bin")) }
            for (k, trace) in ranks.enumerated() {
                #expect(trace.count == 27 * p)
                #expect(trace.map(\.bitPattern) == ranks[0].map(\.bitPattern), "rank \(k) differs from rank 0")
            }
            // |a − b| ≤ 1e-5 · max(|b|, RMS of the step's parameters): near-zero elements carry the
            // absolute rounding of their neighbours (a batch sum split into N partial sums).
            var worst = 0.0, worstAbsolute = 0.0, elementwiseAbove = 0
            for step in 0..<27 {
                let a = ranks[0][(step * p)..<((step + 1) * p)], b = single[(step * p)..<((step + 1) * p)]
                let rms = (b.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(p)).squareRoot()
                for (x, y) in zip(a, b) {
                    let d = abs(Double(x) - Double(y))
                    worst = max(worst, d / max(abs(Double(y)), rms)); worstAbsolute = max(worstAbsolute, d)
                    if d > 1e-5 * abs(Double(y)) { elementwiseAbove += 1 }
                }
            }
            #expect(worst <= 1e-5)
            print("training N=\(n) \(optimizer): \(n) ranks bitwise equal over 27 steps; vs one process max |a−b|/max(|b|, rms) = \(worst), max |a−b| = \(worstAbsolute), \(elementwiseAbove) of \(27 * p) elements above a pure elementwise 1e-5; test accuracy \(o["test_accuracy"] ?? "") vs \(o["single_test_accuracy"] ?? ""); \(o["allreduce_calls"] ?? "") all-reduces; \(String(format: "%.2f", r.seconds)) s")
        }
    }
}
