import Foundation
import Initializers
import MatrixModule

/// A labelled data set in memory: `inputs` row-major `[count, features]`, `labels[i]` in `0..<classes`.
public struct LabeledData: Sendable {
    public let features: Int
    public let inputs: [Float]
    public let labels: [Int32]
    public var count: Int { labels.count }

    /// - Throws: `TrainingError.shapeMismatch` when `inputs.count != labels.count × features`.
    public init(features: Int, inputs: [Float], labels: [Int32]) throws {
        guard features >= 0, inputs.count == labels.count * features else {
            throw TrainingError.shapeMismatch("\(inputs.count) input values are not \(labels.count) samples × \(features) features")
        }
        self.features = features; self.inputs = inputs; self.labels = labels
    }

    /// A 64-bit checksum of the data set: count, features, the labels' and the inputs' bytes
    /// (8-byte words, multiply–xorshift mixing with the 64-bit golden-ratio constant). Any change
    /// of a value, the order or the size changes it with overwhelming probability; not a
    /// cryptographic hash. Checkpoints record it so that a run resumes on the data it was taken on.
    public var checksum: UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        func add(_ w: UInt64) { h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15; h ^= h >> 29 }
        func add(_ bytes: UnsafeRawBufferPointer) {
            add(UInt64(bytes.count))
            let words = bytes.count / 8
            for k in 0..<words { add(bytes.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)) }
            var tail: UInt64 = 0
            for k in (8 * words)..<bytes.count { tail = tail << 8 | UInt64(bytes[k]) }
            if bytes.count % 8 != 0 { add(tail) }
        }
        add(UInt64(count)); add(UInt64(features))
        labels.withUnsafeBytes { add($0) }
        inputs.withUnsafeBytes { add($0) }
        return h
    }
}

/// Hyper-parameters of a training run. Defaults are the `weightinit train` defaults.
public struct TrainingConfiguration: Sendable, Codable {
    public var epochs: Int = 5
    public var batchSize: Int = 128
    /// Base learning rate (peak, after warm-up).
    public var learningRate: Double = 0.05
    public var optimizer: Optimizer.Kind = .sgd(momentum: 0.9, nesterov: true)
    public var weightDecay: Double = 0
    /// Learning-rate schedule over all steps of the run (default cosine to 0).
    public var schedule = LearningRateSchedule(.cosine(minimum: 0))
    /// Seed of the per-epoch shuffling (the model has its own seed).
    public var seed: UInt64 = 0
    /// Compute per-layer diagnostics at initialization and after each epoch.
    public var diagnostics = false
    /// Batch size for evaluation passes.
    public var evaluationBatchSize = 1000
    /// Threads that split every training batch (batch-split training, `T`; default 1).
    ///
    /// With `T > 1` and a `Sequential` model, the trainer runs the **layer-synchronous** step
    /// (`LayerSync` in the source): a team of `T` threads shares the one model; thread `t` runs the
    /// forward pass, the loss and the input gradients `dX` on rows `[⌊t·B/T⌋, ⌊(t+1)·B/T⌋)` of each
    /// batch of `B` rows, and after one barrier per layer it computes that layer's weight and bias
    /// gradients over the whole batch for its share of the output features (whole 16-row panels),
    /// applies the optimizer's update to exactly those elements and repacks them. Every element's
    /// arithmetic is that of the 1-thread path (one FMA chain per product element over the whole
    /// batch in row order, the same elementwise update), so the weights are **bitwise equal for
    /// every `T`**, `T = 1` included, and no memory is added beyond per-layer activation buffers.
    ///
    /// With another replicable model (`ResidualMLP`) the trainer keeps `T − 1` replicas: thread `t`
    /// runs forward and backward on its rows, the gradients are summed in thread order
    /// `0, 1, …, T−1`, and one optimizer step updates the model (see `BatchSplit` in the source;
    /// without diagnostics the sum and the update run as one parallel pass, with the same bytes).
    /// Those results are bitwise reproducible for a given `T` and differ from `T = 1` by rounding
    /// only (the batch sums of the weight and bias gradients are formed as `T` partial sums);
    /// memory: `T − 1` more copies of the parameters and gradients.
    ///
    /// Either way every product runs on the package's own kernels (`DenseProducts`), never
    /// OpenBLAS, so its thread count (`BLASBackend.threads`) does not change the results. Not
    /// stored in checkpoints (like the BLAS thread count). Valid: `1…1024`; with a model that
    /// cannot be replicated, only 1.
    public var batchThreads = 1
    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize, learningRate, optimizer, weightDecay, schedule, seed, diagnostics, evaluationBatchSize
    }

    /// - Throws: `TrainingError.invalidHyperparameter` naming the bad value.
    public func validate() throws {
        func fail(_ n: String, _ v: Double, _ r: String) -> TrainingError { .invalidHyperparameter(name: n, value: v, rule: r) }
        guard epochs >= 0 else { throw fail("epochs", Double(epochs), "must be ≥ 0") }
        guard batchSize >= 1 else { throw fail("batch size", Double(batchSize), "must be ≥ 1") }
        guard learningRate.isFinite, learningRate > 0 else { throw fail("learning rate", learningRate, "must be finite and > 0") }
        guard evaluationBatchSize >= 1 else { throw fail("evaluation batch size", Double(evaluationBatchSize), "must be ≥ 1") }
        guard (1...BatchSplit.maximumThreads).contains(batchThreads) else { throw fail("batch threads", Double(batchThreads), "must be in 1…\(BatchSplit.maximumThreads)") }
        guard schedule.warmupSteps >= 0 else { throw fail("warm-up steps", Double(schedule.warmupSteps), "must be ≥ 0") }
        switch schedule.decay {
        case .constant: break
        case let .step(size, gamma):
            guard size >= 1 else { throw fail("step size", Double(size), "must be ≥ 1") }
            guard gamma.isFinite, gamma > 0 else { throw fail("step gamma", gamma, "must be finite and > 0") }
        case let .cosine(minimum):
            guard minimum.isFinite, minimum >= 0, minimum <= learningRate else { throw fail("cosine minimum", minimum, "must be finite, ≥ 0 and ≤ the learning rate") }
        }
    }
}

/// What one epoch produced.
public struct EpochReport: Sendable, Codable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double
    public var testAccuracy: Double
    public var seconds: Double
    public var samplesPerSecond: Double
    /// Per-layer statistics on the first test batch after this epoch (with `diagnostics`).
    public var diagnostics: [LayerStatistics]?
    /// Mean ‖ΔW‖/‖W‖ per layer over the epoch's steps (with `diagnostics`).
    public var updateRatio: [Double]?

    /// A report from its values (trainers outside this module, e.g. data-parallel training).
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double, testAccuracy: Double, seconds: Double,
                samplesPerSecond: Double, diagnostics: [LayerStatistics]? = nil, updateRatio: [Double]? = nil) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy; self.testLoss = testLoss
        self.testAccuracy = testAccuracy; self.seconds = seconds; self.samplesPerSecond = samplesPerSecond
        self.diagnostics = diagnostics; self.updateRatio = updateRatio
    }
}

/// Progress of a run, reported after every step.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var step: Int
    public var stepsPerEpoch: Int
    public var runningLoss: Double
    public var samplesPerSecond: Double
    public init(epoch: Int, step: Int, stepsPerEpoch: Int, runningLoss: Double, samplesPerSecond: Double) {
        self.epoch = epoch; self.step = step; self.stepsPerEpoch = stepsPerEpoch; self.runningLoss = runningLoss; self.samplesPerSecond = samplesPerSecond
    }
}

/// Where a run is: the schedule position and the data-order position, the part of a checkpoint
/// that says which step comes next.
///
/// The data order of epoch `e` is a pure function of `(seed, e)` (`Trainer.order`), so the
/// data-order generator's position is `(epoch, step · batchSize)`: the next batch is positions
/// `step·B ..< min((step+1)·B, count)` of epoch `epoch`'s order. Nothing here depends on the number
/// of processes (no per-rank state).
public struct TrainingPosition: Sendable, Codable, Equatable {
    /// The epoch in progress (1-based); `epochs + 1` when the run is complete.
    public var epoch: Int
    /// Steps of `epoch` already taken, `0...stepsPerEpoch` (`stepsPerEpoch` = taken, not yet evaluated).
    public var step: Int
    /// Steps taken since the start of the run: the learning-rate schedule's position.
    public var globalStep: Int
    /// A position; the default is the start of a run (epoch 1, step 0, global step 0).
    public init(epoch: Int = 1, step: Int = 0, globalStep: Int = 0) { self.epoch = epoch; self.step = step; self.globalStep = globalStep }
}

/// The running sums of the epoch in progress (its report's train loss and accuracy), kept in
/// checkpoints so that a resumed epoch reports what the uninterrupted one would.
public struct EpochAccumulators: Sendable, Codable, Equatable {
    /// Σ batch loss × batch size over the steps taken.
    public var lossSum: Double = 0
    /// Correctly classified training examples so far.
    public var correct: Int = 0
    /// Training examples seen so far.
    public var seen: Int = 0
    /// The last finite batch loss of the run (named by `nonFiniteLoss`).
    public var lastFiniteLoss: Float?
    /// Empty sums (the start of an epoch).
    public init() {}
}

/// Mini-batch training of a `Sequential` classifier with softmax cross-entropy.
///
/// Each epoch visits the training set in a fresh order — a Fisher–Yates shuffle driven by
/// `PhiloxGenerator(key: RandomKey(seed: seed).folding(in: epoch))`, so the order is a pure
/// function of `(seed, epoch)` — in batches of `batchSize` with a partial last batch, then
/// evaluates on the test set. A NaN or infinite loss stops the run with
/// `TrainingError.nonFiniteLoss` naming the epoch, the step and the last finite loss.
///
/// **Resuming.** The trainer's whole state is `position`, `accumulators`, `reports`, the
/// optimizer's `state` and the model's parameters; `checkpoint()` captures it and
/// `restore(_:)` puts it back, and a restored run ends with weights bitwise equal to an
/// uninterrupted one (same machine, BLAS kernel and thread count). `fit(…, checkpoints:)` writes
/// checkpoint files as it goes; `fit(…, maxSteps:)` stops early and a later `fit` continues.
///
/// **Batch-split threads.** With `configuration.batchThreads = T > 1` each batch is split over
/// `T` threads (see `TrainingConfiguration.batchThreads`): for a `Sequential` model one shared
/// model and one barrier per layer, with weights bitwise equal to `T = 1`; for a `ResidualMLP`
/// one replica per thread and the gradients summed in thread order (the arithmetic of
/// data-parallel training over `T` ranks, bitwise reproducible for a given `T`).
public final class Trainer {
    /// The model being trained.
    public let model: any NetworkModel
    public let configuration: TrainingConfiguration
    public let optimizer: Optimizer
    /// Per-layer statistics at initialization, when `diagnostics` is on.
    public private(set) var initialDiagnostics: [LayerStatistics]?
    /// The next step of the run (epoch 1, step 0 for a new trainer).
    public internal(set) var position = TrainingPosition()
    /// Running sums of the epoch in progress.
    public internal(set) var accumulators = EpochAccumulators()
    /// The reports of the epochs completed so far in this run (including those before a resume).
    public internal(set) var reports: [EpochReport] = []
    /// Mean-update-ratio sums of the epoch in progress (diagnostics only; not checkpointed).
    var ratioSums: [Double] = []
    /// Number of training examples the restored checkpoint was taken with (checked by `fit`).
    var restoredDataShape: (count: Int, features: Int)?
    /// `LabeledData.checksum` of the restored checkpoint's training data (checked by `fit`).
    var restoredDataChecksum: UInt64?
    /// `LabeledData.checksum` of the training data of the last `fit` (recorded in checkpoints).
    public internal(set) var dataChecksum: UInt64?
    /// The application's settings that define the run beyond `configuration` — for
    /// `weightinit train` the architecture, layer widths, activation and slope, initialization,
    /// `--limit` and standardization — as name → value text. Recorded in every checkpoint;
    /// `restore` refuses a checkpoint whose settings differ (`ModelFileError.configurationMismatch`
    /// naming the setting). Default empty (a library user with nothing to add).
    public var settings: [String: String] = [:]
    /// The replicas and per-thread buffers of batch-split training (`batchThreads > 1`), built
    /// by the first `fit`.
    var batchSplit: BatchSplit?
    /// The thread team and buffers of layer-synchronous training (`batchThreads > 1` with a
    /// `Sequential` model), built by the first `fit`.
    var layerSync: LayerSync?


    /// - Throws: `TrainingError.invalidHyperparameter` from the configuration or the optimizer,
    ///   or for `batchThreads > 1` with a model that is not a `ReplicableModel`.
    public init(model: any NetworkModel, configuration: TrainingConfiguration) throws {
        try configuration.validate()
        if configuration.batchThreads > 1 && !(model is any ReplicableModel) {
            throw TrainingError.invalidHyperparameter(name: "batch threads", value: Double(configuration.batchThreads),
                                                      rule: "needs a model that can be replicated (Sequential, ResidualMLP); this \(type(of: model)) trains with 1")
        }
        self.model = model
        self.configuration = configuration
        self.optimizer = try Optimizer(configuration.optimizer, weightDecay: configuration.weightDecay)
    }

    /// The shuffled order of `count` samples for `epoch`.
    /// - Throws: `TrainingError.invalidHyperparameter` for `count < 0`.
    public static func order(count: Int, seed: UInt64, epoch: Int) throws -> [Int] {
        guard count >= 0 else { throw TrainingError.invalidHyperparameter(name: "sample count", value: Double(count), rule: "must be ≥ 0") }
        var order = Array(0..<count)
        var g = PhiloxGenerator(key: RandomKey(seed: seed).folding(in: UInt64(bitPattern: Int64(epoch))))
        if count > 1 { for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) } }
        return order
    }

    /// Copies rows `indices` of `data` into `batch` `[indices.count, features]` and their labels
    /// into `labels`; both are resized only when the batch size changes (no allocation otherwise).
    /// - Throws: `TrainingError.invalidHyperparameter` naming the first index outside
    ///   `0..<data.count` (nothing is copied then).
    public static func gather(_ data: LabeledData, _ indices: ArraySlice<Int>, into batch: inout Matrix<Float>, labels: inout [Int32]) throws {
        let f = data.features, n = indices.count
        if let bad = indices.first(where: { $0 < 0 || $0 >= data.count }) {
            throw TrainingError.invalidHyperparameter(name: "sample index", value: Double(bad), rule: "must be in 0..<\(data.count)")
        }
        if batch.rows != n || batch.columns != f { batch = Matrix(rows: n, columns: f) }
        if labels.count != n { labels = [Int32](repeating: 0, count: n) }
        data.inputs.withUnsafeBufferPointer { src in
            batch.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    if f > 0 { (dst.baseAddress! + r * f).update(from: src.baseAddress! + i * f, count: f) }
                    labels[r] = data.labels[i]
                }
            }
        }
    }

    /// Loss and accuracy of the model on `data` (forward passes only).
    public func evaluate(_ data: LabeledData) throws -> (loss: Double, accuracy: Double) {
        try Trainer.evaluate(model, data, batchSize: configuration.evaluationBatchSize)
    }

    /// Loss and accuracy of `model` on `data`, in batches of `batchSize` rows; `(0, 0)` for
    /// empty data.
    /// - Throws: `TrainingError.invalidHyperparameter` for `batchSize < 1`; `MatrixError`.
    public static func evaluate(_ model: any NetworkModel, _ data: LabeledData, batchSize: Int = 1000) throws -> (loss: Double, accuracy: Double) {
        guard batchSize >= 1 else { throw TrainingError.invalidHyperparameter(name: "batch size", value: Double(batchSize), rule: "must be ≥ 1") }
        guard data.count > 0 else { return (0, 0) }
        var batch = Matrix<Float>(rows: 0, columns: data.features)
        var labels: [Int32] = []
        var loss = SoftmaxCrossEntropy()
        var total = 0.0, correct = 0
        var start = 0
        let all = Array(0..<data.count)
        while start < data.count {
            let end = start + min(data.count - start, batchSize)
            try gather(data, all[start..<end], into: &batch, labels: &labels)
            let logits = try model.forward(batch)
            total += Double(try loss.loss(logits: logits, labels: labels[...])) * Double(end - start)
            correct += loss.correct
            start = end
        }
        return (total / Double(data.count), Double(correct) / Double(data.count))
    }

    /// Trains until `configuration.epochs` epochs are complete, from `position` (the start for a
    /// new trainer, the checkpoint's position after `restore`).
    /// - Parameters:
    ///   - checkpoints: where and how often to write checkpoint files (default none). A checkpoint
    ///     is written every `every` global steps, after each epoch's evaluation, and at the end.
    ///   - maxSteps: take at most this many steps in this call, then return (the run continues
    ///     with the next `fit`); nil (default) runs to the end.
    ///   - progress: called after every step (on the calling thread).
    ///   - epochEnded: called with each epoch's report as soon as it is complete.
    /// - Returns: the reports of every epoch completed in the run so far (`reports`).
    /// - Throws: `TrainingError` (non-finite loss, bad labels, shapes, `maxSteps < 0`, `.emptyTrainingSet`,
    ///   epochs × steps per epoch overflowing `Int`, data of another
    ///   size than the restored checkpoint's), `MatrixError`, and from writing checkpoints
    ///   `ModelFileError` / the file layer's errors.
    public func fit(train: LabeledData, test: LabeledData, checkpoints: CheckpointSchedule? = nil, maxSteps: Int? = nil,
                    progress: ((TrainingProgress) -> Void)? = nil, epochEnded: ((EpochReport) -> Void)? = nil) throws -> [EpochReport] {
        if let maxSteps, maxSteps < 0 { throw TrainingError.invalidHyperparameter(name: "maxSteps", value: Double(maxSteps), rule: "must be ≥ 0") }
        return try model.withoutInputGradient {
            try fitAll(train: train, test: test, checkpoints: checkpoints, maxSteps: maxSteps, progress: progress, epochEnded: epochEnded)
        }
    }

    func fitAll(train: LabeledData, test: LabeledData, checkpoints: CheckpointSchedule?, maxSteps: Int?,
                progress: ((TrainingProgress) -> Void)?, epochEnded: ((EpochReport) -> Void)?) throws -> [EpochReport] {
        guard train.features == model.inputSize else {
            throw TrainingError.shapeMismatch("the training data has \(train.features) features per sample, the model expects \(model.inputSize)")
        }
        guard test.features == train.features else {
            throw TrainingError.shapeMismatch("the test data has \(test.features) features per sample, the training data \(train.features)")
        }
        guard train.count > 0 else { throw TrainingError.emptyTrainingSet }
        if let restored = restoredDataShape, restored.count != train.count || restored.features != train.features {
            throw TrainingError.shapeMismatch("the checkpoint was taken training on \(restored.count) examples of \(restored.features) features; this run has \(train.count) of \(train.features)")
        }
        let trainChecksum = train.checksum
        if let restored = restoredDataChecksum, restored != trainChecksum {
            throw TrainingError.shapeMismatch("the checkpoint was taken training on other data of the same size (\(train.count) examples of \(train.features) features; data checksum \(String(restored, radix: 16)), this run's \(String(trainChecksum, radix: 16))): resume with the same data, subset and preprocessing")
        }
        restoredDataShape = (train.count, train.features)
        restoredDataChecksum = trainChecksum
        dataChecksum = trainChecksum
        let cfg = configuration
        let stepsPerEpoch = (train.count - 1) / cfg.batchSize + 1
        let (totalSteps, overflow) = stepsPerEpoch.multipliedReportingOverflow(by: cfg.epochs)
        guard !overflow else {
            throw TrainingError.invalidHyperparameter(name: "epochs", value: Double(cfg.epochs), rule: "epochs × \(stepsPerEpoch) steps per epoch must fit in a 64-bit count")
        }
        var batch = Matrix<Float>(rows: 0, columns: train.features)
        var labels: [Int32] = []
        var loss = SoftmaxCrossEntropy()
        var stepsThisCall = 0
        var lastWritten = -1
        func writeCheckpoint() throws {
            guard let checkpoints, lastWritten != position.globalStep || position.step == 0 else { return }
            try checkpoint(trainCount: train.count, features: train.features).write(to: checkpoints.path)
            lastWritten = position.globalStep
        }
        if cfg.diagnostics && position.globalStep == 0 && position.epoch == 1 { initialDiagnostics = try diagnose(test.count > 0 ? test : train) }
        if cfg.batchThreads > 1, let sequential = model as? Sequential {
            if layerSync == nil { layerSync = try LayerSync(model: sequential, threads: cfg.batchThreads, batch: cfg.batchSize, features: train.features) }
        } else if cfg.batchThreads > 1 && batchSplit == nil {
            batchSplit = try BatchSplit(model: model, threads: cfg.batchThreads, features: train.features)
        }
        let parameters = model.parameters
        let weights = parameters.filter { $0.slot.decays }
        if ratioSums.count != weights.count { ratioSums = [Double](repeating: 0, count: weights.count) }
        while position.epoch <= cfg.epochs {
            let epoch = position.epoch
            let t0 = Date()
            let startSeen = accumulators.seen
            let order = try Trainer.order(count: train.count, seed: cfg.seed, epoch: epoch)
            func finishStep(lossValue l: Float, rows: Int, correct: Int) {
                position.step += 1; position.globalStep += 1; stepsThisCall += 1
                accumulators.lossSum += Double(l) * Double(rows); accumulators.correct += correct; accumulators.seen += rows
            }
            func reportProgress() {
                guard let progress else { return }
                let dt = Date().timeIntervalSince(t0)
                progress(TrainingProgress(epoch: epoch, step: position.step, stepsPerEpoch: stepsPerEpoch,
                                          runningLoss: accumulators.lossSum / Double(max(1, accumulators.seen)),
                                          samplesPerSecond: dt > 0 ? Double(accumulators.seen - startSeen) / dt : 0))
            }
            while position.step < stepsPerEpoch {
                if let maxSteps, stepsThisCall >= maxSteps { return reports }
                let step = position.step
                let s = step * cfg.batchSize, e = s + min(train.count - s, cfg.batchSize)
                let l: Float, correct: Int
                if let sync = layerSync {
                    // Forward, backward and the update in one team task (bytes of the 1-thread path).
                    let before = cfg.diagnostics ? weights.map(\.values) : []
                    let rate = cfg.schedule.rate(base: cfg.learningRate, step: position.globalStep, totalSteps: totalSteps)
                    let r = try sync.step(train, order[s..<e], optimizer: optimizer, parameters: parameters, learningRate: rate,
                                          next: order[e..<min(train.count, e + cfg.batchSize)])
                    l = Float(r.lossSum / Double(e - s))
                    guard l.isFinite else { throw TrainingError.nonFiniteLoss(epoch: epoch, step: step + 1, lastFiniteLoss: accumulators.lastFiniteLoss) }
                    accumulators.lastFiniteLoss = l
                    if cfg.diagnostics {
                        for (i, w) in weights.enumerated() {
                            let (norm, change) = w.withBuffers { v, _ in Trainer.normAndChange(v, before[i]) }
                            ratioSums[i] += norm > 0 ? change / norm : 0
                        }
                    }
                    finishStep(lossValue: l, rows: e - s, correct: r.correct)
                    if let checkpoints, position.globalStep % checkpoints.every == 0 { try writeCheckpoint() }
                    reportProgress()
                    continue
                } else if let split = batchSplit {
                    let r = try split.step(train, order[s..<e], sum: cfg.diagnostics)
                    l = Float(r.lossSum / Double(e - s)); correct = r.correct
                    guard l.isFinite else { throw TrainingError.nonFiniteLoss(epoch: epoch, step: step + 1, lastFiniteLoss: accumulators.lastFiniteLoss) }
                    accumulators.lastFiniteLoss = l
                } else {
                    try Trainer.gather(train, order[s..<e], into: &batch, labels: &labels)
                    let logits = try model.forward(batch)
                    l = try loss.loss(logits: logits, labels: labels[...])
                    guard l.isFinite else { throw TrainingError.nonFiniteLoss(epoch: epoch, step: step + 1, lastFiniteLoss: accumulators.lastFiniteLoss) }
                    accumulators.lastFiniteLoss = l
                    try model.backward(loss.gradient)
                    correct = loss.correct
                }
                let before = cfg.diagnostics ? weights.map(\.values) : []
                let rate = cfg.schedule.rate(base: cfg.learningRate, step: position.globalStep, totalSteps: totalSteps)
                if let split = batchSplit, !cfg.diagnostics {
                    split.reduceAndUpdate(optimizer, learningRate: rate)    // the gradient sum and the update in one parallel pass
                } else {
                    optimizer.step(parameters: parameters, learningRate: rate)
                }
                if cfg.diagnostics {
                    for (i, w) in weights.enumerated() {
                        let (norm, change) = w.withBuffers { v, _ in Trainer.normAndChange(v, before[i]) }
                        ratioSums[i] += norm > 0 ? change / norm : 0
                    }
                }
                finishStep(lossValue: l, rows: e - s, correct: correct)
                if let checkpoints, position.globalStep % checkpoints.every == 0 { try writeCheckpoint() }
                reportProgress()
            }
            let seconds = Date().timeIntervalSince(t0)
            let (testLoss, testAccuracy) = try evaluate(test)
            let seen = accumulators.seen
            var report = EpochReport(epoch: epoch, trainLoss: seen > 0 ? accumulators.lossSum / Double(seen) : 0,
                                     trainAccuracy: seen > 0 ? Double(accumulators.correct) / Double(seen) : 0,
                                     testLoss: testLoss, testAccuracy: testAccuracy, seconds: seconds,
                                     samplesPerSecond: seconds > 0 ? Double(seen - startSeen) / seconds : 0)
            if cfg.diagnostics {
                report.diagnostics = try diagnose(test.count > 0 ? test : train)
                report.updateRatio = ratioSums.map { $0 / Double(max(1, stepsPerEpoch)) }
            }
            reports.append(report)
            let lastFinite = accumulators.lastFiniteLoss
            accumulators = EpochAccumulators()
            accumulators.lastFiniteLoss = lastFinite
            ratioSums = [Double](repeating: 0, count: weights.count)
            position = TrainingPosition(epoch: epoch + 1, step: 0, globalStep: position.globalStep)
            try writeCheckpoint()
            epochEnded?(report)
        }
        return reports
    }

    /// `(‖v‖, ‖v − before‖)` in Double (the Frobenius norms the update ratio uses).
    static func normAndChange(_ v: UnsafeMutableBufferPointer<Float>, _ before: [Float]) -> (Double, Double) {
        var n = 0.0, d = 0.0
        for i in 0..<v.count { let x = Double(v[i]); n += x * x; let e = Double(v[i] - before[i]); d += e * e }
        return (n.squareRoot(), d.squareRoot())
    }

    /// Diagnostics on the first `min(1024, count)` samples of `data`.
    func diagnose(_ data: LabeledData) throws -> [LayerStatistics] {
        var batch = Matrix<Float>(rows: 0, columns: data.features)
        var labels: [Int32] = []
        try Trainer.gather(data, Array(0..<min(1024, data.count))[...], into: &batch, labels: &labels)
        return try Diagnostics.measure(model, inputs: batch, labels: labels[...])
    }
}
