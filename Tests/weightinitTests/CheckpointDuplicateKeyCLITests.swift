// Regression test (bk7, defect 3): a key given twice in a checkpoint's `weightinit.checkpoint`
// metadata JSON (here a second, wrong `tensor_checksums` entry for `0.bias`) is refused naming
// the key, instead of silently using the first copy (Python's json would take the last).
import Foundation
import Testing

@Suite("bk7: duplicate keys in checkpoint metadata are refused")
struct CheckpointDuplicateKeyCLITests {
    /// `bytes` (a safetensors file) with its header text replaced by `edit(header)`, re-padded
    /// with spaces to a multiple of 8 bytes and the length prefix rewritten.
    func rewriteHeader(_ bytes: [UInt8], _ edit: (String) throws -> String) rethrows -> [UInt8] {
        var n = 0
        for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
        var header = Array(try edit(String(decoding: bytes[8..<(8 + n)], as: UTF8.self)).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let length = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        return length + header + bytes[(8 + n)...]
    }

    @Test("train --resume: tensor_checksums with '0.bias' twice (right CRC first, 00000000 second) → exit 1 naming '0.bias'; also a repeated top-level key")
    func duplicateChecksumKey() throws {
        let data = try makeTinyDataset()
        let dir = NSTemporaryDirectory() + "wi-bk7-dup-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["train", "--data", data, "--epochs", "2", "--hidden", "8", "--batch-size", "16", "--threads", "1"]
        var (status, _, err) = try runTool(base + ["--checkpoint", dir + "/run", "--max-steps", "3"])
        #expect(status == 0, "\(err.suffix(300))")
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/run/checkpoint.safetensors")))
        // Inside the header, the checkpoint JSON is a JSON string: its quotes are written \".
        let key = #"\"0.bias\":\""#
        let nested = try rewriteHeader(original) { header in
            let start = try #require(header.range(of: key), "no 0.bias checksum in the header: \(header.prefix(400))")
            let end = try #require(header.range(of: #"\""#, range: start.upperBound..<header.endIndex))
            #expect(header.distance(from: start.upperBound, to: end.lowerBound) == 8, "a CRC-32 is 8 hexadecimal digits")
            return header.replacingCharacters(in: end.upperBound..<end.upperBound, with: #",\"0.bias\":\"00000000\""#)
        }
        let topLevel = try rewriteHeader(original) { header in
            let start = try #require(header.range(of: #"\"version\":"#), "\(header.prefix(400))")
            return header.replacingCharacters(in: start.lowerBound..<start.lowerBound, with: #"\"version\":2,"#)
        }
        for (name, bytes, duplicated) in [("nested", nested, "0.bias"), ("top-level", topLevel, "version")] {
            let bad = dir + "/bad-" + name
            try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: bad + "/checkpoint.safetensors"))
            (status, _, err) = try runTool(base + ["--checkpoint", bad, "--resume", "--save", dir + "/never.safetensors"])
            #expect(status == 1 && err.contains("'\(duplicated)'") && err.contains("more than once"), "\(name): exit \(status): \(err.suffix(400))")
            #expect(!FileManager.default.fileExists(atPath: dir + "/never.safetensors"))
        }
        // The untouched checkpoint still resumes (the edit, not the test's rewriting, is refused).
        let same = rewriteHeader(original) { $0 }
        try FileManager.default.createDirectory(atPath: dir + "/same", withIntermediateDirectories: true)
        try Data(same).write(to: URL(fileURLWithPath: dir + "/same/checkpoint.safetensors"))
        (status, _, err) = try runTool(base + ["--checkpoint", dir + "/same", "--resume"])
        #expect(status == 0, "rewritten but unchanged header: exit \(status) \(err.suffix(300))")
    }
}
