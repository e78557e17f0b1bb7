// C30: a run killed with SIGKILL at random steps and resumed must end with weights bitwise equal
// to the uninterrupted run's, and the checkpoint directory never holds a partly written file
// under its final name. The built `weightinit` binary is spawned; the oracle is the uninterrupted
// run; the weights are compared by `sha256sum` (coreutils) of the `--save` files; after every
// kill the directory is listed and the file under the final name is parsed here from the
// safetensors specification (header length, JSON header, data size = file size).
import Foundation
import Testing
import WeightInit

/// The `weightinit` binary next to the test bundle (debug build).
func weightinitBinary() throws -> URL {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [Bundle.main.bundleURL.appendingPathComponent("weightinit"),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("weightinit"),
                      root.appendingPathComponent(".build/debug/weightinit")]
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
    }
    return binary
}

/// A complete safetensors file's checkpoint header, parsed by hand; throws for a partial file.
func checkpointGlobalStep(_ path: String) throws -> Int {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    guard data.count >= 8 else { throw CocoaError(.fileReadCorruptFile) }
    var n = 0
    for i in 0..<8 { n |= Int(data[i]) << (8 * i) }
    guard n <= data.count - 8 else { throw CocoaError(.fileReadCorruptFile) }
    let header = try #require(try JSONSerialization.jsonObject(with: Data(data[8..<(8 + n)])) as? [String: Any])
    var end = 0
    for (k, v) in header where k != "__metadata__" {
        let offsets = try #require((v as? [String: Any])?["data_offsets"] as? [Int])
        end = max(end, offsets[1])
    }
    #expect(8 + n + end == data.count, "\(path): \(data.count) bytes, the header describes \(8 + n + end)")
    let meta = try #require(header["__metadata__"] as? [String: String])
    let json = try #require(meta["weightinit.checkpoint"])
    let state = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    return try #require(state["global_step"] as? Int)
}

func sha256sum(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    p.arguments = [path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let d = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: d, as: UTF8.self).prefix(64))
}

@Suite("Checkpoints from the command line (C30)")
struct CheckpointCLITests {
    static let data = MNISTDataset.defaultDirectory

    /// Spawns `weightinit` with stdout/stderr to files in `log`.
    func spawn(_ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = try weightinitBinary()
        p.arguments = args
        _ = FileManager.default.createFile(atPath: log + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: log + ".err", contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".err"))
        try p.run()
        return p
    }

    @Test("2 epochs of the default MLP on 6000 samples, checkpoints every 5 steps, SIGKILL at random steps, resumed: sha256 equal")
    func killAndResume() throws {
        guard FileManager.default.fileExists(atPath: Self.data) else { print("skipped: \(Self.data) not installed (dataset-fashion-mnist)"); return }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("wi-c30-\(getpid())").path
        try? FileManager.default.removeItem(atPath: base)
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let common = ["train", "--limit", "6000", "--epochs", "2", "--seed", "0", "--threads", "1", "--checkpoint-every", "5", "--json"]
        let finalName = CheckpointSchedule.fileName

        // The uninterrupted run (the oracle); time from its first checkpoint to its end.
        let dirA = base + "/a", fileA = base + "/a.safetensors"
        let a = try spawn(common + ["--checkpoint", dirA, "--save", fileA], log: base + "/a")
        var firstSeen: Date?
        while a.isRunning {
            if firstSeen == nil && FileManager.default.fileExists(atPath: dirA + "/" + finalName) { firstSeen = Date() }
            usleep(5_000)
        }
        #expect(a.terminationStatus == 0, "uninterrupted run failed: \((try? String(contentsOfFile: base + "/a.err", encoding: .utf8)) ?? "")")
        let trainingSeconds = firstSeen.map { Date().timeIntervalSince($0) } ?? 1
        #expect(try checkpointGlobalStep(dirA + "/" + finalName) == 2 * 47, "47 steps per epoch (6000 / 128 rounded up), 2 epochs")

        // Killed twice at random moments of training, resumed each time, then run to the end.
        var rng = SystemRandomNumberGenerator()
        let dirB = base + "/b", fileB = base + "/b.safetensors"
        var lastStep = -1
        var killedAt: [Int] = []
        for attempt in 0..<2 {
            let p = try spawn(common + ["--checkpoint", dirB, "--save", fileB] + (attempt > 0 ? ["--resume"] : []), log: base + "/b\(attempt)")
            // Wait until this process has written a checkpoint beyond the last one (it is training).
            while p.isRunning {
                if let s = try? checkpointGlobalStep(dirB + "/" + finalName), s > lastStep { break }
                usleep(2_000)
            }
            let delay = Double.random(in: 0..<(0.45 * trainingSeconds), using: &rng)
            usleep(UInt32(delay * 1e6))
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            let killed = p.terminationReason == .uncaughtSignal
            let entries = try FileManager.default.contentsOfDirectory(atPath: dirB).sorted()
            // Under the final name: only a complete file (parsed and sized here).
            let step = try checkpointGlobalStep(dirB + "/" + finalName)
            for e in entries where e != finalName {
                #expect(e.hasPrefix(".\(finalName).tmp-"), "unexpected file \(e) in the checkpoint directory")
            }
            print("attempt \(attempt): \(killed ? "SIGKILL after \(String(format: "%.3f", delay)) s" : "finished before the kill"); directory: \(entries); checkpoint at global step \(step)")
            if killed { killedAt.append(step) }
            lastStep = step
        }
        let last = try spawn(common + ["--checkpoint", dirB, "--save", fileB, "--resume"], log: base + "/b-final")
        last.waitUntilExit()
        #expect(last.terminationStatus == 0, "resumed run failed: \((try? String(contentsOfFile: base + "/b-final.err", encoding: .utf8)) ?? "")")
        let (hashA, hashB) = (try sha256sum(fileA), try sha256sum(fileB))
        print("killed with the last checkpoint at global steps \(killedAt); sha256 uninterrupted \(hashA), resumed \(hashB)")
        #expect(!killedAt.isEmpty, "no kill landed during training")
        #expect(hashA == hashB && hashA.count == 64)
        // Left-over temporary files of killed writers are removed by --resume.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dirB).filter { $0 != finalName }
        #expect(leftovers.isEmpty, "stale temporary files: \(leftovers)")

        // Resuming with another learning rate is refused, naming it; an existing checkpoint needs --resume.
        let bad = try spawn(common + ["--checkpoint", dirB, "--resume", "--learning-rate", "0.1"], log: base + "/bad")
        bad.waitUntilExit()
        let err = (try? String(contentsOfFile: base + "/bad.err", encoding: .utf8)) ?? ""
        #expect(bad.terminationStatus == 1 && err.contains("learning rate"), "\(bad.terminationStatus): \(err)")
        let again = try spawn(common + ["--checkpoint", dirB], log: base + "/again")
        again.waitUntilExit()
        #expect(again.terminationStatus == 64)
    }
}
