import Foundation
import Testing
@testable import weightinit
import WeightInit

// Issue 13 follow-ups. Oracles: hand-built files (a .npy of the values 1 and 2: mean 1.5, std 0.5;
// text that no tensor format starts with); the bytes of a whole-tensor fill (the checksum of a
// run without progress) for the row-blocked fill that shows progress.

/// The weightinit binary the tests run (as `runTool` finds it).
func toolBinary() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [Bundle.main.bundleURL.appendingPathComponent("weightinit"),
                      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("weightinit"),
                      root.appendingPathComponent(".build/debug/weightinit")]
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }).path
}

@Suite("issue 13 follow-ups: inspect of other formats, stats progress")
struct Issue13FollowupTests {
    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("i13-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("inspect: a text file is 'not a safetensors file' (rule notSafetensors, exit 1); a .npy under another name is read as .npy")
    func inspectOtherFormats() throws {
        let dir = try Self.scratch(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = dir + "/passwd", npy = dir + "/weights.bin"
        try Data("root:x:0:0:root:/root:/bin/bash\n".utf8).write(to: URL(fileURLWithPath: text))
        // numpy 1.0 header for float32 shape (2,), padded so the data starts at byte 128; values 1 and 2.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + String(repeating: " ", count: 60) + "\n"
        var bytes = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0]) + Data(header.utf8)
        bytes.append(contentsOf: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        try bytes.write(to: URL(fileURLWithPath: npy))

        let (s1, o1, e1) = try runTool(["inspect", text])
        #expect(s1 == 1, "\(e1)")
        #expect(o1.isEmpty)
        #expect(e1.contains("notSafetensors") && e1.contains("not a safetensors file") && e1.contains("text file"), "\(e1)")
        #expect(!e1.contains("headerTooLarge"), "\(e1)")

        let (s2, o2, e2) = try runTool(["inspect", npy, "--json"])
        #expect(s2 == 0, "\(e2)")
        let j = try json(o2)
        #expect(j["format"] as? String == "npy")
        let t = try #require((j["tensors"] as? [[String: Any]])?.first)
        #expect(t["count"] as? Int == 2 && t["mean"] as? Double == 1.5 && t["std"] as? Double == 0.5, "\(t)")
    }

    @Test("stats progress: shown on a terminal (script(1) pty) and forced; the bytes equal the fill without progress")
    func statsProgress() throws {
        // Row-blocked fills (uniform, truncated normal with odd rows, dirac) and whole-tensor ones
        // (orthogonal) with WEIGHTINIT_PROGRESS=1: same checksum as without, progress on stderr only.
        let cases: [[String]] = [
            ["--scheme", "truncated-normal", "--std", "0.5", "--shape", "131x37"],
            ["--scheme", "dirac", "--shape", "64x16x3x3", "--groups", "2"],
            ["--scheme", "orthogonal", "--shape", "48x20"],
        ]
        for c in cases {
            let (sa, oa, ea) = try runTool(["stats"] + c + ["--json"])
            let (sb, ob, eb) = try runTool(["stats"] + c + ["--json"], environment: ["WEIGHTINIT_PROGRESS": "1"])
            #expect(sa == 0 && sb == 0, "\(c): \(ea) \(eb)")
            let ca = try json(oa)["checksum"] as? String, cb = try json(ob)["checksum"] as? String
            #expect(ca != nil && ca == cb, "\(c): checksum \(String(describing: ca)) without progress, \(String(describing: cb)) with")
            #expect(!ea.contains("filling") && eb.contains("fill"), "\(c): stderr without: \(ea.prefix(100)); with: \(eb.prefix(200))")
        }
        // A real terminal: script(1) gives the command a pty as stderr; stdout goes to a file.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { print("stats progress: pty leg skipped (no script(1))"); return }
        let dir = try Self.scratch(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let shape = "4096x4096"     // 2²⁴ elements: the threshold
        let out = dir + "/out.json"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", "'\(try toolBinary())' stats --scheme normal --shape \(shape) --json > '\(out)'", "/dev/null"]
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = FileHandle.nullDevice; p.standardInput = FileHandle.nullDevice
        try p.run()
        let terminal = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(terminal)")
        #expect(terminal.contains("4096/4096"), "terminal shows: \(terminal.suffix(300))")
        let piped = try runTool(["stats", "--scheme", "normal", "--shape", shape, "--json"])
        #expect(!piped.2.contains("4096/4096"), "no progress when stderr is a pipe")
        let viaTerminal = try json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
        #expect(viaTerminal["checksum"] as? String == (try json(piped.1))["checksum"] as? String)
        print("stats progress: pty leg ran")
    }

    @Test("a network that cannot fit is refused before the data loads (was: after loading it)")
    func memoryBeforeData() throws {
        // Oracle: the weights alone, width² × layers × 4 bytes (1.0 TiB for 16384² × 1000; 0.6 TiB
        // for 65536² × 40), exceed any machine's memory; a missing --data would fail only if it loaded.
        let hidden = Array(repeating: "65536", count: 40).joined(separator: ",")
        for args in [["compare", "--width", "16384", "--depth", "1000"], ["train", "--hidden", hidden]] {
            let t0 = Date()
            let (status, _, err) = try runTool(args + ["--data", "/nonexistent-\(getpid())"])
            #expect(status == 1 && err.contains("needs about") && err.contains("TiB") && !err.contains("nonexistent"), "\(args): \(err)")
            print("\(args[0]): refused in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        }
    }
}
