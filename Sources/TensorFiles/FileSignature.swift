// What a file that is not the format asked for most likely is, from its first bytes, so that a
// reader can say "this is a .npy file" instead of reporting an absurd header length.

/// Recognizes the formats a user may hand to a tensor reader by mistake, from their signatures
/// (magic numbers): `.npy` (`\x93NUMPY`, numpy's format.py), safetensors (a little-endian
/// header length below 2³² followed by `{`), zip archives (`PK\x03\x04`; PyTorch `.pt`/`.bin`
/// files since torch 1.6 are zip archives), gzip (`1f 8b`, RFC 1952), Python pickle protocol
/// 2–5 (`\x80` then the protocol byte; legacy `torch.save`), HDF5 (`\x89HDF\r\n\x1a\n`, Keras
/// `.h5`), GGUF (`GGUF`), IDX (two zero bytes, a type code 0x08–0x0E and a rank ≥ 1) and text
/// (the first bytes are printable ASCII or UTF-8 lead bytes, tabs or line breaks).
enum FileSignature {
    /// A short description of what `prefix` (the first bytes of a file) looks like, or nil when
    /// it matches none of the known signatures.
    static func describe(_ prefix: UnsafeRawBufferPointer) -> String? {
        let b = Array(prefix.prefix(16))
        func starts(_ s: [UInt8]) -> Bool { b.count >= s.count && Array(b[0..<s.count]) == s }
        if starts([0x93] + Array("NUMPY".utf8)) { return "a .npy file (it starts with \\x93NUMPY)" }
        if starts(Array("PK".utf8) + [3, 4]) { return "a zip archive (PyTorch .pt/.bin checkpoints are zip archives; convert it to safetensors first)" }
        if starts([0x1F, 0x8B]) { return "a gzip file (it starts with 1f 8b)" }
        if b.count >= 2, b[0] == 0x80, (2...5).contains(b[1]) { return "a Python pickle (protocol \(b[1]); legacy torch.save files are pickles)" }
        if starts([0x89] + Array("HDF".utf8) + [0x0D, 0x0A, 0x1A, 0x0A]) { return "an HDF5 file (Keras .h5)" }
        if starts(Array("GGUF".utf8)) { return "a GGUF file" }
        if b.count >= 4, b[0] == 0, b[1] == 0, (0x08...0x0E).contains(b[2]), b[3] >= 1 { return "an IDX file (MNIST format)" }
        if b.count >= 8, b.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 >= 0xC2 }) {
            let shown = String(decoding: b.prefix(8), as: UTF8.self).map { $0.isNewline || $0 == "\t" ? " " : String($0) }.joined()
            return "a text file (it starts with \"\(shown)\")"
        }
        return nil
    }
}
