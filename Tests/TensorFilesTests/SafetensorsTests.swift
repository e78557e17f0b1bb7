import Foundation
import Testing
@testable import TensorFiles

// Oracles: header bytes produced by the reference implementation (Python safetensors 0.8.0,
// `safetensors.numpy.save`) pasted verbatim below; the standard library's Float16 conversion;
// hand-worked bfloat16 bit patterns; hand-built malformed files; naive loops.

/// Builds a safetensors file from a header string (padded to 8 with spaces unless `pad` is
/// false) and `dataBytes` zero bytes of data.
func rawSafetensors(_ header: String, dataBytes: Int, pad: Bool = true, lengthOverride: UInt64? = nil) -> Data {
    var h = Array(header.utf8)
    if pad { while h.count % 8 != 0 { h.append(0x20) } }
    var d = Data()
    var n = lengthOverride ?? UInt64(h.count)
    for _ in 0..<8 { d.append(UInt8(truncatingIfNeeded: n)); n >>= 8 }
    d.append(contentsOf: h)
    d.append(Data(repeating: 0, count: dataBytes))
    return d
}

/// The current resident set size of this process in bytes (/proc/self/statm).
func residentBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let f = s.split(separator: " ")
    return (f.count > 1 ? Int(f[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite("safetensors")
struct SafetensorsTests {
    @Test("layout: header bytes equal the reference writer's for mixed dtypes, 0-d and zero-size tensors")
    func layoutMatchesReference() throws {
        // safetensors.numpy.save of {"b16": f16[2], "a32": f32[3], "z64": f64[1], "i64": i64[1],
        // "u8": u8[1], "bo": bool[1], "i32": i32[1], "s": f32[] (0-d), "e": f32[0,5]}, no metadata.
        let reference = #"{"i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"z64":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"a32":{"dtype":"F32","shape":[3],"data_offsets":[16,28]},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[28,28]},"s":{"dtype":"F32","shape":[],"data_offsets":[28,32]},"i32":{"dtype":"I32","shape":[1],"data_offsets":[32,36]},"b16":{"dtype":"F16","shape":[2],"data_offsets":[36,40]},"u8":{"dtype":"U8","shape":[1],"data_offsets":[40,41]},"bo":{"dtype":"BOOL","shape":[1],"data_offsets":[41,42]}}      "#
        let specs = [TensorSpec(name: "b16", dtype: .F16, shape: [2]), TensorSpec(name: "a32", dtype: .F32, shape: [3]),
                     TensorSpec(name: "z64", dtype: .F64, shape: [1]), TensorSpec(name: "i64", dtype: .I64, shape: [1]),
                     TensorSpec(name: "u8", dtype: .U8, shape: [1]), TensorSpec(name: "bo", dtype: .BOOL, shape: [1]),
                     TensorSpec(name: "i32", dtype: .I32, shape: [1]), TensorSpec(name: "s", dtype: .F32, shape: []),
                     TensorSpec(name: "e", dtype: .F32, shape: [0, 5])]
        let layout = try SafetensorsLayout(tensors: specs, metadata: nil)
        #expect(Array(layout.headerBytes[8...]) == Array(reference.utf8))
        #expect(layout.headerBytes.prefix(8) == [0, 2, 0, 0, 0, 0, 0, 0], "512 = 0x200, little-endian")
        #expect(layout.dataStart == 520 && layout.fileSize == 562)
        #expect(layout.location(of: "b16")?.fileOffset == 520 + 36)
        // With metadata {"format": "pt"} the reference puts __metadata__ first.
        let withMeta = try SafetensorsLayout(tensors: [TensorSpec(name: "w", dtype: .F32, shape: [2])])
        #expect(String(decoding: withMeta.headerBytes[8...], as: UTF8.self)
                == #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   "#, "safetensors 0.8.0 output")
        // The empty file: "{}" padded.
        #expect(try SafetensorsLayout(tensors: [], metadata: nil).headerBytes == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        // Reference dtype order (U64 I64 F64 … F32 U32 I32 BF16 F16 U16 I16 I8 U8 BOOL), then names by bytes.
        let all: [DType] = [.BOOL, .U8, .I8, .I16, .U16, .F16, .BF16, .I32, .U32, .F32, .F64, .I64, .U64]
        let order = try SafetensorsLayout(tensors: all.map { TensorSpec(name: "t", dtype: $0, shape: [1]) }.enumerated().map {
            TensorSpec(name: "t\($0.offset)", dtype: $0.element.dtype, shape: [1]) }, metadata: nil).tensors.map(\.dtype)
        #expect(order == [.U64, .I64, .F64, .F32, .U32, .I32, .BF16, .F16, .U16, .I16, .I8, .U8, .BOOL])
        // JSON escaping as serde_json: quote, backslash, control characters; UTF-8 kept raw.
        let esc = try SafetensorsLayout(tensors: [TensorSpec(name: "a\"b\\c\nd\u{1}é", dtype: .U8, shape: [0])], metadata: nil)
        #expect(String(decoding: esc.headerBytes[8...], as: UTF8.self).hasPrefix(#"{"a\"b\\c\nd\u0001é":"#))
    }

    @Test("layout: invalid tensor lists are typed errors")
    func layoutErrors() {
        func rule(_ specs: [TensorSpec]) -> TensorFileError.Rule? {
            do { _ = try SafetensorsLayout(tensors: specs); return nil } catch let e as TensorFileError { return e.rule } catch { return nil }
        }
        #expect(rule([TensorSpec(name: "", dtype: .F32, shape: [1])]) == .invalidSpec)
        #expect(rule([TensorSpec(name: "a", dtype: .F32, shape: [1]), TensorSpec(name: "a", dtype: .F16, shape: [1])]) == .invalidSpec)
        #expect(rule([TensorSpec(name: "__metadata__", dtype: .F32, shape: [1])]) == .invalidSpec)
        #expect(rule([TensorSpec(name: "a", dtype: .F32, shape: [-1])]) == .invalidSpec)
        #expect(rule([TensorSpec(name: "a", dtype: .F32, shape: [1 << 40, 1 << 40])]) == .countOverflow)
        #expect(rule([TensorSpec(name: "a", dtype: .F64, shape: [1 << 61])]) == .countOverflow)
    }

    @Test("Float → F16 equals the standard library's Float16 conversion (round to nearest even)")
    func f16MatchesStdlib() {
        var edge: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, .infinity, -.infinity,
                             0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 0x1p-14, 0x1.ff8p-15, 6.1e-5, 1.0009765625, 1.00048828125,
                             1.000732421875, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, 1.0 / 3]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<50_000 { edge.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))) }
        var mismatches = 0
        for x in edge {
            let ours = FloatBits.f16(x)
            #if arch(x86_64) || arch(arm64)
            let ref = Float16(x)
            if x.isNaN {
                if !Float16(bitPattern: ours).isNaN { mismatches += 1 }
            } else if ours != ref.bitPattern { mismatches += 1 }
            #endif
            if !x.isNaN {
                // Round trip of representable values is exact.
                let back = FloatBits.float(f16: ours)
                #expect(FloatBits.f16(back) == ours)
            }
        }
        #expect(mismatches == 0)
        // Every one of the 65 536 half values converts to Float exactly as Float(Float16).
        var bad = 0
        for h in 0...UInt16.max {
            let f = FloatBits.float(f16: h), r = Float(Float16(bitPattern: h))
            if !(f.bitPattern == r.bitPattern || (f.isNaN && r.isNaN)) { bad += 1 }
        }
        #expect(bad == 0)
    }

    @Test("Float → BF16: hand-worked bit patterns (nearest even, overflow to inf, NaN stays NaN)")
    func bf16HandWorked() {
        #expect(FloatBits.bf16(1) == 0x3F80)
        #expect(FloatBits.bf16(Float(bitPattern: 0x3F80_8000)) == 0x3F80, "tie, even stays")
        #expect(FloatBits.bf16(Float(bitPattern: 0x3F81_8000)) == 0x3F82, "tie, odd rounds up")
        #expect(FloatBits.bf16(Float(bitPattern: 0x3F80_8001)) == 0x3F81, "above half rounds up")
        #expect(FloatBits.bf16(Float(bitPattern: 0x3F80_7FFF)) == 0x3F80)
        #expect(FloatBits.bf16(.greatestFiniteMagnitude) == 0x7F80, "overflow to +inf")
        #expect(FloatBits.bf16(-.greatestFiniteMagnitude) == 0xFF80)
        #expect(FloatBits.bf16(.infinity) == 0x7F80)
        #expect(FloatBits.float(bf16: FloatBits.bf16(.nan)).isNaN)
        #expect(FloatBits.float(bf16: FloatBits.bf16(Float(bitPattern: 0x7F80_0001))).isNaN, "signalling NaN with a low payload stays NaN")
        #expect(FloatBits.bf16(-2.5) == 0xC020)
        #expect(FloatBits.float(bf16: 0x3E80) == 0.25)
    }

    @Test("round trip of every dtype, 0-d and zero-size tensors; raw dtypes byte for byte")
    func roundTrip() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("rt.safetensors")
        let vals: [Float] = [1, -2.5, 0.1, 3e-5, 65504, -0.0]
        let specs: [TensorSpec] = [
            TensorSpec(name: "f32", dtype: .F32, shape: [2, 3]), TensorSpec(name: "f64", dtype: .F64, shape: [6]),
            TensorSpec(name: "f16", dtype: .F16, shape: [3, 2]), TensorSpec(name: "bf16", dtype: .BF16, shape: [1, 6]),
            TensorSpec(name: "scalar", dtype: .F32, shape: []), TensorSpec(name: "empty", dtype: .F16, shape: [0, 5]),
            TensorSpec(name: "i64", dtype: .I64, shape: [2]), TensorSpec(name: "i32", dtype: .I32, shape: [3]),
            TensorSpec(name: "u8", dtype: .U8, shape: [4]), TensorSpec(name: "flag", dtype: .BOOL, shape: [2]),
        ]
        let w = try SafetensorsWriter(path: p, tensors: specs)
        for n in ["f32", "f64", "f16", "bf16"] { try w.write(n, floats: vals) }
        try w.write("scalar", floats: [42])
        let i64: [Int64] = [-1, Int64.max], i32: [Int32] = [7, -7, Int32.min], u8: [UInt8] = [0, 1, 254, 255], flag: [UInt8] = [1, 0]
        try i64.withUnsafeBytes { try w.write("i64", rawBytes: $0) }
        try i32.withUnsafeBytes { try w.write("i32", rawBytes: $0) }
        try u8.withUnsafeBytes { try w.write("u8", rawBytes: $0) }
        try flag.withUnsafeBytes { try w.write("flag", rawBytes: $0) }
        #expect(throws: TensorFileError.self) { try w.write("i64", floats: [1]) }
        #expect(throws: TensorFileError.self) { try w.write("f32", floats: vals + [1]) }
        #expect(throws: TensorFileError.self) { try w.write("nope", floats: [1]) }
        try w.commit()

        let f = try SafetensorsFile(path: p)
        #expect(f.metadata?.count == 1 && f.metadata?.first?.0 == "format" && f.metadata?.first?.1 == "pt")
        #expect(Set(f.names) == Set(specs.map(\.name)))
        #expect(try f.floats("f32") == vals)
        #expect(try f.doubles("f64") == vals.map(Double.init))
        #expect(try f.floats("f16") == vals.map { Float(Float16($0)) })
        // bf16 oracle: truncate-with-rounding by hand via the bit patterns above.
        #expect(try f.floats("bf16").map(\.bitPattern) == vals.map { FloatBits.float(bf16: FloatBits.bf16($0)).bitPattern })
        #expect(try f.floats("scalar") == [42])
        #expect(f.location(of: "scalar")?.shape == [] && f.location(of: "empty")?.shape == [0, 5])
        #expect(try f.floats("empty") == [])
        #expect(try f.withBytes(of: "i64") { Array($0) } == i64.withUnsafeBytes { Array($0) })
        #expect(try f.withBytes(of: "i32") { Array($0) } == i32.withUnsafeBytes { Array($0) })
        #expect(try f.withBytes(of: "u8") { Array($0) } == u8)
        #expect(try f.withBytes(of: "flag") { Array($0) } == flag)
        #expect(throws: TensorFileError.self) { _ = try f.floats("i64") }
        #expect(throws: TensorFileError.self) { _ = try f.floats("missing") }
        // The one-call writer gives the same bytes as the streaming writer.
        let p2 = s.path("rt2.safetensors")
        try SafetensorsWriter.write(path: p2, tensors: [(name: "f32", dtype: .F32, shape: [2, 3], values: vals)])
        #expect(try SafetensorsFile(path: p2).floats("f32") == vals)
    }

    @Test("two threads fill different tensors in place; the file equals a naive write")
    func concurrentFill() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("c.safetensors")
        let w = try SafetensorsWriter(path: p, tensors: [TensorSpec(name: "a", dtype: .F32, shape: [1000, 100]),
                                                         TensorSpec(name: "b", dtype: .F32, shape: [500])])
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            _ = try? w.fill(t == 0 ? "a" : "b") { buf in
                let f = buf.bindMemory(to: Float.self)
                for i in 0..<f.count { f[i] = Float(i) * (t == 0 ? 1 : -1) }
            }
        }
        try w.commit()
        let f = try SafetensorsFile(path: p)
        #expect(try f.floats("a") == (0..<100_000).map { Float($0) })
        #expect(try f.floats("b") == (0..<500).map { -Float($0) })
    }

    @Test("a tensor larger than 2 GiB: space reserved up front, written streaming, read lazily, never held in memory")
    func sparseHuge() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("huge.safetensors")
        let count = (1 << 29) + 1024 // 2 GiB + 4 KiB of F32
        let rss0 = residentBytes()
        let w = try SafetensorsWriter(path: p, tensors: [TensorSpec(name: "big", dtype: .F32, shape: [count]),
                                                         TensorSpec(name: "tail", dtype: .F16, shape: [3])])
        let positions = [0, 1 << 20, 1 << 28, (1 << 29) - 1, count - 1]
        try w.fill("big") { buf in
            for (k, i) in positions.enumerated() { buf.storeBytes(of: Float(k + 1), toByteOffset: 4 * i, as: Float.self) }
        }
        try w.write("tail", floats: [1, 2, 3])
        try w.commit(durable: false)
        let f = try SafetensorsFile(path: p)
        let loc = try #require(f.location(of: "big"))
        #expect(loc.byteCount == 4 * count && loc.byteCount > Int(Int32.max))
        let got = f.withBytes(of: loc) { b in positions.map { b.load(fromByteOffset: 4 * $0, as: Float.self) } }
        #expect(got == [1, 2, 3, 4, 5])
        #expect(try f.floats("tail") == [1, 2, 3])
        var st = stat()
        stat(p, &st)
        let rss1 = residentBytes()
        print("2 GiB file: \(st.st_size) bytes, \(Int(st.st_blocks) * 512) allocated; RSS \(rss0 >> 20) → \(rss1 >> 20) MiB")
        // The writer reserves the file's blocks (posix_fallocate) before mapping it, so that a full
        // disk is an ENOSPC error instead of a SIGBUS in the middle of the fill.
        #expect(Int(st.st_blocks) * 512 >= Int(st.st_size), "the space was reserved before the mapped write")
        #expect(rss1 - rss0 < 256 << 20, "the 2 GiB tensor was never resident")
    }
}

@Suite("README: Files section")
struct ReadmeFilesSnippetTests {
    @Test("the README's safetensors snippet compiles and runs as written")
    func snippet() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let path = s.path("model.safetensors")
        // --- verbatim from README.md, "Files: safetensors and .npy", after its first line ---
        let w = try SafetensorsWriter(path: path, tensors: [
            TensorSpec(name: "fc.weight", dtype: .BF16, shape: [256, 784]),
            TensorSpec(name: "fc.bias", dtype: .F32, shape: [256])])
        try w.fill("fc.weight") { bytes in /* write 256·784 BF16 values in place */ }
        try w.write("fc.bias", floats: [Float](repeating: 0, count: 256))
        try w.commit()                                  // fsync, rename, fsync the directory
        let f = try SafetensorsFile(path: path)
        let bias = try f.floats("fc.bias")
        // --- end ---
        #expect(bias.count == 256 && f.location(of: "fc.weight")?.byteCount == 2 * 256 * 784)
    }
}
