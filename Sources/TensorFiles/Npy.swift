// .npy files: the NEP 1 format as numpy `lib/format.py` writes and reads it.
//
// Facts (numpy 2.x `lib/format.py`, checked against numpy 2.4.6): magic "\x93NUMPY", major and
// minor version bytes; version 1.0 has a u16 little-endian header length, 2.0 and 3.0 a u32;
// the header is a Python dict literal "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
// (keys sorted), followed by spaces so that the shape's growth axis can be rewritten in place
// (21 − digits of shape[0], or of shape[-1] in Fortran order; none for 0-d), then spaces and a
// final "\n" so that the data starts at a multiple of 64 bytes. numpy.save writes 1.0 when the
// header fits 65 535 bytes, else 2.0; 3.0 (UTF-8 header) only for non-Latin-1 field names.
// numpy.load refuses headers longer than 10 000 characters by default (`max_header_size`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The parsed header of a `.npy` file.
public struct NpyHeader: Sendable, Equatable {
    /// Format version (major, minor): (1,0), (2,0) or (3,0).
    public var version: (UInt8, UInt8)
    /// The element type.
    public var dtype: DType
    /// The shape; `[]` for a 0-d array.
    public var shape: [Int]
    /// Whether the data is stored in Fortran (column-major) order.
    public var fortranOrder: Bool
    /// Element count (overflow-checked when parsed).
    public var count: Int
    /// Absolute offset of the data (a multiple of 64 in files numpy writes).
    public var dataOffset: Int

    public static func == (a: NpyHeader, b: NpyHeader) -> Bool {
        a.version == b.version && a.dtype == b.dtype && a.shape == b.shape && a.fortranOrder == b.fortranOrder && a.count == b.count && a.dataOffset == b.dataOffset
    }
}

/// Writing `.npy` files, byte-identical to `numpy.save` (C order, little-endian).
public enum Npy {
    /// The largest header `numpy.load` reads by default (`max_header_size`), in characters.
    public static let maxHeaderLength = 10_000

    /// The header bytes (magic, version, length, dict, padding, newline) numpy.save writes for
    /// an array of `dtype` and `shape` in C order: the data follows at `result.count`, a
    /// multiple of 64.
    /// - Throws: `TensorFileError` `.invalidSpec` for a dtype numpy lacks (BF16, 8-bit floats)
    ///   or a negative dimension; `.countOverflow`.
    public static func header(dtype: DType, shape: [Int], file: String = "<npy>") throws -> [UInt8] {
        guard let descr = dtype.npyDescr else {
            throw TensorFileError(file: file, rule: .invalidSpec, "numpy has no dtype for \(dtype); .npy cannot hold it")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorFileError(file: file, rule: .invalidSpec, "shape \(shape) has a negative dimension") }
        guard let n = checkedCount(shape), !n.multipliedReportingOverflow(by: dtype.size).overflow else {
            throw TensorFileError(file: file, rule: .countOverflow, "shape \(shape) × \(dtype.size) bytes overflows Int")
        }
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        let body = Array(dict.utf8)
        func wrap(_ lengthBytes: Int, _ major: UInt8) -> [UInt8]? {
            let hlen = body.count + 1
            let pad = (64 - (6 + 2 + lengthBytes + hlen) % 64) % 64
            let total = hlen + pad
            if lengthBytes == 2 && total > 0xFFFF { return nil }
            var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
            var t = UInt32(total)
            for _ in 0..<lengthBytes { out.append(UInt8(truncatingIfNeeded: t)); t >>= 8 }
            out += body + [UInt8](repeating: 0x20, count: pad) + [0x0a]
            return out
        }
        return wrap(2, 1) ?? wrap(4, 2)!
    }

    /// Writes an array of Float values as a `.npy` file of `dtype` (F32 copied, F64 widened,
    /// F16 rounded to nearest even), atomically (`OutputFile`).
    /// - Throws: `TensorFileError` (`.mismatch` when `values.count` differs from the shape's
    ///   count or the dtype is not F16/F32/F64), `OutputFileError`.
    public static func write(path: String, dtype: DType = .F32, shape: [Int], floats values: [Float], durable: Bool = true) throws {
        guard dtype == .F16 || dtype == .F32 || dtype == .F64 else {
            throw TensorFileError(file: path, rule: .mismatch, "Float values cannot be written as \(dtype) in .npy (use F16, F32 or F64)")
        }
        let h = try header(dtype: dtype, shape: shape, file: path)
        let n = checkedCount(shape)!
        guard n == values.count else {
            throw TensorFileError(file: path, rule: .mismatch, "\(values.count) values for shape \(shape) (\(n) elements)")
        }
        try OutputFile.write(size: h.count + n * dtype.size, to: path, durable: durable) { buf in
            h.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: h.count) }
            values.withUnsafeBufferPointer { TensorConvert.store($0, as: dtype, into: UnsafeMutableRawBufferPointer(rebasing: buf[h.count...]), at: 0) }
        }
    }

    /// Writes a `.npy` file whose data (count × dtype size bytes, little-endian, C order) is
    /// produced in place by `fill`, straight into the mapped output; atomically.
    /// - Throws: `TensorFileError`, `OutputFileError`, what `fill` throws.
    public static func write(path: String, dtype: DType, shape: [Int], durable: Bool = true,
                             fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let h = try header(dtype: dtype, shape: shape, file: path)
        let bytes = checkedCount(shape)! * dtype.size
        let (size, o) = h.count.addingReportingOverflow(bytes)
        guard !o else { throw TensorFileError(file: path, rule: .countOverflow, "file size overflows Int") }
        try OutputFile.write(size: size, to: path, durable: durable) { buf in
            h.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: h.count) }
            try fill(UnsafeMutableRawBufferPointer(rebasing: buf[h.count...]))
        }
    }

    /// Parses and validates the header of a `.npy` file held in `bytes` (the whole file).
    ///
    /// Rules: magic and version 1.0/2.0/3.0 (`.badMagic`); length prefix present (`.truncated`);
    /// header ≤ 10 000 characters (`.headerTooLarge`) and inside the file (`.headerBeyondFile`);
    /// Latin-1 (1.0, 2.0) or UTF-8 (3.0) text (`.headerNotText`); a dict literal with exactly
    /// the keys 'descr', 'fortran_order', 'shape' (`.headerSyntax`, `.headerStructure`); a
    /// known little-endian descr (`.unknownDtype`); non-negative integer shape (`.invalidShape`)
    /// with an overflow-checked count (`.countOverflow`); enough data bytes (`.dataTooShort`).
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, file: String) throws -> NpyHeader {
        func err(_ r: TensorFileError.Rule, _ d: String) -> TensorFileError { TensorFileError(file: file, rule: r, d) }
        guard bytes.count >= 10 else { throw err(.truncated, "file holds \(bytes.count) bytes; a .npy file starts with at least 10") }
        guard bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            let other = FileSignature.describe(bytes).map { "; it looks like \($0)" } ?? ""
            throw err(.badMagic, "the file does not start with \\x93NUMPY\(other)")
        }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else { throw err(.badMagic, "format version \(major).\(minor) is not 1.0, 2.0 or 3.0") }
        let prefix = major == 1 ? 10 : 12
        guard bytes.count >= prefix else { throw err(.truncated, "file holds \(bytes.count) bytes; version \(major).0 needs a \(prefix)-byte prefix") }
        var hlen = 0
        for k in (8..<prefix).reversed() { hlen = hlen << 8 | Int(bytes[k]) }
        guard hlen <= maxHeaderLength else { throw err(.headerTooLarge, "header length \(hlen) exceeds numpy's limit of \(maxHeaderLength)") }
        guard hlen <= bytes.count - prefix else { throw err(.headerBeyondFile, "header length \(hlen) exceeds the \(bytes.count - prefix) bytes after the prefix") }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[prefix..<(prefix + hlen)])
        let text: String
        if major == 3 {
            guard let t = String(validating: raw, as: UTF8.self) else { throw err(.headerNotText, "version 3.0 header is not UTF-8") }
            text = t
        } else {
            text = String(raw.map { Character(Unicode.Scalar($0)) }) // Latin-1
        }
        var p = PyLiteralParser(Array(text.unicodeScalars))
        let dict: [(String, PyLiteralParser.Value)]
        do { dict = try p.parseDict() } catch let e as PyLiteralParser.Failure {
            throw err(.headerSyntax, "header is not a Python dict literal: \(e.message) at character \(e.offset)")
        }
        var descr: String?, fortran: Bool?, shape: [Int]?
        var seen = Set<String>()
        for (k, v) in dict {
            guard seen.insert(k).inserted else { throw err(.headerStructure, "key '\(k)' occurs twice") }
            switch (k, v) {
            case ("descr", .string(let s)): descr = s
            case ("descr", _): throw err(.unknownDtype, "'descr' is not a string (structured dtypes are not supported)")
            case ("fortran_order", .bool(let b)): fortran = b
            case ("fortran_order", _): throw err(.headerStructure, "'fortran_order' is not True or False")
            case ("shape", .tuple(let items)):
                var s: [Int] = []
                for it in items {
                    guard case let .int(t) = it, let v = Int(t), v >= 0 else { throw err(.invalidShape, "shape entry \(it) is not a non-negative integer that fits Int") }
                    s.append(v)
                }
                shape = s
            case ("shape", _): throw err(.invalidShape, "'shape' is not a tuple")
            default: throw err(.headerStructure, "unexpected key '\(k)' (a .npy header has exactly 'descr', 'fortran_order', 'shape')")
            }
        }
        guard let descr else { throw err(.headerStructure, "the header lacks the key 'descr'") }
        guard let fortran else { throw err(.headerStructure, "the header lacks the key 'fortran_order'") }
        guard let shape else { throw err(.headerStructure, "the header lacks the key 'shape'") }
        guard let dtype = DType(npyDescr: descr) else {
            throw err(.unknownDtype, "descr '\(descr)' is not supported (little-endian b1 u1 i1 i2 u2 f2 i4 u4 f4 c8 f8 i8 u8)")
        }
        guard let count = checkedCount(shape) else { throw err(.countOverflow, "element count of shape \(shape) overflows Int") }
        let (need, o) = count.multipliedReportingOverflow(by: dtype.size)
        guard !o else { throw err(.countOverflow, "\(count) elements × \(dtype.size) bytes overflows Int") }
        let dataOffset = prefix + hlen
        let have = bytes.count - dataOffset
        guard have >= need else {
            throw err(.dataTooShort, "file holds \(have) data bytes, shape \(shape) of \(descr) needs \(need)")
        }
        return NpyHeader(version: (major, 0), dtype: dtype, shape: shape, fortranOrder: fortran, count: count, dataOffset: dataOffset)
    }
}

/// A `.npy` file opened for reading: header validated (`Npy.parseHeader`), data mapped and read
/// lazily. Bytes after the data are ignored, as numpy ignores them.
public final class NpyFile: @unchecked Sendable {
    /// The path as given.
    public let path: String
    /// The validated header.
    public let header: NpyHeader
    private let mapping: ReadMapping

    /// Whether the regular file at `path` starts with numpy's magic string `\x93NUMPY` (any
    /// version): what `inspect` uses to read a .npy file whatever its name. False when the file
    /// cannot be opened, is not a regular file or is shorter than 6 bytes (no error: the reader
    /// chosen afterwards reports it).
    public static func hasSignature(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { _ = closeFD(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, FileKind(mode: st.st_mode) == .regular else { return false }
        var magic = [UInt8](repeating: 0, count: 6)
        let n = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 6, 0) }
        return n == 6 && magic == [0x93] + Array("NUMPY".utf8)
    }

    /// Opens and validates `path`.
    /// - Throws: `TensorFileError` (rules of `Npy.parseHeader`; `.io`).
    public convenience init(path: String) throws {
        try self.init(path: path, mapping: ReadMapping(path: path))
    }

    /// Validates the bytes of `mapping` (a mapped file, or an in-memory copy for fuzzing).
    init(path: String, mapping: ReadMapping) throws {
        self.path = path
        self.mapping = mapping
        header = try Npy.parseHeader(mapping.bytes, file: path)
    }

    /// Element type.
    public var dtype: DType { header.dtype }
    /// Shape (as numpy reports it, whatever the storage order).
    public var shape: [Int] { header.shape }

    /// Calls `body` with the data bytes as stored (C or Fortran order per
    /// `header.fortranOrder`), straight from the mapping.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(mapping) {
            try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[header.dataOffset..<(header.dataOffset + header.count * header.dtype.size)]))
        }
    }

    /// Releases the resident pages of data bytes `range` (offsets relative to the data), as
    /// `SafetensorsFile.releasePages(of:_:)` does.
    public func releasePages(_ range: Range<Int>) {
        mapping.releasePages((header.dataOffset + range.lowerBound)..<(header.dataOffset + range.upperBound))
    }

    /// The values as Float in C (row-major) order, as `numpy.load(path).ravel(order='C')` gives
    /// them: Fortran-order files are transposed while reading.
    /// - Throws: `.mismatch` for a non-floating-point dtype.
    public func floats() throws -> [Float] {
        guard header.dtype.isFloatingPoint else {
            throw TensorFileError(file: path, rule: .mismatch, "dtype \(header.dtype) is not floating point; read it with withBytes")
        }
        let h = header
        return withBytes { b in
            guard let p = b.baseAddress, h.count > 0 else { return [] }
            if !h.fortranOrder || h.shape.count < 2 {
                return (0..<h.count).map { Float(TensorConvert.double(p, $0, h.dtype)) }
            }
            // C index (i0, …, i_{n-1}) is stored at Σ i_k · Π_{j<k} d_j in Fortran order.
            var out = [Float](repeating: 0, count: h.count)
            var idx = [Int](repeating: 0, count: h.shape.count)
            var fstride = [Int](repeating: 1, count: h.shape.count)
            for k in 1..<h.shape.count { fstride[k] = fstride[k - 1] * h.shape[k - 1] }
            for c in 0..<h.count {
                var off = 0
                for k in 0..<idx.count { off += idx[k] * fstride[k] }
                out[c] = Float(TensorConvert.double(p, off, h.dtype))
                var k = idx.count - 1
                while k >= 0 { idx[k] += 1; if idx[k] < h.shape[k] { break }; idx[k] = 0; k -= 1 }
            }
            return out
        }
    }
}

/// A parser for the subset of Python literals a .npy header uses (what `ast.literal_eval`
/// accepts for it): a dict of string keys; values strings ('…' or "…"), True/False, integers,
/// and tuples of integers.
struct PyLiteralParser {
    indirect enum Value: CustomStringConvertible {
        case string(String), bool(Bool), int(String), tuple([Value]), none
        var description: String {
            switch self {
            case .string(let s): return "'\(s)'"
            case .bool(let b): return b ? "True" : "False"
            case .int(let t): return t
            case .tuple(let v): return "(" + v.map(\.description).joined(separator: ", ") + ")"
            case .none: return "None"
            }
        }
    }
    struct Failure: Error { let offset: Int; let message: String }

    let s: [Unicode.Scalar]
    var i = 0
    init(_ s: [Unicode.Scalar]) { self.s = s }

    func fail(_ m: String) -> Failure { Failure(offset: i, message: m) }
    mutating func space() { while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 } }
    mutating func expect(_ c: Unicode.Scalar) throws {
        space()
        guard i < s.count, s[i] == c else { throw fail("expected '\(c)'") }
        i += 1
    }

    mutating func parseDict() throws -> [(String, Value)] {
        try expect("{")
        var out: [(String, Value)] = []
        while true {
            space()
            guard i < s.count else { throw fail("unterminated dict") }
            if s[i] == "}" { i += 1; break }
            guard case let .string(k) = try value() else { throw fail("dict keys must be strings") }
            try expect(":")
            out.append((k, try value()))
            space()
            guard i < s.count else { throw fail("unterminated dict") }
            if s[i] == "," { i += 1; continue }
            if s[i] == "}" { i += 1; break }
            throw fail("expected ',' or '}'")
        }
        space()
        guard i == s.count else { throw fail("unexpected characters after the dict") }
        return out
    }

    mutating func value() throws -> Value {
        space()
        guard i < s.count else { throw fail("unexpected end") }
        let c = s[i]
        if c == "'" || c == "\"" {
            i += 1
            var out = ""
            while true {
                guard i < s.count else { throw fail("unterminated string") }
                if s[i] == c { i += 1; break }
                if s[i] == "\\" { throw fail("escapes in strings are not supported") }
                out.unicodeScalars.append(s[i]); i += 1
            }
            return .string(out)
        }
        if c == "(" {
            i += 1
            var items: [Value] = []
            var sawComma = false
            while true {
                space()
                guard i < s.count else { throw fail("unterminated tuple") }
                if s[i] == ")" { i += 1; break }
                items.append(try value())
                space()
                guard i < s.count else { throw fail("unterminated tuple") }
                if s[i] == "," { i += 1; sawComma = true; continue }
                if s[i] == ")" { i += 1; break }
                throw fail("expected ',' or ')'")
            }
            // "(5)" is the integer 5 in Python, not a tuple.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        }
        if c.properties.numericType != nil || c == "-" || c == "+" {
            let start = i
            if c == "-" || c == "+" { i += 1 }
            guard i < s.count, ("0"..."9").contains(s[i]) else { throw fail("invalid number") }
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "_" { i += 1 }
            if i < s.count, s[i] == "L" { i += 1 } // Python 2 long, as old numpy files have
            var t = String(String.UnicodeScalarView(s[start..<i])).replacingOccurrences(of: "_", with: "")
            if t.hasSuffix("L") { t.removeLast() }
            if t.hasPrefix("+") { t.removeFirst() }
            return .int(t)
        }
        for (word, v) in [("True", Value.bool(true)), ("False", Value.bool(false)), ("None", Value.none)] {
            let w = Array(word.unicodeScalars)
            if i + w.count <= s.count, Array(s[i..<(i + w.count)]) == w {
                i += w.count
                return v
            }
        }
        throw fail("unsupported literal")
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
