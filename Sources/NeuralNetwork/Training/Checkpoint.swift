import Datasets
import Foundation
import MatrixModule
import TensorFiles

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
/// - `__metadata__`: `format: pt` and `weightinit.checkpoint`, a JSON object with `version` (2),
///   `epoch`, `step`, `global_step`, `optimizer_steps`, `data_order` (a description of the
///   generator: Fisher–Yates driven by Philox4x32-10 with key `RandomKey(seed).folding(in: epoch)`,
///   position `step · batch_size`), `configuration` (the `TrainingConfiguration` fields that
///   change the weights), `train_count`, `features`, `parameters` (name → shape), `accumulators`
///   (loss sum and last finite loss as IEEE-754 bit patterns, so they round-trip exactly),
///   `reports` (the finished epochs), `settings` (the application's settings that define the run
///   beyond the configuration: for `weightinit train` the architecture, layer widths, activation
///   and slope, initialization, `--limit` and standardization; `Trainer.settings`) and
///   `data_checksum` (a 64-bit checksum of the training data's labels and input bytes,
///   `LabeledData.checksum`, hexadecimal) and `tensor_checksums` (every tensor's name → the
///   CRC-32 of its data bytes as written, 8 hexadecimal digits; `CRC32`, zlib's `crc32_z`).
///
/// `read(from:)` recomputes every tensor's CRC-32 from the file and refuses a tensor whose bytes
/// changed (`ModelFileError.tensorChecksumMismatch` naming it): a flipped bit in the weights or
/// optimizer buffers is refused even when the value stays finite. Checkpoints written before
/// `tensor_checksums` was recorded (same format version 2) still load; their tensor data is then
/// checked only for non-finite values, and the header fields as for every checkpoint.
///
/// Version 2 added `settings` and `data_checksum`; a version-1 file is refused
/// (`ModelFileError.notACheckpoint` naming both versions) because it cannot show that the run is
/// resumed with the same activation, standardization and data. Every field is validated when the
/// file is read (`read(from:)`): ranges and the relations between the fields (see `validate`),
/// so an edited or corrupt header is refused with an error naming the file and the field.
/// Nothing in it depends on the number of processes: a run saved by N data-parallel ranks
/// resumes on any number of ranks.
public struct TrainingCheckpoint: Sendable {
    /// Format version written in the metadata.
    public static let version = 2
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
    /// The application's settings that define the run beyond `configuration` (name → value as
    /// text, e.g. `activation: relu`, `standardize: true`); `restore` refuses a checkpoint whose
    /// settings differ from the trainer's `settings`, naming the first differing name.
    public var settings: [String: String] = [:]
    /// `LabeledData.checksum` of the training data the run was taken on (nil: not recorded);
    /// `fit` refuses other data after a restore.
    public var dataChecksum: UInt64?

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
        var settings: [String: String]
        var dataChecksum: String?
        /// Tensor name → CRC-32 of its data bytes as stored (F32 little-endian), 8 hex digits.
        /// Absent in checkpoints written before it was recorded: those load unverified.
        var tensorChecksums: [String: String]?
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

    /// CRC-32 of `values` stored as F32 little-endian, the bytes a checkpoint file holds.
    static func crc(of values: [Float]) -> UInt32 {
        #if _endian(little)
        return values.withUnsafeBytes { CRC32.checksum($0) }
        #else
        return values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { CRC32.checksum($0) }
        #endif
    }

    /// The metadata entries of the file (`format: pt` first).
    func metadata() throws -> [(String, String)] {
        let header = Header(version: Self.version, epoch: position.epoch, step: position.step, globalStep: position.globalStep,
                            optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.steps > 0 ? optimizerBuffers : [],
                            dataOrder: "Fisher–Yates shuffle of 0..<\(trainCount) per epoch driven by Philox4x32-10 with key RandomKey(seed: \(configuration.seed)).folding(in: epoch); position \(position.step) × \(configuration.batchSize) of epoch \(position.epoch)",
                            configuration: storedConfiguration ?? ConfigurationRecord(configuration), trainingConfiguration: configuration,
                            trainCount: trainCount, features: features,
                            parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.shape) }),
                            lossSumBits: String(accumulators.lossSum.bitPattern, radix: 16), correct: accumulators.correct, seen: accumulators.seen,
                            lastFiniteLossBits: accumulators.lastFiniteLoss.map { String($0.bitPattern, radix: 16) }, reports: reports,
                            settings: settings, dataChecksum: dataChecksum.map { String($0, radix: 16) },
                            tensorChecksums: Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, CRC32.hex(Self.crc(of: $0.values))) }))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = String(decoding: try encoder.encode(header), as: UTF8.self)
        return [("format", "pt"), (Self.metadataKey, json)]
    }

    /// Decodes the metadata header. - Throws: `ModelFileError.notACheckpoint` (also for a key
    /// that appears twice in one object of the JSON, named with its enclosing keys).
    static func header(from metadata: [(String, String)]?, file: String) throws -> Header {
        guard let json = metadata?.first(where: { $0.0 == metadataKey })?.1 else {
            throw ModelFileError.notACheckpoint(file: file, reason: "no '\(metadataKey)' metadata entry (a model file, not a checkpoint?)")
        }
        // A key given twice (anywhere in the JSON) is refused: Foundation would keep one copy and
        // Python's json the other, so the file has no single meaning (e.g. two tensor checksums).
        if let path = firstDuplicateJSONKey(in: json) {
            let inside = path.count > 1 ? " inside '\(path.dropLast().joined(separator: "' → '"))'" : ""
            throw ModelFileError.notACheckpoint(file: file, reason: "the '\(metadataKey)' metadata gives the key '\(path[path.count - 1])'\(inside) more than once; every key must appear once")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // The version first: an older file is named as such, not as a header with missing fields.
        struct Version: Decodable { var version: Int }
        if let v = try? decoder.decode(Version.self, from: Data(json.utf8)), v.version != version {
            let note = v.version == 1 ? " (version 1 does not record the activation, the standardization and the data checksum, so resuming it cannot be checked: start the run again)" : ""
            throw ModelFileError.notACheckpoint(file: file, reason: "field 'version': checkpoint format version \(v.version); this build reads version \(version)\(note)")
        }
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(json.utf8)) } catch {
            // Foundation reports a number that is not an Int (1.5, 1e30) without its field: find it.
            if let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
                for key in ["version", "epoch", "step", "global_step", "optimizer_steps", "train_count", "features", "seen", "correct"] {
                    guard let v = object[key] else { continue }
                    let text = "\(v)"
                    if !(v is String), !text.isEmpty, text.drop(while: { $0 == "-" }).allSatisfy(\.isASCII), text.drop(while: { $0 == "-" }).allSatisfy(\.isNumber), Int(text) != nil { continue }
                    throw ModelFileError.notACheckpoint(file: file, reason: "field '\(key)' = \(v) is invalid: must be an integer")
                }
            }
            throw ModelFileError.notACheckpoint(file: file, reason: "the '\(metadataKey)' metadata is not a valid checkpoint header: \(describe(error))")
        }
        guard header.version == version else {
            throw ModelFileError.notACheckpoint(file: file, reason: "field 'version': checkpoint format version \(header.version); this build reads version \(version)")
        }
        try validate(header, file: file)
        return header
    }

    /// A decoding error as "field 'a.b': what" (the JSON path in the file's snake-case names).
    static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { k in k.intValue.map { "[\($0)]" } ?? k.stringValue.snakeCased }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            return p.isEmpty ? "the header" : "field '\(p)'"
        }
        guard let e = error as? DecodingError else { return "\(error)" }
        switch e {
        case let .typeMismatch(type, c): return "\(path(c.codingPath)): expected \(type) (\(c.debugDescription))"
        case let .valueNotFound(type, c): return "\(path(c.codingPath)): missing \(type) value"
        case let .keyNotFound(key, c): return "\(path(c.codingPath + [key])): missing"
        case let .dataCorrupted(c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Checks every field of a decoded header against its range and against the others, so that
    /// an edited or corrupt file is refused here instead of trapping or training a wrong run:
    /// - the configuration is valid (`TrainingConfiguration.validate`, the optimizer's
    ///   hyper-parameters) and its epochs and batch size equal those of `configuration`;
    /// - `train_count ≥ 1`, `features ≥ 1`; with `S = ⌈train_count / batch_size⌉` steps per epoch:
    ///   `1 ≤ epoch ≤ epochs + 1`, `0 ≤ step ≤ S` (`step = 0` when `epoch = epochs + 1`),
    ///   `global_step = (epoch − 1)·S + step` and `optimizer_steps = global_step` (one optimizer
    ///   update per step), all without overflow;
    /// - `seen = min(step · batch_size, train_count)` (the examples of the steps taken in this
    ///   epoch), `0 ≤ correct ≤ seen`;
    /// - `loss_sum_bits` is a 64-bit hexadecimal pattern of a finite value ≥ 0,
    ///   `last_finite_loss_bits` (when present) a 32-bit one of a finite value;
    /// - `optimizer_buffers` are the optimizer's buffer names (`Optimizer.stateBufferNames`) once
    ///   it has stepped, and empty before;
    /// - one report per finished epoch (`epoch − 1`), numbered 1, 2, …;
    /// - `data_checksum` (when present) is a 64-bit hexadecimal number; parameter shapes have
    ///   non-negative dimensions.
    /// - Throws: `ModelFileError.notACheckpoint` naming the file, the field, its value and the rule.
    static func validate(_ h: Header, file: String) throws {
        func fail(_ field: String, _ value: String, _ rule: String) -> ModelFileError {
            .notACheckpoint(file: file, reason: "field '\(field)' = \(value) is invalid: \(rule)")
        }
        let c = h.trainingConfiguration
        do {
            try c.validate()
            _ = try Optimizer(c.optimizer, weightDecay: c.weightDecay)
        } catch {
            throw ModelFileError.notACheckpoint(file: file, reason: "field 'training_configuration': \(error)")
        }
        guard h.configuration.epochs == c.epochs else { throw fail("configuration.epochs", "\(h.configuration.epochs)", "must equal training_configuration.epochs = \(c.epochs)") }
        guard h.configuration.batchSize == c.batchSize else { throw fail("configuration.batch_size", "\(h.configuration.batchSize)", "must equal training_configuration.batch_size = \(c.batchSize)") }
        guard h.trainCount >= 1 else { throw fail("train_count", "\(h.trainCount)", "must be ≥ 1") }
        guard h.features >= 1 else { throw fail("features", "\(h.features)", "must be ≥ 1") }
        let stepsPerEpoch = (h.trainCount - 1) / c.batchSize + 1
        let per = "\(stepsPerEpoch) steps per epoch (\(h.trainCount) examples in batches of \(c.batchSize))"
        guard h.epoch >= 1, h.epoch - 1 <= c.epochs else { throw fail("epoch", "\(h.epoch)", "must be in 1…\(c.epochs + 1) for a run of \(c.epochs) epochs (epochs + 1 = complete)") }
        guard h.step >= 0, h.step <= stepsPerEpoch else { throw fail("step", "\(h.step)", "must be in 0…\(stepsPerEpoch), the \(per)") }
        guard h.epoch <= c.epochs || h.step == 0 else { throw fail("epoch", "\(h.epoch)", "epoch = epochs + 1 marks a complete run, whose step is 0; this file has step \(h.step)") }
        let (done, o1) = (h.epoch - 1).multipliedReportingOverflow(by: stepsPerEpoch)
        let (expected, o2) = done.addingReportingOverflow(h.step)
        guard !o1, !o2, h.globalStep == expected else {
            throw fail("global_step", "\(h.globalStep)", "must be (epoch − 1) × steps per epoch + step = \(o1 || o2 ? "more than 2⁶³" : "\(expected)") (\(per))")
        }
        guard h.optimizerSteps == h.globalStep else { throw fail("optimizer_steps", "\(h.optimizerSteps)", "must equal global_step = \(h.globalStep) (one optimizer update per step)") }
        let (taken, o3) = h.step.multipliedReportingOverflow(by: c.batchSize)
        let seen = o3 ? h.trainCount : min(taken, h.trainCount)
        guard h.seen == seen else { throw fail("seen", "\(h.seen)", "must be min(step × batch size, train_count) = \(seen), the examples of the \(h.step) steps taken in epoch \(h.epoch)") }
        guard h.correct >= 0, h.correct <= h.seen else { throw fail("correct", "\(h.correct)", "must be in 0…\(h.seen) (seen)") }
        guard let lossBits = UInt64(h.lossSumBits, radix: 16), !h.lossSumBits.hasPrefix("+"), !h.lossSumBits.hasPrefix("-") else {
            throw fail("loss_sum_bits", "'\(h.lossSumBits)'", "must be the hexadecimal bit pattern of a 64-bit float")
        }
        let lossSum = Double(bitPattern: lossBits)
        guard lossSum.isFinite, lossSum >= 0 else { throw fail("loss_sum_bits", "'\(h.lossSumBits)' (\(lossSum))", "must be a finite value ≥ 0 (a sum of cross-entropy losses)") }
        if let bits = h.lastFiniteLossBits {
            guard let b = UInt32(bits, radix: 16), !bits.hasPrefix("+"), !bits.hasPrefix("-") else {
                throw fail("last_finite_loss_bits", "'\(bits)'", "must be the hexadecimal bit pattern of a 32-bit float")
            }
            guard Float(bitPattern: b).isFinite else { throw fail("last_finite_loss_bits", "'\(bits)' (\(Float(bitPattern: b)))", "must be a finite value") }
        }
        let buffers = (try? Optimizer(c.optimizer, weightDecay: c.weightDecay).stateBufferNames) ?? []
        let expectedBuffers = h.optimizerSteps > 0 ? buffers : []
        guard h.optimizerBuffers == expectedBuffers else {
            throw fail("optimizer_buffers", "\(h.optimizerBuffers)", "must be \(expectedBuffers) for \(c.optimizer) after \(h.optimizerSteps) steps")
        }
        guard h.reports.count == h.epoch - 1 else { throw fail("reports", "\(h.reports.count) entries", "must hold one report per finished epoch (\(h.epoch - 1))") }
        for (i, r) in h.reports.enumerated() where r.epoch != i + 1 {
            throw fail("reports[\(i)].epoch", "\(r.epoch)", "must be \(i + 1)")
        }
        if let d = h.dataChecksum, UInt64(d, radix: 16) == nil || d.hasPrefix("+") || d.hasPrefix("-") {
            throw fail("data_checksum", "'\(d)'", "must be a 64-bit hexadecimal number")
        }
        for (name, crc) in (h.tensorChecksums ?? [:]).sorted(by: { $0.key < $1.key })
            where crc.count != 8 || UInt32(crc, radix: 16) == nil || crc.hasPrefix("+") || crc.hasPrefix("-") {
            throw fail("tensor_checksums.\(name)", "'\(crc)'", "must be a CRC-32 as 8 hexadecimal digits")
        }
        for (name, shape) in h.parameters where shape.contains(where: { $0 < 0 }) {
            throw fail("parameters.\(name)", "\(shape)", "dimensions must be ≥ 0")
        }
    }
}

extension TrainingCheckpoint {
    /// A snapshot of a run whose state is kept outside `Trainer` (the data-parallel trainer of
    /// the `Distributed` product): `model`'s parameters (copied, in `parameters` order), the
    /// optimizer's state and buffer names, the position, running sums and reports, for data of
    /// `trainCount` examples of `features` features. `Trainer.checkpoint` builds the same thing
    /// from a trainer.
    ///
    /// `settings` and `dataChecksum` are recorded for `restore` and `fit` to compare (see the
    /// properties of those names).
    public init(model: any NetworkModel, optimizer: Optimizer, position: TrainingPosition, accumulators: EpochAccumulators,
                reports: [EpochReport], configuration: TrainingConfiguration, trainCount: Int, features: Int,
                settings: [String: String] = [:], dataChecksum: UInt64? = nil) {
        self.init(parameters: model.parameters.map { ($0.name, $0.shape, $0.values) }, optimizer: optimizer.state,
                  optimizerBuffers: optimizer.stateBufferNames, position: position, accumulators: accumulators,
                  reports: reports, configuration: configuration, trainCount: trainCount, features: features)
        self.settings = settings
        self.dataChecksum = dataChecksum
    }
}

extension Trainer {
    /// A snapshot of the run for the data it is training on (`trainCount` examples of `features`).
    public func checkpoint(trainCount: Int, features: Int) -> TrainingCheckpoint {
        TrainingCheckpoint(model: model, optimizer: optimizer, position: position, accumulators: accumulators,
                           reports: reports, configuration: configuration, trainCount: trainCount, features: features,
                           settings: settings, dataChecksum: dataChecksum)
    }

    /// Puts a checkpoint's state into this trainer and its model: parameter values, optimizer
    /// state, position, running sums and reports. The next `fit` continues where the checkpoint
    /// was taken (it checks that its data has the checkpoint's size).
    ///
    /// - Throws: `ModelFileError.configurationMismatch` naming the first field of the configuration
    ///   (epochs, batch size, learning rate, optimizer, weight decay, schedule, seed) that differs,
    ///   then the first name of `settings` whose value differs (or is missing on one side);
    ///   `ModelFileError.missingTensor` / `.unexpectedTensor` / `.shapeMismatch` naming a parameter
    ///   that the model and the checkpoint do not share. Nothing is changed when it throws.
    public func restore(_ checkpoint: TrainingCheckpoint, file: String = "<memory>") throws {
        let here = TrainingCheckpoint.ConfigurationRecord(configuration)
        let there = checkpoint.storedConfiguration ?? TrainingCheckpoint.ConfigurationRecord(checkpoint.configuration)
        if let (field, mine, theirs) = here.firstDifference(from: there) {
            throw ModelFileError.configurationMismatch(file: file, field: field, checkpoint: theirs, current: mine)
        }
        for name in Set(settings.keys).union(checkpoint.settings.keys).sorted() where settings[name] != checkpoint.settings[name] {
            throw ModelFileError.configurationMismatch(file: file, field: name, checkpoint: checkpoint.settings[name] ?? "(not recorded)",
                                                       current: settings[name] ?? "(not set)")
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
        restoredDataChecksum = checkpoint.dataChecksum
        ratioSums = []
    }
}

fileprivate extension String {
    /// `camelCase` → `snake_case` (the checkpoint header's key names, for error messages).
    var snakeCased: String {
        var out = ""
        for ch in self { if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) } }
        return out
    }
}
