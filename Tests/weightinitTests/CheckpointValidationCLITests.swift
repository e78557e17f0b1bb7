// Issue 13, checkpoint class, from the command line: an edited checkpoint header, a resume with
// other settings, images too small for the CNN and a CNN too large for memory each end with
// exit 1 and a message naming the file / option / sizes — never a signal, never an OOM kill,
// never a changed checkpoint file. Oracles: exit codes, the checkpoint's bytes before and after,
// the rule of each field (hand-derived), and for the memory estimate the peak RSS measured by
// GNU time (`/usr/bin/time -f %M`, independent of the package).
import Foundation
import Testing
import WeightInit

/// (A copy of the NeuralNetworkTests helper: test targets do not share code.) Rewrites the `weightinit.checkpoint` metadata JSON of the safetensors file at `source` with
/// `edit` applied to the decoded object, into `destination` (same tensor bytes).
/// `setCheckpointField(field, json)` is the usual edit: the field set to a JSON value's text.
fileprivate func editCheckpointHeader(_ source: String, _ destination: String, _ edit: (inout [String: Any]) -> Void) throws {
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
fileprivate func setCheckpointField(_ field: String, _ json: String) -> (inout [String: Any]) -> Void {
    let value = (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])) ?? NSNull()
    return { $0[field] = value }
}

@Suite("weightinit: checkpoints, resume settings and CNN sizes are validated (issue 13)")
struct CheckpointValidationCLITests {
    static let tiny = (try? makeTinyDataset(train: 64, test: 32, rows: 8, columns: 8)) ?? "/nonexistent"

    /// `train` on the 8×8 tiny set: 2 epochs × 4 steps (batch 16), stopped after 3 steps.
    static let base = ["train", "--data", tiny, "--hidden", "8", "--epochs", "2", "--batch-size", "16", "--batch-threads", "1"]

    static func freshCheckpoint(_ tag: String) throws -> String {
        let dir = NSTemporaryDirectory() + "wi-ckv-\(tag)-" + UUID().uuidString
        let r = try runBounded(base + ["--checkpoint", dir, "--max-steps", "3"], timeout: 60)
        #expect(r.status == 0, "first run: \(r.stderr)")
        return dir
    }

    @Test("an edited checkpoint header: exit 1 naming the file and the field; the file is not changed",
          arguments: [("step", "-1"), ("epoch", "-1"), ("global_step", "-1"), ("global_step", "9223372036854775807"),
                      ("optimizer_steps", "9223372036854775807"), ("seen", "9223372036854775807"), ("correct", "9223372036854775807"),
                      ("loss_sum_bits", "\"zz\""), ("epoch", "9223372036854775807")])
    func editedHeader(field: String, value: String) throws {
        let dir = try Self.freshCheckpoint("edit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/checkpoint.safetensors"
        try editCheckpointHeader(path, path + ".edited", setCheckpointField(field, value))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".edited", toPath: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let r = try runBounded(Self.base + ["--checkpoint", dir, "--resume"], timeout: 60)
        print("\(field) = \(value): exit \(r.status): \(r.stderr.split(separator: "\n").last ?? "")")
        #expect(!r.signaled && !r.timedOut && r.status == 1, "\(field) = \(value): \(r.stderr)")
        #expect(r.stderr.contains(path) && r.stderr.contains("'\(field)'"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the refused checkpoint is left as it was")
    }

    @Test("resume with another activation, standardization, --limit, --init or hidden width: exit 1 naming the option",
          arguments: [(["--activation", "tanh"], "--activation"), (["--no-standardize"], "--standardize"), (["--limit", "48"], "--limit"),
                      (["--init", "xavier-uniform"], "--init"), (["--activation", "leaky-relu", "--slope", "0.2"], "--activation")])
    func otherSettings(extra: [String], option: String) throws {
        let dir = try Self.freshCheckpoint("settings")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/checkpoint.safetensors"
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let r = try runBounded(Self.base + ["--checkpoint", dir, "--resume"] + extra, timeout: 60)
        print("\(extra): exit \(r.status): \(r.stderr.split(separator: "\n").last ?? "")")
        #expect(!r.signaled && r.status == 1, "\(extra): \(r.stderr)")
        #expect(r.stderr.contains(option) && r.stderr.contains(path), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // The same settings continue (control).
        let same = try runBounded(Self.base + ["--checkpoint", dir, "--resume", "--json"], timeout: 60)
        #expect(same.status == 0 && (jsonObject(same.stdout)?["resumed_at_global_step"] as? Int) == 3, "\(same.stderr)")
    }

    @Test("train --architecture cnn on 1×1 images: exit 1 naming --data, the image size and the 4×4 minimum")
    func tinyImages() throws {
        let data = try makeTinyDataset(train: 40, test: 20, rows: 1, columns: 1)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let r = try runBounded(["train", "--data", data, "--architecture", "cnn", "--limit", "300", "--epochs", "1"], timeout: 60)
        print(r.stderr)
        #expect(!r.signaled && r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("--data \(data)") && r.stderr.contains("1×1") && r.stderr.contains("4×4"), "\(r.stderr)")
        #expect(!r.stderr.contains("MaxPool2D"), "no internal layer name: \(r.stderr)")
    }

    @Test("compare --architecture cnn --width 4096 --depth 64 is refused by the memory estimate in < 5 s (exit 1); train --architecture cnn is estimated too")
    func hugeCNN() throws {
        let r = try runBounded(["compare", "--data", Self.tiny, "--architecture", "cnn", "--width", "4096", "--depth", "64", "--steps", "1",
                                "--limit", "2000", "--json"], timeout: 60)
        print("compare cnn 4096×64: exit \(r.status) in \(String(format: "%.2f", r.seconds)) s: \(r.stderr.split(separator: "\n").last ?? "")")
        #expect(!r.signaled && r.status == 1 && r.seconds < 5, "\(r.stderr)")
        #expect(r.stderr.contains("needs about"), "\(r.stderr)")
        #expect(jsonObject(r.stdout)?["exit_code"] as? Int == 1, "\(r.stdout)")
        let data = try makeTinyDataset(train: 40, test: 20, rows: 28, columns: 28)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let t = try runBounded(["train", "--data", data, "--architecture", "cnn", "--epochs", "1"], timeout: 60,
                               environment: ["WEIGHTINIT_MEMORY_LIMIT": "4000000"])
        #expect(t.status == 1 && t.stderr.contains("needs about") && t.stderr.contains("CNN"), "\(t.stderr)")
    }

    @Test("the CNN estimate is within a factor of 2.5 of the peak RSS GNU time measures (compare --architecture cnn --width 32 --depth 4 on 100 28×28 images)")
    func estimateVersusRSS() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
            print("estimateVersusRSS: skipped — /usr/bin/time (GNU time) not installed"); return
        }
        let data = try makeTinyDataset(train: 100, test: 50, rows: 28, columns: 28)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let args = ["compare", "--data", data, "--architecture", "cnn", "--width", "32", "--depth", "4", "--steps", "2", "--batch-size", "64",
                    "--inits", "he-normal", "--threads", "1"]
        // The estimate alone: with a memory limit of 1 byte the command prints the lower bound it
        // checks before loading the data (1×1 images, 1 row); with 10× that limit it passes that
        // check and prints the estimate for the data (28×28, all its rows), then exits 1.
        func estimate(limit: Int) throws -> (Double, String) {
            let refused = try runBounded(args, timeout: 60, environment: ["WEIGHTINIT_MEMORY_LIMIT": "\(limit)"])
            let text = try #require(refused.stderr.range(of: #"needs about [0-9.]+ ([KMG]iB|B)"#, options: .regularExpression).map { String(refused.stderr[$0]) }, "\(refused.stderr)")
            let parts = text.split(separator: " ")
            let unit = ["B": 1.0, "KiB": 1024.0, "MiB": 1_048_576.0, "GiB": 1_073_741_824.0][String(parts[3])]!
            return (Double(parts[2])! * unit, refused.stderr)
        }
        let (lower, _) = try estimate(limit: 1)
        let (full, fullText) = try estimate(limit: Int(lower * 10))
        #expect(fullText.contains("28×28"), "\(fullText)")
        let estimateText = CheckedSize.describeBytes(Int(full))
        let estimate = full
        let tool = try hardeningToolBinary().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        p.arguments = ["-f", "maxrss_kb=%M", tool] + args
        var env = ProcessInfo.processInfo.environment
        env["WEIGHTINIT_NO_RELAUNCH"] = "1"
        p.environment = env
        let errPath = NSTemporaryDirectory() + "wi-rss-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardError = err; p.standardOutput = FileHandle.nullDevice; p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try err.close()
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 0, "\(stderr)")
        let kb = try #require(stderr.components(separatedBy: "maxrss_kb=").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, "\(stderr)")
        let rss = kb * 1024
        print("CNN memory estimate \(estimateText) vs peak RSS \(String(format: "%.1f", rss / 1_048_576)) MiB (ratio \(String(format: "%.2f", estimate / rss)))")
        #expect(estimate / rss > 1 / 2.5 && estimate / rss < 2.5)
    }
}
