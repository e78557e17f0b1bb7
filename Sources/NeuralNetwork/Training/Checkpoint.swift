import Foundation
import MatrixModule

/// Where and how often `Trainer.fit` writes checkpoints.
///
/// The checkpoint is ONE file, `directory/checkpoint.safetensors` (`path`), replaced atomically
/// (temporary file in the same directory, fsync, rename, fsync of the directory): a process
/// killed at any moment leaves the previous checkpoint or the new one under that name, never a
/// partial file. It is written every `every` global steps, after each epoch's evaluation and at
/// the end of the run.
public struct CheckpointSchedule: Sendable, Equatable {
    /// The checkpoint directory (created by `init` when missing).
    public var directory: String
    /// Steps between checkpoints (≥ 1).
    public var every: Int
    /// The file name inside `directory`.
    public static let fileName = "checkpoint.safetensors"
    /// `directory/checkpoint.safetensors`.
    public var path: String { (directory as NSString).appendingPathComponent(Self.fileName) }

    /// - Throws: `TrainingError.invalidHyperparameter` for `every < 1`; `ModelFileError.io` when
    ///   `directory` exists and is not a directory or cannot be created.
    public init(directory: String, every: Int) throws {
        guard every >= 1 else { throw TrainingError.invalidHyperparameter(name: "checkpoint interval (steps)", value: Double(every), rule: "must be ≥ 1") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ModelFileError.io(file: directory, reason: "exists and is not a directory") }
        } else {
            try Self.makeDirectory(directory)
        }
        self.directory = directory
        self.every = every
    }

    /// Creates `path` and its missing parents with `mkdir(2)` (mode 0777 before the umask),
    /// naming the component and the system's reason when one cannot be created (for example
    /// `/proc/x`: "No such file or directory", a read-only file system, a permission).
    static func makeDirectory(_ path: String) throws {
        let absolute = path.hasPrefix("/")
        var current = absolute ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, 0o777) == 0 { continue }
            let e = errno
            var st = stat()
            if e == EEXIST, stat(current, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { continue }
            let reason = e == EEXIST ? "'\(current)' exists and is not a directory" : "mkdir '\(current)': \(String(cString: strerror(e))) (errno \(e))"
            throw ModelFileError.io(file: path, reason: "cannot create the checkpoint directory: " + reason)
        }
    }

    /// Whether a checkpoint file exists in the directory.
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Removes the temporary files that writers killed mid-write left in the directory
    /// (`.checkpoint.safetensors.tmp-<pid>-<hex>`, the atomic writer's names) whose process no
    /// longer exists (`kill(pid, 0)` fails with `ESRCH`); files of live processes and every
    /// other file are left alone. Returns the names removed.
    @discardableResult
    public func removeStaleTemporaryFiles() -> [String] {
        let prefix = "." + Self.fileName + ".tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix(while: { $0 != "-" })), pid > 0 else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH,
               (try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))) != nil {
                removed.append(name)
            }
        }
        return removed
    }
}

/// Everything a run needs to continue bit for bit: the model's parameters, the optimizer's
/// state, the schedule and data-order position, the running sums of the epoch in progress, the
/// reports of finished epochs, and what the run was (configuration, data size, model layout) so
/// that a checkpoint of another run is refused.
///
/// In a file (`write(to:)`, `read(from:)`) it is a safetensors file (F32 tensors, C order):
/// - the model's parameters under their PyTorch names (`0.weight` `[256, 784]`, …, see
///   `NetworkModel.parameters`), so the file is also a model file (`load(from:)` and
///   `torch.load_state_dict` after dropping the `optimizer.` entries);
/// - the optimizer buffers as `optimizer.<parameter name>.<buffer>` with PyTorch's buffer names:
///   `momentum_buffer` (SGD with momentum) or `exp_avg` and `exp_avg_sq` (Adam, AdamW), each of
///   its parameter's shape (none before the first step);
/// - `__metadata__`: `format: pt` and `weightinit.checkpoint`, a JSON object with `version` (1),
///   `epoch`, `step`, `global_step`, `optimizer_steps`, `data_order` (a description of the
///   generator: Fisher–Yates driven by Philox4x32-10 with key `RandomKey(seed).folding(in: epoch)`,
///   position `step · batch_size`), `configuration` (the `TrainingConfiguration` fields that
///   change the weights), `train_count`, `features`, `parameters` (name → shape), `accumulators`
///   (loss sum and last finite loss as IEEE-754 bit patterns, so they round-trip exactly) and
///   `reports` (the finished epochs).
/// Nothing in it depends on the number of processes: a run saved by N data-parallel ranks
/// resumes on any number of ranks.
public struct TrainingCheckpoint: Sendable {
    /// Format version written in the metadata.
    public static let version = 1
    /// The model's tensors (name, PyTorch shape, row-major values), in `parameters` order.
    public var parameters: [(name: String, shape: [Int], values: [Float])]
    /// The optimizer's state, buffers indexed like `parameters` (of this checkpoint).
    public var optimizer: Optimizer.State
    /// The optimizer buffers stored (`Optimizer.stateBufferNames`).
    public var optimizerBuffers: [String]
    /// The next step.
    public var position: TrainingPosition
    /// Running sums of the epoch in progress.
    public var accumulators: EpochAccumulators
    /// Reports of the finished epochs.
    public var reports: [EpochReport]
    /// The run's configuration.
    public var configuration: TrainingConfiguration
    /// Training examples and features per example of the run's data.
    public var trainCount: Int, features: Int
    /// The configuration fields as written in the file (compared by `restore`).
    var storedConfiguration: ConfigurationRecord?

    /// The tensors of the file: parameters, then `optimizer.<name>.<buffer>`.
    public var tensors: [(name: String, shape: [Int], values: [Float])] {
        var out = parameters
        guard optimizer.steps > 0 else { return out }
        for (i, p) in parameters.enumerated() {
            for buffer in optimizerBuffers {
                let values = buffer == "exp_avg_sq" ? optimizer.secondMoments[i] : optimizer.firstMoments[i]
                out.append(("optimizer.\(p.name).\(buffer)", p.shape, values))
            }
        }
        return out
    }

    /// The JSON stored under the metadata key `weightinit.checkpoint`.
    struct Header: Codable {
        var version: Int
        var epoch: Int
        var step: Int
        var globalStep: Int
        var optimizerSteps: Int
        var optimizerBuffers: [String]
        var dataOrder: String
        var configuration: ConfigurationRecord
        var trainingConfiguration: TrainingConfiguration
        var trainCount: Int
        var features: Int
        var parameters: [String: [Int]]
        var lossSumBits: String
        var correct: Int
        var seen: Int
        var lastFiniteLossBits: String?
        var reports: [EpochReport]
    }

    /// The fields of `TrainingConfiguration` that change the weights, as text (exact comparison).
    struct ConfigurationRecord: Codable, Equatable {
        var epochs: Int
        var batchSize: Int
        var learningRate: String
        var optimizer: String
        var weightDecay: String
        var schedule: String
        var seed: String

        init(_ c: TrainingConfiguration) {
            epochs = c.epochs; batchSize = c.batchSize
            learningRate = "\(c.learningRate)"; optimizer = "\(c.optimizer)"; weightDecay = "\(c.weightDecay)"
            schedule = "\(c.schedule.decay), warm-up \(c.schedule.warmupSteps) steps"; seed = "\(c.seed)"
        }

        /// The first differing field as (name, this, other).
        func firstDifference(from other: ConfigurationRecord) -> (String, String, String)? {
            let pairs: [(String, String, String)] = [
                ("epochs", "\(epochs)", "\(other.epochs)"), ("batch size", "\(batchSize)", "\(other.batchSize)"),
                ("learning rate", learningRate, other.learningRate), ("optimizer", optimizer, other.optimizer),
                ("weight decay", weightDecay, other.weightDecay), ("schedule", schedule, other.schedule), ("seed", seed, other.seed)]
            return pairs.first { $0.1 != $0.2 }
        }
    }

    static let metadataKey = "weightinit.checkpoint"

    /// The metadata entries of the file (`format: pt` first).
    func metadata() throws -> [(String, String)] {
        let header = Header(version: Self.version, epoch: position.epoch, step: position.step, globalStep: position.globalStep,
                            optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.steps > 0 ? optimizerBuffers : [],
                            dataOrder: "Fisher–Yates shuffle of 0..<\(trainCount) per epoch driven by Philox4x32-10 with key RandomKey(seed: \(configuration.seed)).folding(in: epoch); position \(position.step) × \(configuration.batchSize) of epoch \(position.epoch)",
                            configuration: storedConfiguration ?? ConfigurationRecord(configuration), trainingConfiguration: configuration,
                            trainCount: trainCount, features: features,
                            parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.shape) }),
                            lossSumBits: String(accumulators.lossSum.bitPattern, radix: 16), correct: accumulators.correct, seen: accumulators.seen,
                            lastFiniteLossBits: accumulators.lastFiniteLoss.map { String($0.bitPattern, radix: 16) }, reports: reports)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = String(decoding: try encoder.encode(header), as: UTF8.self)
        return [("format", "pt"), (Self.metadataKey, json)]
    }

    /// Decodes the metadata header. - Throws: `ModelFileError.notACheckpoint`.
    static func header(from metadata: [(String, String)]?, file: String) throws -> Header {
        guard let json = metadata?.first(where: { $0.0 == metadataKey })?.1 else {
            throw ModelFileError.notACheckpoint(file: file, reason: "no '\(metadataKey)' metadata entry (a model file, not a checkpoint?)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(json.utf8)) } catch {
            throw ModelFileError.notACheckpoint(file: file, reason: "the '\(metadataKey)' metadata is not a valid checkpoint header: \(error)")
        }
        guard header.version == version else {
            throw ModelFileError.notACheckpoint(file: file, reason: "checkpoint format version \(header.version); this build reads version \(version)")
        }
        return header
    }
}

extension TrainingCheckpoint {
    /// A snapshot of a run whose state is kept outside `Trainer` (the data-parallel trainer of
    /// the `Distributed` product): `model`'s parameters (copied, in `parameters` order), the
    /// optimizer's state and buffer names, the position, running sums and reports, for data of
    /// `trainCount` examples of `features` features. `Trainer.checkpoint` builds the same thing
    /// from a trainer.
    public init(model: any NetworkModel, optimizer: Optimizer, position: TrainingPosition, accumulators: EpochAccumulators,
                reports: [EpochReport], configuration: TrainingConfiguration, trainCount: Int, features: Int) {
        self.init(parameters: model.parameters.map { ($0.name, $0.shape, $0.values) }, optimizer: optimizer.state,
                  optimizerBuffers: optimizer.stateBufferNames, position: position, accumulators: accumulators,
                  reports: reports, configuration: configuration, trainCount: trainCount, features: features)
    }
}

extension Trainer {
    /// A snapshot of the run for the data it is training on (`trainCount` examples of `features`).
    public func checkpoint(trainCount: Int, features: Int) -> TrainingCheckpoint {
        TrainingCheckpoint(model: model, optimizer: optimizer, position: position, accumulators: accumulators,
                           reports: reports, configuration: configuration, trainCount: trainCount, features: features)
    }

    /// Puts a checkpoint's state into this trainer and its model: parameter values, optimizer
    /// state, position, running sums and reports. The next `fit` continues where the checkpoint
    /// was taken (it checks that its data has the checkpoint's size).
    ///
    /// - Throws: `ModelFileError.configurationMismatch` naming the first field of the configuration
    ///   (epochs, batch size, learning rate, optimizer, weight decay, schedule, seed) that differs;
    ///   `ModelFileError.missingTensor` / `.unexpectedTensor` / `.shapeMismatch` naming a parameter
    ///   that the model and the checkpoint do not share. Nothing is changed when it throws.
    public func restore(_ checkpoint: TrainingCheckpoint, file: String = "<memory>") throws {
        let here = TrainingCheckpoint.ConfigurationRecord(configuration)
        let there = checkpoint.storedConfiguration ?? TrainingCheckpoint.ConfigurationRecord(checkpoint.configuration)
        if let (field, mine, theirs) = here.firstDifference(from: there) {
            throw ModelFileError.configurationMismatch(file: file, field: field, checkpoint: theirs, current: mine)
        }
        let params = model.parameters
        try ModelFileError.check(model: params.map { ($0.name, $0.shape) }, file: checkpoint.parameters.map { ($0.name, $0.shape) }, path: file)
        // The checkpoint's parameters (and optimizer buffers) may be in another order (a file
        // lists them sorted by name): match by name.
        let index = Dictionary(checkpoint.parameters.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var state = Optimizer.State(steps: checkpoint.optimizer.steps, firstMoments: [], secondMoments: [])
        if checkpoint.optimizer.steps > 0 {
            let o = checkpoint.optimizer
            guard o.firstMoments.count == checkpoint.parameters.count, o.secondMoments.count == checkpoint.parameters.count,
                  zip(checkpoint.parameters, zip(o.firstMoments, o.secondMoments)).allSatisfy({ $0.values.count == $1.0.count && $0.values.count == $1.1.count }) else {
                throw ModelFileError.notACheckpoint(file: file, reason: "the optimizer state does not hold one buffer of the parameter's size per parameter")
            }
            state.firstMoments = params.map { o.firstMoments[index[$0.name]!] }
            state.secondMoments = params.map { o.secondMoments[index[$0.name]!] }
        }
        for p in params {
            let values = checkpoint.parameters[index[p.name]!].values
            p.withBuffers { v, _ in values.withUnsafeBufferPointer { src in if v.count > 0 { v.baseAddress!.update(from: src.baseAddress!, count: v.count) } } }
        }
        optimizer.state = state
        position = checkpoint.position
        accumulators = checkpoint.accumulators
        reports = checkpoint.reports
        restoredDataShape = (checkpoint.trainCount, checkpoint.features)
        ratioSums = []
    }
}
