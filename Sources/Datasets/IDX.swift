// IDX reader for the MNIST family of data sets.
//
// Format (LeCun, Cortes & Burges, "The MNIST database of handwritten digits",
// http://yann.lecun.com/exdb/mnist/): a 4-byte magic `0x00 0x00 type nDims`, then `nDims`
// big-endian UInt32 dimension sizes, then the elements in row-major (C) order, big-endian.
// Files may be gzip-compressed (RFC 1952); the reader detects the gzip magic `1f 8b` and
// inflates through zlib, so `foo-idx3-ubyte` and `foo-idx3-ubyte.gz` both work.

import CZlib
import Foundation

/// A dense n-dimensional array read from an IDX file (the MNIST family's format).
///
/// Layout: row-major (C order), the last dimension varies fastest, exactly as stored in the file.
/// Elements keep the file's type (see ``Storage``); big-endian values are converted to the host's
/// byte order. Use ``floatValues()`` for a `[Float]` view of any element type.
///
/// Source: the IDX format of LeCun et al.'s MNIST page (http://yann.lecun.com/exdb/mnist/).
public struct IDXArray: Sendable, Equatable {
    /// The element type named by the third header byte (the IDX "type code").
    public enum ElementType: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
        /// `0x08`, unsigned byte.
        case uint8 = 0x08
        /// `0x09`, signed byte.
        case int8 = 0x09
        /// `0x0B`, 16-bit big-endian signed integer.
        case int16 = 0x0B
        /// `0x0C`, 32-bit big-endian signed integer.
        case int32 = 0x0C
        /// `0x0D`, 32-bit big-endian IEEE 754 float.
        case float32 = 0x0D
        /// `0x0E`, 64-bit big-endian IEEE 754 double.
        case float64 = 0x0E

        /// Width of one element in bytes (1, 1, 2, 4, 4, 8).
        public var byteWidth: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }

        /// The type's name: `uint8`, `int8`, `int16`, `int32`, `float32`, `float64`.
        public var description: String {
            switch self {
            case .uint8: return "uint8"
            case .int8: return "int8"
            case .int16: return "int16"
            case .int32: return "int32"
            case .float32: return "float32"
            case .float64: return "float64"
            }
        }
    }

    /// The elements, in row-major order, kept in the file's element type (host byte order).
    public enum Storage: Sendable, Equatable {
        /// Type code `0x08`.
        case uint8([UInt8])
        /// Type code `0x09`.
        case int8([Int8])
        /// Type code `0x0B`.
        case int16([Int16])
        /// Type code `0x0C`.
        case int32([Int32])
        /// Type code `0x0D`.
        case float32([Float])
        /// Type code `0x0E`.
        case float64([Double])
    }

    /// Largest number of dimensions accepted (the format stores the count in one byte; real files
    /// use 1 to 4, the reader allows up to 8).
    public static let maximumDimensionCount = 8

    /// Default cap on the data size announced by a header: 2^34 bytes (16 GiB). A header that
    /// announces more is rejected with ``DatasetError/dimensionsTooLarge(path:dimensions:elementBytes:limitBytes:)``
    /// before anything is allocated.
    public static let defaultMaximumDataBytes = 1 << 34

    /// Dimension sizes, outermost first (e.g. `[60000, 28, 28]` for MNIST training images).
    public let dimensions: [Int]
    /// The elements, row-major, in the file's type.
    public let storage: Storage

    /// Creates an array from dimensions and storage.
    ///
    /// - Precondition: the product of `dimensions` equals the number of stored elements.
    public init(dimensions: [Int], storage: Storage) {
        self.dimensions = dimensions
        self.storage = storage
        let product = dimensions.reduce(1, *)
        precondition(product == self.count, "IDXArray: dimensions \(dimensions) hold \(product) elements, storage holds \(self.count)")
    }

    /// The element type of ``storage``.
    public var elementType: ElementType {
        switch storage {
        case .uint8: return .uint8
        case .int8: return .int8
        case .int16: return .int16
        case .int32: return .int32
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    /// Number of elements (the product of ``dimensions``).
    public var count: Int {
        switch storage {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .int16(let a): return a.count
        case .int32(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        }
    }

    /// The elements when the file's type is UInt8 (`0x08`), `nil` otherwise.
    public var uint8Values: [UInt8]? {
        if case .uint8(let a) = storage { return a }
        return nil
    }

    /// All elements converted to `Float` (row-major, same order as ``storage``), with no scaling.
    /// Int32 and Float64 values are rounded to the nearest `Float`.
    public func floatValues() -> [Float] {
        switch storage {
        case .uint8(let a): return a.map { Float($0) }
        case .int8(let a): return a.map { Float($0) }
        case .int16(let a): return a.map { Float($0) }
        case .int32(let a): return a.map { Float($0) }
        case .float32(let a): return a
        case .float64(let a): return a.map { Float($0) }
        }
    }

    /// Reads an IDX file, plain or gzip-compressed (detected by the gzip magic `1f 8b`).
    ///
    /// The file is read through a bounded 1 MiB buffer; decoding stops at the first byte past the
    /// size announced by the header, so neither a truncated file nor a decompression bomb can make
    /// the reader hang or allocate more than the announced size plus one chunk. The gzip CRC-32 and
    /// length trailer are verified by zlib. Concatenated gzip members are accepted.
    ///
    /// - Parameters:
    ///   - path: path of the file.
    ///   - maximumDataBytes: cap on the data size the header may announce
    ///     (default ``defaultMaximumDataBytes`` = 2^34 bytes).
    /// - Throws: ``DatasetError``: `.fileNotFound`, `.unreadable`, `.badMagic`, `.unknownTypeCode`,
    ///   `.badDimensionCount`, `.dimensionsTooLarge`, `.truncated`, `.trailingData`, `.corruptGzip`.
    public static func read(contentsOf path: String, maximumDataBytes: Int = defaultMaximumDataBytes) throws -> IDXArray {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            throw DatasetError.unreadable(path: path, reason: "is a directory")
        }
        let file = try FileByteSource(path: path)
        return try decode(from: file, name: path, maximumDataBytes: maximumDataBytes)
    }

    /// Decodes IDX bytes already in memory, plain or gzip-compressed (detected by `1f 8b`).
    ///
    /// Same checks and bounds as ``read(contentsOf:maximumDataBytes:)``; `name` is used in error
    /// messages in place of a path.
    ///
    /// - Throws: ``DatasetError`` (every case listed for ``read(contentsOf:maximumDataBytes:)``
    ///   except `.fileNotFound` and `.unreadable`).
    public static func decode(_ bytes: [UInt8], name: String = "<memory>", maximumDataBytes: Int = defaultMaximumDataBytes) throws -> IDXArray {
        try decode(from: MemoryByteSource(bytes), name: name, maximumDataBytes: maximumDataBytes)
    }

    // MARK: - Decoding

    private static let chunkSize = 1 << 20

    /// At most how much of a gzip stream is inflated past the announced data to tell trailing
    /// data from a corrupt stream: the announced size, at least 1 MiB, at most 64 MiB.
    static let maximumTrailingDrainBytes = 1 << 26

    private static func decode(from raw: RawByteSource, name: String, maximumDataBytes: Int) throws -> IDXArray {
        // Sniff the gzip magic on the raw bytes.
        var sniff = [UInt8](repeating: 0, count: 2)
        let sniffed = try readFully(raw, into: &sniff, offset: 0, count: 2, name: name)
        let source: ByteSource
        if sniffed == 2 && sniff[0] == 0x1F && sniff[1] == 0x8B {
            source = try GzipByteSource(raw: raw, prefix: sniff, name: name)
        } else {
            source = PrefixedByteSource(prefix: Array(sniff[0..<sniffed]), raw: raw)
        }

        // Header: magic (2 zero bytes), type code, dimension count.
        var header = [UInt8](repeating: 0, count: 4)
        let got = try readFully(source, into: &header, offset: 0, count: 4, name: name)
        guard got == 4 else { throw DatasetError.truncated(path: name, expectedBytes: 4, actualBytes: got) }
        guard header[0] == 0, header[1] == 0 else {
            throw DatasetError.badMagic(path: name, bytes: [header[0], header[1]])
        }
        guard let type = ElementType(rawValue: header[2]) else {
            throw DatasetError.unknownTypeCode(path: name, code: header[2])
        }
        let rank = Int(header[3])
        guard rank >= 1, rank <= maximumDimensionCount else {
            throw DatasetError.badDimensionCount(path: name, count: rank)
        }
        let headerBytes = 4 + 4 * rank
        var dimBytes = [UInt8](repeating: 0, count: 4 * rank)
        let gotDims = try readFully(source, into: &dimBytes, offset: 0, count: 4 * rank, name: name)
        guard gotDims == 4 * rank else {
            throw DatasetError.truncated(path: name, expectedBytes: headerBytes, actualBytes: 4 + gotDims)
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rank)
        for d in 0..<rank {
            let b = dimBytes[(4 * d)..<(4 * d + 4)].map { UInt32($0) }
            let value = UInt32(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3]
            dimensions.append(Int(value))
        }
        // Size checks without overflow.
        var elementCount = 1
        var overflow = false
        for d in dimensions {
            let (p, o) = elementCount.multipliedReportingOverflow(by: d)
            if o { overflow = true; break }
            elementCount = p
        }
        var dataBytes = 0
        if !overflow {
            let (p, o) = elementCount.multipliedReportingOverflow(by: type.byteWidth)
            overflow = o
            dataBytes = p
        }
        if overflow || dataBytes > maximumDataBytes {
            throw DatasetError.dimensionsTooLarge(path: name, dimensions: dimensions, elementBytes: type.byteWidth, limitBytes: maximumDataBytes)
        }
        let expectedTotal = headerBytes + dataBytes

        // Data: read at most dataBytes + 1 bytes through a bounded chunk.
        var data = [UInt8]()
        data.reserveCapacity(min(dataBytes, 1 << 26))
        var chunk = [UInt8](repeating: 0, count: min(chunkSize, max(dataBytes + 1, 1 << 16)))   // no 1 MiB buffer for a small file
        while data.count <= dataBytes {
            let want = min(chunk.count, dataBytes + 1 - data.count)
            let n = try chunk.withUnsafeMutableBytes { buffer in
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        if data.count > dataBytes {
            // A corrupt deflate stream can inflate to more bytes than the header announces before
            // zlib reaches the check that fails: drain (bounded) so that it is reported as corrupt.
            if source is GzipByteSource {
                var drained = 0
                let limit = max(1 << 20, min(dataBytes, maximumTrailingDrainBytes))
                while drained < limit {
                    let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
                    if n == 0 { break }
                    drained += n
                }
            }
            throw DatasetError.trailingData(path: name, expectedBytes: expectedTotal)
        }
        if data.count < dataBytes {
            throw DatasetError.truncated(path: name, expectedBytes: expectedTotal, actualBytes: headerBytes + data.count)
        }
        if let gz = source as? GzipByteSource, !gz.endedCleanly {
            throw DatasetError.corruptGzip(path: name, message: "the gzip stream ends before its end-of-stream trailer (file truncated?)")
        }
        return IDXArray(dimensions: dimensions, storage: convert(data, type: type))
    }

    /// Reads until `count` bytes are in `buffer[offset...]` or the source is exhausted; returns the number read.
    private static func readFully(_ source: ByteSource, into buffer: inout [UInt8], offset: Int, count: Int, name: String) throws -> Int {
        var total = 0
        while total < count {
            let n = try buffer.withUnsafeMutableBytes { b in
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: b[(offset + total)..<(offset + count)]))
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    private static func convert(_ data: [UInt8], type: ElementType) -> Storage {
        switch type {
        case .uint8:
            return .uint8(data)
        case .int8:
            return .int8(data.map { Int8(bitPattern: $0) })
        case .int16:
            return .int16(bigEndianWords(data, as: UInt16.self).map { Int16(bitPattern: $0) })
        case .int32:
            return .int32(bigEndianWords(data, as: UInt32.self).map { Int32(bitPattern: $0) })
        case .float32:
            return .float32(bigEndianWords(data, as: UInt32.self).map { Float(bitPattern: $0) })
        case .float64:
            return .float64(bigEndianWords(data, as: UInt64.self).map { Double(bitPattern: $0) })
        }
    }

    private static func bigEndianWords<T: FixedWidthInteger>(_ data: [UInt8], as: T.Type) -> [T] {
        let width = MemoryLayout<T>.size
        let n = data.count / width
        return [T](unsafeUninitializedCapacity: n) { out, initialized in
            data.withUnsafeBytes { raw in
                for i in 0..<n {
                    out[i] = T(bigEndian: raw.loadUnaligned(fromByteOffset: i * width, as: T.self))
                }
            }
            initialized = n
        }
    }
}

// MARK: - Byte sources (internal)

/// A sequential byte stream. `read` fills a prefix of `buffer` and returns its length; 0 means end of stream.
protocol ByteSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A byte stream coming straight from storage (file or memory).
protocol RawByteSource: ByteSource {}

/// Reads a file with `fread` (buffered by stdio).
final class FileByteSource: RawByteSource {
    private let file: UnsafeMutablePointer<FILE>
    private let path: String

    /// Opens `path`, which must be a regular file: a FIFO (opened with O_NONBLOCK, so the open
    /// does not wait for a writer), a device or a directory is `.unreadable` before any read.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw DatasetError.fileNotFound(path: path) }
            throw DatasetError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            let kind: String
            switch st.st_mode & S_IFMT {
            case S_IFDIR: kind = "a directory"
            case S_IFIFO: kind = "a FIFO"
            case S_IFCHR, S_IFBLK: kind = "a device"
            default: kind = "not a regular file"
            }
            _ = close(fd)
            throw DatasetError.unreadable(path: path, reason: "\(kind); only regular files are read")
        }
        guard let f = fdopen(fd, "rb") else {
            let code = errno
            _ = close(fd)
            throw DatasetError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        self.file = f
        self.path = path
    }

    deinit { fclose(file) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = fread(base, 1, buffer.count, file)
        if n < buffer.count && ferror(file) != 0 {
            let code = errno
            throw DatasetError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        return n
    }
}

/// Reads from an in-memory array.
final class MemoryByteSource: RawByteSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[position..<(position + n)]))
        }
        position += n
        return n
    }
}

/// Replays a few already-consumed bytes, then continues with the raw source.
final class PrefixedByteSource: ByteSource {
    private var prefix: [UInt8]
    private let raw: RawByteSource

    init(prefix: [UInt8], raw: RawByteSource) {
        self.prefix = prefix
        self.raw = raw
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !prefix.isEmpty {
            let n = min(buffer.count, prefix.count)
            prefix.withUnsafeBytes { src in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<n]))
            }
            prefix.removeFirst(n)
            return n
        }
        return try raw.read(into: buffer)
    }
}

/// Inflates a gzip stream (RFC 1952) with zlib's `inflate`, `windowBits = 15 + 32`
/// (automatic gzip/zlib header detection). Output is bounded by the caller's buffer size.
/// Concatenated members are decoded in turn; non-gzip bytes after a member are an error.
final class GzipByteSource: ByteSource {
    private let raw: RawByteSource
    private let name: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var input: [UInt8]
    private var inputStart = 0
    private var inputEnd = 0
    private var rawExhausted = false
    private var finished = false
    /// True once the last member's trailer (CRC-32 and length) has been verified and no input remains.
    private(set) var endedCleanly = false

    private static let inputChunk = 1 << 16

    init(raw: RawByteSource, prefix: [UInt8], name: String) throws {
        self.raw = raw
        self.name = name
        self.input = [UInt8](repeating: 0, count: Self.inputChunk)
        for (i, b) in prefix.enumerated() { input[i] = b }
        self.inputEnd = prefix.count
        self.stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            let message = Self.message(stream, status)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw DatasetError.corruptGzip(path: name, message: "inflateInit2 failed: \(message)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    private static func message(_ stream: UnsafeMutablePointer<z_stream>, _ status: Int32) -> String {
        if let msg = stream.pointee.msg { return String(cString: msg) }
        if let s = zError(status) { return String(cString: s) }
        return "zlib status \(status)"
    }

    /// Refills `input` if empty; returns false when the raw source is exhausted.
    private func refill() throws -> Bool {
        if inputStart < inputEnd { return true }
        if rawExhausted { return false }
        let n = try input.withUnsafeMutableBytes { try raw.read(into: $0) }
        inputStart = 0
        inputEnd = n
        if n == 0 { rawExhausted = true; return false }
        return true
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let outBase = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var produced = 0
        while produced < buffer.count && !finished {
            guard try refill() else {
                // Input ended inside a member: report what we have; `endedCleanly` stays false.
                finished = true
                break
            }
            let startBefore = inputStart
            let producedBefore = produced
            let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
                stream.pointee.next_in = inBuf.baseAddress! + inputStart
                stream.pointee.avail_in = UInt32(inputEnd - inputStart)
                stream.pointee.next_out = (outBase + produced).assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(buffer.count - produced)
                let s = inflate(stream, Z_NO_FLUSH)
                let consumed = (inputEnd - inputStart) - Int(stream.pointee.avail_in)
                inputStart += consumed
                produced = buffer.count - Int(stream.pointee.avail_out)
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
                return s
            }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Z_BUF_ERROR: no progress possible with this input; the loop refills or ends.
                // Defensive: a call that neither consumed input nor produced output while both
                // were available would loop forever, so it is reported instead.
                if inputStart == startBefore && produced == producedBefore && inputStart < inputEnd {
                    throw DatasetError.corruptGzip(path: name, message: "inflate made no progress (\(Self.message(stream, status)))")
                }
                continue
            case Z_STREAM_END:
                // A member ended with a verified trailer. Another member may follow.
                if try refill() {
                    if input[inputStart] == 0x1F {
                        let r = inflateReset(stream)
                        if r != Z_OK {
                            throw DatasetError.corruptGzip(path: name, message: Self.message(stream, r))
                        }
                    } else {
                        throw DatasetError.corruptGzip(path: name, message: "non-gzip bytes after the end of the gzip stream")
                    }
                } else {
                    finished = true
                    endedCleanly = true
                }
            default:
                throw DatasetError.corruptGzip(path: name, message: Self.message(stream, status))
            }
        }
        return produced
    }
}
// Typed errors of the Datasets module (README, "Using it from your package": anything from outside the program
// is rejected with a typed error that names the value and the rule).


/// Everything that can go wrong while reading an IDX file, loading an MNIST-family data set, or
/// validating batching parameters.
///
/// Every case names the file (or parameter) it concerns and the rule that was broken, and
/// ``description`` renders a one-line human-readable message. No input makes the readers in this
/// module crash or hang; they throw one of these cases instead.
public enum DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but cannot be opened or read (permissions, a directory, an I/O error);
    /// `reason` is the operating system's message.
    case unreadable(path: String, reason: String)
    /// The first two bytes of the (decompressed) IDX file are not `0x00 0x00`.
    case badMagic(path: String, bytes: [UInt8])
    /// The third header byte is not one of the IDX type codes
    /// `0x08` (UInt8), `0x09` (Int8), `0x0B` (Int16), `0x0C` (Int32), `0x0D` (Float32), `0x0E` (Float64).
    case unknownTypeCode(path: String, code: UInt8)
    /// The fourth header byte (number of dimensions) is 0 or greater than ``IDXArray/maximumDimensionCount``.
    case badDimensionCount(path: String, count: Int)
    /// The product of the dimension sizes times the element width overflows `Int` or exceeds the
    /// reader's cap (`limitBytes`, default ``IDXArray/defaultMaximumDataBytes`` = 2^34 bytes).
    case dimensionsTooLarge(path: String, dimensions: [Int], elementBytes: Int, limitBytes: Int)
    /// The (decompressed) file ends before the header or the data it announces is complete.
    /// Byte counts cover the whole decoded file, header included.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The (decompressed) file holds more bytes than the header announces (`expectedBytes`,
    /// header included). Reading stops at the first extra byte, so a decompression bomb costs at
    /// most `expectedBytes + 1` bytes of output.
    case trailingData(path: String, expectedBytes: Int)
    /// zlib rejected the gzip stream; `message` is zlib's own message (`z_stream.msg`) or a
    /// description of the structural problem (stream ends before its trailer, garbage after it).
    case corruptGzip(path: String, message: String)
    /// The data-set directory does not exist.
    case directoryNotFound(path: String)
    /// None of the candidate file names exists in the data-set directory.
    case missingFile(directory: String, candidates: [String])
    /// An IDX file has the wrong rank or element type for its role
    /// (images must be 3-D `[count, rows, columns]` UInt8, labels 1-D `[count]` UInt8).
    case unexpectedShape(path: String, expected: String, dimensions: [Int], elementType: String)
    /// The image and label files disagree on the number of examples.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label is outside `0..<classCount`.
    case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
    /// A caller-supplied parameter (batch size, buffer size, standard deviation, …) breaks its rule.
    case invalidParameter(name: String, value: String, rule: String)

    /// A one-line message that names the file or parameter and the problem.
    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path): file not found"
        case let .unreadable(path, reason):
            return "\(path): cannot read file: \(reason)"
        case let .badMagic(path, bytes):
            let hex = bytes.map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0x0" + $0 : "0x" + $0 }
            return "\(path): bad IDX magic: the first two bytes must be 0x00 0x00, found \(hex.joined(separator: " "))"
        case let .unknownTypeCode(path, code):
            return "\(path): unknown IDX type code 0x\(String(code, radix: 16, uppercase: true)) (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)"
        case let .badDimensionCount(path, count):
            return "\(path): IDX dimension count \(count) is out of range (must be 1...\(IDXArray.maximumDimensionCount))"
        case let .dimensionsTooLarge(path, dimensions, elementBytes, limitBytes):
            let dims = dimensions.map(String.init).joined(separator: "×")
            return "\(path): IDX dimensions \(dims) with \(elementBytes)-byte elements overflow or exceed the cap of \(limitBytes) data bytes"
        case let .truncated(path, expectedBytes, actualBytes):
            return "\(path): file truncated: the IDX header announces \(expectedBytes) bytes but only \(actualBytes) are present"
        case let .trailingData(path, expectedBytes):
            return "\(path): trailing data: the file holds more than the \(expectedBytes) bytes its IDX header announces"
        case let .corruptGzip(path, message):
            return "\(path): corrupt gzip stream: \(message)"
        case let .directoryNotFound(path):
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return "\(path): is a file, not a directory; --data takes the directory that holds train-images-idx3-ubyte[.gz] and the other IDX files"
            }
            if path != MNISTDataset.defaultDirectory {
                return "\(path): data directory not found; --data DIR takes the directory that holds train-images-idx3-ubyte[.gz] and the other IDX files (the default, \(MNISTDataset.defaultDirectory), comes with apt-get install dataset-fashion-mnist)"
            }
            return "\(path): data directory not found; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data DIR"
        case let .missingFile(directory, candidates):
            return "\(directory): none of \(candidates.joined(separator: ", ")) found; install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data DIR"
        case let .unexpectedShape(path, expected, dimensions, elementType):
            let dims = dimensions.map(String.init).joined(separator: "×")
            return "\(path): expected \(expected), found \(elementType) array of shape [\(dims)]"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            return "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels; the counts must match"
        case let .labelOutOfRange(path, index, label, classCount):
            return "\(path): label \(label) at index \(index) is outside 0..<\(classCount)"
        case let .invalidParameter(name, value, rule):
            return "invalid \(name) = \(value): \(rule)"
        }
    }
}
