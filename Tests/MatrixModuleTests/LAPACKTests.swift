import Foundation
import Testing
@testable import MatrixModule

struct QRShape: Sendable, CustomTestStringConvertible {
    let m: Int, n: Int
    var testDescription: String { "\(m)×\(n)" }
}
let qrShapes: [QRShape] = [.init(m: 50, n: 20), .init(m: 17, n: 17), .init(m: 12, n: 30),
                           .init(m: 1, n: 1), .init(m: 5, n: 1), .init(m: 1, n: 5)]

/// QR checks with naive Double products: max|QᵀQ − I| ≤ 10·max(m,n)·eps,
/// max|QR − A| ≤ 10·max(m,n)·eps·‖A‖_F, R exactly zero below the diagonal.
func checkQR<S: BLASScalar>(_: S.Type, _ s: QRShape, seed: UInt64) throws {
    let (m, n) = (s.m, s.n), k = min(m, n)
    let a: Matrix<S> = randomMatrix(rows: m, columns: n, seed: seed)
    let (q, r) = try a.qrDecomposition()
    #expect(q.rows == m && q.columns == k && r.rows == k && r.columns == n)
    let e = eps(S.self), scale = Double(max(m, n))
    let qd = doubles(q), rd = doubles(r), ad = doubles(a)
    let qtq = naiveProduct(transposeA: true, transposeB: false, m: k, n: k, k: m, a: qd, lda: k, b: qd, ldb: k).ab
    var orth = 0.0
    for i in 0..<k { for j in 0..<k { orth = max(orth, abs(qtq[i * k + j] - (i == j ? 1 : 0))) } }
    #expect(orth <= 10 * scale * e, "\(S.self) \(s.testDescription): max|QᵀQ − I| = \(orth)")
    let qr = naiveMultiply(qd, m, k, rd, n)
    let normA = a.frobeniusNorm()
    var recon = 0.0
    for i in 0..<(m * n) { recon = max(recon, abs(qr[i] - ad[i])) }
    #expect(recon <= 10 * scale * e * normA, "\(S.self) \(s.testDescription): max|QR − A| = \(recon)")
    var below = 0
    for i in 0..<k { for j in 0..<min(i, n) where r[i, j] != 0 { below += 1 } }
    #expect(below == 0)
}

@Suite("LAPACK: QR, symmetric eigen, singular values", .sharedBLAS)
struct LAPACKTests {
    @Test("qrDecomposition Float: orthonormal Q, QR = A, R upper triangular", arguments: qrShapes)
    func qrFloat(shape: QRShape) throws { try checkQR(Float.self, shape, seed: UInt64(shape.m * 31 + shape.n)) }

    @Test("qrDecomposition Double: orthonormal Q, QR = A, R upper triangular", arguments: qrShapes)
    func qrDouble(shape: QRShape) throws { try checkQR(Double.self, shape, seed: UInt64(shape.m * 37 + shape.n) ^ 0x5555) }

    @Test("qrDecomposition of a hand-worked 2×2: |R| = [[5, 2.2], [0, 0.4]], Q's first column ±[0.6, 0.8]")
    func qrHand() throws {
        let a = try Matrix<Double>([[3, 1], [4, 2]])
        let (q, r) = try a.qrDecomposition()
        #expect(abs(abs(r[0, 0]) - 5) <= 1e-14 && abs(abs(r[0, 1]) - 2.2) <= 1e-14 && abs(abs(r[1, 1]) - 0.4) <= 1e-14)
        #expect(r[1, 0] == 0)
        #expect(abs(abs(q[0, 0]) - 0.6) <= 1e-15 && abs(abs(q[1, 0]) - 0.8) <= 1e-15)
        // signs are consistent: first column of Q times R₀₀ is the first column of A
        #expect(abs(q[0, 0] * r[0, 0] - 3) <= 1e-14 && abs(q[1, 0] * r[0, 0] - 4) <= 1e-14)
    }

    @Test("qrDecomposition of empty shapes")
    func qrEmpty() throws {
        let (q, r) = try Matrix<Float>(rows: 3, columns: 0).qrDecomposition()
        #expect(q.rows == 3 && q.columns == 0 && r.rows == 0 && r.columns == 0)
        let (q2, r2) = try Matrix<Float>(rows: 0, columns: 4).qrDecomposition()
        #expect(q2.rows == 0 && q2.columns == 0 && r2.rows == 0 && r2.columns == 4)
    }

    /// thinQR on a raw column-major buffer: Q orthonormal, A in the span of Q, and the
    /// returned diagonal equals diag(QᵀA) (that is R's diagonal, with its signs).
    func checkThinQR<S: BLASScalar>(_: S.Type, m: Int, n: Int, seed: UInt64) throws {
        let original: [S] = randomArray(count: m * n, seed: seed)   // column-major m×n
        var buffer = original
        let diagonal = try buffer.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: m, columns: n) }
        #expect(diagonal.count == n)
        let e = eps(S.self), scale = Double(max(m, n))
        func q(_ i: Int, _ j: Int) -> Double { Double(buffer[i + j * m]) }
        func a(_ i: Int, _ j: Int) -> Double { Double(original[i + j * m]) }
        var orth = 0.0
        for i in 0..<n { for j in 0..<n {
            var s = 0.0; for p in 0..<m { s += q(p, i) * q(p, j) }
            orth = max(orth, abs(s - (i == j ? 1 : 0)))
        } }
        #expect(orth <= 10 * scale * e, "\(S.self) \(m)×\(n) thinQR: max|QᵀQ − I| = \(orth)")
        // R = QᵀA (naive), check diag and the projection residual A − Q·R
        var rMat = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { var s = 0.0; for p in 0..<m { s += q(p, i) * a(p, j) }; rMat[i * n + j] = s } }
        var normA = 0.0; for v in original { normA += Double(v) * Double(v) }; normA = normA.squareRoot()
        for i in 0..<n { #expect(abs(Double(diagonal[i]) - rMat[i * n + i]) <= 10 * scale * e * normA, "diag \(i)") }
        var lower = 0.0
        for i in 0..<n { for j in 0..<i { lower = max(lower, abs(rMat[i * n + j])) } }
        #expect(lower <= 10 * scale * e * normA)
        var resid = 0.0
        for i in 0..<m { for j in 0..<n {
            var s = 0.0; for p in 0..<n { s += q(i, p) * rMat[p * n + j] }
            resid = max(resid, abs(s - a(i, j)))
        } }
        #expect(resid <= 10 * scale * e * normA)
    }

    @Test("LAPACK.thinQR on a raw column-major buffer (Float, Double; tall and square)")
    func thinQR() throws {
        try checkThinQR(Float.self, m: 40, n: 15, seed: 61)
        try checkThinQR(Double.self, m: 40, n: 15, seed: 62)
        try checkThinQR(Float.self, m: 9, n: 9, seed: 63)
        try checkThinQR(Double.self, m: 7, n: 1, seed: 64)
    }

    @Test("LAPACK.thinQR hand-worked: [3, 4]ᵀ → Q = ±[0.6, 0.8], diagonal ±5 with Q·r = A")
    func thinQRHand() throws {
        var buf: [Double] = [3, 4]
        let d = try buf.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: 2, columns: 1) }
        #expect(abs(abs(d[0]) - 5) <= 1e-15)
        #expect(abs(buf[0] * d[0] - 3) <= 1e-14 && abs(buf[1] * d[0] - 4) <= 1e-14)
    }

    @Test("LAPACK.thinQR rejects wide shapes and short buffers; n = 0 is a no-op")
    func thinQRErrors() throws {
        var buf = [Float](repeating: 1, count: 12)
        #expect(throws: MatrixError.self) { try buf.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: 3, columns: 4) } }
        #expect(throws: MatrixError.self) { try buf.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: 5, columns: 3) } }
        let empty = try buf.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: 3, columns: 0) }
        #expect(empty.isEmpty)
        #expect(buf == [Float](repeating: 1, count: 12))
    }

    @Test("symmetricEigen of the hand-worked [[2, 1], [1, 2]]: λ = 1, 3 with (1, −1)/√2 and (1, 1)/√2")
    func eigenHand() throws {
        for upper in [1.0, 100.0] {   // only the lower triangle is read
            let a = try Matrix<Double>([[2, upper], [1, 2]])
            let (values, vectors) = try a.symmetricEigen()
            #expect(abs(values[0] - 1) <= 1e-14 && abs(values[1] - 3) <= 1e-14)
            let v = try #require(vectors)
            let h = 0.5.squareRoot()
            #expect(abs(abs(v[0, 0]) - h) <= 1e-14 && abs(v[0, 0] + v[1, 0]) <= 1e-14)   // column 0 ∝ (1, −1)
            #expect(abs(abs(v[0, 1]) - h) <= 1e-14 && abs(v[0, 1] - v[1, 1]) <= 1e-14)   // column 1 ∝ (1, 1)
        }
        let f = try Matrix<Float>([[2, 1], [1, 2]]).symmetricEigen(vectors: false)
        #expect(f.vectors == nil)
        #expect(abs(f.values[0] - 1) <= 4 * Float.ulpOfOne && abs(f.values[1] - 3) <= 8 * Float.ulpOfOne)
    }

    func checkEigen<S: BLASScalar>(_: S.Type, n: Int, seed: UInt64) throws {
        let b: Matrix<S> = randomMatrix(rows: n, columns: n, seed: seed)
        var a = Matrix<S>(rows: n, columns: n)
        for i in 0..<n { for j in 0..<n { a[i, j] = b[i, j] + b[j, i] } }
        let (values, vectorsOpt) = try a.symmetricEigen()
        let v = try #require(vectorsOpt)
        let e = eps(S.self), normA = a.frobeniusNorm(), tol = 20 * Double(n) * e * normA
        #expect(values.count == n)
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "ascending")
        var worst = 0.0
        for j in 0..<n {
            for i in 0..<n {
                var av = 0.0; for p in 0..<n { av += Double(a[i, p]) * Double(v[p, j]) }
                worst = max(worst, abs(av - Double(values[j]) * Double(v[i, j])))
            }
        }
        #expect(worst <= tol, "\(S.self): max|Av − λv| = \(worst)")
        var orth = 0.0
        for i in 0..<n { for j in 0..<n {
            var s = 0.0; for p in 0..<n { s += Double(v[p, i]) * Double(v[p, j]) }
            orth = max(orth, abs(s - (i == j ? 1 : 0)))
        } }
        #expect(orth <= 20 * Double(n) * e)
        // closed forms: Σλ = trace, Σλ² = ‖A‖_F²
        var trace = 0.0; for i in 0..<n { trace += Double(a[i, i]) }
        #expect(abs(values.reduce(0.0) { $0 + Double($1) } - trace) <= tol)
        #expect(abs(values.reduce(0.0) { $0 + Double($1) * Double($1) } - normA * normA) <= tol * normA * 2)
    }

    @Test("symmetricEigen random symmetric 8×8: Av = λv, orthonormal V, trace and Frobenius closed forms")
    func eigenRandom() throws {
        try checkEigen(Double.self, n: 8, seed: 71)
        try checkEigen(Float.self, n: 8, seed: 72)
    }

    @Test("symmetricEigen rejects non-square, handles 0×0")
    func eigenErrors() throws {
        #expect(throws: MatrixError.self) { try Matrix<Double>(rows: 2, columns: 3).symmetricEigen() }
        let (values, vectors) = try Matrix<Double>(rows: 0, columns: 0).symmetricEigen()
        #expect(values.isEmpty && vectors?.isEmpty == true)
    }

    @Test("singularValues: diagonal, hand-worked 2×2, rank-1 wide, Frobenius closed form")
    func singularValues() throws {
        let d = try Matrix<Double>([[3, 0, 0], [0, -5, 0], [0, 0, 1]]).singularValues()
        #expect(d.count == 3 && abs(d[0] - 5) <= 1e-14 && abs(d[1] - 3) <= 1e-14 && abs(d[2] - 1) <= 1e-14)
        // [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]] → σ² = 45, 5
        let h = try Matrix<Double>([[3, 0], [4, 5]]).singularValues()
        #expect(abs(h[0] - 45.0.squareRoot()) <= 1e-14 && abs(h[1] - 5.0.squareRoot()) <= 1e-14)
        let hf = try Matrix<Float>([[3, 0], [4, 5]]).singularValues()
        #expect(abs(Double(hf[0]) - 45.0.squareRoot()) <= 1e-5 && abs(Double(hf[1]) - 5.0.squareRoot()) <= 1e-5)
        // u vᵀ with u = (1, 2), v = (2, −1, 2): σ = |u|·|v| = 3√5, then 0
        let r1 = try Matrix<Double>([[2, -1, 2], [4, -2, 4]]).singularValues()
        #expect(r1.count == 2 && abs(r1[0] - 3 * 5.0.squareRoot()) <= 1e-14 && abs(r1[1]) <= 1e-14)
        let tall: Matrix<Float> = randomMatrix(rows: 20, columns: 6, seed: 81)
        let s = try tall.singularValues()
        #expect(s.count == 6 && zip(s, s.dropFirst()).allSatisfy { $0 >= $1 })
        let f2 = tall.frobeniusNorm() * tall.frobeniusNorm()
        #expect(abs(s.reduce(0.0) { $0 + Double($1) * Double($1) } - f2) <= 100 * eps(Float.self) * f2)
        #expect(try Matrix<Float>(rows: 0, columns: 3).singularValues().isEmpty)
    }
}

@Suite("LAPACK argument checks never crash (exit tests)")
struct LAPACKOverflowTests {
    @Test("thinQR with rows = Int.max, columns = 2 throws instead of trapping on rows × columns")
    func thinQROverflow() async {
        // Regression (was a bug): LAPACK.swift:14 — `a.count >= m * n` traps with arithmetic overflow.
        await #expect(processExitsWith: .success) {
            var buf = [Double](repeating: 1, count: 4)
            let thrown: Bool = buf.withUnsafeMutableBufferPointer { p in
                do { _ = try LAPACK.thinQR(p, rows: Int.max, columns: 2); return false } catch { return true }
            }
            precondition(thrown, "expected MatrixError.invalidArgument")
        }
    }
}
