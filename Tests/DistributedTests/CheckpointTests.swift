// Checkpoints of data-parallel training. The contract (DESIGN.md "Checkpoints", "Distributed";
// issue 11): a checkpoint does not depend on the number of ranks — a run saved at N = 2 resumes at
// N = 1 or 4 and vice versa; resumed at the same N the final weights are bitwise those of the
// uninterrupted run (same machine, kernel and threads); at another N runs agree to rounding only
// (rtol 1e-5, as any two world sizes do), so that is what is tested across N. Oracles: the
// uninterrupted runs, the single-process `Trainer`, SHA-256 by coreutils, safetensors parsed here
// from the format's specification.
import Distributed
import Foundation
import Initializers
import MatrixModule
import NeuralNetwork
import Testing

/// The F32 tensors and the `weightinit.checkpoint` metadata of a safetensors file, parsed by hand
/// (8-byte little-endian header length, JSON header, `data_offsets` relative to the data section).
func readSafetensorsF32(_ url: URL) throws -> (tensors: [String: [Float]], checkpoint: [String: Any]?) {
    let bytes = [UInt8](try Data(contentsOf: url))
    try #require(bytes.count >= 8)
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    try #require(n <= bytes.count - 8)
    let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
    var tensors: [String: [Float]] = [:]
    var meta: [String: Any]?
    for (name, value) in header {
        if name == "__metadata__" {
            if let json = (value as? [String: String])?["weightinit.checkpoint"] {
                meta = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            }
            continue
        }
        let entry = try #require(value as? [String: Any])
        #expect(entry["dtype"] as? String == "F32")
        let offsets = try #require(entry["data_offsets"] as? [Int])
        let start = 8 + n + offsets[0], end = 8 + n + offsets[1]
        try #require(end <= bytes.count && (end - start) % 4 == 0)
        tensors[name] = stride(from: start, to: end, by: 4).map { k in
            Float(bitPattern: UInt32(bytes[k]) | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2]) << 16 | UInt32(bytes[k + 3]) << 24)
        }
    }
    return (tensors, meta)
}

/// max over elements of |a − b| / max(|b|, RMS of b's elements): the relative distance the
/// training-equivalence tests use (near-zero elements carry their neighbours' absolute rounding).
func scaledDistance(_ a: [String: [Float]], _ b: [String: [Float]]) throws -> Double {
    try #require(Set(a.keys) == Set(b.keys), "tensor names \(a.keys.sorted()) vs \(b.keys.sorted())")
    let all = b.values.flatMap { $0 }
    let rms = (all.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, all.count))).squareRoot()
    var worst = 0.0
    for (name, x) in a {
        let y = b[name]!
        try #require(x.count == y.count)
        for (u, v) in zip(x, y) { worst = max(worst, abs(Double(u) - Double(v)) / max(abs(Double(v)), rms)) }
    }
    return worst
}

@Suite("Data-parallel checkpoints (world size 1)")
struct DataParallelCheckpointTests {
    @Test("stopped at step 9 of 14, written, resumed by a new DataParallelTrainer and by the single-process Trainer: both end bitwise equal to the uninterrupted run")
    func resumeAtWorldSizeOne() throws {
        let train = try syntheticData(count: 203, seed: 1), test = try syntheticData(count: 50, seed: 2)
        var cfg = TrainingConfiguration()
        cfg.epochs = 2; cfg.batchSize = 32; cfg.seed = 9
        func model() throws -> Sequential { try Sequential(sizes: [12, 8, 10], activation: .tanh, seed: 1) }
        let dir = try temporaryDirectory("dpckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("checkpoint.safetensors").path

        let whole = try model()
        let reference = try DataParallelTrainer(model: whole, configuration: cfg, communicator: LocalCommunicator())
        let wholeReports = try reference.fit(train: train, test: test)

        let first = try model()
        let stopped = try DataParallelTrainer(model: first, configuration: cfg, communicator: LocalCommunicator())
        _ = try stopped.fit(train: train, test: test, maxSteps: 9)
        #expect(stopped.position == TrainingPosition(epoch: 2, step: 2, globalStep: 9))     // 7 steps per epoch (203 / 32 rounded up)
        #expect(stopped.reports.count == 1)
        try stopped.writeCheckpoint(to: path, trainCount: train.count, features: train.features)

        let second = try model()
        let resumed = try DataParallelTrainer(model: second, configuration: cfg, communicator: LocalCommunicator())
        try resumed.resume(from: path)
        #expect(resumed.position == stopped.position && resumed.accumulators == stopped.accumulators)
        #expect(resumed.trainingStateChecksum() == stopped.trainingStateChecksum())
        let resumedReports = try resumed.fit(train: train, test: test)
        #expect(second.flatValues.map(\.bitPattern) == whole.flatValues.map(\.bitPattern))
        #expect(resumedReports.map(\.testAccuracy) == wholeReports.map(\.testAccuracy) && resumedReports.map(\.trainLoss) == wholeReports.map(\.trainLoss))

        let third = try model()
        let single = try Trainer(model: third, configuration: cfg)
        try single.resume(from: path)
        _ = try single.fit(train: train, test: test)
        #expect(third.flatValues.map(\.bitPattern) == whole.flatValues.map(\.bitPattern))

        // A checkpoint of another configuration or data size is refused before anything changes.
        var other = cfg; other.learningRate = 0.07
        let refused = try DataParallelTrainer(model: try model(), configuration: other, communicator: LocalCommunicator())
        #expect(throws: ModelFileError.self) { try refused.resume(from: path) }
        #expect(refused.position == TrainingPosition())
        let wrongData = try DataParallelTrainer(model: try model(), configuration: cfg, communicator: LocalCommunicator())
        try wrongData.resume(from: path)
        #expect(throws: TrainingError.self) { _ = try wrongData.fit(train: try syntheticData(count: 100, seed: 1), test: test) }
        print("world size 1: resumed at global step 9 of 14; DataParallelTrainer and Trainer both bitwise equal to the uninterrupted run")
    }
}

extension MPISuite {
    @Suite("data-parallel checkpoints")
    struct Checkpoints {
        @Test("checkpoint guard (N = 2): one ulp of difference on the last rank refuses the checkpoint on every rank and writes nothing; rank 0's failed write stops the other rank too")
        func guardAgainstDivergedRanks() throws {
            guard mpiAvailable("checkpoint guard") else { return }
            let dir = try temporaryDirectory("guard")
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try mpirun(2, try builtExecutable("DistributedHarness"), ["checkpoint-guard", dir.path], timeout: 60)
            #expect(r.status == 0 && !r.timedOut, "stderr: \(r.stderr)")
            let o = try jsonObject(r.stdout)
            #expect(o["identical_before"] as? Bool == true)
            #expect(o["mismatch_on_ranks"] as? [Int] == [1, 1])
            #expect(o["file_written"] as? Bool == false)
            #expect(o["write_failure_seen_by_ranks"] as? [Int] == [1, 1])
            let message = try #require(o["message"] as? String)
            #expect(message.contains("the training state at global step 2") && message.contains("rank 1: 0x"), "\(message)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(leftovers.isEmpty, "\(leftovers)")
            print("checkpoint guard: \(message) | rank 0's write error: \(o["write_error"] ?? "")")
        }

        /// 400 training samples in global batches of 50: 8 steps per epoch, 16 in 2 epochs; runs
        /// stopped with --max-steps 5 (checkpoints every 3 steps and at the stop).
        @Test("weightinit train --checkpoint across world sizes: saved at N = 2 or 1, resumed at 2, 1 and 4; same N bitwise (SHA-256), other N within 1e-5")
        func acrossWorldSizes() throws {
            guard mpiAvailable("checkpoints across world sizes") else { return }
            let dir = try temporaryDirectory("ckptN")
            defer { try? FileManager.default.removeItem(at: dir) }
            let data = dir.appendingPathComponent("idx")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try writeTinyIDX(in: data)
            let tool = try builtExecutable("weightinit")
            let common = ["train", "--data", data.path, "--hidden", "16", "--epochs", "2", "--batch-size", "50", "--seed", "4",
                          "--checkpoint-every", "3", "--json", "--bucket-mb", "0.002"]
            func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
            var seconds = 0.0, runs = 0
            /// One run: `ranks` 0 = one process without mpirun, otherwise mpirun -np ranks --distributed.
            func train(_ ranks: Int, _ args: [String]) throws -> [String: Any] {
                // One process trains with --batch-threads 1: the arithmetic of one data-parallel rank (the
                // default batch split sums the batch in per-thread parts, as N ranks do).
                let r = ranks == 0 ? try run(tool.path, common + ["--batch-threads", "1"] + args, environment: ["OPENBLAS_NUM_THREADS": "1"], timeout: 60)
                                   : try mpirun(ranks, tool, common + ["--distributed"] + args, timeout: 90)
                seconds += r.seconds; runs += 1
                #expect(r.status == 0 && !r.timedOut, "\(ranks) ranks \(args): stderr: \(r.stderr)")
                #expect(r.stdout.split(separator: "\n").count == 1, "one JSON object: \(r.stdout)")
                let o = try jsonObject(r.stdout)
                #expect(o["world_size"] as? Int == max(1, ranks))
                return o
            }
            func copy(_ from: String, _ to: String) throws { try FileManager.default.copyItem(atPath: path(from), toPath: path(to)) }
            func weights(_ name: String) throws -> [String: [Float]] { try readSafetensorsF32(URL(fileURLWithPath: path(name))).tensors }

            // Uninterrupted runs at N = 1 and 2.
            let u1 = try train(0, ["--checkpoint", path("u1"), "--save", path("u1.safetensors")])
            let u2 = try train(2, ["--checkpoint", path("u2"), "--save", path("u2.safetensors")])
            // Stopped after 5 steps at N = 2 and N = 1: the checkpoint is at global step 5, no --save.
            for (ranks, name) in [(2, "s2"), (0, "s1")] {
                let o = try train(ranks, ["--checkpoint", path(name), "--max-steps", "5", "--save", path(name + ".safetensors")])
                #expect(o["stopped_at_global_step"] as? Int == 5 && o["saved"] == nil)
                #expect(!FileManager.default.fileExists(atPath: path(name + ".safetensors")))
            }
            let c2 = try readSafetensorsF32(URL(fileURLWithPath: path("s2/checkpoint.safetensors")))
            let c1 = try readSafetensorsF32(URL(fileURLWithPath: path("s1/checkpoint.safetensors")))
            // The two checkpoints hold the same things (names, position, optimizer steps), values to rounding.
            for key in ["epoch", "step", "global_step", "optimizer_steps", "train_count", "features"] {
                #expect(c2.checkpoint?[key] as? Int == c1.checkpoint?[key] as? Int, "\(key)")
            }
            #expect(c2.checkpoint?["global_step"] as? Int == 5 && c2.checkpoint?["epoch"] as? Int == 1)
            let checkpointDistance = try scaledDistance(c2.tensors, c1.tensors)
            #expect(checkpointDistance <= 1e-5)
            for (from, to) in [("s2", "a"), ("s2", "b"), ("s2", "c"), ("s2", "d"), ("s1", "e"), ("s1", "f")] { try copy(from, to) }

            // Same N: bitwise.
            let r22 = try train(2, ["--checkpoint", path("a"), "--resume", "--save", path("r22.safetensors")])
            let r11 = try train(0, ["--checkpoint", path("e"), "--resume", "--save", path("r11.safetensors")])
            #expect(r22["resumed_at_global_step"] as? Int == 5 && r11["resumed_at_global_step"] as? Int == 5)
            let (hashU2, hashR22) = (try sha256(Data(contentsOf: URL(fileURLWithPath: path("u2.safetensors")))), try sha256(Data(contentsOf: URL(fileURLWithPath: path("r22.safetensors")))))
            let (hashU1, hashR11) = (try sha256(Data(contentsOf: URL(fileURLWithPath: path("u1.safetensors")))), try sha256(Data(contentsOf: URL(fileURLWithPath: path("r11.safetensors")))))
            #expect(hashR22 == hashU2, "N = 2 → 2")
            #expect(hashR11 == hashU1, "N = 1 → 1")
            #expect(r22["test_accuracy"] as? Double == u2["test_accuracy"] as? Double && r11["test_accuracy"] as? Double == u1["test_accuracy"] as? Double)
            #expect((r22["epochs"] as? [Any])?.count == 2)
            // The checkpoints of the uninterrupted and the resumed N = 2 runs hold the same final state.
            #expect(try readSafetensorsF32(URL(fileURLWithPath: path("a/checkpoint.safetensors"))).tensors
                    == readSafetensorsF32(URL(fileURLWithPath: path("u2/checkpoint.safetensors"))).tensors)

            // Other N: N = 2 → 1 process, → mpirun -np 1, → 4; N = 1 → 2.
            _ = try train(0, ["--checkpoint", path("b"), "--resume", "--save", path("r21.safetensors")])
            _ = try train(1, ["--checkpoint", path("c"), "--resume", "--save", path("r21mpi.safetensors")])
            _ = try train(4, ["--checkpoint", path("d"), "--resume", "--save", path("r24.safetensors")])
            _ = try train(2, ["--checkpoint", path("f"), "--resume", "--save", path("r12.safetensors")])
            // One process and one data-parallel rank resume the same checkpoint with the same arithmetic.
            #expect(try sha256(Data(contentsOf: URL(fileURLWithPath: path("r21.safetensors")))) == sha256(Data(contentsOf: URL(fileURLWithPath: path("r21mpi.safetensors")))))
            let u1w = try weights("u1.safetensors"), u2w = try weights("u2.safetensors")
            var distances: [String: Double] = ["u2 vs u1": try scaledDistance(u2w, u1w)]
            distances["2→1 vs u1"] = try scaledDistance(try weights("r21.safetensors"), u1w)
            distances["2→4 vs u1"] = try scaledDistance(try weights("r24.safetensors"), u1w)
            distances["2→4 vs u2"] = try scaledDistance(try weights("r24.safetensors"), u2w)
            distances["1→2 vs u2"] = try scaledDistance(try weights("r12.safetensors"), u2w)
            distances["1→2 vs u1"] = try scaledDistance(try weights("r12.safetensors"), u1w)
            for (k, v) in distances { #expect(v <= 1e-5, "\(k): \(v)") }
            print("checkpoints across N: same N bitwise (N=2 sha256 \(hashR22.prefix(16))…, N=1 \(hashR11.prefix(16))…); step-5 checkpoints N=2 vs N=1 \(checkpointDistance); max |Δ|/max(|w|, rms): \(distances.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \(String(format: "%.1f", seconds)) s in \(runs) runs")
        }
    }
}
