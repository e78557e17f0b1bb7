// Checkpoints from code: a run interrupted after k steps (no kill), written to a file, resumed
// in a NEW model and trainer, ends with parameters bitwise equal to the uninterrupted run's
// (the oracle is that uninterrupted run), for SGD with Nesterov momentum, Adam and a ReZero
// residual network; the epoch reports (train loss and accuracy, test metrics) are equal too.
// A checkpoint of another configuration or shape is refused with the typed error naming it.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork

@Suite("Checkpoints (resume bit for bit)")
struct CheckpointTests {
    /// Three Gaussian-ish blobs in `features` dimensions from a seeded generator.
    static func blobs(count: Int, features: Int = 12, seed: UInt64) throws -> LabeledData {
        var g = SplitMix64(seed: seed)
        var inputs: [Float] = [], labels: [Int32] = []
        for i in 0..<count {
            let c = i % 3
            labels.append(Int32(c))
            for f in 0..<features { inputs.append(Float(g.uniform(-1, 1) + (f % 3 == c ? 1.5 : 0))) }
        }
        return try LabeledData(features: features, inputs: inputs, labels: labels)
    }

    static func directory(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("wi-ckpt-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    static func bits(_ m: any NetworkModel) -> [UInt32] { m.flatValues.map(\.bitPattern) }

    /// Uninterrupted vs. interrupted after `k` steps → file → new model and trainer → resumed.
    func check(_ makeModel: (UInt64) throws -> any NetworkModel, _ cfg: TrainingConfiguration, k: Int, every: Int, name: String,
               fromPeriodicFile: Bool) throws {
        let train = try Self.blobs(count: 150, seed: 1), test = try Self.blobs(count: 60, seed: 2)
        let reference = try makeModel(7)
        let full = try Trainer(model: reference, configuration: cfg).fit(train: train, test: test)

        let dir = Self.directory(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let schedule = try CheckpointSchedule(directory: dir, every: every)
        let first = try makeModel(7)
        let interrupted = try Trainer(model: first, configuration: cfg)
        let partial = try interrupted.fit(train: train, test: test, checkpoints: schedule, maxSteps: k)
        #expect(interrupted.position.globalStep == k)
        let path: String
        if fromPeriodicFile {
            path = schedule.path                     // the last periodic checkpoint: step ⌊k/every⌋·every or an epoch end
        } else {
            path = dir + "/explicit.safetensors"
            try interrupted.checkpoint(trainCount: train.count, features: train.features).write(to: path)
        }
        let second = try makeModel(12345)              // other initial weights: everything must come from the file
        let resumed = try Trainer(model: second, configuration: cfg)
        try resumed.resume(from: path)
        print("\(name): interrupted after \(k) steps (\(partial.count) epochs reported), resumed at global step \(resumed.position.globalStep)")
        let rest = try resumed.fit(train: train, test: test, checkpoints: schedule)
        #expect(Self.bits(second) == Self.bits(reference), "\(name): resumed parameters differ from the uninterrupted run's")
        #expect(rest.count == full.count)
        for (a, b) in zip(rest, full) {
            #expect(a.epoch == b.epoch && a.trainLoss == b.trainLoss && a.trainAccuracy == b.trainAccuracy
                    && a.testLoss == b.testLoss && a.testAccuracy == b.testAccuracy, "\(name) epoch \(a.epoch)")
        }
        // The final checkpoint holds the final weights.
        let finalModel = try makeModel(99)
        try finalModel.load(from: schedule.path)
        #expect(Self.bits(finalModel) == Self.bits(reference))
    }

    @Test("SGD + Nesterov, cosine schedule: interrupted mid-epoch, resumed from an explicit checkpoint and from the periodic one")
    func sgd() throws {
        var cfg = TrainingConfiguration()
        cfg.epochs = 3; cfg.batchSize = 16; cfg.learningRate = 0.05; cfg.seed = 5; cfg.weightDecay = 1e-4
        for (k, periodic) in [(13, false), (13, true), (10, true), (1, false)] {       // 10 steps per epoch: 10 = epoch boundary
            try check({ try Sequential(sizes: [12, 16, 3], activation: .relu, seed: $0) }, cfg, k: k, every: 4, name: "sgd-\(k)-\(periodic)", fromPeriodicFile: periodic)
        }
    }

    @Test("Adam (moments and step counter) and a ReZero residual MLP (gates) resume bit for bit")
    func adamAndResidual() throws {
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 32; cfg.learningRate = 0.01; cfg.optimizer = .adam(); cfg.seed = 3
        cfg.schedule = LearningRateSchedule(.cosine(minimum: 0), warmupSteps: 3)
        try check({ try Sequential(sizes: [12, 8, 3], activation: .tanh, seed: $0) }, cfg, k: 7, every: 3, name: "adam", fromPeriodicFile: false)
        try check({ try ResidualMLP(inputSize: 12, width: 8, depth: 2, classes: 3, activation: .relu, initialization: .rezero, seed: $0) },
                  cfg, k: 6, every: 2, name: "rezero", fromPeriodicFile: true)
    }

    @Test("a checkpoint of another configuration, shape or data size is refused, naming the difference")
    func mismatches() throws {
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 16; cfg.seed = 1
        let train = try Self.blobs(count: 64, seed: 1), test = try Self.blobs(count: 16, seed: 2)
        let dir = Self.directory("mismatch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let schedule = try CheckpointSchedule(directory: dir, every: 2)
        _ = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
            .fit(train: train, test: test, checkpoints: schedule, maxSteps: 3)
        let path = schedule.path

        var other = cfg
        other.learningRate = 0.1
        let model = try Sequential(sizes: [12, 8, 3], activation: .relu, seed: 4)
        let before = CheckpointTests.bits(model)
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "learning rate", checkpoint: "0.05", current: "0.1")) {
            try Trainer(model: model, configuration: other).resume(from: path)
        }
        #expect(CheckpointTests.bits(model) == before, "a refused checkpoint changes nothing")
        other = cfg; other.epochs = 3
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "epochs", checkpoint: "2", current: "3")) {
            try Trainer(model: model, configuration: other).resume(from: path)
        }
        other = cfg; other.seed = 2
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "seed", checkpoint: "1", current: "2")) {
            try Trainer(model: model, configuration: other).resume(from: path)
        }
        #expect(throws: ModelFileError.shapeMismatch(file: path, name: "0.weight", expected: [9, 12], found: [8, 12])) {
            try Trainer(model: try Sequential(sizes: [12, 9, 3], activation: .relu), configuration: cfg).resume(from: path)
        }
        // Another data size: refused by fit before any step.
        let trainer = try Trainer(model: model, configuration: cfg)
        try trainer.resume(from: path)
        #expect(throws: TrainingError.self) { _ = try trainer.fit(train: try Self.blobs(count: 65, seed: 1), test: test) }
        // A model file is not a checkpoint.
        let modelFile = dir + "/model.safetensors"
        try model.save(to: modelFile)
        do {
            try Trainer(model: model, configuration: cfg).resume(from: modelFile)
            Issue.record("a model file must not resume")
        } catch let e as ModelFileError {
            guard case .notACheckpoint = e else { Issue.record("\(e)"); return }
            print(e.description)
        }
        // A model can be loaded from a checkpoint (its optimizer entries are skipped).
        try Sequential(sizes: [12, 8, 3], activation: .relu, seed: 9).load(from: path)
        #expect(throws: TrainingError.self) { _ = try CheckpointSchedule(directory: dir, every: 0) }
        #expect(throws: ModelFileError.self) { _ = try CheckpointSchedule(directory: modelFile, every: 1) }
    }
}
