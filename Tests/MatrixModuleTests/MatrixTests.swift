import Foundation
import Testing
@testable import MatrixModule

@Suite("Matrix storage, construction, access and copy-on-write")
struct MatrixTests {
    @Test("uninitialized(rows:columns:) hands body every element once; a throwing body leaves nothing behind; huge-page advice only from 4 MiB")
    func uninitializedStorage() throws {
        struct Boom: Error {}
        for (rows, columns) in [(0, 5), (3, 4), (1024, 1025)] {
            var seen = 0
            let m = Matrix<Float>.uninitialized(rows: rows, columns: columns) { p in
                seen = p.count
                for i in p.indices { p[i] = Float(i % 7) }
            }
            #expect(seen == rows * columns)
            #expect(m.rows == rows && m.columns == columns)
            #expect(m.elements == (0..<(rows * columns)).map { Float($0 % 7) })
        }
        #expect(throws: Boom.self) { _ = try Matrix<Double>.uninitialized(rows: 4, columns: 4) { (_) throws(Boom) in throw Boom() } }
        let small = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 4096)
        defer { small.deallocate() }
        #expect(FreshStorage.adviseHugePages(small, bytes: 1 << 16) == false, "below the 4 MiB threshold no advice is given")
    }

    @Test("init(rows:columns:) is all zeros; repeating fills; shape, count, isEmpty")
    func basicInits() {
        let z = Matrix<Float>(rows: 3, columns: 4)
        #expect(z.rows == 3 && z.columns == 4 && z.count == 12)
        #expect(z.elements == [Float](repeating: 0, count: 12))
        #expect(z.shape.rows == 3 && z.shape.columns == 4)
        #expect(z.shapeDescription == "3×4")
        #expect(!z.isEmpty)
        let r = Matrix<Double>(rows: 2, columns: 2, repeating: -1.5)
        #expect(r.elements == [-1.5, -1.5, -1.5, -1.5])
        #expect(Matrix<Float>(rows: 0, columns: 5).isEmpty)
        #expect(Matrix<Float>(rows: 5, columns: 0).isEmpty)
        #expect(Matrix<Float>(rows: 5, columns: 0).elements.isEmpty)
    }

    @Test("elements are row-major: (i, j) is at i·columns + j")
    func rowMajor() throws {
        let m = try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        #expect(m[0, 0] == 1 && m[0, 2] == 3 && m[1, 0] == 4 && m[1, 2] == 6)
        #expect(m.row(1) == [4, 5, 6])
        #expect(m.column(1) == [2, 5])
        let fromRows = try Matrix<Float>([[1, 2, 3], [4, 5, 6]])
        #expect(fromRows == m)
        #expect(fromRows.rows == 2 && fromRows.columns == 3)
    }

    @Test("init from rows: empty array is 0×0, [[]] is 1×0")
    func emptyRows() throws {
        let e = try Matrix<Double>([])
        #expect(e.rows == 0 && e.columns == 0)
        let one = try Matrix<Double>([[]])
        #expect(one.rows == 1 && one.columns == 0)
    }

    @Test("identity, subscript set, setRow, fill, reshaped")
    func mutators() throws {
        var i3 = try Matrix<Double>.identity(3)
        #expect(i3.elements == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        i3[2, 0] = 5
        #expect(i3.elements[6] == 5)
        try i3.setRow(1, to: [7, 8, 9])
        #expect(i3.elements == [1, 0, 0, 7, 8, 9, 5, 0, 1])
        #expect(throws: MatrixError.countMismatch(rows: 1, columns: 3, count: 2)) { try i3.setRow(0, to: [1, 2]) }
        #expect(i3.row(0) == [1, 0, 0])
        i3.fill(with: 0.25)
        #expect(i3.elements == [Double](repeating: 0.25, count: 9))
        let m = try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        let r = try m.reshaped(rows: 3, columns: 2)
        #expect(r.rows == 3 && r.columns == 2 && r[2, 1] == 6 && r[1, 0] == 3)
        #expect(throws: MatrixError.countMismatch(rows: 4, columns: 2, count: 6)) { try m.reshaped(rows: 4, columns: 2) }
        #expect(try Matrix<Float>.identity(0).isEmpty)
    }

    @Test("transposed() vs index swap (shapes crossing the 32-block, empty shapes)",
          arguments: [(1, 1), (2, 3), (33, 70), (64, 31), (0, 4), (4, 0), (100, 1)])
    func transposed(rows: Int, columns: Int) {
        let m: Matrix<Double> = randomMatrix(rows: rows, columns: columns, seed: UInt64(rows * 100 + columns))
        let t = m.transposed()
        #expect(t.rows == columns && t.columns == rows)
        var bad = 0
        for i in 0..<rows { for j in 0..<columns where t.elements[j * rows + i] != m.elements[i * columns + j] { bad += 1 } }
        #expect(bad == 0)
    }

    @Test("withUnsafeBufferPointer exposes the row-major elements; typed errors propagate")
    func unsafeBuffers() throws {
        let m = try Matrix<Float>([[1, 2], [3, 4]])
        let sum = m.withUnsafeBufferPointer { p in p.reduce(0, +) }
        #expect(sum == 10)
        #expect(m.withUnsafeBufferPointer { Array($0) } == [1, 2, 3, 4])
        struct Stop: Error {}
        #expect(throws: Stop.self) { try m.withUnsafeBufferPointer { (_) throws(Stop) in throw Stop() } }
        var w = m
        #expect(throws: Stop.self) { try w.withUnsafeMutableBufferPointer { (_) throws(Stop) in throw Stop() } }
    }

    @Test("copy-on-write: mutating a copy (every mutator) leaves the original unchanged", .sharedBLAS)
    func copyOnWrite() throws {
        let original = try Matrix<Float>([[1, 2, 3], [4, 5, 6]])
        let snapshot: [Float] = [1, 2, 3, 4, 5, 6]
        var a = original; a[0, 0] = 100
        var b = original; b.withUnsafeMutableBufferPointer { $0[5] = -1 }
        var c = original; try c.setRow(1, to: [0, 0, 0])
        var d = original; d.fill(with: 9)
        var e = original; try e.add(original, scaledBy: 2)
        var f = original; f.scale(by: 3)
        var g = original; g.apply { $0 + 1 }
        var h = original; try h.addRowVector([1, 1, 1])
        var k = original; try k.multiplyElementwise(by: original)
        var l = original; try Matrix.gemm(try Matrix<Float>.identity(2), original, alpha: 2, into: &l)
        #expect(original.elements == snapshot)
        #expect(a[0, 0] == 100 && b[1, 2] == -1 && c.row(1) == [0, 0, 0] && d[1, 1] == 9)
        #expect(e.elements == [3, 6, 9, 12, 15, 18] && f.elements == [3, 6, 9, 12, 15, 18])
        #expect(g[0, 0] == 2 && h[1, 2] == 7 && k[1, 2] == 36 && l.elements == [2, 4, 6, 8, 10, 12])
    }

    @Test("no copy when unique: the storage address survives in-place mutations", .sharedBLAS)
    func noCopyWhenUnique() throws {
        var m: Matrix<Double> = randomMatrix(rows: 16, columns: 16, seed: 5)
        let base = m.withUnsafeMutableBufferPointer { UInt(bitPattern: $0.baseAddress) }
        func address() -> UInt { m.withUnsafeMutableBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        m[3, 4] = 1; #expect(address() == base)
        try m.setRow(2, to: [Double](repeating: 1, count: 16)); #expect(address() == base)
        m.fill(with: 2); #expect(address() == base)
        m.scale(by: 2); #expect(address() == base)
        try m.add(Matrix(rows: 16, columns: 16, repeating: 1)); #expect(address() == base)
        m.apply { $0 * 2 }; #expect(address() == base)
        try m.addRowVector([Double](repeating: 1, count: 16)); #expect(address() == base)
        let other = try Matrix<Double>.identity(16)
        try Matrix.gemm(other, other, beta: 1, into: &m); #expect(address() == base)
        // a copy that is dropped again leaves the storage unique
        do { let copy = m; _ = copy.count }
        m[0, 0] = 3; #expect(address() == base)
        // while a copy is alive, mutation must move to new storage
        let alive = m
        m[0, 0] = 4
        #expect(address() != base)
        #expect(alive[0, 0] == 3)
    }

    @Test("Equatable compares shape and elements")
    func equatable() throws {
        let a = try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5, 6])
        let b = try Matrix<Float>(rows: 3, columns: 2, elements: [1, 2, 3, 4, 5, 6])
        #expect(a != b)
        #expect(a == (try Matrix<Float>([[1, 2, 3], [4, 5, 6]])))
    }

    @Test("Codable round trip and JSON keys; inconsistent JSON is rejected with MatrixError")
    func codable() throws {
        let m = try Matrix<Double>([[1.5, -2], [0, 4]])
        let data = try JSONEncoder().encode(m)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["rows"] as? Int == 2 && object?["columns"] as? Int == 2)
        #expect((object?["elements"] as? [Double]) == [1.5, -2, 0, 4])
        #expect(try JSONDecoder().decode(Matrix<Double>.self, from: data) == m)
        let bad = Data(#"{"rows": 2, "columns": 2, "elements": [1, 2, 3]}"#.utf8)
        #expect(throws: MatrixError.countMismatch(rows: 2, columns: 2, count: 3)) { try JSONDecoder().decode(Matrix<Double>.self, from: bad) }
        let negative = Data(#"{"rows": -1, "columns": 2, "elements": []}"#.utf8)
        #expect(throws: MatrixError.negativeDimension(rows: -1, columns: 2)) { try JSONDecoder().decode(Matrix<Float>.self, from: negative) }
    }

    @Test("description shows elements up to 8×8 and only the shape beyond")
    func description() throws {
        let small = try Matrix<Float>([[1, 2], [3, 4]])
        #expect(small.description.contains("2×2") && small.description.contains("1.0, 2.0") && small.description.contains("3.0, 4.0"))
        let big = Matrix<Float>(rows: 9, columns: 9)
        #expect(big.description == "Matrix<Float> 9×9")
    }

    @Test("out-of-range subscript is a precondition failure (exit test)")
    func subscriptOutOfRange() async {
        await #expect(processExitsWith: .failure) {
            let m = Matrix<Double>(rows: 2, columns: 2)
            _ = m[0, 2]   // would silently read element (1, 0) without the check
        }
    }
}
