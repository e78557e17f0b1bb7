// Batch-split training (TrainingConfiguration.batchThreads): against the one-thread gradient
// within the closed-form bound of a reordered Float sum; bitwise reproducible for a fixed thread
// count (alone and while another run competes for the cores); batches not divisible by T,
// smaller than T (threads without rows) and the last partial batch; resume; invalid values.
import Foundation
import Testing
import Initializers
import MatrixModule
@testable import NeuralNetwork

/// `count` samples of `features` uniform values in [−1, 1) with labels `0..<classes` (SplitMix64).
private func randomData(count: Int, features: Int, classes: Int, seed: UInt64) throws -> LabeledData {
    var g = SplitMix64(seed: seed)
    let inputs = (0..<(count * features)).map { _ in Float(g.uniform()) }
    let labels = (0..<count).map { _ in Int32(g.next() % UInt64(classes)) }
    return try LabeledData(features: features, inputs: inputs, labels: labels)
}

/// Higham's γ_n = n·u/(1 − n·u), u = 2⁻²⁴: a Float sum (or FMA dot product) of n terms in any
/// order is within γ_n·Σ|terms| of the exact value, so two orders differ by at most 2γ_n·Σ|terms|.
private func gamma(_ n: Int) -> Double { let nu = Double(n) * 0x1p-24; return nu / (1 - nu) }

/// A model that is not a `ReplicableModel` (one Dense layer).
private final class Plain: NetworkModel {
    let layer = Dense(inputSize: 3, outputSize: 2)
    func forward(_ x: Matrix<Float>) throws(MatrixError) -> Matrix<Float> { try layer.forward(x) }
    func backward(_ gradient: Matrix<Float>) throws(MatrixError) -> Matrix<Float> { try layer.backward(gradient) }
    var denseLayers: [Dense] { [layer] }
    var scalarParameters: [ScalarParameter] { [] }
    var summary: String { "3-2" }
}

@Suite("Batch-split training")
struct BatchSplitTests {
    @Test("slices are ⌊t·n/T⌋ boundaries: contiguous, covering, sizes differ by ≤ 1")
    func slices() {
        for n in [0, 1, 2, 5, 37, 128] {
            for t in 1...5 {
                let r = (0..<t).map { batchSlice(n, thread: $0, of: t) }
                #expect(r.first!.lowerBound == 0 && r.last!.upperBound == n)
                for k in 1..<t { #expect(r[k].lowerBound == r[k - 1].upperBound) }
                let sizes = r.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
        #expect((0..<3).map { batchSlice(2, thread: $0, of: 3) } == [0..<0, 0..<1, 1..<2])
    }

    @Test("T = 2, 3, 4 gradients equal T = 1 within 2γ_n·Σ|dZ||X| per element (n = 37 rows)")
    func gradientsAgainstOneThread() throws {
        let data = try randomData(count: 37, features: 12, classes: 5, seed: 11)
        let indices = try Trainer.order(count: 37, seed: 3, epoch: 1)[...]
        // Reference: the one-thread path (forward, mean loss, backward) on the whole batch.
        let ref = try Sequential(sizes: [12, 16, 16, 5], activation: .relu, seed: 5)
        var batch = Matrix<Float>(rows: 0, columns: 12), labels: [Int32] = []
        try Trainer.gather(data, indices, into: &batch, labels: &labels)
        var loss = SoftmaxCrossEntropy()
        let refLoss = try loss.loss(logits: ref.forward(batch), labels: labels[...])
        try ref.backward(loss.gradient)
        // Per-element bounds from the reference's stored dZ and layer inputs.
        let n = indices.count
        var bounds: [[Double]] = []     // per parameter, in `parameters` order (weight, bias per layer)
        for (l, layer) in ref.layers.enumerated() {
            let x = l == 0 ? batch : ref.layers[l - 1].output
            let dz = layer.preactivationGradient
            let (o, i) = (layer.outputSize, layer.inputSize)
            var wb = [Double](repeating: 0, count: o * i), bb = [Double](repeating: 0, count: o)
            for b in 0..<n {
                for r in 0..<o {
                    let d = abs(Double(dz[b, r]))
                    bb[r] += d
                    for c in 0..<i { wb[r * i + c] += d * abs(Double(x[b, c])) }
                }
            }
            bounds.append(wb.map { 2 * gamma(n) * $0 }); bounds.append(bb.map { 2 * gamma(n) * $0 })
        }
        let refGradients = ref.parameters.map(\.gradient)
        for t in [2, 3, 4] {
            let model = try Sequential(sizes: [12, 16, 16, 5], activation: .relu, seed: 5)
            let split = try BatchSplit(model: model, threads: t, features: 12)
            let r = try split.step(data, indices)
            #expect(abs(Float(r.lossSum / Double(n)) - refLoss) <= 2 * refLoss.ulp, "T = \(t): loss \(r.lossSum / Double(n)) vs \(refLoss)")
            #expect(r.correct == loss.correct)
            var maxDelta = 0.0, maxRatio = 0.0
            for (p, param) in model.parameters.enumerated() {
                let g = param.gradient
                for j in g.indices {
                    let d = abs(Double(g[j]) - Double(refGradients[p][j]))
                    maxDelta = max(maxDelta, d)
                    if d > 0 { maxRatio = max(maxRatio, d / bounds[p][j]) }
                    #expect(d <= bounds[p][j], "T = \(t) \(param.name)[\(j)]: |Δ| = \(d) > bound \(bounds[p][j])")
                }
            }
            print("batch split T = \(t), n = \(n): max |Δgradient| vs T = 1 = \(maxDelta), max |Δ|/bound = \(maxRatio)")
        }
    }

    @Test("T = 1 through the trainer is the one-thread arithmetic; T = 2 and 3 stay within rounding after one SGD step")
    func oneStepThroughTrainer() throws {
        let data = try randomData(count: 40, features: 10, classes: 4, seed: 21)
        func run(_ t: Int) throws -> ([Float], Double) {
            let model = try Sequential(sizes: [10, 32, 4], activation: .tanh, seed: 2)
            var cfg = TrainingConfiguration()
            cfg.epochs = 1; cfg.batchSize = 40; cfg.learningRate = 0.1; cfg.optimizer = .sgd(); cfg.schedule = LearningRateSchedule(.constant)
            cfg.batchThreads = t
            let trainer = try Trainer(model: model, configuration: cfg)
            _ = try trainer.fit(train: data, test: data, maxSteps: 1)
            return (model.flatValues, trainer.reports.last!.trainLoss)
        }
        let (w1, l1) = try run(1)
        for t in [2, 3] {
            let (wt, lt) = try run(t)
            let delta = zip(w1, wt).map { abs(Double($0) - Double($1)) }.max()!
            // w − η·g: |Δw| ≤ η·|Δg| + ulp; |Δg| ≤ 2γ₄₀·Σ|dZ||X| with |X| ≤ 1 (inputs, tanh) and Σ_b|dZ| ≤ 2 (softmax − onehot over the mean).
            let bound = 0.1 * 2 * gamma(40) * 2 + 2 * Double(w1.map { abs($0) }.max()!.ulp)
            print("batch split T = \(t): one SGD step, max |Δw| vs T = 1 = \(delta) (bound \(bound)); train loss \(lt) vs \(l1)")
            #expect(delta <= bound)
            #expect(abs(lt - l1) <= 1e-5 * abs(l1))
        }
    }

    @Test("a fixed T is bitwise reproducible: alone, twice, and while another run competes; B % T ≠ 0, B < T and a last partial batch")
    func reproducible() throws {
        // 97 samples: batch 16 leaves a last batch of 1 (threads 0 and 1 of 3 get no rows); batch 2 < T = 3, 4.
        let train = try randomData(count: 97, features: 8, classes: 3, seed: 31), test = try randomData(count: 20, features: 8, classes: 3, seed: 32)
        @Sendable func run(batch: Int, threads: Int) throws -> [Float] {
            let model = try Sequential(sizes: [8, 24, 24, 3], activation: .relu, seed: 4)
            var cfg = TrainingConfiguration()
            cfg.epochs = 2; cfg.batchSize = batch; cfg.learningRate = 0.05; cfg.batchThreads = threads
            _ = try Trainer(model: model, configuration: cfg).fit(train: train, test: test)
            return model.flatValues
        }
        for (batch, threads) in [(16, 3), (16, 2), (2, 3), (5, 4)] {
            let a = try run(batch: batch, threads: threads), b = try run(batch: batch, threads: threads)
            #expect(a == b, "batch \(batch), T = \(threads): two runs differ")
            #expect(a.allSatisfy { $0.isFinite })
            // Two runs at once: each one's threads interleave with the other's.
            let box = ResultBox()
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                let w = try? run(batch: batch, threads: threads)
                box.set(k, w)
            }
            #expect(box.get(0) == a && box.get(1) == a, "batch \(batch), T = \(threads): a concurrent run differs")
            let one = try run(batch: batch, threads: 1)
            let delta = zip(a, one).map { abs($0 - $1) }.max()!
            print("batch split batch \(batch), T = \(threads): bitwise reproducible; after 2 epochs max |Δw| vs T = 1 = \(delta)")
        }
    }

    @Test("a resumed T = 2 run ends bitwise equal to the uninterrupted one; a residual MLP with learned gates splits too")
    func resumeAndResidual() throws {
        let train = try randomData(count: 64, features: 6, classes: 3, seed: 41)
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 10; cfg.batchThreads = 2
        let whole = try Sequential(sizes: [6, 16, 3], activation: .relu, seed: 1)
        _ = try Trainer(model: whole, configuration: cfg).fit(train: train, test: train)
        let first = try Sequential(sizes: [6, 16, 3], activation: .relu, seed: 1)
        let t1 = try Trainer(model: first, configuration: cfg)
        _ = try t1.fit(train: train, test: train, maxSteps: 9)
        let saved = t1.checkpoint(trainCount: train.count, features: train.features)
        let second = try Sequential(sizes: [6, 16, 3], activation: .relu, seed: 99)
        let t2 = try Trainer(model: second, configuration: cfg)
        try t2.restore(saved)
        _ = try t2.fit(train: train, test: train)
        #expect(second.flatValues == whole.flatValues)

        func residual(_ t: Int) throws -> [Float] {
            let m = try ResidualMLP(inputSize: 6, width: 8, depth: 2, classes: 3, activation: .relu, initialization: .rezero, seed: 3)
            var c = TrainingConfiguration()
            c.epochs = 1; c.batchSize = 16; c.batchThreads = t; c.learningRate = 0.05
            _ = try Trainer(model: m, configuration: c).fit(train: train, test: train)
            return m.flatValues
        }
        let r1 = try residual(1), r3 = try residual(3), r3b = try residual(3)
        #expect(r3 == r3b)
        let delta = zip(r1, r3).map { abs($0 - $1) }.max()!
        print("batch split residual MLP (rezero gates), T = 3 vs 1 after 4 steps: max |Δw| = \(delta)")
        #expect(delta < 1e-4)
    }

    @Test("invalid batch threads and models that cannot be replicated are refused with typed errors")
    func invalid() throws {
        func isBatchThreads(_ e: any Error) -> Bool {
            if case let .invalidHyperparameter(name, _, _) = e as? TrainingError { return name == "batch threads" }
            return false
        }
        var cfg = TrainingConfiguration()
        for bad in [0, -1, 1025] {
            cfg.batchThreads = bad
            #expect { try cfg.validate() } throws: { isBatchThreads($0) }
        }
        cfg.batchThreads = 2
        #expect { _ = try Trainer(model: Plain(), configuration: cfg) } throws: { isBatchThreads($0) }
        cfg.batchThreads = 1
        _ = try Trainer(model: Plain(), configuration: cfg)
        // The configuration's JSON (checkpoints) does not carry batchThreads.
        cfg.batchThreads = 3
        let json = String(decoding: try JSONEncoder().encode(cfg), as: UTF8.self)
        #expect(!json.contains("batchThreads"))
        #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: Data(json.utf8)).batchThreads == 1)
        var loss = SoftmaxCrossEntropy()
        #expect(throws: TrainingError.self) { _ = try loss.loss(logits: Matrix(rows: 3, columns: 2), labels: [0, 1, 0], meanOver: 2) }
    }
}

/// Results of concurrent runs, one slot per run.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: [Float]] = [:]
    func set(_ k: Int, _ v: [Float]?) { lock.lock(); values[k] = v; lock.unlock() }
    func get(_ k: Int) -> [Float]? { lock.lock(); defer { lock.unlock() }; return values[k] }
}
