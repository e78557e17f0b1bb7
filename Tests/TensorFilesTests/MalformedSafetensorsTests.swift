import Foundation
import Testing
@testable import TensorFiles

// C27 (CASES.md): hand-built files, one defect each; the oracle is the rule each file breaks
// by construction (reference: huggingface/safetensors `tensor.rs` validation, issue 401).

@Suite("safetensors reader: malformed files (C27)")
struct MalformedSafetensorsTests {
    static let f32x2 = #""dtype":"F32","shape":[2]"#

    /// (label, file bytes, expected rule, expected tensor)
    static let cases: [(String, Data, TensorFileError.Rule, String?)] = [
        ("empty file", Data(), .truncated, nil),
        ("7-byte file", Data(repeating: 0, count: 7), .truncated, nil),
        ("header length 2^63 in an 8-byte file", rawSafetensors("", dataBytes: 0, pad: false, lengthOverride: 1 << 63), .headerTooLarge, nil),
        ("header length 100 000 001", rawSafetensors("{}", dataBytes: 0, lengthOverride: 100_000_001), .headerTooLarge, nil),
        ("header length beyond the file", rawSafetensors("{}", dataBytes: 0, lengthOverride: 64), .headerBeyondFile, nil),
        ("header not UTF-8", rawSafetensors("{\"\u{FF}\":1}", dataBytes: 0).replacingBytes(at: 10, with: [0xFF, 0xFE]), .headerNotText, nil),
        ("header not JSON", rawSafetensors("{\"a\":", dataBytes: 0), .headerSyntax, nil),
        ("trailing garbage after the object", rawSafetensors("{}x", dataBytes: 0), .headerSyntax, nil),
        ("header a JSON array", rawSafetensors("[]", dataBytes: 0), .headerStructure, nil),
        ("entry not an object", rawSafetensors(#"{"a":3}"#, dataBytes: 0), .headerStructure, "a"),
        ("entry without data_offsets", rawSafetensors(#"{"a":{"dtype":"F32","shape":[2]}}"#, dataBytes: 8), .headerStructure, "a"),
        ("overlap: a [0,8) and b [4,12)", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"b":{\#(f32x2),"data_offsets":[4,12]}}"#, dataBytes: 12), .overlap, "b"),
        ("gap: a [0,8) and b [12,20)", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"b":{\#(f32x2),"data_offsets":[12,20]}}"#, dataBytes: 20), .gap, "b"),
        ("4 trailing bytes after the last tensor", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]}}"#, dataBytes: 12), .dataSizeMismatch, "a"),
        ("last tensor beyond the end of the file", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]}}"#, dataBytes: 4), .dataSizeMismatch, "a"),
        ("shape [2,3] F32 with offsets [0,20]", rawSafetensors(#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, dataBytes: 20), .byteLengthMismatch, "a"),
        ("shape [2^40, 2^40]: count overflows", rawSafetensors(#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#, dataBytes: 8), .countOverflow, "a"),
        ("shape [2^62] F64: byte size overflows", rawSafetensors(#"{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}"#, dataBytes: 8), .countOverflow, "a"),
        ("shape entry 2^64 does not fit", rawSafetensors(#"{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}}"#, dataBytes: 8), .invalidShape, "a"),
        ("negative shape entry", rawSafetensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8), .invalidShape, "a"),
        ("fractional shape entry", rawSafetensors(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, dataBytes: 8), .invalidShape, "a"),
        ("dtype F33", rawSafetensors(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), .unknownDtype, "a"),
        ("offsets with begin > end", rawSafetensors(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#, dataBytes: 8), .invalidOffsets, "a"),
        ("offsets not two integers", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0]}}"#, dataBytes: 8), .invalidOffsets, "a"),
        ("the same name twice", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"a":{\#(f32x2),"data_offsets":[8,16]}}"#, dataBytes: 16), .duplicateName, "a"),
        ("__metadata__ with a number value", rawSafetensors(#"{"__metadata__":{"format":1}}"#, dataBytes: 0), .invalidMetadata, nil),
        ("__metadata__ an array", rawSafetensors(#"{"__metadata__":["pt"]}"#, dataBytes: 0), .invalidMetadata, nil),
        ("nesting 100 deep in an ignored field", rawSafetensors(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}}", dataBytes: 0), .headerSyntax, nil),
        ("entry an array", rawSafetensors(#"{"a":[1]}"#, dataBytes: 0), .headerStructure, "a"),
        ("65 dimensions", rawSafetensors(#"{"a":{"dtype":"U8","shape":["# + Array(repeating: "1", count: 65).joined(separator: ",") + #"],"data_offsets":[0,1]}}"#, dataBytes: 1), .invalidShape, "a"),
        ("three data_offsets", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8,8]}}"#, dataBytes: 8), .invalidOffsets, "a"),
        ("dtype a number", rawSafetensors(#"{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8), .unknownDtype, "a"),
        ("field given twice", rawSafetensors(#"{"a":{\#(f32x2),"data_offsets":[0,8],"shape":[2]}}"#, dataBytes: 8), .headerStructure, "a"),
        ("metadata key twice", rawSafetensors(#"{"__metadata__":{"k":"1","k":"2"}}"#, dataBytes: 0), .invalidMetadata, nil),
    ]

    @Test("each defect is a typed error naming its rule and tensor; memory stays small")
    func eachRule() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let rss0 = residentBytes()
        for (i, (label, bytes, rule, tensor)) in Self.cases.enumerated() {
            let p = s.path("bad\(i).safetensors")
            try bytes.write(to: URL(fileURLWithPath: p))
            do {
                _ = try SafetensorsFile(path: p)
                Issue.record("\(label): accepted")
            } catch let e as TensorFileError {
                #expect(e.rule == rule, "\(label): \(e)")
                #expect(e.tensor == tensor, "\(label): \(e)")
                #expect(e.file == p)
                print("\(label) → \(e.rule.rawValue): \(e.detail)")
            }
        }
        let rss1 = residentBytes()
        print("RSS \(rss0 >> 10) → \(rss1 >> 10) KiB over \(Self.cases.count) malformed files")
        #expect(rss1 - rss0 < 16 << 20)
    }

    @Test("valid: a 0-d tensor (shape []) and a zero-size tensor (shape [0, 5], offsets [n, n]) load")
    func validEdgeShapes() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("ok.safetensors")
        var d = rawSafetensors(#"{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},"extra":{"dtype":"U8","shape":[1],"data_offsets":[4,5],"ignored":true}}"#, dataBytes: 0)
        withUnsafeBytes(of: Float(2.5)) { d.append(contentsOf: $0) }
        d.append(9)
        try d.write(to: URL(fileURLWithPath: p))
        let f = try SafetensorsFile(path: p)
        #expect(try f.floats("s") == [2.5])
        #expect(try f.floats("z") == [])
        #expect(f.location(of: "z")?.shape == [0, 5])
        #expect(try f.withBytes(of: "extra") { Array($0) } == [9])
        #expect(f.metadata == nil)
    }

    @Test("not a regular file or missing: typed I/O error")
    func notAFile() throws {
        #expect(throws: TensorFileError.self) { _ = try SafetensorsFile(path: "/dev/null") }
        #expect(throws: TensorFileError.self) { _ = try SafetensorsFile(path: "/nonexistent/x.safetensors") }
        #expect(throws: TensorFileError.self) { _ = try SafetensorsFile(path: "/tmp") }
    }
}

extension Data {
    func replacingBytes(at offset: Int, with bytes: [UInt8]) -> Data {
        var d = self
        d.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        return d
    }
}
