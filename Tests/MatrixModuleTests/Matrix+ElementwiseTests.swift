import Foundation
import Testing
@testable import MatrixModule

@Suite("Matrix elementwise operations, broadcasts and reductions")
struct MatrixElementwiseTests {
    let a = try! Matrix<Float>([[1, -2, 3], [4, 5, -6]])
    let b = try! Matrix<Float>([[0.5, 2, -1], [2, 0, 3]])

    @Test("adding, subtracting, Hadamard (hand-worked), operators + − and scalar ·")
    func arithmetic() throws {
        #expect(try a.adding(b) == (try Matrix<Float>([[1.5, 0, 2], [6, 5, -3]])))
        #expect(try a.subtracting(b) == (try Matrix<Float>([[0.5, -4, 4], [2, 5, -9]])))
        #expect(try a.multipliedElementwise(by: b) == (try Matrix<Float>([[0.5, -4, -3], [8, 0, -18]])))
        var c = a
        try c.multiplyElementwise(by: b)
        #expect(c == (try Matrix<Float>([[0.5, -4, -3], [8, 0, -18]])))
        #expect(a + b == (try Matrix<Float>([[1.5, 0, 2], [6, 5, -3]])))
        #expect(a - b == (try Matrix<Float>([[0.5, -4, 4], [2, 5, -9]])))
        #expect(2 * a == (try Matrix<Float>([[2, -4, 6], [8, 10, -12]])))
    }

    @Test("shape mismatches throw and name both shapes", arguments: ["add", "subtract", "hadamard", "hadamardInPlace"])
    func mismatch(op: String) throws {
        let x = Matrix<Double>(rows: 2, columns: 3), y = Matrix<Double>(rows: 4, columns: 5)
        var z = x
        let error = #expect(throws: MatrixError.self) {
            switch op {
            case "add": _ = try x.adding(y)
            case "subtract": _ = try x.subtracting(y)
            case "hadamard": _ = try x.multipliedElementwise(by: y)
            default: try z.multiplyElementwise(by: y)
            }
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("2×3") && text.contains("4×5"), "\(text)")
        // same count, different shape
        #expect(throws: MatrixError.self) { try x.adding(Matrix<Double>(rows: 3, columns: 2)) }
    }

    @Test("map, map rethrows, apply")
    func mapApply() throws {
        #expect(a.map { $0 * $0 } == (try Matrix<Float>([[1, 4, 9], [16, 25, 36]])))
        struct Bad: Error {}
        #expect(throws: Bad.self) { try a.map { x -> Float in if x < 0 { throw Bad() }; return x } }
        var c = a
        c.apply { max($0, 0) }
        #expect(c == (try Matrix<Float>([[1, 0, 3], [4, 5, 0]])))
        #expect(a.elements == [1, -2, 3, 4, 5, -6])
    }

    @Test("addRowVector broadcasts over rows; wrong length throws")
    func addRowVector() throws {
        var c = a
        try c.addRowVector([10, 20, 30])
        #expect(c == (try Matrix<Float>([[11, 18, 33], [14, 25, 24]])))
        let error = #expect(throws: MatrixError.self) { try c.addRowVector([1, 2]) }
        #expect(error.map { "\($0)" }?.contains("2×3") == true)
        var empty = Matrix<Float>(rows: 0, columns: 2)
        try empty.addRowVector([1, 2])
        #expect(empty.isEmpty)
    }

    @Test("columnSums, rowSums, sum, mean, frobeniusNorm vs hand values and naive loops")
    func reductions() throws {
        #expect(a.columnSums() == [5, 3, -3])
        #expect(a.rowSums() == [2, 3])
        #expect(a.sum() == 5)
        #expect(a.mean() == 5.0 / 6.0)
        #expect(abs(a.frobeniusNorm() - (1.0 + 4 + 9 + 16 + 25 + 36).squareRoot()) <= 1e-15)
        let r: Matrix<Double> = randomMatrix(rows: 37, columns: 23, seed: 9)
        let cs = r.columnSums(), rs = r.rowSums()
        for j in 0..<23 {
            var s = 0.0, t = 0.0; for i in 0..<37 { s += r[i, j]; t += abs(r[i, j]) }
            #expect(abs(cs[j] - s) <= 40 * eps(Double.self) * t)
        }
        for i in 0..<37 {
            var s = 0.0, t = 0.0; for j in 0..<23 { s += r[i, j]; t += abs(r[i, j]) }
            #expect(abs(rs[i] - s) <= 30 * eps(Double.self) * t)
        }
    }

    @Test("reductions on empty shapes")
    func emptyReductions() {
        let e = Matrix<Float>(rows: 0, columns: 3)
        #expect(e.columnSums() == [0, 0, 0])
        #expect(e.rowSums() == [])
        #expect(Matrix<Float>(rows: 2, columns: 0).rowSums() == [0, 0])
        #expect(e.sum() == 0 && e.mean() == 0 && e.frobeniusNorm() == 0 && e.maxAbsolute() == 0)
        #expect(e.isFinite)
    }

    @Test("maxAbsolute and isFinite with negative, infinite and NaN elements")
    func maxAbsIsFinite() throws {
        #expect(a.maxAbsolute() == 6)
        #expect(a.isFinite)
        let inf = try Matrix<Double>([[1, -.infinity]])
        #expect(inf.maxAbsolute() == .infinity)
        #expect(!inf.isFinite)
        let nan = try Matrix<Double>([[1, .nan, 1e300]])
        #expect(nan.maxAbsolute().isNaN)
        #expect(!nan.isFinite)
    }
}
