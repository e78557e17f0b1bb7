// A strict JSON (RFC 8259) reader for safetensors headers, driven by the caller (no document
// tree: memory stays proportional to what the header declares, values of unknown fields are
// validated and skipped), that sees every key in order, duplicates included (Foundation's
// JSONSerialization silently keeps one of two equal keys, which a header validator must reject),
// and a writer that escapes strings as serde_json does (the reference
// implementation's serializer): `"` `\` and control characters only, `\b \f \n \r \t`, other
// controls as `\u00xx`, everything else (including non-ASCII) as raw UTF-8.

/// A syntax error at a byte offset of the header.
struct JSONSyntaxError: Error {
    let offset: Int
    let message: String
}

/// Reads JSON from bytes, one value at a time. Nesting deeper than `maxDepth` is an error.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    func fail(_ m: String) -> JSONSyntaxError { JSONSyntaxError(offset: i, message: m) }

    /// The next non-space byte, without consuming it (nil at the end).
    mutating func peek() -> UInt8? {
        skipSpace()
        return i < bytes.count ? bytes[i] : nil
    }

    /// The JSON type the next value starts with (for error messages), from its first byte.
    mutating func nextTypeName() -> String {
        switch peek() {
        case UInt8(ascii: "{"): return "object"
        case UInt8(ascii: "["): return "array"
        case UInt8(ascii: "\""): return "string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "boolean"
        case UInt8(ascii: "n"): return "null"
        case nil: return "nothing"
        default: return "number"
        }
    }

    /// Consumes `c` (after spaces) or throws.
    mutating func expect(_ c: UInt8) throws {
        guard peek() == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    /// Iterates the members of an object: calls `member` with each key, positioned at its
    /// value, which `member` must consume.
    mutating func forEachMember(depth: Int, _ member: (inout JSONReader, String) throws -> Void) throws {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let k = try string()
            try expect(UInt8(ascii: ":"))
            guard peek() != nil else { throw fail("unexpected end of header") }
            try member(&self, k)
            switch peek() {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "}"): i += 1; return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Iterates the elements of an array: calls `element` positioned at each, which must consume it.
    mutating func forEachElement(depth: Int, _ element: (inout JSONReader) throws -> Void) throws {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        try expect(UInt8(ascii: "["))
        if peek() == UInt8(ascii: "]") { i += 1; return }
        while true {
            try element(&self)
            switch peek() {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"): i += 1; return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    /// Validates and skips one value of any type without building it.
    mutating func skipValue(depth: Int) throws {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        switch peek() {
        case nil: throw fail("unexpected end of header")
        case UInt8(ascii: "{"): try forEachMember(depth: depth) { r, _ in try r.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try forEachElement(depth: depth) { r in try r.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    /// Reads a number; returns it as an Int when it is a non-negative integer (no sign,
    /// fraction or exponent) that fits Int, else nil with `text` set to the number's text.
    mutating func nonNegativeInt() throws -> (Int?, String) {
        let r = try number()
        var v = 0
        var ok = true
        for k in r {
            let c = bytes[k]
            guard c >= 48 && c <= 57 else { ok = false; break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 48))
            if o1 || o2 { ok = false; break }
            v = a
        }
        let text = r.count <= 40 ? String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self) : "(a \(r.count)-digit number)"
        return (ok ? v : nil, text)
    }

    /// At the end of the value: only whitespace may follow.
    mutating func expectEnd() throws {
        skipSpace()
        if i != bytes.count { throw fail("unexpected bytes after the JSON value") }
    }

    mutating func literal(_ word: String) throws {
        for c in word.utf8 {
            guard i < bytes.count, bytes[i] == c else { throw fail("invalid literal (expected \(word))") }
            i += 1
        }
    }

    /// Consumes a number (RFC 8259 grammar) and returns its byte range.
    mutating func number() throws -> Range<Int> {
        let start = i
        func digit(_ j: Int) -> Bool { j < bytes.count && bytes[j] >= 48 && bytes[j] <= 57 }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digit(i) else { throw fail("invalid value") }
        if bytes[i] == 48 { i += 1 } else { while digit(i) { i += 1 } }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digit(i) else { throw fail("invalid number: digit expected after '.'") }
            while digit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digit(i) else { throw fail("invalid number: digit expected in exponent") }
            while digit(i) { i += 1 }
        }
        return start..<i
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1 // opening quote
        var out: [UInt8] = []
        var runStart = i
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
                i += 1
                break
            }
            if c < 0x20 { throw fail("control character in string") }
            if c == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00 {
                        guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw fail("lone surrogate in \\u escape")
                        }
                        i += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("invalid surrogate pair") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if cp >= 0xDC00 && cp < 0xE000 {
                        throw fail("lone surrogate in \\u escape")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(cp)!)).utf8))
                default: throw fail("invalid escape")
                }
                runStart = i
                continue
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// JSON text writing, escaping as serde_json does.
enum JSONWriter {
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x08: out += [0x5c, UInt8(ascii: "b")]
            case 0x0c: out += [0x5c, UInt8(ascii: "f")]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(0x22)
    }
}

/// The first object key that occurs twice within one JSON object of `text`, at any depth, as
/// its path from the root (`["tensor_checksums", "0.bias"]` for a key repeated inside the
/// top-level object's `tensor_checksums` member; array elements appear as their index,
/// `"0"`, `"1"`, …); `nil` when the keys of every object are distinct. RFC 8259 leaves repeated
/// names unspecified (Foundation's `JSONSerialization`/`JSONDecoder` keep one copy, Python's
/// `json` the last), so a validator that must not guess refuses them; this is the same strict
/// reader that refuses repeated tensor names in a safetensors header (`.duplicateName`).
/// Malformed JSON yields the duplicate found before the error, else `nil` (the caller's
/// decoder reports the syntax error). Nesting deeper than 64 levels stops the search.
public func firstDuplicateJSONKey(in text: String) -> [String]? {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { raw -> [String]? in
        var reader = JSONReader(raw)
        var found: [String]?
        func walk(_ r: inout JSONReader, depth: Int, path: [String]) throws {
            switch r.peek() {
            case UInt8(ascii: "{"):
                var seen = Set<String>()
                try r.forEachMember(depth: depth) { r, key in
                    if found == nil, !seen.insert(key).inserted { found = path + [key] }
                    try walk(&r, depth: depth + 1, path: path + [key])
                }
            case UInt8(ascii: "["):
                var index = 0
                try r.forEachElement(depth: depth) { r in
                    try walk(&r, depth: depth + 1, path: path + ["\(index)"])
                    index += 1
                }
            default:
                try r.skipValue(depth: depth)
            }
        }
        do { try walk(&reader, depth: 0, path: []) } catch { return found }
        return found
    }
}
