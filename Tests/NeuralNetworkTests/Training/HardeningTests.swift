import Foundation
import Testing
@testable import NeuralNetwork
import Initializers
import MatrixModule

// Regression tests for public API that used to trap or hang (issue 13). Oracles: hand-worked
// counts (MemoryEstimate), the documented error cases.
@Suite("Public API guards: typed errors, never a trap or a hang")
struct HardeningTests {
    func tiny(_ n: Int) throws -> LabeledData {
        try LabeledData(features: 2, inputs: (0..<(2 * n)).map { Float($0 % 5) - 2 }, labels: (0..<n).map { Int32($0 % 2) })
    }
    func isHyper(_ name: String) -> (any Error) -> Bool {
        { e in if case let .invalidHyperparameter(n, _, _) = e as? TrainingError { return n == name }; return false }
    }

    @Test("Trainer.evaluate with batchSize 0 or -1 throws (was a hang and a trap)")
    func evaluateBatchSize() throws {
        let model = try Sequential(sizes: [2, 2], activation: .relu)
        let data = try tiny(5)
        for b in [0, -1, Int.min] {
            #expect(throws: TrainingError.self) { _ = try Trainer.evaluate(model, data, batchSize: b) }
        }
        let (loss, accuracy) = try Trainer.evaluate(model, data, batchSize: Int.max)   // one batch of everything
        #expect(loss.isFinite && (0...1).contains(accuracy))
    }

    @Test("Trainer.order(count: -1) and an out-of-range gather throw")
    func orderAndGather() throws {
        #expect(performing: { _ = try Trainer.order(count: -1, seed: 0, epoch: 1) }, throws: isHyper("sample count"))
        let data = try tiny(3)
        var batch = Matrix<Float>(rows: 0, columns: 2)
        var labels: [Int32] = []
        for bad in [3, -1, Int.max] {
            #expect(performing: { try Trainer.gather(data, [0, bad][...], into: &batch, labels: &labels) }, throws: isHyper("sample index"))
        }
        try Trainer.gather(data, [2, 0][...], into: &batch, labels: &labels)
        #expect(batch.elements == Array(data.inputs[4..<6]) + Array(data.inputs[0..<2]) && labels == [0, 0])
    }

    @Test("fit on an empty training set throws; epochs × steps overflow throws; batch size Int.max trains one step per epoch")
    func fitGuards() throws {
        let model = try Sequential(sizes: [2, 2], activation: .relu)
        let empty = try LabeledData(features: 2, inputs: [], labels: [])
        let trainer = try Trainer(model: model, configuration: TrainingConfiguration())
        #expect(throws: TrainingError.emptyTrainingSet) { _ = try trainer.fit(train: empty, test: try tiny(2)) }
        var cfg = TrainingConfiguration(); cfg.epochs = Int.max; cfg.batchSize = 2
        #expect(performing: { _ = try Trainer(model: model, configuration: cfg).fit(train: try tiny(5), test: try tiny(2)) }, throws: isHyper("epochs"))
        cfg.epochs = 2; cfg.batchSize = Int.max
        var steps = 0
        let r = try Trainer(model: model, configuration: cfg).fit(train: try tiny(5), test: try tiny(2), progress: { _ in steps += 1 })
        #expect(r.count == 2 && steps == 2)
    }

    @Test("Sequential and ResidualMLP refuse sizes that overflow or cannot fit, before allocating")
    func modelSizes() throws {
        func isSize(_ e: any Error) -> Bool { if case .size = e as? TrainingError { return true }; return false }
        #expect(performing: { _ = try Sequential(sizes: [1 << 32, 1 << 32], activation: .relu) }, throws: isSize)
        #expect(performing: { _ = try Sequential(sizes: [784, 1 << 20, 1 << 20, 10], activation: .relu) }, throws: isSize)   // 8 TiB
        #expect(performing: { _ = try ResidualMLP(inputSize: 784, width: 1 << 31, depth: 2, classes: 10, activation: .relu) }, throws: isSize)
        #expect(performing: { _ = try ResidualMLP(inputSize: 784, width: 16_384, depth: 1000, classes: 10, activation: .relu) }, throws: isSize)   // ~2 TB
        do { _ = try Sequential(sizes: [1 << 32, 1 << 32], activation: .relu) } catch { print("message: \(error)") }
    }

    @Test("MemoryEstimate: hand-worked bytes for a 3-4-2 MLP")
    func estimate() throws {
        // Layer 3→4: parameters 12 + 4 = 16, ×(2 + 1 slot) = 48; activations (2·3 + 3·4)·5 = 90.
        // Layer 4→2: parameters 8 + 2 = 10, ×3 = 30; activations (2·4 + 3·2)·5 = 70.  Subtotal 238 Floats.
        // Packed weights (rows rounded up to 16): 3→4: 16·3 + 16·4 = 112; 4→2: 16·4 + 16·2 = 96;
        // packed dW inputs: 16 per row per layer, ·5 rows ·2 layers = 160.  Total 238 + 112 + 96 + 160 = 606.
        #expect(try MemoryEstimate.sequential(sizes: [3, 4, 2], batch: 5, optimizerSlots: 1) == 606 * 4)
        #expect(MemoryEstimate.optimizerSlots(.sgd(momentum: 0, nesterov: false)) == 0)
        #expect(MemoryEstimate.optimizerSlots(.sgd(momentum: 0.9, nesterov: true)) == 1)
        #expect(MemoryEstimate.optimizerSlots(.adam()) == 2)
        #expect(throws: SizeError.self) { _ = try MemoryEstimate.sequential(sizes: [784, 256, 10], batch: Int.max, optimizerSlots: 0) }
        #expect(MemoryEstimate.describe(sizes: [784, 256, 256, 256, 10]) == "784-256×3-10")
        #expect(MemoryEstimate.describe(sizes: [784, 256, 128, 10]) == "784-256-128-10")
    }

    @Test("errors name the parameter the user set, integers without .0")
    func namedParameters() throws {
        #expect(performing: { _ = try Activation(name: "leaky-relu", slope: .nan) }, throws: { e in
            if case let .invalidParameter(name, _, _) = e as? InitializationError { return name == "negative slope" }; return false
        })
        #expect(performing: { _ = try Initializer(name: "he-normal", parameters: SchemeParameters(gain: 1e200)) }, throws: { e in
            if case let .invalidParameter(name, _, _) = e as? InitializationError { return name == "gain" }; return false
        })
        var p = SchemeParameters(); p.nonlinearity = .leakyReLU(negativeSlope: .infinity)
        #expect(performing: { _ = try Initializer(name: "he-normal", parameters: p) }, throws: { e in
            if case let .invalidParameter(name, _, _) = e as? InitializationError { return name == "negative slope" }; return false
        })
        let e = TrainingError.invalidHyperparameter(name: "batch size", value: 0, rule: "must be ≥ 1")
        #expect(e.description == "batch size = 0 is invalid: must be ≥ 1")
        let model = try Sequential(sizes: [4, 256, 128, 10], activation: .relu)
        #expect(performing: { try WidthScaling().apply(model) }, throws: { e in
            print("μP: \(e)")
            return "\(e)".contains("hidden width 2 = 128")
        })
    }

    @Test("Initializer.matrix with an overflowing shape throws a size error naming the factors")
    func initializerMatrix() {
        #expect(performing: { _ = try Initializer.zeros.matrix(rows: 1 << 40, columns: 1 << 30, of: Float.self, key: RandomKey(seed: 0)) },
                throws: { e in
                    guard case .size(.overflow) = e as? InitializationError else { return false }
                    print("message: \(e)")
                    return "\(e)".contains("1099511627776 × 1073741824")
                })
        #expect(performing: { try Initializer.normal(mean: 0, std: 1e39).validate(shape: [2, 2], as: Float.self) }, throws: { e in
            if case .notRepresentable = e as? InitializationError { return true }; return false
        })
        #expect(throws: Never.self) { try Initializer.normal(mean: 0, std: 1e39).validate(shape: [2, 2], as: Double.self) }
    }
}
