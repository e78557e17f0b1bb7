import Testing
@testable import MatrixModule

// Oracles: products worked by hand; Int.max = 2⁶³ − 1, so 2³² × 2³² and 2⁴⁰ × 2³⁰ × 4 overflow.
@Suite("CheckedSize: overflow-checked counts and the memory estimate guard")
struct CheckedSizeTests {
    @Test("element and byte counts: exact products, negatives and overflow are typed errors")
    func counts() throws {
        #expect(try CheckedSize.elementCount([256, 784], what: "w") == 200_704)
        #expect(try CheckedSize.elementCount([], what: "scalar") == 1)
        #expect(try CheckedSize.elementCount([0, Int.max], what: "empty") == 0)
        #expect(try CheckedSize.byteCount([3, 5], elementBytes: 8, what: "m") == 120)
        #expect(throws: SizeError.negative(what: "w", value: -5)) { try CheckedSize.elementCount([-5, 3], what: "w") }
        #expect(throws: SizeError.overflow(what: "w", factors: [1 << 32, 1 << 32], elementBytes: nil)) {
            try CheckedSize.elementCount([1 << 32, 1 << 32], what: "w")
        }
        #expect(throws: SizeError.overflow(what: "m", factors: [1 << 40, 1 << 21], elementBytes: 4)) {
            try CheckedSize.byteCount([1 << 40, 1 << 21], elementBytes: 4, what: "m")   // 2⁶¹ elements fit, 2⁶³ bytes do not
        }
        #expect(throws: SizeError.overflow(what: "s", factors: [Int.max, 1], elementBytes: nil)) { try CheckedSize.sum([Int.max, 1], what: "s") }
        #expect(try CheckedSize.sum([1, 2, 3], what: "s") == 6)
    }

    @Test("messages never print an overflowed count; values print as the user wrote them")
    func messages() {
        let e = SizeError.overflow(what: "matrix", factors: [1 << 40, 1 << 30], elementBytes: 4)
        print(e.description)
        #expect(e.description.contains("1099511627776 × 1073741824 × 4 bytes"))
        #expect(e.description.range(of: "-[0-9]", options: .regularExpression) == nil, "no wrapped-around negative count: \(e.description)")
        #expect(CheckedSize.describeValue(128) == "128")
        #expect(CheckedSize.describeValue(0) == "0")
        #expect(CheckedSize.describeValue(-7) == "-7")
        #expect(CheckedSize.describeValue(0.5) == "0.5")
        #expect(CheckedSize.describeValue(.nan) == "nan")
        #expect(CheckedSize.describeBytes(512) == "512 B")
        #expect(CheckedSize.describeBytes(3 << 29) == "1.5 GiB")
        let m = SizeError.insufficientMemory(what: "x", estimateBytes: 51 << 30, availableBytes: 20 << 30)
        #expect(m.description.contains("51.0 GiB") && m.description.contains("20.0 GiB"))
    }

    @Test("available memory is read from /proc/meminfo and the cgroup; a request above it is refused")
    func availableMemory() throws {
        let available = try #require(CheckedSize.availableMemory(), "Linux: /proc/meminfo is readable")
        print("available memory: \(CheckedSize.describeBytes(available))")
        #expect(available > 0)
        #expect(throws: SizeError.self) { try CheckedSize.requireMemory(Int.max, what: "everything") }
        try CheckedSize.requireMemory(1, what: "one byte")
    }

    @Test("Matrix.identity and Matrix.zeros throw instead of trapping")
    func matrixGuards() throws {
        #expect(throws: MatrixError.negativeDimension(rows: -1, columns: -1)) { try Matrix<Float>.identity(-1) }
        #expect(throws: MatrixError.self) { try Matrix<Float>.zeros(rows: 1 << 32, columns: 1 << 32) }
        #expect(throws: MatrixError.self) { try Matrix<Double>.zeros(rows: 1 << 30, columns: 1 << 30) }   // 8 EiB: overflow of bytes or no memory
        #expect(try Matrix<Float>.identity(2).elements == [1, 0, 0, 1])
        #expect(try Matrix<Float>.zeros(rows: 0, columns: 5).isEmpty)
    }
}
