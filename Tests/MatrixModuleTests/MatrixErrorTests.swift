import Foundation
import Testing
@testable import MatrixModule

@Suite("MatrixError: thrown cases and messages")
struct MatrixErrorTests {
    @Test("count mismatch names the shape, the needed and the given count")
    func countMismatch() {
        #expect(throws: MatrixError.countMismatch(rows: 2, columns: 3, count: 5)) {
            try Matrix<Float>(rows: 2, columns: 3, elements: [1, 2, 3, 4, 5])
        }
        let text = MatrixError.countMismatch(rows: 2, columns: 3, count: 5).description
        #expect(text.contains("2×3") && text.contains("6") && text.contains("5"), "\(text)")
    }

    @Test("overflowing rows × columns is a count mismatch, not a crash")
    func overflow() {
        // The error is compared without letting the test library print it: its description
        // crashes (see `overflowDescription`).
        var thrown: MatrixError?
        do { _ = try Matrix<Double>(rows: Int.max, columns: 2, elements: []) } catch { thrown = error }
        let isExpected = thrown == MatrixError.countMismatch(rows: Int.max, columns: 2, count: 0)
        #expect(isExpected)
    }

    @Test("description of a count mismatch whose rows × columns overflows does not crash (exit test)")
    func overflowDescription() async {
        // Regression (was a bug): MatrixError.swift:25 — `\(rows * columns)` traps for the very error that
        // init(rows: Int.max, columns: 2, elements: []) throws, so printing it kills the process.
        await #expect(processExitsWith: .success) {
            do { _ = try Matrix<Double>(rows: Int.max, columns: 2, elements: []) } catch {
                let text = "\(error)"
                precondition(text.contains("\(Int.max)×2"))
            }
        }
    }

    @Test("negative dimensions")
    func negative() {
        #expect(throws: MatrixError.negativeDimension(rows: -1, columns: 3)) { try Matrix<Float>(rows: -1, columns: 3, elements: []) }
        #expect(throws: MatrixError.negativeDimension(rows: 2, columns: -3)) { try Matrix<Float>(rows: 2, columns: -3, elements: []) }
        #expect(MatrixError.negativeDimension(rows: -1, columns: 3).description.contains("-1×3"))
    }

    @Test("ragged rows name the row index and both lengths")
    func ragged() {
        #expect(throws: MatrixError.raggedRows(expected: 3, row: 2, found: 2)) {
            try Matrix<Double>([[1, 2, 3], [4, 5, 6], [7, 8]])
        }
        let text = MatrixError.raggedRows(expected: 3, row: 2, found: 2).description
        #expect(text.contains("row 2") && text.contains("3") && text.contains("2 elements") || text.contains("has 2"), "\(text)")
    }

    @Test("shape mismatch messages contain both shapes", .sharedBLAS)
    func shapeMismatch() throws {
        let a = Matrix<Float>(rows: 2, columns: 3), b = Matrix<Float>(rows: 4, columns: 5)
        var c = a
        let cases: [(String, () throws -> Void)] = [
            ("multiplied", { _ = try a.multiplied(by: b) }),
            ("adding", { _ = try a.adding(b) }),
            ("dot", { _ = try a.dot(b) }),
            ("axpy", { try c.add(b) }),
        ]
        for (name, body) in cases {
            do {
                try body()
                Issue.record("\(name) did not throw")
            } catch let error as MatrixError {
                guard case .shapeMismatch = error else { Issue.record("\(name): \(error)"); continue }
                #expect(error.description.contains("2×3") && error.description.contains("4×5"), "\(name): \(error)")
            }
        }
        let text = MatrixError.shapeMismatch(operation: "sgemm", lhs: "A 2×3", rhs: "B 4×5").description
        #expect(text == "sgemm: shapes A 2×3 and B 4×5 are not compatible")
    }

    @Test("gemv mismatch names the matrix shape and the vector lengths", .sharedBLAS)
    func gemvMismatch() {
        let a = Matrix<Double>(rows: 2, columns: 3)
        var y = [Double](repeating: 0, count: 2)
        let error = #expect(throws: MatrixError.self) { try a.gemv([1, 2], into: &y) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("2×3") && text.contains("x 2") && text.contains("y 2"), "\(text)")
    }

    @Test("remaining descriptions: invalidArgument, dimensionTooLarge, lapackFailure (both signs)")
    func descriptions() {
        #expect(MatrixError.invalidArgument(operation: "sgemm", detail: "lda = 2").description == "sgemm: lda = 2")
        let big = MatrixError.dimensionTooLarge(operation: "sgemm", value: 3_000_000_000).description
        #expect(big.contains("3000000000") && big.contains("\(Int32.max)"))
        let illegal = MatrixError.lapackFailure(routine: "LAPACKE_dgeqrf", info: -4).description
        #expect(illegal.contains("argument 4") && illegal.contains("LAPACKE_dgeqrf"))
        let failed = MatrixError.lapackFailure(routine: "LAPACKE_ssyevd", info: 3).description
        #expect(failed.contains("info = 3") && !failed.contains("argument"))
        #expect(MatrixError.countMismatch(rows: 1, columns: 2, count: 3) != MatrixError.countMismatch(rows: 1, columns: 2, count: 4))
    }
}
