// Regression tests for the break-it defects D3 and D4 (see the commit messages): options that do
// not apply to an architecture, empty list items, and zero-sized dimensions on the command line.
import Foundation
import Testing

@Suite("break-it defects: command line")
struct DefectsCLITests {
    static let tiny = (try? makeTinyDataset()) ?? "/nonexistent"

    @Test("D4: an empty item in any comma-separated option is exit 64 naming the option and the item")
    func emptyListItems() throws {
        let cases: [([String], String)] = [
            (["compare", "--data", Self.tiny, "--depth", "1", "--width", "4", "--steps", "1", "--inits", "he-normal,,normal"], "--inits"),
            (["compare", "--data", Self.tiny, "--depth", "1", "--width", "4", "--steps", "1", "--inits", "he-normal,"], "--inits"),
            (["train", "--data", Self.tiny, "--epochs", "1", "--hidden", "3,,4"], "--hidden"),
            (["train", "--data", Self.tiny, "--epochs", "1", "--hidden", ",4"], "--hidden"),
            (["bench", "--only", "gemm,,dense"], "--only"),
            (["init", "--preset", "gpt2:layers=1,,dim=8,heads=2,vocab=16,positions=8", "--out", NSTemporaryDirectory() + "wi-d4-never.safetensors"], "item 2"),
        ]
        for (args, name) in cases {
            let (status, _, err) = try runTool(args)
            #expect(status == 64, "\(args.joined(separator: " ")): exit \(status) \(err.suffix(300))")
            #expect(err.contains(name) && err.contains("empty"), "\(args.joined(separator: " ")): \(err.suffix(300))")
        }
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "wi-d4-never.safetensors"))
    }

    @Test("D4: stats --shape 0 and --shape 5 are both exit 64 for orthogonal and xavier; 3x0 and 0x4x3x3 are empty no-ops (exit 0, count 0); normal accepts --shape 0")
    func zeroDimensions() throws {
        for scheme in ["orthogonal", "xavier-uniform", "he-normal"] {
            for shape in ["0", "5"] {
                let (status, _, err) = try runTool(["stats", "--scheme", scheme, "--shape", shape])
                #expect(status == 64 && err.contains("2"), "\(scheme) --shape \(shape): exit \(status) \(err.suffix(200))")
            }
            for shape in ["3x0", "0x4x3x3"] {
                let (status, out, err) = try runTool(["stats", "--scheme", scheme, "--shape", shape, "--json"])
                #expect(status == 0, "\(scheme) --shape \(shape): exit \(status) \(err.suffix(200))")
                if status == 0 { #expect(try json(out)["count"] as? Int == 0) }
            }
        }
        let (status, out, _) = try runTool(["stats", "--scheme", "normal", "--shape", "0", "--json"])
        #expect(status == 0 && (try? json(out))?["count"] as? Int == 0)
    }

    @Test("D1: compare --architecture cnn without --depth/--width builds the 16 × 16 CNN (not the MLP's 30 × 256) and runs; MLP defaults unchanged")
    func compareCNNDefaults() throws {
        let (status, out, err) = try runTool(["compare", "--data", Self.tiny, "--architecture", "cnn", "--steps", "1", "--inits", "he-normal", "--json"])
        #expect(status == 0, "exit \(status) \(err.suffix(300))")
        let j = try json(out)
        #expect(j["depth"] as? Int == 16 && j["width"] as? Int == 16, "\(j["depth"] ?? "") × \(j["width"] ?? "")")
        // 16 conv layers and the dense layer: 17 per-layer statistics.
        let runs = try #require(j["runs"] as? [[String: Any]])
        #expect((runs.first?["activation_std"] as? [Double])?.count == 17)
        let (s2, o2, e2) = try runTool(["compare", "--data", Self.tiny, "--steps", "0", "--inits", "he-normal", "--json"])
        #expect(s2 == 0, "\(e2.suffix(200))")
        let m = try json(o2)
        #expect(m["depth"] as? Int == 30 && m["width"] as? Int == 256)
    }

    @Test("D3: train --architecture cnn refuses --hidden, --width and --depth (exit 64 naming the option); its JSON lists the CNN's real layers and has no hidden")
    func cnnLayerOptions() throws {
        let base = ["train", "--data", Self.tiny, "--epochs", "1", "--architecture", "cnn", "--json"]
        for (option, value) in [("--hidden", "3"), ("--width", "8"), ("--depth", "2"), ("--hidden", "256,128")] {
            let (status, out, err) = try runTool(base + [option, value])
            #expect(status == 64, "\(option) \(value): exit \(status) \(err.suffix(300))")
            let message = ((try? json(out))?["error"] as? String) ?? err
            #expect(message.contains(option) && message.contains("cnn"), "\(option): \(message.suffix(300))")
        }
        let (status, out, err) = try runTool(base)
        #expect(status == 0, "exit \(status) \(err.suffix(300))")
        let j = try json(out)
        #expect(j["hidden"] == nil, "hidden is meaningless for the CNN: \(j["hidden"] ?? "")")
        #expect(j["architecture"] as? String == "cnn")
        let layers = try #require(j["layers"] as? [[String: Any]])
        // By hand for 4×4 grey images: conv 1→32 3×3 (32·9 + 32), conv 32→64 3×3 (64·32·9 + 64),
        // two 2×2 max-pools take 4×4 to 1×1, so dense 64→128 (64·128 + 128) and 128→10 (128·10 + 10).
        let counts = layers.compactMap { $0["parameters"] as? Int }.filter { $0 > 0 }
        #expect(counts == [320, 18_496, 8_320, 1_290], "\(layers)")
        #expect(j["parameters"] as? Int == 320 + 18_496 + 8_320 + 1_290)
        // The MLP keeps its hidden widths; the residual MLP lists layers instead.
        let (s2, o2, e2) = try runTool(["train", "--data", Self.tiny, "--epochs", "1", "--hidden", "4", "--json"])
        #expect(s2 == 0, "\(e2.suffix(200))")
        #expect((try json(o2))["hidden"] as? [Int] == [4])
    }
}

/// D5 on the command line: one flipped bit (a finite value) in a checkpoint's tensor data makes
/// `train --resume` exit 1 naming the tensor; the unmodified checkpoint resumes to the same saved
/// weights as an uninterrupted run.
@Suite("break-it defects: checkpoint tensor checksums (D5)")
struct CheckpointChecksumCLITests {
    @Test("train --resume: flipped bit refused naming the tensor (exit 1); unmodified resumes bitwise")
    func flippedBit() throws {
        let data = try makeTinyDataset()
        let dir = NSTemporaryDirectory() + "wi-d5-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["train", "--data", data, "--epochs", "2", "--hidden", "8", "--batch-size", "16", "--threads", "1"]
        var (status, _, err) = try runTool(base + ["--save", dir + "/full.safetensors"])
        #expect(status == 0, "\(err.suffix(300))")
        (status, _, err) = try runTool(base + ["--checkpoint", dir + "/run", "--max-steps", "3"])
        #expect(status == 0, "\(err.suffix(300))")
        let checkpoint = dir + "/run/checkpoint.safetensors"
        try FileManager.default.copyItem(atPath: dir + "/run", toPath: dir + "/bad")
        // Flip the lowest bit of the first byte of tensor 0.weight's data (a finite change).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: checkpoint)))
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let offsets = try #require((header["0.weight"] as? [String: Any])?["data_offsets"] as? [Int])
        bytes[8 + n + offsets[0]] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bad/checkpoint.safetensors"))
        (status, _, err) = try runTool(base + ["--checkpoint", dir + "/bad", "--resume", "--save", dir + "/bad.safetensors"])
        #expect(status == 1 && err.contains("'0.weight'") && err.contains("CRC-32"), "exit \(status): \(err.suffix(400))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad.safetensors"))
        (status, _, err) = try runTool(base + ["--checkpoint", dir + "/run", "--resume", "--save", dir + "/resumed.safetensors"])
        #expect(status == 0, "\(err.suffix(300))")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/full.safetensors")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/resumed.safetensors"))
        #expect(a == b, "the resumed run's weights differ from the uninterrupted run's")
    }
}
