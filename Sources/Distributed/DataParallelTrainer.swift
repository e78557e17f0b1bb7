import Foundation
import Initializers
import MatrixModule
import NeuralNetwork

/// What the gradient all-reduce cost, summed over a run.
public struct AllReduceStatistics: Sendable, Codable, Equatable {
    /// Optimizer steps taken.
    public var steps = 0
    /// `MPI_Allreduce` calls (buckets × steps).
    public var calls = 0
    /// Bytes each rank contributed to the reductions (4 per gradient element and 8 for the loss and
    /// accuracy counters, per step).
    public var bytes = 0
    /// Wall seconds spent packing, reducing and unpacking gradients.
    public var seconds = 0.0
    public init() {}
    /// Seconds per step (0 before the first step).
    public var secondsPerStep: Double { steps > 0 ? seconds / Double(steps) : 0 }
    /// Bytes per step (0 before the first step).
    public var bytesPerStep: Int { steps > 0 ? bytes / steps : 0 }
}

/// Data-parallel training over a `Communicator` (synchronous SGD, as PyTorch
/// `DistributedDataParallel` and Horovod do it; Goyal et al. 2017 for the global-batch rule).
///
/// Every rank holds the whole model and the whole data set and runs this loop in lockstep:
///
/// 1. Epoch `e`'s order is `Trainer.order(count, seed, e)` — the single-process order — and the
///    global batches are its consecutive slices of `batchSize` (the last one partial), exactly
///    as in `Trainer`. Rank r takes the contiguous rows `RowPartition.rows(B, r, N)` of each
///    global batch of `B` samples (when `B < N`, some ranks get none).
/// 2. Forward, mean softmax cross-entropy over the local `b_r` rows, backward.
/// 3. The gradients, in `NetworkModel.parameters` order and scaled by `b_r / B`, are packed into
///    flat Float buckets of at most `bucketBytes` (default 25 MiB, PyTorch DDP's
///    `bucket_cap_mb`), with the local loss sum and correct count appended, and each bucket is
///    summed over the ranks (`MPI_Allreduce`, in place). The result is `Σ_batch ∇ℓ / B`, the
///    gradient of the global-batch mean — what one process computes with batch `B`.
/// 4. Every rank applies the same optimizer step to the same parameters with the same
///    gradients, so the parameters stay bitwise identical across ranks (Open MPI's all-reduce
///    gives every rank the same bits; the tests check it after every step).
///
/// Against one process with batch `B` the parameters agree to rounding (the batch sum is split
/// into N partial sums; sgemm's blocking differs), not bitwise; with N = 1 the arithmetic is the
/// single-process `Trainer`'s, bit for bit. Evaluation is sharded: rank r evaluates its
/// `RowPartition` slice of the test set and the loss sum and correct count are all-reduced.
///
/// **Checkpoints.** The state is `Trainer`'s — `position`, `accumulators`, `reports`, the
/// optimizer's state and the parameters, all identical on every rank — and the file is the
/// single-process `TrainingCheckpoint`: `fit(…, checkpoints:)` writes it from rank 0 after
/// checking that every rank holds the same state (`writeCheckpoint`), and `resume(from:)` reads
/// it on every rank. Nothing in it depends on the world size, so a run saved by N ranks resumes
/// on any number of ranks or in one process (`Trainer.resume`), and vice versa: the data order
/// and the schedule continue exactly. Resumed at the same N the final weights are bitwise those
/// of the uninterrupted run; at another N they differ from it by rounding only (as any two world
/// sizes do: within 1e-5 relative, the tests measure it).
///
/// Not supported here: per-layer diagnostics (`configuration.diagnostics` is rejected).
public final class DataParallelTrainer {
    /// The model (identical on every rank).
    public let model: any NetworkModel
    public let configuration: TrainingConfiguration
    public let communicator: any Communicator
    public let optimizer: Optimizer
    /// Largest bucket in bytes (default 25 MiB = 26 214 400).
    public let bucketBytes: Int
    /// Gradient all-reduce cost so far.
    public private(set) var allReduceStatistics = AllReduceStatistics()
    /// The next step of the run (epoch 1, step 0 for a new trainer; a checkpoint's after
    /// `restore`). Global: the same on every rank and for every world size.
    public private(set) var position = TrainingPosition()
    /// Running sums of the epoch in progress (global: from the all-reduced loss sums and counts).
    public private(set) var accumulators = EpochAccumulators()
    /// The reports of the epochs completed so far in this run (including those before a resume).
    public private(set) var reports: [EpochReport] = []
    /// The data size of the restored checkpoint (checked by `fit`).
    var restoredDataShape: (count: Int, features: Int)?
    /// `LabeledData.checksum` of the restored checkpoint's training data (checked by `fit`).
    var restoredDataChecksum: UInt64?
    /// `LabeledData.checksum` of the training data of the last `fit` (recorded in checkpoints).
    public private(set) var dataChecksum: UInt64?
    /// The application's settings that define the run beyond `configuration`, recorded in
    /// checkpoints and compared by `restore` (as `Trainer.settings`). Default empty.
    public var settings: [String: String] = [:]

    /// The default bucket size, 25 MiB (PyTorch `DistributedDataParallel(bucket_cap_mb=25)`).
    public static let defaultBucketBytes = 25 << 20

    /// - Throws: `TrainingError.invalidHyperparameter` for the configuration, the optimizer, a
    ///   bucket smaller than 16 bytes or larger than 2 GiB, or `diagnostics` on.
    public init(model: any NetworkModel, configuration: TrainingConfiguration, communicator: any Communicator,
                bucketBytes: Int = DataParallelTrainer.defaultBucketBytes) throws {
        try configuration.validate()
        guard configuration.diagnostics == false else {
            throw TrainingError.invalidHyperparameter(name: "diagnostics", value: 1, rule: "not available in data-parallel training (run one process)")
        }
        guard bucketBytes >= 16, bucketBytes <= 1 << 31 else {
            throw TrainingError.invalidHyperparameter(name: "bucket bytes", value: Double(bucketBytes), rule: "must be in 16 … 2³¹")
        }
        self.model = model
        self.configuration = configuration
        self.communicator = communicator
        self.bucketBytes = bucketBytes
        self.optimizer = try Optimizer(configuration.optimizer, weightDecay: configuration.weightDecay)
    }

    /// A 64-bit checksum of every parameter's bytes, in `parameters` order (with the names and
    /// shapes folded in), for `verifyIdenticalModels`.
    public static func checksum(of model: any NetworkModel) -> UInt64 {
        var h = Checksum()
        for p in model.parameters {
            h.add(string: p.name)
            for d in p.shape { h.add(UInt64(d)) }
            p.withBuffers { v, _ in h.add(UnsafeRawBufferPointer(v)) }
        }
        return h.value
    }

    /// A 64-bit checksum of a data set (count, features, labels and input bytes).
    public static func checksum(of data: LabeledData) -> UInt64 {
        var h = Checksum()
        h.add(UInt64(data.count)); h.add(UInt64(data.features))
        data.labels.withUnsafeBytes { h.add($0) }
        data.inputs.withUnsafeBytes { h.add($0) }
        return h.value
    }

    /// Checks that every rank holds the same model (and, when given, the same data): all-gathers
    /// the checksums and throws when any rank differs from rank 0.
    /// - Throws: `DistributedError.mismatch` naming what differs, the ranks and the checksums.
    public func verifyIdenticalModels(train: LabeledData? = nil, test: LabeledData? = nil) throws {
        try communicator.requireIdentical(DataParallelTrainer.checksum(of: model),
                                          what: "the initial model (\(model.parameterCount) parameters; build it from the same seed and options on every rank)")
        if let train { try communicator.requireIdentical(DataParallelTrainer.checksum(of: train), what: "the training data (same --data and --limit on every rank)") }
        if let test { try communicator.requireIdentical(DataParallelTrainer.checksum(of: test), what: "the test data") }
    }

    /// Replaces every rank's parameters with rank 0's (`broadcast`): for schemes whose bytes
    /// depend on the machine (orthogonal through LAPACK, data-based calibration).
    /// - Throws: `DistributedError` from the broadcast.
    public func broadcastParameters(from root: Int = 0) throws {
        var flat = model.flatValues
        try communicator.broadcast(&flat, root: root)
        try flat.withUnsafeBufferPointer { try model.loadValues(from: $0) }
    }

    /// Loss and accuracy on `data`, sharded: rank r evaluates rows `RowPartition.rows(count, r, N)`
    /// in batches of `evaluationBatchSize`; loss sums and correct counts are all-reduced.
    /// - Throws: `TrainingError`, `MatrixError`, `DistributedError`.
    public func evaluate(_ data: LabeledData) throws -> (loss: Double, accuracy: Double) {
        guard data.count > 0 else { return (0, 0) }
        let mine = RowPartition.rows(data.count, rank: communicator.rank, worldSize: communicator.size)
        var batch = Matrix<Float>(rows: 0, columns: data.features)
        var labels: [Int32] = []
        var loss = SoftmaxCrossEntropy()
        var sums = [0.0, 0.0]
        var start = mine.lowerBound
        let all = Array(0..<data.count)
        while start < mine.upperBound {
            let end = min(mine.upperBound, start + configuration.evaluationBatchSize)
            try Trainer.gather(data, all[start..<end], into: &batch, labels: &labels)
            let logits = try model.forward(batch)
            sums[0] += Double(try loss.loss(logits: logits, labels: labels[...])) * Double(end - start)
            sums[1] += Double(loss.correct)
            start = end
        }
        try communicator.allReduce(&sums, .sum)
        return (sums[0] / Double(data.count), sums[1] / Double(data.count))
    }

    /// Trains until `configuration.epochs` epochs are complete, from `position` (the start for a
    /// new trainer, the checkpoint's position after `restore`/`resume`); see the type's
    /// documentation. Call it on every rank with the same arguments; give `progress`/`epochEnded`
    /// on the rank that prints (their values are global).
    /// - Parameters:
    ///   - checkpoints: where and how often to write the checkpoint (default none): every `every`
    ///     global steps, after each epoch's evaluation and at the end, by rank 0, through
    ///   `writeCheckpoint(to:trainCount:features:)` (which first checks that every rank holds the
    ///     same training state). The same schedule as `Trainer.fit`.
    ///   - maxSteps: take at most this many steps in this call, then return (a later `fit`, or a
    ///     resumed run, continues); nil (default) runs to the end.
    ///   - stepEnded: called on every rank after every optimizer step with the 1-based global step.
    /// - Returns: the reports of every epoch completed in the run so far (`reports`).
    /// - Throws: `TrainingError` (non-finite global loss — on every rank at the same step —, bad
    ///   labels, shapes, an empty training set, `maxSteps < 0`, data of another size than the
    ///   restored checkpoint's), `MatrixError`, `DistributedError` (including `.mismatch` when the
    ///   ranks' training states differ at a checkpoint), and on rank 0 the file layer's errors
    ///   from writing a checkpoint (`DistributedError.peerFailed` on the other ranks then).
    public func fit(train: LabeledData, test: LabeledData, checkpoints: CheckpointSchedule? = nil, maxSteps: Int? = nil,
                    progress: ((TrainingProgress) -> Void)? = nil, epochEnded: ((EpochReport) -> Void)? = nil,
                    stepEnded: ((Int) -> Void)? = nil) throws -> [EpochReport] {
        if let maxSteps, maxSteps < 0 { throw TrainingError.invalidHyperparameter(name: "maxSteps", value: Double(maxSteps), rule: "must be ≥ 0") }
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
        return try model.withoutInputGradient {
            try fitAll(train: train, test: test, checkpoints: checkpoints, maxSteps: maxSteps, progress: progress, epochEnded: epochEnded, stepEnded: stepEnded)
        }
    }

    func fitAll(train: LabeledData, test: LabeledData, checkpoints: CheckpointSchedule?, maxSteps: Int?, progress: ((TrainingProgress) -> Void)?,
                epochEnded: ((EpochReport) -> Void)?, stepEnded: ((Int) -> Void)?) throws -> [EpochReport] {
        let cfg = configuration
        let rank = communicator.rank, worldSize = communicator.size
        let stepsPerEpoch = (train.count - 1) / cfg.batchSize + 1
        let (totalSteps, overflow) = stepsPerEpoch.multipliedReportingOverflow(by: cfg.epochs)
        guard !overflow else {
            throw TrainingError.invalidHyperparameter(name: "epochs", value: Double(cfg.epochs), rule: "epochs × \(stepsPerEpoch) steps per epoch must fit in a 64-bit count")
        }
        let parameters = model.parameters
        let layout = GradientLayout(parameters)
        let flatCount = layout.gradientCount + 2                 // + local loss sum, correct count
        let bucketElements = max(1, bucketBytes / MemoryLayout<Float>.stride)
        var bucket = [Float](repeating: 0, count: min(bucketElements, flatCount))
        var batch = Matrix<Float>(rows: 0, columns: train.features)
        var labels: [Int32] = []
        var loss = SoftmaxCrossEntropy()
        var stepsThisCall = 0
        var lastWritten = -1
        func writeScheduledCheckpoint() throws {
            guard let checkpoints, lastWritten != position.globalStep || position.step == 0 else { return }
            try writeCheckpoint(to: checkpoints.path, trainCount: train.count, features: train.features)
            lastWritten = position.globalStep
        }
        while position.epoch <= cfg.epochs {
            let epoch = position.epoch
            let t0 = Date()
            let startSeen = accumulators.seen
            let order = try Trainer.order(count: train.count, seed: cfg.seed, epoch: epoch)
            while position.step < stepsPerEpoch {
                if let maxSteps, stepsThisCall >= maxSteps { return reports }
                let step = position.step
                let s = step * cfg.batchSize, e = min(train.count, s + cfg.batchSize)
                let globalBatch = e - s
                let mine = RowPartition.rows(globalBatch, rank: rank, worldSize: worldSize)
                var localLoss: Float = 0, localCorrect = 0
                if !mine.isEmpty {
                    try Trainer.gather(train, order[(s + mine.lowerBound)..<(s + mine.upperBound)], into: &batch, labels: &labels)
                    let logits = try model.forward(batch)
                    localLoss = try loss.loss(logits: logits, labels: labels[...])
                    localCorrect = loss.correct
                    try model.backward(loss.gradient)
                }
                // The gradient of the global-batch mean: each rank's mean times b_r / B, summed.
                let scale = Float(Double(mine.count) / Double(globalBatch))
                let extras: [Float] = [localLoss * Float(mine.count), Float(localCorrect)]
                let t1 = Date()
                var stepLossSum = 0.0, stepCorrect = 0.0
                var offset = 0
                while offset < flatCount {
                    let n = min(bucket.count, flatCount - offset)
                    try bucket.withUnsafeMutableBufferPointer { b in
                        let part = UnsafeMutableBufferPointer(rebasing: b[0..<n])
                        layout.pack(parameters, into: part, range: offset..<(offset + n), scale: mine.isEmpty ? 0 : scale, extras: extras)
                        try communicator.allReduce(part, .sum)
                        layout.unpack(parameters, from: UnsafeBufferPointer(part), range: offset..<(offset + n))
                        if offset + n == flatCount { stepLossSum = Double(part[n - 2]); stepCorrect = Double(part[n - 1]) }
                    }
                    allReduceStatistics.calls += 1
                    allReduceStatistics.bytes += n * MemoryLayout<Float>.stride
                    offset += n
                }
                allReduceStatistics.seconds += Date().timeIntervalSince(t1)
                allReduceStatistics.steps += 1
                // The global mean loss of this batch: the same value on every rank.
                let batchLoss = Float(stepLossSum / Double(globalBatch))
                guard batchLoss.isFinite else { throw TrainingError.nonFiniteLoss(epoch: epoch, step: step + 1, lastFiniteLoss: accumulators.lastFiniteLoss) }
                accumulators.lastFiniteLoss = batchLoss
                optimizer.step(parameters: parameters, learningRate: cfg.schedule.rate(base: cfg.learningRate, step: position.globalStep, totalSteps: totalSteps))
                position.step += 1; position.globalStep += 1; stepsThisCall += 1
                accumulators.lossSum += stepLossSum; accumulators.correct += Int(stepCorrect); accumulators.seen += globalBatch
                stepEnded?(position.globalStep)
                if let checkpoints, position.globalStep % checkpoints.every == 0 { try writeScheduledCheckpoint() }
                if let progress {
                    let dt = Date().timeIntervalSince(t0)
                    progress(TrainingProgress(epoch: epoch, step: position.step, stepsPerEpoch: stepsPerEpoch,
                                              runningLoss: accumulators.lossSum / Double(max(1, accumulators.seen)),
                                              samplesPerSecond: dt > 0 ? Double(accumulators.seen - startSeen) / dt : 0))
                }
            }
            let seconds = Date().timeIntervalSince(t0)
            let (testLoss, testAccuracy) = try evaluate(test)
            let seen = accumulators.seen
            let report = EpochReport(epoch: epoch, trainLoss: seen > 0 ? accumulators.lossSum / Double(seen) : 0,
                                     trainAccuracy: seen > 0 ? Double(accumulators.correct) / Double(seen) : 0,
                                     testLoss: testLoss, testAccuracy: testAccuracy, seconds: seconds,
                                     samplesPerSecond: seconds > 0 ? Double(seen - startSeen) / seconds : 0)
            reports.append(report)
            let lastFinite = accumulators.lastFiniteLoss
            accumulators = EpochAccumulators()
            accumulators.lastFiniteLoss = lastFinite
            position = TrainingPosition(epoch: epoch + 1, step: 0, globalStep: position.globalStep)
            try writeScheduledCheckpoint()
            epochEnded?(report)
        }
        return reports
    }

    // MARK: - Checkpoints

    /// A snapshot of the run for the data it trains on (`trainCount` examples of `features`): the
    /// model's parameters, the optimizer state, `position`, `accumulators` and `reports` — the
    /// single-process `TrainingCheckpoint`, which holds nothing that depends on the world size
    /// (the data order is a function of `(seed, epoch)` and the position is global). The reports'
    /// `seconds` and `samplesPerSecond` are this rank's.
    public func checkpoint(trainCount: Int, features: Int) -> TrainingCheckpoint {
        TrainingCheckpoint(model: model, optimizer: optimizer, position: position, accumulators: accumulators, reports: reports,
                           configuration: configuration, trainCount: trainCount, features: features,
                           settings: settings, dataChecksum: dataChecksum)
    }

    /// A 64-bit checksum of everything a checkpoint restores that training computes: parameter
    /// bytes (with names and shapes), the optimizer's step count and buffers, the position and the
    /// running sums (as bit patterns). Equal on every rank after every step (the all-reduce gives
    /// every rank the same gradients); not the epoch reports, whose wall times differ by rank.
    public func trainingStateChecksum() -> UInt64 {
        var h = Checksum()
        h.add(DataParallelTrainer.checksum(of: model))
        let state = optimizer.state
        h.add(UInt64(state.steps))
        for buffers in [state.firstMoments, state.secondMoments] {
            h.add(UInt64(buffers.count))
            for b in buffers { b.withUnsafeBytes { h.add($0) } }
        }
        for v in [position.epoch, position.step, position.globalStep, accumulators.correct, accumulators.seen] { h.add(UInt64(bitPattern: Int64(v))) }
        h.add(accumulators.lossSum.bitPattern)
        h.add(accumulators.lastFiniteLoss.map { UInt64($0.bitPattern) } ?? UInt64.max)
        return h.value
    }

    /// Writes the run's checkpoint (`checkpoint(trainCount:features:)`) to `path` from rank 0,
    /// atomically (`TrainingCheckpoint.write(to:)`: temporary file, fsync, rename). Collective:
    /// every rank calls it. First every rank's `trainingStateChecksum()` is all-gathered and
    /// compared with rank 0's — the state must be identical everywhere, or the file would
    /// describe a run that some rank is not in — then rank 0 writes, then every rank learns
    /// whether the write succeeded.
    /// - Throws: `DistributedError.mismatch` naming the ranks and checksums when the states
    ///   differ (nothing is written, on every rank); on rank 0 the file layer's errors
    ///   (`OutputFileError`, `TensorFileError`), on the other ranks `DistributedError.peerFailed`
    ///   naming rank 0 and the file; `DistributedError` from the collectives.
    public func writeCheckpoint(to path: String, trainCount: Int, features: Int) throws {
        try communicator.requireIdentical(trainingStateChecksum(),
                                          what: "the training state at global step \(position.globalStep) (parameters, optimizer buffers, position and running sums) before writing the checkpoint \(path); nothing was written")
        var failure: (any Error)?
        if communicator.isRoot {
            do { try checkpoint(trainCount: trainCount, features: features).write(to: path) } catch { failure = error }
        }
        let failed = try communicator.allReduce(Int32(failure == nil ? 0 : 1), .max)
        if let failure { throw failure }
        guard failed == 0 else { throw DistributedError.peerFailed(rank: communicator.rank, peer: 0, operation: "writing the checkpoint \(path)") }
    }

    /// Puts a checkpoint's state into this trainer and its model (parameters, optimizer state,
    /// position, running sums, reports) after the checks of `Trainer.restore(_:file:)`; the next
    /// `fit` continues the run. The checkpoint may come from any world size, or from the
    /// single-process `Trainer`: the data order and the learning-rate schedule continue exactly.
    /// The weights at the end are bitwise equal to an uninterrupted run at the same world size
    /// (same machine, BLAS kernel and threads); at another world size they follow it to
    /// rounding, as any two world sizes do.
    /// - Throws: as `Trainer.restore(_:file:)` (`ModelFileError` naming the field or parameter
    ///   that differs); nothing is changed when it throws.
    public func restore(_ checkpoint: TrainingCheckpoint, file: String = "<memory>") throws {
        let staging = try Trainer(model: model, configuration: configuration)
        staging.settings = settings
        try staging.restore(checkpoint, file: file)
        optimizer.state = staging.optimizer.state
        position = staging.position
        accumulators = staging.accumulators
        reports = staging.reports
        restoredDataShape = (checkpoint.trainCount, checkpoint.features)
        restoredDataChecksum = checkpoint.dataChecksum
    }

    /// Reads the checkpoint at `path` (`TrainingCheckpoint.read(from:)`) and restores it. Every
    /// rank reads the file itself: put it on a file system all ranks see; callers should then
    /// compare `trainingStateChecksum()` across ranks (`Communicator.requireIdentical`).
    /// - Throws: as `TrainingCheckpoint.read(from:)` and `restore(_:file:)`.
    public func resume(from path: String) throws {
        try restore(try TrainingCheckpoint.read(from: path), file: path)
    }
}

/// Where each parameter's gradient lies in the flat vector that is cut into buckets: parameters in
/// `NetworkModel.parameters` order, back to back, then the two per-step counters.
struct GradientLayout {
    /// Start of each parameter in the flat vector.
    let offsets: [Int]
    let counts: [Int]
    let gradientCount: Int

    init(_ parameters: [ModelParameter]) {
        var o: [Int] = [], c: [Int] = [], total = 0
        for p in parameters { o.append(total); c.append(p.count); total += p.count }
        offsets = o; counts = c; gradientCount = total
    }

    /// Copies flat elements `range` into `bucket[0 ..< range.count]`: gradients times `scale`,
    /// then `extras` at flat indices `gradientCount`, `gradientCount + 1`.
    func pack(_ parameters: [ModelParameter], into bucket: UnsafeMutableBufferPointer<Float>, range: Range<Int>, scale: Float, extras: [Float]) {
        guard let out = bucket.baseAddress else { return }
        visit(range) { i, lo, hi in
            let dst = out + (offsets[i] + lo - range.lowerBound), n = hi - lo
            if scale == 0 { dst.update(repeating: 0, count: n); return }     // no local rows: stale gradients must not leak
            parameters[i].withBuffers { _, g in
                guard let src = g.baseAddress.map({ UnsafePointer($0 + lo) }) else { return }
                if scale == 1 { dst.update(from: src, count: n) } else { scaled(src, by: scale, into: dst, count: n) }
            }
        }
        for (k, x) in extras.enumerated() where range.contains(gradientCount + k) { bucket[gradientCount + k - range.lowerBound] = x }
    }

    /// `dst[j] = src[j] * scale` for `j < count`, 8 lanes at a time (the same product per element as
    /// a scalar loop, so the bytes do not depend on the lane width).
    private func scaled(_ src: UnsafePointer<Float>, by scale: Float, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        let s8 = SIMD8<Float>(repeating: scale)
        while j + 8 <= count {
            let v = UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self) * s8
            UnsafeMutableRawPointer(dst + j).storeBytes(of: v, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count { dst[j] = src[j] * scale; j += 1 }
    }

    /// Writes flat elements `range` from `bucket[0 ..< range.count]` back into the gradients.
    func unpack(_ parameters: [ModelParameter], from bucket: UnsafeBufferPointer<Float>, range: Range<Int>) {
        guard let inp = bucket.baseAddress else { return }
        visit(range) { i, lo, hi in
            parameters[i].withBuffers { _, g in
                g.baseAddress.map { ($0 + lo).update(from: inp + (offsets[i] + lo - range.lowerBound), count: hi - lo) }
            }
        }
    }

    /// Calls `body(parameter, lo, hi)` for each parameter overlapping flat `range`, with the
    /// overlap in the parameter's own indices.
    private func visit(_ range: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        guard !offsets.isEmpty else { return }
        // First parameter whose end is past range.lowerBound (binary search).
        var lo = 0, hi = offsets.count
        while lo < hi { let m = (lo + hi) / 2; if offsets[m] + counts[m] <= range.lowerBound { lo = m + 1 } else { hi = m } }
        var i = lo
        while i < offsets.count && offsets[i] < range.upperBound {
            let a = max(range.lowerBound, offsets[i]) - offsets[i], b = min(range.upperBound, offsets[i] + counts[i]) - offsets[i]
            if a < b { body(i, a, b) }
            i += 1
        }
    }
}

/// A 64-bit checksum of byte streams (8-byte words, multiply–xorshift mixing): detects any
/// difference between ranks' models or data; not a cryptographic hash.
struct Checksum {
    private(set) var value: UInt64 = 0x243F_6A88_85A3_08D3
    mutating func add(_ word: UInt64) {
        value = (value ^ word) &* 0x9E37_79B9_7F4A_7C15
        value ^= value >> 29
    }
    mutating func add(string: String) { add(UInt64(string.utf8.count)); for b in string.utf8 { add(UInt64(b)) } }
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        add(UInt64(bytes.count))
        let words = bytes.count / 8
        for k in 0..<words { add(bytes.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)) }
        var tail: UInt64 = 0
        for k in (8 * words)..<bytes.count { tail = tail << 8 | UInt64(bytes[k]) }
        if bytes.count % 8 != 0 { add(tail) }
    }
}
