import Foundation
import Testing

// `weightinit train --batch-threads`: invalid values exit 64 naming the option; an mlp run
// (layer-synchronous training) saves the same bytes for --batch-threads 3 (with --threads 2 or 3)
// and --batch-threads 1. Oracles: the CLI contract and the bytes of independent runs.
@Suite("train --batch-threads")
struct BatchThreadsCLITests {
    static let data = "/usr/share/datasets/fashion-mnist"

    @Test("out-of-range values and a CNN are refused with exit 64 naming --batch-threads")
    func invalid() throws {
        for args in [["--batch-threads", "0"], ["--batch-threads", "65"], ["--batch-threads", "-2"],
                     ["--architecture", "cnn", "--batch-threads", "2"]] {
            let (status, _, err) = try runTool(["train", "--epochs", "1", "--data", "/nonexistent"] + args)
            #expect(status == 64 && err.contains("--batch-threads"), "\(args): status \(status), stderr \(err)")
        }
    }

    @Test("--batch-threads 3 (two runs, --threads 2 and 3) and --batch-threads 1 save identical bytes for an mlp (layer-synchronous training)")
    func reproducible() throws {
        guard FileManager.default.fileExists(atPath: Self.data) else { print("skipped: \(Self.data) not installed (dataset-fashion-mnist)"); return }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("wi-batch-threads-\(getpid())").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        // 1000 samples, batch 128: 8 steps, the last of 104 rows (35, 34, 35 per thread).
        let common = ["train", "--limit", "1000", "--epochs", "1", "--seed", "0", "--hidden", "32", "--json"]
        func run(_ extra: [String], _ name: String) throws -> Data {
            let (status, out, err) = try runTool(common + extra + ["--save", base + "/" + name])
            #expect(status == 0, "\(extra): \(err)")
            #expect(out.contains("\"test_accuracy\""))
            return try Data(contentsOf: URL(fileURLWithPath: base + "/" + name))
        }
        // --threads 2 and 3 with 3 batch threads: 1 OpenBLAS thread either way.
        let a = try run(["--batch-threads", "3", "--threads", "2"], "a.safetensors")
        let b = try run(["--batch-threads", "3", "--threads", "3"], "b.safetensors")
        let one = try run(["--batch-threads", "1", "--threads", "1"], "c.safetensors")
        #expect(a == b, "--batch-threads 3: two runs saved different bytes")
        #expect(a.count == one.count)
        // Same header (names, shapes, offsets): compare the Float payloads of the two files.
        let floats = { (d: Data) -> [Float] in
            let headerLength = Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            return d.dropFirst(8 + headerLength).withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        }
        let fa = floats(a), fo = floats(one)
        let delta = zip(fa, fo).map { abs($0 - $1) }.max() ?? 0
        print("train --batch-threads 3 vs 1 (8 steps, seed 0): max |Δw| = \(delta), files \(a == one ? "identical" : "differ")")
        #expect(a == one, "--batch-threads 3 and 1 saved different bytes (max |Δw| = \(delta))")
    }
}
