// A strict JSON (RFC 8259) reader for safetensors headers that keeps key order and duplicate
// keys (Foundation's JSONSerialization silently keeps one of two equal keys, which a header
// validator must reject), and a writer that escapes strings as serde_json does (the reference
// implementation's serializer): `"` `\` and control characters only, `\b \f \n \r \t`, other
// controls as `\u00xx`, everything else (including non-ASCII) as raw UTF-8.

/// A parsed JSON value; objects keep their members in file order, duplicates included.
/// One member of a JSON object.
struct JSONMember {
    let key: String
    let value: JSONValue
}

indirect enum JSONValue {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    /// The number's text as written (validated against the JSON grammar).
    case number(String)
    case bool(Bool)
    case null

    /// The number as a non-negative integer that fits Int, if it is one (no sign, fraction or
    /// exponent: what serde reads into `usize`).
    var nonNegativeInt: Int? {
        guard case let .number(t) = self, !t.isEmpty, t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(t)
    }

    var typeName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

/// A syntax error at a byte offset of the header.
struct JSONSyntaxError: Error {
    let offset: Int
    let message: String
}

/// Parses one JSON value followed only by whitespace. Nesting deeper than `maxDepth` is an error.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var r = JSONReader(bytes)
        let v = try r.value(depth: 0)
        r.skipSpace()
        if r.i != bytes.count { throw JSONSyntaxError(offset: r.i, message: "unexpected bytes after the JSON value") }
        return v
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    func fail(_ m: String) -> JSONSyntaxError { JSONSyntaxError(offset: i, message: m) }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of header") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [JSONMember] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let k = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                let v = try value(depth: depth + 1)
                members.append(JSONMember(key: k, value: v))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of header") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of header") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return .number(try number())
        }
    }

    mutating func literal(_ word: String) throws {
        for c in word.utf8 {
            guard i < bytes.count, bytes[i] == c else { throw fail("invalid literal (expected \(word))") }
            i += 1
        }
    }

    mutating func number() throws -> String {
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
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
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
