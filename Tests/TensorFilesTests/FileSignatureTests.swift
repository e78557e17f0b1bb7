import Foundation
import Testing
@testable import TensorFiles

// Issue 13: `inspect /etc/passwd` (or a .npy file) reported "headerTooLarge". Oracle: hand-built
// files whose first bytes are, by construction, another format's published signature (numpy's
// format.py magic, the zip local-file header, RFC 1952 gzip, pickle's PROTO opcode, HDF5) or
// plain text; each must be named as that format under the rule notSafetensors, while valid and
// merely corrupt safetensors files keep their own rules (the C27 cases are unchanged).

@Suite("file signatures: other formats opened as safetensors or .npy")
struct FileSignatureTests {
    static let npy = npyFile(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + String(repeating: " ", count: 60) + "\n",
                             dataBytes: [0, 0, 128, 63, 0, 0, 0, 64])
    /// (label, bytes, a word the detail must contain)
    static let others: [(String, Data, String)] = [
        ("/etc/passwd-like text", Data("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n".utf8), "text file"),
        (".npy 1.0 file", npy, ".npy file"),
        ("zip archive (torch.save since 1.6)", Data(Array("PK".utf8) + [3, 4, 0x14, 0, 0, 0, 8, 0] + [UInt8](repeating: 0, count: 40)), "zip archive"),
        ("gzip with mtime 0 (gzip -n)", Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 7, count: 30)), "gzip"),
        ("pickle protocol 2 (legacy torch.save)", Data([0x80, 2, 0x8A, 0x0A] + [UInt8](repeating: 0x6C, count: 40)), "pickle"),
        ("HDF5 (Keras .h5)", Data([0x89] + Array("HDF".utf8) + [0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 40)), "HDF5"),
    ]

    @Test("another format opened as safetensors: notSafetensors naming the format")
    func otherFormatsAsSafetensors() throws {
        let s = try Scratch(); defer { s.cleanup() }
        for (i, (label, bytes, word)) in Self.others.enumerated() {
            let p = s.path("other\(i).safetensors")
            try bytes.write(to: URL(fileURLWithPath: p))
            do {
                _ = try SafetensorsFile(path: p)
                Issue.record("\(label): accepted")
            } catch let e as TensorFileError {
                #expect(e.rule == .notSafetensors, "\(label): \(e)")
                #expect(e.detail.contains(word), "\(label): \(e)")
                print("\(label) → \(e.rule.rawValue): \(e.detail)")
            }
        }
    }

    @Test("a valid safetensors file still opens (the signature check runs only when the length prefix is implausible)")
    func validFileUnaffected() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let p = s.path("ok.safetensors")
        var d = rawSafetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 0)
        d.append(contentsOf: [UInt8](repeating: 0, count: 8))
        try d.write(to: URL(fileURLWithPath: p))
        let f = try SafetensorsFile(path: p)
        #expect(f.tensors.map(\.name) == ["a"])
    }

    @Test("text opened as .npy: badMagic saying it looks like text; hasSignature by content")
    func npySide() throws {
        let s = try Scratch(); defer { s.cleanup() }
        let text = s.path("passwd.npy"), npy = s.path("weights.bin")
        try Self.others[0].1.write(to: URL(fileURLWithPath: text))
        try Self.npy.write(to: URL(fileURLWithPath: npy))
        do { _ = try NpyFile(path: text); Issue.record("text accepted as .npy") } catch let e as TensorFileError {
            #expect(e.rule == .badMagic && e.detail.contains("text file"), "\(e)")
        }
        #expect(NpyFile.hasSignature(path: npy))
        #expect(!NpyFile.hasSignature(path: text))
        #expect(!NpyFile.hasSignature(path: s.path("missing")))
        #expect(!NpyFile.hasSignature(path: s.path("")))
        #expect(try NpyFile(path: npy).floats() == [1, 2])
    }
}
