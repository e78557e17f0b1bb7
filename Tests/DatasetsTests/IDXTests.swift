import Foundation
import Testing
@testable import Datasets

// Oracles: IDX files assembled byte by byte here; gzip streams produced by /usr/bin/gzip.

/// A fresh temporary directory for one test.
func makeTemporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "datasets-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// IDX header bytes: 00 00 type nDims, then big-endian UInt32 sizes.
func idxHeader(type: UInt8, dimensions: [UInt32]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
    for d in dimensions {
        bytes += [UInt8(d >> 24), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)]
    }
    return bytes
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readFileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

let gzipExecutable = ["/usr/bin/gzip", "/bin/gzip"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Compresses `bytes` with the system gzip (`gzip -n -c`) and returns the .gz bytes.
func gzipped(_ bytes: [UInt8], in dir: String) throws -> [UInt8] {
    let plain = dir + "/gz-input-" + UUID().uuidString
    let packed = plain + ".gz"
    try writeFile(bytes, to: plain)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: gzipExecutable ?? "/usr/bin/gzip")
    process.arguments = ["-n", "-f", plain]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let out = try readFileBytes(packed)
    try? FileManager.default.removeItem(atPath: packed)
    return out
}

/// Expects `body` to throw a `DatasetError` matching `predicate`; records the actual error otherwise.
func expectDatasetError(_ predicate: (DatasetError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a DatasetError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as DatasetError {
        #expect(predicate(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a DatasetError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// The 2×3×4 uint8 test array: element (i, j, k) = 16*i + 4*j + k + 1 (hand-chosen, all distinct).
let sample234: [UInt8] = {
    var bytes: [UInt8] = []
    for i in 0..<2 {
        for j in 0..<3 {
            for k in 0..<4 { bytes.append(UInt8(16 * i + 4 * j + k + 1)) }
        }
    }
    return bytes
}()
let sample234File: [UInt8] = idxHeader(type: 0x08, dimensions: [2, 3, 4]) + sample234

@Suite("IDX reader")
struct IDXTests {
    @Test("2×3×4 uint8 array round-trips from a plain file")
    func plainRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a-idx3-ubyte"
        // Header written out literally: magic 00 00, type 08, 3 dims, sizes 2, 3, 4.
        let header: [UInt8] = [0x00, 0x00, 0x08, 0x03, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]
        try writeFile(header + sample234, to: path)
        let array = try IDXArray.read(contentsOf: path)
        #expect(array.dimensions == [2, 3, 4])
        #expect(array.elementType == .uint8)
        #expect(array.count == 24)
        #expect(array.uint8Values == sample234)
        // Element (1, 2, 3) sits at row-major offset 1*12 + 2*4 + 3 = 23.
        let values = array.uint8Values ?? []
        #expect(values.count == 24 && values[23] == 28)
        #expect(array.floatValues() == sample234.map { Float($0) })
    }

    @Test("2×3×4 uint8 array round-trips from a gzip file", .enabled(if: gzipExecutable != nil))
    func gzipRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gz = try gzipped(sample234File, in: dir)
        #expect(gz.prefix(2) == [0x1F, 0x8B])
        let path = dir + "/a-idx3-ubyte.gz"
        try writeFile(gz, to: path)
        let array = try IDXArray.read(contentsOf: path)
        #expect(array.dimensions == [2, 3, 4])
        #expect(array.uint8Values == sample234)
        // Same through the in-memory decoder.
        #expect(try IDXArray.decode(gz) == array)
    }

    @Test("concatenated gzip members decode as one stream", .enabled(if: gzipExecutable != nil))
    func multiMemberGzip() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try gzipped(Array(sample234File[0..<10]), in: dir)
        let second = try gzipped(Array(sample234File[10...]), in: dir)
        let array = try IDXArray.decode(first + second)
        #expect(array.dimensions == [2, 3, 4])
        #expect(array.uint8Values == sample234)
    }

    @Test("big-endian int8, int16, int32, float32, float64 elements")
    func otherTypes() throws {
        let i8 = try IDXArray.decode(idxHeader(type: 0x09, dimensions: [3]) + [0xFF, 0x7F, 0x80])
        #expect(i8.storage == .int8([-1, 127, -128]))

        let i16 = try IDXArray.decode(idxHeader(type: 0x0B, dimensions: [1, 2]) + [0xFF, 0xFE, 0x01, 0x02])
        #expect(i16.dimensions == [1, 2])
        #expect(i16.storage == .int16([-2, 258]))

        let i32 = try IDXArray.decode(idxHeader(type: 0x0C, dimensions: [2]) + [0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02, 0x03, 0x04])
        #expect(i32.storage == .int32([-1, 16_909_060]))

        // 1.5 = 0x3FC00000, -2 = 0xC0000000.
        let f32 = try IDXArray.decode(idxHeader(type: 0x0D, dimensions: [2]) + [0x3F, 0xC0, 0, 0, 0xC0, 0, 0, 0])
        #expect(f32.storage == .float32([1.5, -2]))
        #expect(f32.floatValues() == [1.5, -2])

        // 0.1 = 0x3FB999999999999A, -0.5 = 0xBFE0000000000000.
        let f64 = try IDXArray.decode(idxHeader(type: 0x0E, dimensions: [2])
            + [0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A, 0xBF, 0xE0, 0, 0, 0, 0, 0, 0])
        #expect(f64.storage == .float64([0.1, -0.5]))
    }

    @Test("a zero-sized dimension gives an empty array")
    func emptyArray() throws {
        let a = try IDXArray.decode(idxHeader(type: 0x08, dimensions: [0, 28, 28]))
        #expect(a.dimensions == [0, 28, 28])
        #expect(a.count == 0)
        expectDatasetError({ if case .trailingData = $0 { true } else { false } }) {
            _ = try IDXArray.decode(idxHeader(type: 0x08, dimensions: [0, 28, 28]) + [1])
        }
    }

    @Test("missing file and directory")
    func missingFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/no-such-file-idx3-ubyte"
        expectDatasetError({ $0 == .fileNotFound(path: path) }) { _ = try IDXArray.read(contentsOf: path) }
        expectDatasetError({ if case .unreadable(let p, _) = $0 { p == dir } else { false } }) { _ = try IDXArray.read(contentsOf: dir) }
        do {
            _ = try IDXArray.read(contentsOf: path)
        } catch let error as DatasetError {
            #expect(error.description.contains(path))
            #expect(error.description.contains("not found"))
        }
    }

    @Test("bad magic")
    func badMagic() throws {
        var bytes = sample234File
        bytes[0] = 0x01
        expectDatasetError({ $0 == .badMagic(path: "x", bytes: [0x01, 0x00]) }) { _ = try IDXArray.decode(bytes, name: "x") }
        bytes = sample234File
        bytes[1] = 0x08
        expectDatasetError({ $0 == .badMagic(path: "x", bytes: [0x00, 0x08]) }) { _ = try IDXArray.decode(bytes, name: "x") }
        // Through a file, and the message names it.
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad-magic"
        try writeFile(Array("hello, world, this is not IDX".utf8), to: path)
        do {
            _ = try IDXArray.read(contentsOf: path)
            Issue.record("no error")
        } catch let error as DatasetError {
            #expect(error == .badMagic(path: path, bytes: [0x68, 0x65]))
            #expect(error.description.contains(path) && error.description.contains("magic"))
        }
    }

    @Test("a FIFO or a device is unreadable at once (was: fopen blocked on a FIFO until a writer came)")
    func notRegularFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("idx-fifo-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/train-images-idx3-ubyte"
        #expect(mkfifo(fifo, 0o644) == 0)
        let t0 = Date()
        for path in [fifo, "/dev/zero"] {
            expectDatasetError({ if case let .unreadable(p, reason) = $0 { return p == path && reason.contains("regular file") } else { return false } }) {
                _ = try IDXArray.read(contentsOf: path)
            }
        }
        #expect(Date().timeIntervalSince(t0) < 5)
    }

    @Test("unknown type code", arguments: [0x00, 0x01, 0x07, 0x0A, 0x0F, 0xFF] as [UInt8])
    func unknownType(code: UInt8) {
        let bytes = idxHeader(type: code, dimensions: [2]) + [1, 2]
        expectDatasetError({ $0 == .unknownTypeCode(path: "t", code: code) }) { _ = try IDXArray.decode(bytes, name: "t") }
    }

    @Test("dimension count 0 or above 8", arguments: [0, 9, 255])
    func badDimensionCount(rank: Int) {
        let bytes: [UInt8] = [0, 0, 0x08, UInt8(rank)] + [UInt8](repeating: 0, count: 64)
        expectDatasetError({ $0 == .badDimensionCount(path: "<memory>", count: rank) }) { _ = try IDXArray.decode(bytes) }
    }

    @Test("overflowing or absurd dimensions are rejected before allocation")
    func overflowingDimensions() {
        let max = UInt32.max
        // 0xFFFFFFFF³ overflows Int.
        expectDatasetError({ if case .dimensionsTooLarge(_, let d, 1, _) = $0 { d == [Int(max), Int(max), Int(max)] } else { false } }) {
            _ = try IDXArray.decode(idxHeader(type: 0x08, dimensions: [max, max, max]))
        }
        // 2^17 · 2^17 · 2 bytes = 2^35 > 2^34 cap, no overflow.
        expectDatasetError({ if case .dimensionsTooLarge(_, _, _, let cap) = $0 { cap == 1 << 34 } else { false } }) {
            _ = try IDXArray.decode(idxHeader(type: 0x08, dimensions: [1 << 17, 1 << 17, 2]))
        }
        // Element width counts: 2^31 float64 elements = 2^34 bytes fits the cap exactly (then truncated), 2^32 do not.
        expectDatasetError({ if case .truncated = $0 { true } else { false } }) {
            _ = try IDXArray.decode(idxHeader(type: 0x0E, dimensions: [1 << 31]))
        }
        expectDatasetError({ if case .dimensionsTooLarge(_, _, 8, _) = $0 { true } else { false } }) {
            _ = try IDXArray.decode(idxHeader(type: 0x0E, dimensions: [1 << 16, 1 << 16]))
        }
        // A caller-chosen cap.
        expectDatasetError({ if case .dimensionsTooLarge(_, [2, 3, 4], 1, 23) = $0 { true } else { false } }) {
            _ = try IDXArray.decode(sample234File, maximumDataBytes: 23)
        }
        #expect((try? IDXArray.decode(sample234File, maximumDataBytes: 24)) != nil)
    }

    @Test("truncated header and data")
    func truncated() {
        // 16 header bytes + 24 data bytes = 40 expected.
        expectDatasetError({ $0 == .truncated(path: "t", expectedBytes: 40, actualBytes: 39) }) {
            _ = try IDXArray.decode(Array(sample234File.dropLast()), name: "t")
        }
        expectDatasetError({ $0 == .truncated(path: "t", expectedBytes: 40, actualBytes: 16) }) {
            _ = try IDXArray.decode(Array(sample234File.prefix(16)), name: "t")
        }
        expectDatasetError({ $0 == .truncated(path: "t", expectedBytes: 16, actualBytes: 10) }) {
            _ = try IDXArray.decode(Array(sample234File.prefix(10)), name: "t")
        }
        expectDatasetError({ $0 == .truncated(path: "t", expectedBytes: 4, actualBytes: 0) }) {
            _ = try IDXArray.decode([], name: "t")
        }
        expectDatasetError({ $0 == .truncated(path: "t", expectedBytes: 4, actualBytes: 1) }) {
            _ = try IDXArray.decode([0], name: "t")
        }
    }

    @Test("trailing bytes after the data")
    func trailing() throws {
        expectDatasetError({ $0 == .trailingData(path: "t", expectedBytes: 40) }) {
            _ = try IDXArray.decode(sample234File + [0], name: "t")
        }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/trailing"
        try writeFile(sample234File + [UInt8](repeating: 7, count: 3_000_000), to: path)
        expectDatasetError({ $0 == .trailingData(path: path, expectedBytes: 40) }) { _ = try IDXArray.read(contentsOf: path) }
    }

    @Test("a gzip decompression bomb stops at the expected size + 1", .enabled(if: gzipExecutable != nil))
    func decompressionBomb() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 2×3×4 header followed by 64 MiB of zeros (compresses to ~64 KiB).
        let gz = try gzipped(sample234File + [UInt8](repeating: 0, count: 64 << 20), in: dir)
        #expect(gz.count < 1 << 20)
        expectDatasetError({ $0 == .trailingData(path: "bomb", expectedBytes: 40) }) { _ = try IDXArray.decode(gz, name: "bomb") }
    }

    @Test("corrupt gzip streams report zlib's message", .enabled(if: gzipExecutable != nil))
    func corruptGzip() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gz = try gzipped(sample234File, in: dir)

        // CRC-32 trailer (bytes -8 ..< -4) damaged: zlib says "incorrect data check".
        var badCRC = gz
        badCRC[gz.count - 8] ^= 0xFF
        expectDatasetError({ if case .corruptGzip("g", let m) = $0 { m.contains("incorrect data check") } else { false } }) {
            _ = try IDXArray.decode(badCRC, name: "g")
        }
        // Length trailer (last 4 bytes) damaged: "incorrect length check".
        var badLength = gz
        badLength[gz.count - 1] ^= 0x01
        expectDatasetError({ if case .corruptGzip("g", let m) = $0 { m.contains("incorrect length check") } else { false } }) {
            _ = try IDXArray.decode(badLength, name: "g")
        }
        // Compression method byte (offset 2) not 8 (deflate).
        var badMethod = gz
        badMethod[2] = 7
        expectDatasetError({ if case .corruptGzip("g", let m) = $0 { m.contains("unknown compression method") } else { false } }) {
            _ = try IDXArray.decode(badMethod, name: "g")
        }
        // Garbage after the gzip magic.
        expectDatasetError({ if case .corruptGzip = $0 { true } else { false } }) {
            _ = try IDXArray.decode([0x1F, 0x8B] + [UInt8](repeating: 0xAB, count: 100), name: "g")
        }
        // Stream cut before its 8-byte trailer: data complete, trailer missing.
        expectDatasetError({ if case .corruptGzip("g", let m) = $0 { m.contains("trailer") } else { false } }) {
            _ = try IDXArray.decode(Array(gz.dropLast(8)), name: "g")
        }
        // Non-gzip bytes after the stream.
        expectDatasetError({ if case .corruptGzip("g", let m) = $0 { m.contains("after the end") } else { false } }) {
            _ = try IDXArray.decode(gz + [0x00, 0x01], name: "g")
        }
        // Through a file: the message names the file.
        let path = dir + "/corrupt.gz"
        try writeFile(badCRC, to: path)
        do {
            _ = try IDXArray.read(contentsOf: path)
            Issue.record("no error")
        } catch let error as DatasetError {
            #expect(error.description.contains(path) && error.description.contains("gzip"))
        }
    }

    @Test("a gzip stream cut in the middle of the data is truncated", .enabled(if: gzipExecutable != nil))
    func truncatedGzip() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 100 000 pseudo-random bytes (a linear congruential sequence) barely compress.
        var state: UInt32 = 12345
        let payload: [UInt8] = (0..<100_000).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
        let file = idxHeader(type: 0x08, dimensions: [100_000]) + payload
        let gz = try gzipped(file, in: dir)
        #expect(try IDXArray.decode(gz).uint8Values == payload)
        expectDatasetError({ if case .truncated(_, 100_008, let got) = $0 { got < 100_008 && got > 8 } else { false } }) {
            _ = try IDXArray.decode(Array(gz.prefix(gz.count / 2)))
        }
    }

    @Test("random corruptions never crash: every outcome is a value or a DatasetError", .enabled(if: gzipExecutable != nil))
    func fuzz() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gz = try gzipped(sample234File, in: dir)
        var rng = SplitMix64(seed: 2024)
        for trial in 0..<2000 {
            var bytes = trial % 2 == 0 ? sample234File : gz
            let edits = 1 + Int(rng.next(below: 4))
            for _ in 0..<edits {
                switch rng.next(below: 3) {
                case 0: bytes[Int(rng.next(below: UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes = Array(bytes.prefix(Int(rng.next(below: UInt64(bytes.count + 1)))))
                default: bytes.append(UInt8(truncatingIfNeeded: rng.next()))
                }
                if bytes.isEmpty { bytes = [0] }
            }
            do {
                let a = try IDXArray.decode(bytes)
                #expect(a.count == a.dimensions.reduce(1, *))
            } catch is DatasetError {
                // expected
            } catch {
                Issue.record("non-DatasetError \(error)")
            }
        }
    }
}
