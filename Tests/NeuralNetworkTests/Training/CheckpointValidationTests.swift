// Issue 13 (checkpoint class): a checkpoint whose header was edited or corrupted is refused with
// `ModelFileError.notACheckpoint` naming the file and the field — never a trap (arithmetic
// overflow) and never a run that silently trains more epochs than configured. The files are
// produced by a real run and edited here with JSONSerialization (an implementation independent
// of the package's Codable header); the oracle for each edit is the rule of the field
// (hand-derived: 64 examples in batches of 16 = 4 steps per epoch, 3 steps taken).
// Also: the settings a run records (activation, standardization, …) and the data checksum are
// compared on resume, and the CNN memory estimate walks the layers without allocating.
import Foundation
import Testing
import MatrixModule
import NeuralNetwork
import Datasets

/// Rewrites the `weightinit.checkpoint` metadata JSON of the safetensors file at `source` with
/// `edit` applied to the decoded object, into `destination` (same tensor bytes).
/// `setCheckpointField(field, json)` is the usual edit: the field set to a JSON value's text.
func editCheckpointHeader(_ source: String, _ destination: String, _ edit: (inout [String: Any]) -> Void) throws {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
    var n = 0
    for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
    var header = try #require(try JSONSerialization.jsonObject(with: Data(data[8..<(8 + n)])) as? [String: Any])
    var meta = try #require(header["__metadata__"] as? [String: String])
    let stateText = try #require(meta["weightinit.checkpoint"])
    var state = try #require(try JSONSerialization.jsonObject(with: Data(stateText.utf8)) as? [String: Any])
    edit(&state)
    meta["weightinit.checkpoint"] = String(decoding: try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]), as: UTF8.self)
    header["__metadata__"] = meta
    var bytes = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    while bytes.count % 8 != 0 { bytes.append(0x20) }
    var out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: bytes.count >> (8 * $0)) }
    out += bytes
    out += data[(8 + n)...]
    try Data(out).write(to: URL(fileURLWithPath: destination))
}

/// Sets `field` to the JSON value written as `json` (e.g. `-1`, `"zz"`, `null`).
func setCheckpointField(_ field: String, _ json: String) -> (inout [String: Any]) -> Void {
    let value = (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])) ?? NSNull()
    return { $0[field] = value }
}

@Suite("Checkpoint headers are validated; settings and data are compared on resume (issue 13)")
struct CheckpointValidationTests {
    static let intMax = Int.max

    /// A run of 2 epochs × 4 steps (64 examples, batch 16) stopped after 3 steps: epoch 1, step 3,
    /// global step 3, 48 examples seen.
    static func makeCheckpoint(_ name: String, settings: [String: String] = [:]) throws -> (path: String, cfg: TrainingConfiguration, dir: String) {
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 16; cfg.seed = 1
        let train = try CheckpointTests.blobs(count: 64, seed: 1), test = try CheckpointTests.blobs(count: 16, seed: 2)
        let dir = CheckpointTests.directory(name + "-" + UUID().uuidString)   // parameterized cases run in parallel
        let schedule = try CheckpointSchedule(directory: dir, every: 1)
        let trainer = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
        trainer.settings = settings
        _ = try trainer.fit(train: train, test: test, checkpoints: schedule, maxSteps: 3)
        return (schedule.path, cfg, dir)
    }

    @Test("every edited header field is refused naming the field (no trap, no silent acceptance)",
          arguments: [
            ("epoch", "-1"), ("epoch", "0"), ("epoch", "3"), ("epoch", "9223372036854775807"), ("epoch", "1.5"), ("epoch", "\"x\""),
            ("step", "-1"), ("step", "5"), ("step", "9223372036854775807"),
            ("global_step", "-1"), ("global_step", "4"), ("global_step", "9223372036854775807"),
            ("optimizer_steps", "2"), ("optimizer_steps", "9223372036854775807"),
            ("seen", "-1"), ("seen", "47"), ("seen", "9223372036854775807"),
            ("correct", "-1"), ("correct", "49"), ("correct", "9223372036854775807"),
            ("train_count", "0"), ("features", "0"),
            ("loss_sum_bits", "\"zz\""), ("loss_sum_bits", "\"-1\""), ("loss_sum_bits", "\"7ff8000000000000\""),
            ("last_finite_loss_bits", "\"1234567890123456789\""), ("last_finite_loss_bits", "\"7f800000\""),
            ("optimizer_buffers", "[\"exp_avg\", \"exp_avg_sq\"]"), ("data_checksum", "\"zz\""),
            ("reports", "[{\"epoch\": -5}]"), ("version", "1"), ("settings", "null"),
          ])
    func editedField(field: String, value: String) throws {
        let (path, cfg, dir) = try Self.makeCheckpoint("edit-\(field)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let edited = dir + "/edited.safetensors"
        try editCheckpointHeader(path, edited, setCheckpointField(field, value))
        let model = try Sequential(sizes: [12, 8, 3], activation: .relu, seed: 4)
        let before = CheckpointTests.bits(model)
        let trainer = try Trainer(model: model, configuration: cfg)
        do {
            try trainer.resume(from: edited)
            Issue.record("\(field) = \(value) was accepted (resumed at \(trainer.position))")
        } catch let e as ModelFileError {
            guard case let .notACheckpoint(file, reason) = e else { Issue.record("\(field): \(e)"); return }
            #expect(file == edited)
            #expect(reason.contains("'\(field)"), "\(field) = \(value): \(reason)")
            print("\(field) = \(value): \(e.description)")
        }
        #expect(CheckpointTests.bits(model) == before && trainer.position == TrainingPosition(), "a refused checkpoint changes nothing")
        // The unedited file resumes (the edits alone are refused).
        try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg).resume(from: path)
    }

    @Test("a NaN or infinite parameter value in the file is refused naming the tensor")
    func nonFiniteParameter() throws {
        let (path, cfg, dir) = try Self.makeCheckpoint("nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The first 4 bytes of the data section are the first value of the first tensor (sorted by
        // offset); overwrite them with a quiet NaN, then +inf.
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var n = 0
        for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
        for pattern: UInt32 in [0x7FC0_0000, 0x7F80_0000] {
            for k in 0..<4 { data[8 + n + k] = UInt8(truncatingIfNeeded: pattern >> (8 * k)) }
            let edited = dir + "/nan.safetensors"
            try Data(data).write(to: URL(fileURLWithPath: edited))
            do {
                try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg).resume(from: edited)
                Issue.record("a non-finite value was accepted")
            } catch let e as ModelFileError {
                guard case let .notACheckpoint(_, reason) = e else { Issue.record("\(e)"); continue }
                #expect(reason.contains("tensor '") && reason.contains("flat index 0"), "\(reason)")
            }
        }
    }

    @Test("a consistent header passes: the file written at the end of the run (epoch = epochs + 1) resumes to nothing")
    func completeRun() throws {
        let (path, cfg, dir) = try Self.makeCheckpoint("complete")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try CheckpointTests.blobs(count: 64, seed: 1), test = try CheckpointTests.blobs(count: 16, seed: 2)
        let t = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
        try t.resume(from: path)
        _ = try t.fit(train: train, test: test, checkpoints: try CheckpointSchedule(directory: dir, every: 1))
        let done = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
        try done.resume(from: path)
        #expect(done.position == TrainingPosition(epoch: 3, step: 0, globalStep: 8) && done.reports.count == 2)
    }

    @Test("settings recorded by the application are compared on resume, naming the setting")
    func settings() throws {
        let (path, cfg, dir) = try Self.makeCheckpoint("settings", settings: ["--activation": "relu", "--standardize": "on"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func resume(_ s: [String: String]) throws {
            let t = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
            t.settings = s
            try t.resume(from: path)
        }
        try resume(["--activation": "relu", "--standardize": "on"])
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "--activation", checkpoint: "relu", current: "tanh")) {
            try resume(["--activation": "tanh", "--standardize": "on"])
        }
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "--standardize", checkpoint: "on", current: "off")) {
            try resume(["--activation": "relu", "--standardize": "off"])
        }
        #expect(throws: ModelFileError.configurationMismatch(file: path, field: "--limit", checkpoint: "(not recorded)", current: "300")) {
            try resume(["--activation": "relu", "--standardize": "on", "--limit": "300"])
        }
    }

    @Test("other training data of the same size is refused by fit after a resume (data checksum)")
    func otherData() throws {
        let (path, cfg, dir) = try Self.makeCheckpoint("data")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let test = try CheckpointTests.blobs(count: 16, seed: 2)
        let t = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
        try t.resume(from: path)
        let other = try CheckpointTests.blobs(count: 64, seed: 99)          // same size, other values
        #expect(other.checksum != (try CheckpointTests.blobs(count: 64, seed: 1)).checksum)
        do {
            _ = try t.fit(train: other, test: test)
            Issue.record("other data was accepted")
        } catch let e as TrainingError {
            #expect(e.description.contains("other data"), "\(e)")
        }
        #expect(t.position.globalStep == 3, "no step was taken")
        let same = try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg)
        try same.resume(from: path)
        _ = try same.fit(train: try CheckpointTests.blobs(count: 64, seed: 1), test: test)
        #expect(same.position.epoch == 3)
    }

    @Test("CNN memory estimate: the default CNN's parameter term is 421,642 × 4 bytes × (2 + slots); a 64-layer width-4096 CNN is > 100 GB, computed without allocating; 1×1 images do not fit, 4×4 is the minimum")
    func cnnEstimate() throws {
        let spec = ConvolutionalNetwork.defaultCNNSpec(classes: 10)
        // Batch 0: parameters, gradients and SGD momentum, plus the dense layers' packed weights
        // (3136→128: 128·3136 + 3136·128; 128→10: 16·128 + 128·10 = 806,144 Floats). 421,642 from the README / ModelFactory docs.
        let zero = try MemoryEstimate.cnn(inputShape: [1, 28, 28], spec: spec, batch: 0, optimizerSlots: 1)
        #expect(zero == 421_642 * 4 * 3 + 806_144 * 4)
        #expect(try ConvolutionalNetwork(inputShape: [1, 28, 28], spec: spec).parameterCount == 421_642)
        // The estimate grows with the batch (per-row buffers; the per-thread im2col blocks are
        // bounded, see MemoryEstimateTests for the exact count).
        let one = try MemoryEstimate.cnn(inputShape: [1, 28, 28], spec: spec, batch: 1, optimizerSlots: 1)
        let hundred = try MemoryEstimate.cnn(inputShape: [1, 28, 28], spec: spec, batch: 100, optimizerSlots: 1)
        #expect(zero < one && one < hundred && hundred - zero < 100 * (one - zero))
        let t0 = Date()
        let deep = try ConvolutionalNetwork.deepVanillaSpec(depth: 64, width: 4096, classes: 10, activation: .relu)
        let huge = try MemoryEstimate.cnn(inputShape: [1, 1, 1], spec: deep, batch: 1, optimizerSlots: 1)
        // 63 convs of 4096·4096·9 weights (+ the stem), × 3 copies × 4 bytes ≈ 114 GiB.
        #expect(huge > 63 * 4096 * 4096 * 9 * 12)
        #expect(Date().timeIntervalSince(t0) < 1)
        #expect(throws: (any Error).self) { _ = try MemoryEstimate.cnn(inputShape: [1, 1, 1], spec: spec, batch: 1, optimizerSlots: 0) }
        #expect(MemoryEstimate.minimumSquareSide(spec: spec) == 4)
        // Overflow is an error, not a trap.
        #expect(throws: SizeError.self) { _ = try MemoryEstimate.cnn(inputShape: [1, 28, 28], spec: spec, batch: Int.max, optimizerSlots: 1) }
    }
}

/// D5: a checkpoint records the CRC-32 of every tensor's data; a flipped bit (a finite value) is
/// refused on resume naming the tensor, the unmodified file resumes bit for bit, and a checkpoint
/// without the field (written before it existed) still loads.
@Suite("checkpoint tensor checksums (D5)")
struct CheckpointTensorChecksumTests {
    /// Bitwise CRC-32 (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF): the
    /// textbook loop, independent of zlib.
    static func naiveCRC(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// (header JSON object, data section start, tensor name → byte range in the file).
    static func layout(_ data: [UInt8]) throws -> ([String: Any], [String: Range<Int>]) {
        var n = 0
        for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
        let header = try #require(try JSONSerialization.jsonObject(with: Data(data[8..<(8 + n)])) as? [String: Any])
        var ranges: [String: Range<Int>] = [:]
        for (name, v) in header where name != "__metadata__" {
            let offsets = try #require((v as? [String: Any])?["data_offsets"] as? [Int])
            ranges[name] = (8 + n + offsets[0])..<(8 + n + offsets[1])
        }
        return (header, ranges)
    }

    @Test("recorded CRC-32s equal a naive CRC of the file's tensor bytes; a flipped bit is refused naming the tensor; the unmodified file resumes bitwise; an old file without checksums loads")
    func flippedBit() throws {
        #expect(CRC32.checksum("123456789") == 0xCBF4_3926)     // the CRC-32 check value
        let (path, cfg, dir) = try CheckpointValidationTests.makeCheckpoint("crc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try CheckpointTests.blobs(count: 64, seed: 1), test = try CheckpointTests.blobs(count: 16, seed: 2)
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let (header, ranges) = try Self.layout(data)
        let meta = try #require(header["__metadata__"] as? [String: String])
        let stateText = try #require(meta["weightinit.checkpoint"])
        let state = try #require(try JSONSerialization.jsonObject(with: Data(stateText.utf8)) as? [String: Any])
        let recorded = try #require(state["tensor_checksums"] as? [String: String])
        #expect(Set(recorded.keys) == Set(ranges.keys), "one checksum per tensor: \(recorded.keys.sorted()) vs \(ranges.keys.sorted())")
        for (name, range) in ranges {
            let hex = try #require(recorded[name])
            #expect(UInt32(hex, radix: 16) == Self.naiveCRC(data[range]), "\(name)")
        }
        // Flip the lowest mantissa bit of the second value of 2.weight (and of an optimizer buffer):
        // the value stays finite, so only the checksum can see it.
        for name in ["2.weight", "optimizer.0.weight.momentum_buffer"] {
            let range = try #require(ranges[name])
            var flipped = data
            flipped[range.lowerBound + 4] ^= 1
            let value = flipped[(range.lowerBound + 4)..<(range.lowerBound + 8)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
            #expect(Float(bitPattern: value).isFinite)
            let edited = dir + "/flipped.safetensors"
            try Data(flipped).write(to: URL(fileURLWithPath: edited))
            do {
                try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg).resume(from: edited)
                Issue.record("\(name): a flipped bit was accepted")
            } catch let e as ModelFileError {
                guard case let .tensorChecksumMismatch(_, tensor, _, _) = e else { Issue.record("\(name): \(e)"); continue }
                #expect(tensor == name && e.description.contains(name) && e.description.contains("CRC-32"), "\(e)")
            }
        }
        // Unmodified: resumes and ends bitwise equal to an uninterrupted run.
        let reference = try Sequential(sizes: [12, 8, 3], activation: .relu)
        _ = try Trainer(model: reference, configuration: cfg).fit(train: train, test: test)
        func resumeToEnd(_ file: String) throws -> [UInt32] {
            let model = try Sequential(sizes: [12, 8, 3], activation: .relu, initialization: .all(.zeros), seed: 9)
            let t = try Trainer(model: model, configuration: cfg)
            try t.resume(from: file)
            _ = try t.fit(train: train, test: test)
            return CheckpointTests.bits(model)
        }
        #expect(try resumeToEnd(path) == CheckpointTests.bits(reference))
        // A checkpoint written before tensor_checksums existed (the field removed) still loads and resumes.
        let old = dir + "/old.safetensors"
        try editCheckpointHeader(path, old) { $0.removeValue(forKey: "tensor_checksums") }
        #expect(try resumeToEnd(old) == CheckpointTests.bits(reference))
        // A malformed or incomplete field is refused naming it.
        let bad = dir + "/bad.safetensors"
        try editCheckpointHeader(path, bad) { s in
            var c = s["tensor_checksums"] as? [String: String] ?? [:]; c["0.bias"] = "zz"; s["tensor_checksums"] = c
        }
        #expect { try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg).resume(from: bad) } throws: {
            "\($0)".contains("tensor_checksums.0.bias")
        }
        try editCheckpointHeader(path, bad) { s in
            var c = s["tensor_checksums"] as? [String: String] ?? [:]; c.removeValue(forKey: "0.bias"); s["tensor_checksums"] = c
        }
        #expect { try Trainer(model: try Sequential(sizes: [12, 8, 3], activation: .relu), configuration: cfg).resume(from: bad) } throws: {
            "\($0)".contains("tensor_checksums") && "\($0)".contains("0.bias")
        }
    }
}
