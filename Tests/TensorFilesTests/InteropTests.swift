import Foundation
import Testing
@testable import TensorFiles

// Oracles: the reference implementations themselves — numpy (`numpy.save`, `numpy.load`), the
// Python safetensors package (`safetensors.numpy.save_file`/`load_file`) and, when installed,
// PyTorch (`safetensors.torch`, bfloat16). Both sides compute the same arrays from the element
// index (see python/interop.py); files are compared byte for byte and values element by element.

/// The Python interpreter for interop tests: $WEIGHTINIT_PYTHON (set by scripts/test.sh), else
/// the repository's .build/venv when it exists; nil when neither is usable.
func interopPython() -> String? {
    if let p = ProcessInfo.processInfo.environment["WEIGHTINIT_PYTHON"], !p.isEmpty,
       FileManager.default.isExecutableFile(atPath: p) { return p }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let venv = root.appendingPathComponent(".build/venv/bin/python").path
    return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
}

let interopScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/interop.py").path

/// Runs `python args…`; returns (status, stdout, stderr).
func runPython(_ python: String, _ args: [String]) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// v(i) = (Float(i % 97) − 48) · 0.1 in IEEE float32, as python/interop.py computes it.
func interopValues(_ n: Int) -> [Float] { (0..<n).map { (Float($0 % 97) - 48) * Float(0.1) } }

/// The tensors of python/interop.py's SAFETENSORS table.
let interopSafetensors: [(String, [(String, DType, [Int])], [(String, String)]?)] = [
    ("mixed", [("w", .F32, [3, 4]), ("b", .F32, [4]), ("d", .F64, [2, 3]), ("h", .F16, [97]), ("s", .F32, []),
               ("e", .F32, [0, 5]), ("i", .I64, [3]), ("u", .U8, [4])], [("format", "pt")]),
    ("nometa", [("x", .F32, [7])], nil),
    ("f16only", [("a.weight", .F16, [10, 20]), ("a.bias", .F16, [10])], [("format", "pt")]),
    ("empty", [], [("format", "pt")]),
]
let interopNpy: [(String, DType, [Int])] = [
    ("f4_2x3", .F32, [2, 3]), ("f8_5", .F64, [5]), ("f2_97", .F16, [97]), ("f4_0d", .F32, []),
    ("f4_0x5", .F32, [0, 5]), ("f4_big", .F32, [3, 1000]), ("i8_4", .I64, [4]), ("u1_6", .U8, [6]),
]

/// Fills raw bytes of an integer tensor as interop.py does: int64 (i % 97 − 48), uint8 i % 251.
func interopFillRaw(_ dtype: DType, _ buf: UnsafeMutableRawBufferPointer) {
    let n = buf.count / dtype.size
    for i in 0..<n {
        if dtype == .I64 { buf.storeBytes(of: Int64(i % 97 - 48).littleEndian, toByteOffset: 8 * i, as: Int64.self) }
        else { buf.storeBytes(of: UInt8(i % 251), toByteOffset: i, as: UInt8.self) }
    }
}

@Suite("interop with numpy, safetensors and PyTorch", .serialized)
struct InteropTests {
    @Test("byte-identical to numpy.save and safetensors save_file; each side reads the other's files")
    func interop() throws {
        guard let python = interopPython() else {
            print("interop: SKIPPED (no WEIGHTINIT_PYTHON and no .build/venv; scripts/test.sh sets it up)")
            return
        }
        let s = try Scratch(); defer { s.cleanup() }
        // Our files.
        for (name, tensors, meta) in interopSafetensors {
            let w = try SafetensorsWriter(path: s.path("ours_\(name).safetensors"),
                                          tensors: tensors.map { TensorSpec(name: $0.0, dtype: $0.1, shape: $0.2) }, metadata: meta)
            for (t, dt, shape) in tensors {
                let n = checkedCount(shape)!
                if dt.isFloatingPoint { try w.write(t, floats: interopValues(n)) } else { try w.fill(t) { interopFillRaw(dt, $0) } }
            }
            try w.commit()
        }
        for (name, dt, shape) in interopNpy {
            let n = checkedCount(shape)!
            if dt.isFloatingPoint { try Npy.write(path: s.path("ours_\(name).npy"), dtype: dt, shape: shape, floats: interopValues(n)) }
            else { try Npy.write(path: s.path("ours_\(name).npy"), dtype: dt, shape: shape) { interopFillRaw(dt, $0) } }
        }
        do {
            try SafetensorsWriter.write(path: s.path("ours_bf16.safetensors"), tensors: [
                (name: "g", dtype: .BF16, shape: [6], values: interopValues(6)), (name: "f", dtype: .F32, shape: [3], values: interopValues(3))])
        }

        // One Python run: write the reference files, then read ours (safetensors load_file,
        // json + frombuffer, numpy.load, torch) and compare every value with the formula.
        let (st, out, err) = try runPython(python, [interopScript, "run", s.dir])
        let lines = out.split(separator: "\n").map(String.init)
        guard let legs = lines.first, legs.hasPrefix("legs:") else {
            print("interop: SKIPPED (reference side failed: \(err.suffix(400)))")
            return
        }
        print("interop: python \(python); reference \(legs)")
        #expect(st == 0, "python check of our files failed: \(err.suffix(800))")
        print("interop leg python-reads-ours: \(lines.dropFirst().filter { $0.hasPrefix("ok") }.count) files ok")
        let torchLeg = FileManager.default.fileExists(atPath: s.path("ref_bf16.safetensors"))

        // Leg 1: byte identity (cmp).
        var compared: [String] = []
        let files = interopSafetensors.map { "\($0.0).safetensors" } + interopNpy.map { "\($0.0).npy" } + (torchLeg ? ["bf16.safetensors"] : [])
        for f in files {
            let ours = FileManager.default.contents(atPath: s.path("ours_" + f)), ref = FileManager.default.contents(atPath: s.path("ref_" + f))
            #expect(ours != nil && ours == ref, "\(f): our bytes differ from the reference's")
            compared.append(f)
        }
        print("interop leg cmp: \(compared.count) files byte-identical to the reference writers: \(compared.joined(separator: " "))")

        // Leg 3: we read Python's files.
        for (name, tensors, meta) in interopSafetensors {
            let f = try SafetensorsFile(path: s.path("ref_\(name).safetensors"))
            #expect(f.metadata?.map { $0.0 + "=" + $0.1 } == meta?.map { $0.0 + "=" + $0.1 })
            for (t, dt, shape) in tensors {
                let loc = try #require(f.location(of: t))
                #expect(loc.dtype == dt && loc.shape == shape)
                if dt == .F16 { #expect(try f.floats(t) == interopValues(loc.count).map { FloatBits.float(f16: FloatBits.f16($0)) }) }
                else if dt.isFloatingPoint { #expect(try f.floats(t) == interopValues(loc.count)) }
            }
        }
        for (name, dt, shape) in interopNpy where dt.isFloatingPoint {
            let f = try NpyFile(path: s.path("ref_\(name).npy"))
            #expect(f.dtype == dt && f.shape == shape)
            let want = dt == .F16 ? interopValues(f.header.count).map { FloatBits.float(f16: FloatBits.f16($0)) } : interopValues(f.header.count)
            #expect(try f.floats() == want)
        }
        let fortran = try NpyFile(path: s.path("ref_fortran_2x3.npy"))
        #expect(fortran.header.fortranOrder)
        #expect(try fortran.floats() == interopValues(6), "Fortran-order file read in C order as numpy.load gives it")
        if torchLeg {
            let f = try SafetensorsFile(path: s.path("ref_bf16.safetensors"))
            #expect(try f.floats("g") == interopValues(6).map { FloatBits.float(bf16: FloatBits.bf16($0)) })
        }
        print("interop leg ours-reads-python: ok; torch (BF16) leg: \(torchLeg ? "ran" : "SKIPPED (torch not importable)")")
    }
}
