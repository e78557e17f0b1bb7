import Datasets
import TensorFiles

extension NetworkModel {
    /// Writes every parameter to a safetensors file that PyTorch loads with `load_state_dict`.
    ///
    /// - Content: one F32 tensor per entry of `parameters`, under its PyTorch name and in
    ///   PyTorch's layout (Dense weight `[out, in]` row-major, bias `[out]`, Conv2D weight OIHW,
    ///   residual gates 0-d), C order, little-endian; `__metadata__` `{"format": "pt"}`. Tensors are
    ///   ordered as the reference writer orders them, so the bytes equal
    ///   `safetensors.numpy.save_file({name: array}, path, metadata={"format": "pt"})` of the same arrays.
    /// - Name mapping (see `parameters` of each model): a `Sequential(sizes: [784, 256, 128, 10],
    ///   activation: .relu)` is `torch.nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
    ///   nn.ReLU(), nn.Linear(128, 10))` — Linear layers at indices 0, 2, 4, names `0.weight`, `0.bias`,
    ///   `2.weight`, `2.bias`, `4.weight`, `4.bias`. A hidden layer with the identity activation has no
    ///   activation module after it (`nn.Linear` directly followed by the next `nn.Linear`), so the
    ///   indices advance by 1 there. A `ResidualMLP` is the module documented at `ResidualMLP.parameters`
    ///   (`input`, `blocks.{b}.first`, `blocks.{b}.second`, `blocks.{b}.gate`, `output`).
    /// - The write is atomic: a temporary file in the same directory, fsynced and renamed over
    ///   `path` (an existing target that is not a regular file is refused, never replaced).
    /// - Throws: `OutputFileError` (target refused, I/O), `TensorFileError`.
    public func save(to path: String) throws {
        let params = parameters
        let writer = try SafetensorsWriter(path: path, tensors: params.map { TensorSpec(name: $0.name, dtype: .F32, shape: $0.shape) },
                                           metadata: [("format", "pt")])
        do {
            for p in params {
                try writer.fill(p.name) { bytes in
                    p.withBuffers { values, _ in TensorConvert.store(UnsafeBufferPointer(values), as: .F32, into: bytes, at: 0) }
                }
            }
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// Replaces every parameter with the tensor of the same name in a safetensors file written
    /// by `save(to:)`, by PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`), or a
    /// checkpoint (its `optimizer.` entries are skipped).
    ///
    /// The file must hold exactly the model's parameters: same names, same shapes, dtype F32.
    /// Everything is checked before any parameter is changed.
    /// - Throws: `ModelFileError.missingTensor`, `.unexpectedTensor`, `.shapeMismatch`,
    ///   `.dtypeMismatch` naming the tensor; `TensorFileError` for a malformed file.
    public func load(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        let isCheckpoint = file.metadata?.contains { $0.0 == TrainingCheckpoint.metadataKey } ?? false
        let entries = file.tensors.filter { !(isCheckpoint && $0.name.hasPrefix("optimizer.")) }
        let params = parameters
        try ModelFileError.check(model: params.map { ($0.name, $0.shape) }, file: entries.map { ($0.name, $0.shape) }, path: path)
        for e in entries where e.dtype != .F32 {
            throw ModelFileError.dtypeMismatch(file: path, name: e.name, expected: "F32", found: e.dtype.rawValue)
        }
        for p in params {
            let values = try file.floats(p.name)
            p.withBuffers { v, _ in values.withUnsafeBufferPointer { src in if v.count > 0 { v.baseAddress!.update(from: src.baseAddress!, count: v.count) } } }
        }
    }
}

extension TrainingCheckpoint {
    /// Writes the checkpoint as one safetensors file (layout in the type's documentation),
    /// atomically: a killed process leaves the previous file or this one under `path`.
    /// - Throws: `OutputFileError`, `TensorFileError`.
    public func write(to path: String) throws {
        try SafetensorsWriter.write(path: path, tensors: tensors.map { ($0.name, DType.F32, $0.shape, $0.values) }, metadata: try metadata())
    }

    /// Reads a checkpoint written by `write(to:)`.
    /// - Throws: `TensorFileError` (malformed file); `ModelFileError.notACheckpoint` (no or an
    ///   unreadable header, a version this build does not read, a field out of its range or
    ///   inconsistent with the others — see `TrainingCheckpoint.validate` —, a NaN or infinite
    ///   parameter or optimizer value, optimizer buffers missing),
    ///   `.missingTensor` / `.shapeMismatch` / `.dtypeMismatch` when the tensors do not match the
    ///   header's parameter list; `.tensorChecksumMismatch` naming the first tensor (in file
    ///   order) whose data bytes do not have the CRC-32 recorded in `tensor_checksums` (files
    ///   without that field are not checked this way).
    public static func read(from path: String) throws -> TrainingCheckpoint {
        let file = try SafetensorsFile(path: path)
        let header = try TrainingCheckpoint.header(from: file.metadata, file: path)
        for e in file.tensors where e.dtype != .F32 {
            throw ModelFileError.dtypeMismatch(file: path, name: e.name, expected: "F32", found: e.dtype.rawValue)
        }
        // Parameters: the file's non-optimizer tensors, in file order (sorted by name; `restore`
        // matches them to the model by name); optimizer buffers indexed the same way.
        let parameterEntries = file.tensors.filter { !$0.name.hasPrefix("optimizer.") }
        try ModelFileError.check(model: header.parameters.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 },
                                 file: parameterEntries.map { ($0.name, $0.shape) }, path: path)
        var parameters: [(name: String, shape: [Int], values: [Float])] = []
        // Training never produces a non-finite parameter or optimizer value (a non-finite loss stops
        // the run first): one in the file is corruption, refused naming the tensor and the index.
        func finite(_ values: [Float], _ name: String) throws -> [Float] {
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw ModelFileError.notACheckpoint(file: path, reason: "tensor '\(name)' holds \(values[i]) at flat index \(i); a checkpoint's values are finite")
            }
            return values
        }
        for e in parameterEntries { parameters.append((e.name, e.shape, try finite(try file.floats(e.name), e.name))) }
        var first: [[Float]] = [], second: [[Float]] = []
        if header.optimizerSteps > 0 {
            for p in parameters {
                func buffer(_ b: String) throws -> [Float] {
                    guard header.optimizerBuffers.contains(b) else { return [Float](repeating: 0, count: p.values.count) }
                    let name = "optimizer.\(p.name).\(b)"
                    guard let loc = file.location(of: name) else { throw ModelFileError.missingTensor(file: path, name: name) }
                    guard loc.shape == p.shape else { throw ModelFileError.shapeMismatch(file: path, name: name, expected: p.shape, found: loc.shape) }
                    return try finite(try file.floats(name), name)
                }
                first.append(try buffer(header.optimizerBuffers.first(where: { $0 != "exp_avg_sq" }) ?? "momentum_buffer"))
                second.append(try buffer("exp_avg_sq"))
            }
        }
        // Every tensor's data against the CRC-32 recorded when the file was written (absent in
        // checkpoints written before it was recorded: those load unverified).
        if let recorded = header.tensorChecksums {
            for e in file.tensors where recorded[e.name] == nil {
                throw ModelFileError.notACheckpoint(file: path, reason: "field 'tensor_checksums' has no entry for tensor '\(e.name)'")
            }
            for name in recorded.keys.sorted() where file.location(of: name) == nil {
                throw ModelFileError.notACheckpoint(file: path, reason: "field 'tensor_checksums' names tensor '\(name)', which the file does not hold")
            }
            for e in file.tensors {
                let computed = CRC32.hex(try file.withBytes(of: e.name) { CRC32.checksum($0) })
                guard computed == recorded[e.name]!.lowercased() else {
                    throw ModelFileError.tensorChecksumMismatch(file: path, name: e.name, recorded: recorded[e.name]!, computed: computed)
                }
            }
        }
        let configuration = header.trainingConfiguration
        var accumulators = EpochAccumulators()
        accumulators.lossSum = Double(bitPattern: UInt64(header.lossSumBits, radix: 16) ?? 0)
        accumulators.correct = header.correct
        accumulators.seen = header.seen
        accumulators.lastFiniteLoss = header.lastFiniteLossBits.flatMap { UInt32($0, radix: 16) }.map { Float(bitPattern: $0) }
        var checkpoint = TrainingCheckpoint(parameters: parameters, optimizer: Optimizer.State(steps: header.optimizerSteps, firstMoments: first, secondMoments: second),
                                            optimizerBuffers: header.optimizerBuffers,
                                            position: TrainingPosition(epoch: header.epoch, step: header.step, globalStep: header.globalStep),
                                            accumulators: accumulators, reports: header.reports, configuration: configuration,
                                            trainCount: header.trainCount, features: header.features)
        checkpoint.storedConfiguration = header.configuration
        checkpoint.settings = header.settings
        checkpoint.dataChecksum = header.dataChecksum.flatMap { UInt64($0, radix: 16) }
        return checkpoint
    }
}

extension Trainer {
    /// Reads the checkpoint at `path` and restores it (`TrainingCheckpoint.read(from:)` then
    /// `restore(_:file:)`); the next `fit` continues the run.
    /// - Throws: as those two.
    public func resume(from path: String) throws {
        try restore(try TrainingCheckpoint.read(from: path), file: path)
    }
}
