import Foundation
import Testing
@testable import TensorFiles

// Oracles: header bytes numpy 2.4.6 `numpy.save` wrote (pasted below), hand-built files (C28),
// the Fortran-order index formula worked by hand for a 2×3 array.

func npyFile(version: UInt8 = 1, header: String, dataBytes: [UInt8]) -> Data {
    var d = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
    let h = Array(header.utf8)
    var n = UInt32(h.count)
    for _ in 0..<(version == 1 ? 2 : 4) { d.append(UInt8(truncatingIfNeeded: n)); n >>= 8 }
    d.append(contentsOf: h)
    d.append(contentsOf: dataBytes)
    return d
}

@Suite(".npy")
struct NpyTests {
    @Test("headers equal numpy.save's: 2×3 f4, 0-d, 0×5 f2, u1, Fortran-free")
    func headersMatchNumpy() throws {
        // numpy.save output, header dict with growth-axis spaces, newline, data at 128.
        let pad = { (n: Int) in String(repeating: " ", count: n) }
        let cases: [(DType, [Int], String)] = [
            (.F32, [2, 3], "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + pad(58) + "\n"),
            (.F32, [], "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" + pad(62) + "\n"),
            (.F16, [0, 5], "{'descr': '<f2', 'fortran_order': False, 'shape': (0, 5), }" + pad(58) + "\n"),
            (.U8, [5], "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }" + pad(60) + "\n"),
            (.BOOL, [5], "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }" + pad(60) + "\n"),
        ]
        for (dt, shape, dict) in cases {
            let h = try Npy.header(dtype: dt, shape: shape)
            #expect(h.count == 128 && h.count % 64 == 0)
            #expect(Array(h[0..<10]) == [0x93, 78, 85, 77, 80, 89, 1, 0, 118, 0])
            #expect(String(decoding: h[10...], as: UTF8.self) == dict, "\(dt) \(shape)")
        }
        // 64 dimensions of 1: header length 310 (numpy.save).
        #expect(try Npy.header(dtype: .F32, shape: [Int](repeating: 1, count: 64)).count == 320)
        #expect(throws: TensorFileError.self) { _ = try Npy.header(dtype: .BF16, shape: [1]) }
        #expect(throws: TensorFileError.self) { _ = try Npy.header(dtype: .F32, shape: [-1]) }
        // A header beyond 65 535 bytes switches to version 2.0 (u32 length).
        let big = try Npy.header(dtype: .F32, shape: [Int](repeating: 1, count: 22_000))
        #expect(big[6] == 2 && big.count % 64 == 0)
    }

    @Test("round trip F32/F64/F16, 0-d, zero-size; streaming fill")
    func roundTrip() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let v: [Float] = [1, -2.5, 0.1, 3e-5, 65504, -0.0]
        for dt in [DType.F32, .F64, .F16] {
            let p = s.path("a-\(dt).npy")
            try Npy.write(path: p, dtype: dt, shape: [2, 3], floats: v)
            let f = try NpyFile(path: p)
            #expect(f.shape == [2, 3] && f.dtype == dt && f.header.dataOffset % 64 == 0)
            let want = dt == .F16 ? v.map { Float(Float16($0)) } : v
            #expect(try f.floats() == want)
        }
        try Npy.write(path: s.path("s.npy"), shape: [], floats: [7])
        #expect(try NpyFile(path: s.path("s.npy")).floats() == [7])
        try Npy.write(path: s.path("z.npy"), shape: [0, 5], floats: [])
        #expect(try NpyFile(path: s.path("z.npy")).floats() == [])
        try Npy.write(path: s.path("i.npy"), dtype: .I64, shape: [3]) { b in
            for k in 0..<3 { b.storeBytes(of: Int64(k - 1).littleEndian, toByteOffset: 8 * k, as: Int64.self) }
        }
        #expect(try NpyFile(path: s.path("i.npy")).withBytes { Array($0.bindMemory(to: Int64.self)) } == [-1, 0, 1])
        #expect(throws: TensorFileError.self) { try Npy.write(path: s.path("bad.npy"), shape: [2], floats: [1]) }
        #expect(!FileManager.default.fileExists(atPath: s.path("bad.npy")))
    }

    @Test("C28: a 128-byte file claiming 2^30 floats is refused before allocation")
    func tinyFileHugeShape() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("claim.npy")
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }"
        let hdr = dict + String(repeating: " ", count: 80 - 10 - dict.count - 1) + "\n"
        try npyFile(header: hdr, dataBytes: [UInt8](repeating: 0, count: 48)).write(to: URL(fileURLWithPath: p))
        #expect((try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) == 128)
        let rss0 = residentBytes()
        do {
            _ = try NpyFile(path: p)
            Issue.record("accepted")
        } catch let e as TensorFileError {
            #expect(e.rule == .dataTooShort)
            #expect(e.detail.contains("48 data bytes") && e.detail.contains("4294967296"), "\(e)")
            print(e)
        }
        #expect(residentBytes() - rss0 < 16 << 20)
    }

    @Test("C28 and every header rule: typed errors")
    func malformed() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
        let cases: [(String, Data, TensorFileError.Rule)] = [
            ("missing 'shape'", npyFile(header: "{'descr': '<f4', 'fortran_order': False, }\n", dataBytes: [0, 0, 0, 0]), .headerStructure),
            ("missing 'descr'", npyFile(header: "{'fortran_order': False, 'shape': (1,), }\n", dataBytes: [0, 0, 0, 0]), .headerStructure),
            ("extra key", npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", dataBytes: [0, 0, 0, 0]), .headerStructure),
            ("not a dict", npyFile(header: "[1, 2]\n", dataBytes: []), .headerSyntax),
            ("unterminated", npyFile(header: "{'descr': '<f4'", dataBytes: []), .headerSyntax),
            ("big-endian", npyFile(header: "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", dataBytes: [0, 0, 0, 0]), .unknownDtype),
            ("structured dtype", npyFile(header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", dataBytes: [0, 0, 0, 0]), .headerSyntax),
            ("negative shape", npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", dataBytes: []), .invalidShape),
            ("shape not a tuple", npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }\n", dataBytes: []), .invalidShape),
            ("count overflow", npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", dataBytes: []), .countOverflow),
            ("byte size overflow", npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }\n", dataBytes: []), .countOverflow),
            ("shape entry beyond Int", npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", dataBytes: []), .invalidShape),
            ("bad magic", Data("\u{93}NUMPX".utf8) + Data(repeating: 0, count: 10), .badMagic),
            ("version 4.0", npyFile(version: 4, header: ok, dataBytes: [0, 0, 0, 0, 0, 0, 0, 0]), .badMagic),
            ("5-byte file", Data([0x93, 78, 85, 77, 80]), .truncated),
            ("header length beyond the file", Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0x00]) + Data("{}".utf8), .headerBeyondFile),
            ("header over 10 000 characters", npyFile(version: 2, header: "{" + String(repeating: " ", count: 10_001) + "}", dataBytes: []), .headerTooLarge),
            ("data short by one byte", npyFile(header: ok, dataBytes: [0, 0, 0, 0, 0, 0, 0]), .dataTooShort),
            ("3.0 header not UTF-8", npyFile(version: 3, header: ok, dataBytes: [0, 0, 0, 0, 0, 0, 0, 0]).replacingBytes(at: 14, with: [0xFF]), .headerNotText),
        ]
        for (i, (label, bytes, rule)) in cases.enumerated() {
            let p = s.path("m\(i).npy")
            try bytes.write(to: URL(fileURLWithPath: p))
            do {
                _ = try NpyFile(path: p)
                Issue.record("\(label): accepted")
            } catch let e as TensorFileError {
                #expect(e.rule == rule, "\(label): \(e)")
                print("\(label) → \(e.rule.rawValue): \(e.detail)")
            }
        }
    }

    @Test("C28: a version-2.0 file reads; Fortran order reads as numpy reads it")
    func versionsAndFortran() throws {
        let s = try Scratch(); defer { s.cleanup() }
        // Version 2.0: u32 header length; values 1, 2 as <f4.
        var d2: [UInt8] = []
        for v: Float in [1, 2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { d2 += $0 } }
        let p2 = s.path("v2.npy")
        try npyFile(version: 2, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", dataBytes: d2).write(to: URL(fileURLWithPath: p2))
        let f2 = try NpyFile(path: p2)
        #expect(f2.header.version == (2, 0))
        #expect(try f2.floats() == [1, 2])
        // Fortran order 2×3: A = [[0, 1, 2], [3, 4, 5]] stored column by column: 0 3 1 4 2 5.
        var df: [UInt8] = []
        for v: Float in [0, 3, 1, 4, 2, 5] { withUnsafeBytes(of: v.bitPattern.littleEndian) { df += $0 } }
        let pf = s.path("f.npy")
        try npyFile(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", dataBytes: df).write(to: URL(fileURLWithPath: pf))
        let ff = try NpyFile(path: pf)
        #expect(ff.header.fortranOrder && ff.shape == [2, 3])
        #expect(try ff.floats() == [0, 1, 2, 3, 4, 5])
        // Python 2 style header with long integers and double quotes.
        let p3 = s.path("py2.npy")
        try npyFile(header: "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}\n", dataBytes: d2).write(to: URL(fileURLWithPath: p3))
        #expect(try NpyFile(path: p3).floats() == [1, 2])
    }
}
