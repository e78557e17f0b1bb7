import Foundation
import Testing
@testable import TensorFiles

// Issue 13 (found by adding init and inspect to the CLI property test): `init --spec FIFO`,
// `--rules FIFO`, `--like FIFO` and `inspect FIFO` blocked forever in open(2) or
// Data(contentsOf:), and `--spec /dev/zero` read until memory ran out. Oracle: the kind of each
// object is known by construction (mkfifo, a directory, /dev/zero); the bytes of a regular file
// are those written.

@Suite("input files: only regular files are read; nothing blocks")
struct InputFileTests {
    @Test("InputFile.read: FIFO, directory, device refused by kind; limit; a regular file's bytes")
    func kinds() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let fifo = s.path("fifo"), file = s.path("spec.json")
        #expect(mkfifo(fifo, 0o644) == 0)
        try Data("{\"parameters\": []}".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: InputFileError.notRegularFile(path: fifo, kind: .fifo)) { _ = try InputFile.read(fifo) }
        #expect(throws: InputFileError.notRegularFile(path: s.dir, kind: .directory)) { _ = try InputFile.read(s.dir) }
        #expect(throws: InputFileError.notRegularFile(path: "/dev/zero", kind: .characterDevice)) { _ = try InputFile.read("/dev/zero") }
        #expect(throws: InputFileError.tooLarge(path: file, bytes: 18, limit: 10)) { _ = try InputFile.read(file, limit: 10) }
        #expect(try InputFile.read(file) == Data("{\"parameters\": []}".utf8))
        do { _ = try InputFile.read(s.path("missing")); Issue.record("a missing file was read") } catch {
            #expect(error.description.contains("open") && error.description.contains("No such file"), "\(error)")
        }
    }

    @Test("SafetensorsFile and NpyFile on a FIFO: an io error at once, not a blocked open")
    func readersOnFIFO() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let fifo = s.path("m.safetensors")
        #expect(mkfifo(fifo, 0o644) == 0)
        let t0 = Date()
        for open in [{ _ = try SafetensorsFile(path: fifo) }, { _ = try NpyFile(path: fifo) }] as [() throws -> Void] {
            do { try open(); Issue.record("a FIFO was opened") } catch let e as TensorFileError {
                #expect(e.rule == .io && e.detail.contains("FIFO"), "\(e)")
            }
        }
        #expect(Date().timeIntervalSince(t0) < 5)
    }

    @Test("the fuzz targets' in-memory copy (ReadMapping(copying:)) reads and rejects exactly as the mapped file")
    func inMemoryCopy() throws {
        let s = try Scratch(); defer { s.cleanup() }
        var good = rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 0)
        withUnsafeBytes(of: Float(1.5)) { good.append(contentsOf: $0) }
        withUnsafeBytes(of: Float(-2)) { good.append(contentsOf: $0) }
        let bad = rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 4)
        for (name, bytes) in [("good", good), ("bad", bad), ("npy-as-safetensors", FileSignatureTests.npy)] {
            let p = s.path(name)
            try bytes.write(to: URL(fileURLWithPath: p))
            let fromFile = Result { try SafetensorsFile(path: p) }
            let fromCopy = Result { try bytes.withUnsafeBytes { try SafetensorsFile(path: p, mapping: ReadMapping(copying: $0)) } }
            switch (fromFile, fromCopy) {
            case let (.success(f), .success(c)):
                let (ff, cf) = (try f.floats("a"), try c.floats("a"))
                #expect(f.tensors == c.tensors && ff == cf && cf == [1.5, -2])
            case let (.failure(e1), .failure(e2)):
                #expect(e1 as? TensorFileError == e2 as? TensorFileError, "\(name)")
            default: Issue.record("\(name): file \(fromFile), copy \(fromCopy)")
            }
        }
        let npy = try FileSignatureTests.npy.withUnsafeBytes { try NpyFile(path: "x", mapping: ReadMapping(copying: $0)) }
        #expect(try npy.floats() == [1, 2])
    }
}
