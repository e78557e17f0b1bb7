import Foundation
import Testing
@testable import MatrixModule

struct GemmShape: Sendable, CustomTestStringConvertible {
    let m: Int, n: Int, k: Int
    var testDescription: String { "m\(m) n\(n) k\(k)" }
}

struct Transposes: Sendable, CustomTestStringConvertible {
    let a: Bool, b: Bool
    var testDescription: String { (a ? "T" : "N") + (b ? "T" : "N") }
    static let all = [Transposes(a: false, b: false), Transposes(a: true, b: false),
                      Transposes(a: false, b: true), Transposes(a: true, b: true)]
}

let gemmShapes: [GemmShape] = [
    .init(m: 1, n: 1, k: 1), .init(m: 7, n: 13, k: 5), .init(m: 64, n: 1, k: 300),
    .init(m: 257, n: 129, k: 65),
    .init(m: 0, n: 5, k: 3), .init(m: 5, n: 0, k: 3), .init(m: 5, n: 3, k: 0), .init(m: 0, n: 0, k: 0),
    .init(m: 300, n: 3, k: 7),   // tall
    .init(m: 3, n: 300, k: 7),   // wide
    .init(m: 2, n: 3, k: 1000),  // long inner dimension
]

/// (alpha, beta, C prefilled with NaN instead of random values)
let alphaBetaCombos: [(Double, Double, Bool)] = [
    (1, 0, true), (-1.5, 0, true), (0.75, 0.5, false), (1, 1, false), (0, 0.5, false), (0, 0, true), (2, -1, false),
]

/// Runs `Matrix.gemm` for every α/β combination and compares with the naive Double loop.
/// Tolerance: 3·(k+2)·eps·(|α|·(|op(A)|·|op(B)|)ᵢⱼ + |β|·|C₀ᵢⱼ|) — the standard γₖ bound,
/// with a factor 3 for the rounding of the Double reference and of α, β.
func checkMatrixGemm<S: BLASScalar>(_: S.Type, _ s: GemmShape, _ t: Transposes, seed: UInt64) throws {
    let (m, n, k) = (s.m, s.n, s.k)
    let a: Matrix<S> = randomMatrix(rows: t.a ? k : m, columns: t.a ? m : k, seed: seed)
    let b: Matrix<S> = randomMatrix(rows: t.b ? n : k, columns: t.b ? k : n, seed: seed &+ 1)
    let c0: Matrix<S> = randomMatrix(rows: m, columns: n, seed: seed &+ 2)
    let ref = naiveProduct(transposeA: t.a, transposeB: t.b, m: m, n: n, k: k,
                           a: doubles(a), lda: a.columns, b: doubles(b), ldb: b.columns)
    let c0d = doubles(c0)
    let e = eps(S.self)
    for (alpha, beta, nanFill) in alphaBetaCombos {
        var c = nanFill ? Matrix<S>(rows: m, columns: n, repeating: .nan) : c0
        try Matrix.gemm(a, transposeA: t.a, b, transposeB: t.b, alpha: S(alpha), beta: S(beta), into: &c)
        #expect(c.rows == m && c.columns == n)
        var worst = 0.0, nanCount = 0
        for idx in 0..<(m * n) {
            let got = Double(c.elements[idx])
            if got.isNaN { nanCount += 1; continue }
            let old = nanFill ? 0 : c0d[idx]
            let expected = alpha * ref.ab[idx] + beta * old
            let bound = 3 * Double(k + 2) * e * (abs(alpha) * ref.absAB[idx] + abs(beta) * abs(old)) + Double(S.leastNormalMagnitude)
            worst = max(worst, abs(got - expected) / bound)
        }
        #expect(nanCount == 0, "\(S.self) \(s.testDescription) \(t.testDescription) α=\(alpha) β=\(beta): \(nanCount) NaN in C")
        #expect(worst <= 1, "\(S.self) \(s.testDescription) \(t.testDescription) α=\(alpha) β=\(beta): worst error/bound = \(worst)")
    }
}

@Suite("Matrix products (gemm, gemv, axpy, scal, dot)", .sharedBLAS)
struct MatrixProductsTests {
    @Test("gemm Float vs naive Double loop", arguments: gemmShapes, Transposes.all)
    func gemmFloat(shape: GemmShape, t: Transposes) throws {
        try checkMatrixGemm(Float.self, shape, t, seed: UInt64(shape.m * 1_000_003 + shape.n * 1009 + shape.k))
    }

    @Test("gemm Double vs naive Double loop", arguments: gemmShapes, Transposes.all)
    func gemmDouble(shape: GemmShape, t: Transposes) throws {
        try checkMatrixGemm(Double.self, shape, t, seed: UInt64(shape.m * 7919 + shape.n * 104_729 + shape.k) ^ 0xABCDEF)
    }

    @Test("gemm result-shape and inner-dimension mismatches throw and leave C untouched")
    func gemmShapeErrors() throws {
        let a = Matrix<Float>(rows: 2, columns: 3, repeating: 1)
        let b = Matrix<Float>(rows: 4, columns: 5, repeating: 1)
        var c = Matrix<Float>(rows: 2, columns: 5, repeating: 7)
        #expect(throws: MatrixError.self) { try Matrix.gemm(a, b, into: &c) }
        #expect(c == Matrix(rows: 2, columns: 5, repeating: 7))
        // inner dimensions agree, C has the wrong shape
        let b2 = Matrix<Float>(rows: 3, columns: 5, repeating: 1)
        var wrongC = Matrix<Float>(rows: 5, columns: 2, repeating: 7)
        let error = #expect(throws: MatrixError.self) { try Matrix.gemm(a, b2, into: &wrongC) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("2×5") && text.contains("5×2"), "\(text)")
        #expect(wrongC == Matrix(rows: 5, columns: 2, repeating: 7))
        // transposed operands use op() shapes: Aᵀ is 3×2 and needs B with 2 rows
        var c3 = Matrix<Float>(rows: 3, columns: 5)
        #expect(throws: MatrixError.self) { try Matrix.gemm(a, transposeA: true, b2, into: &c3) }
    }

    @Test("multiplied(by:) with every transpose flag and alpha vs naive")
    func multipliedVariants() throws {
        let a: Matrix<Double> = randomMatrix(rows: 6, columns: 4, seed: 11)
        let b: Matrix<Double> = randomMatrix(rows: 6, columns: 5, seed: 12)
        let c: Matrix<Double> = randomMatrix(rows: 5, columns: 4, seed: 13)
        let e = 1e-13
        // Aᵀ·B : 4×5
        let atb = try a.multiplied(by: b, transposeSelf: true, alpha: 2)
        let ref1 = naiveProduct(transposeA: true, transposeB: false, m: 4, n: 5, k: 6, a: a.elements, lda: 4, b: b.elements, ldb: 5).ab
        #expect(atb.rows == 4 && atb.columns == 5)
        for i in 0..<20 { #expect(abs(atb.elements[i] - 2 * ref1[i]) <= e) }
        // A·Cᵀ : 6×5
        let act = try a.multiplied(by: c, transposeOther: true)
        let ref2 = naiveProduct(transposeA: false, transposeB: true, m: 6, n: 5, k: 4, a: a.elements, lda: 4, b: c.elements, ldb: 4).ab
        #expect(act.rows == 6 && act.columns == 5)
        for i in 0..<30 { #expect(abs(act.elements[i] - ref2[i]) <= e) }
        // Bᵀ·Aᵀ... with both transposed: (5×6)·(6×... ) — use Cᵀ (4×5) · Bᵀ (5×6) = 4×6
        let ctbt = try c.multiplied(by: b, transposeSelf: true, transposeOther: true)
        let ref3 = naiveProduct(transposeA: true, transposeB: true, m: 4, n: 6, k: 5, a: c.elements, lda: 4, b: b.elements, ldb: 5).ab
        #expect(ctbt.rows == 4 && ctbt.columns == 6)
        for i in 0..<24 { #expect(abs(ctbt.elements[i] - ref3[i]) <= e) }
        // `*` operator equals A·B
        let d: Matrix<Double> = randomMatrix(rows: 4, columns: 3, seed: 14)
        let ad = a * d
        let ref4 = naiveMultiply(a.elements, 6, 4, d.elements, 3)
        for i in 0..<18 { #expect(abs(ad.elements[i] - ref4[i]) <= e) }
    }

    @Test("multiplied(by:) mismatch message names both shapes")
    func multipliedMismatchMessage() {
        let a = Matrix<Float>(rows: 2, columns: 3)
        let b = Matrix<Float>(rows: 4, columns: 5)
        let error = #expect(throws: MatrixError.self) { try a.multiplied(by: b) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("2×3") && text.contains("4×5"), "\(text)")
    }

    @Test("empty products: shapes are right, inner dimension 0 gives zeros (Float, Double)")
    func emptyProducts() throws {
        let a = Matrix<Float>(rows: 3, columns: 0), b = Matrix<Float>(rows: 0, columns: 4)
        let c = try a.multiplied(by: b)
        #expect(c == Matrix(rows: 3, columns: 4, repeating: 0))
        let d = try b.multiplied(by: Matrix<Float>(rows: 4, columns: 2))
        #expect(d.rows == 0 && d.columns == 2 && d.elements.isEmpty)
        let e = try Matrix<Double>(rows: 2, columns: 0).multiplied(by: Matrix<Double>(rows: 0, columns: 2))
        #expect(e.elements == [0, 0, 0, 0])
    }

    @Test("gemm with C aliasing an operand computes from the old values (CoW protects the inputs)")
    func gemmAliasing() throws {
        var x = try Matrix<Double>([[1, 2], [3, 4]])
        try Matrix.gemm(x, x, alpha: 1, beta: 1, into: &x)   // X ← X·X + X
        // X·X = [[7, 10], [15, 22]]
        #expect(x == (try Matrix<Double>([[8, 12], [18, 26]])))
    }

    // MARK: C19 — every value

    @Test("C19 dense layer in in-out layout: Y = X·W + b, dW = Xᵀ·dY, dX = dY·Wᵀ, db = Σ dY")
    func c19DenseLayer() throws {
        let x = try Matrix<Float>([[1, 2, 3], [4, 5, 6]])
        let w = try Matrix<Float>([[1, 0, -1, 2], [0, 1, 1, -1], [2, -1, 0, 1]])
        let b: [Float] = [0.5, -0.5, 0, 1]
        var y = x * w
        try y.addRowVector(b)
        #expect(y == (try Matrix<Float>([[7.5, -1.5, 1, 4], [16.5, -1.5, 1, 10]])))

        let dY = try Matrix<Float>([[1, 0, 0, 1], [0, 1, 0, 1]])
        var dW = Matrix<Float>(rows: 3, columns: 4, repeating: .nan)
        try Matrix.gemm(x, transposeA: true, dY, into: &dW)   // sgemm Trans/NoTrans M3 N4 K2
        #expect(dW == (try Matrix<Float>([[1, 4, 0, 5], [2, 5, 0, 7], [3, 6, 0, 9]])))
        #expect(try x.multiplied(by: dY, transposeSelf: true) == dW)

        let dX = try dY.multiplied(by: w, transposeOther: true)
        #expect(dX == (try Matrix<Float>([[3, -1, 3], [2, 0, 0]])))
        #expect(dY.columnSums() == [1, 1, 0, 2])
    }

    @Test("C19 plain product of non-square matrices")
    func c19PlainProduct() throws {
        let a = try Matrix<Float>([[1, 2, 3], [4, 5, 6]])
        let b = try Matrix<Float>([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]])
        #expect(a * b == (try Matrix<Float>([[1, 2, 3, 6], [4, 5, 6, 15]])))
        let ad = try Matrix<Double>([[1, 2, 3], [4, 5, 6]])
        let bd = try Matrix<Double>([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]])
        #expect(ad * bd == (try Matrix<Double>([[1, 2, 3, 6], [4, 5, 6, 15]])))
    }

    @Test("C19 sgemv examples through Matrix")
    func c19Gemv() throws {
        let a = try Matrix<Float>([[1, 2], [3, 4], [5, 6]])
        #expect(try a.multiplied(by: [1, 2]) == [5, 11, 17])
        let z = try Matrix<Float>([[1, -3, 1], [2, -6, 2]])
        #expect(try z.multiplied(by: [2, 1, 1]) == [0, 0])
        // transposed: Aᵀ·[1, 1, 1] = [9, 12]
        #expect(try a.multiplied(by: [1, 1, 1], transpose: true) == [9, 12])
    }

    @Test("gemv alpha/beta, transpose and NaN in y with beta = 0 vs naive", arguments: [false, true])
    func gemvRandom(transpose: Bool) throws {
        let a: Matrix<Double> = randomMatrix(rows: 9, columns: 14, seed: 21)
        let xCount = transpose ? 9 : 14, yCount = transpose ? 14 : 9
        let x: [Double] = randomArray(count: xCount, seed: 22)
        let y0: [Double] = randomArray(count: yCount, seed: 23)
        func ref(_ i: Int) -> Double {
            (0..<xCount).reduce(0.0) { $0 + (transpose ? a[$1, i] : a[i, $1]) * x[$1] }
        }
        var y = y0
        try a.gemv(x, transpose: transpose, alpha: -2, beta: 0.5, into: &y)
        for i in 0..<yCount { #expect(abs(y[i] - (-2 * ref(i) + 0.5 * y0[i])) <= 1e-13) }
        var yNaN = [Double](repeating: .nan, count: yCount)
        try a.gemv(x, transpose: transpose, alpha: 1, beta: 0, into: &yNaN)
        for i in 0..<yCount { #expect(abs(yNaN[i] - ref(i)) <= 1e-13) }
        var wrong = [Double](repeating: 0, count: yCount + 1)
        #expect(throws: MatrixError.self) { try a.gemv(x, transpose: transpose, into: &wrong) }
        #expect(throws: MatrixError.self) { try a.multiplied(by: x + [1], transpose: transpose) }
    }

    @Test("gemv on empty shapes")
    func gemvEmpty() throws {
        let a = Matrix<Float>(rows: 3, columns: 0)
        var y: [Float] = [.nan, .nan, .nan]
        try a.gemv([], into: &y)
        #expect(y == [0, 0, 0])
        var y2: [Float] = [2, 4, 6]
        try a.gemv([], alpha: 1, beta: 0.5, into: &y2)
        #expect(y2 == [1, 2, 3])
        #expect(try Matrix<Float>(rows: 0, columns: 3).multiplied(by: [1, 2, 3]) == [])
    }

    @Test("add(_:scaledBy:) (axpy), scale(by:) (scal) and dot vs naive")
    func level1() throws {
        let x: Matrix<Float> = randomMatrix(rows: 17, columns: 9, seed: 31)
        let y0: Matrix<Float> = randomMatrix(rows: 17, columns: 9, seed: 32)
        var y = y0
        try y.add(x, scaledBy: -0.5)
        for i in 0..<y.count {
            let expected = Double(y0.elements[i]) - 0.5 * Double(x.elements[i])
            #expect(abs(Double(y.elements[i]) - expected) <= 2 * eps(Float.self) * (abs(Double(y0.elements[i])) + abs(Double(x.elements[i]))))
        }
        var s = x
        s.scale(by: 3)
        for i in 0..<s.count { #expect(abs(Double(s.elements[i]) - 3 * Double(x.elements[i])) <= eps(Float.self) * 3 * abs(Double(x.elements[i]))) }
        let d = try x.dot(y0)
        var ref = 0.0, absRef = 0.0
        for i in 0..<x.count { ref += Double(x.elements[i]) * Double(y0.elements[i]); absRef += abs(Double(x.elements[i]) * Double(y0.elements[i])) }
        #expect(abs(Double(d) - ref) <= 2 * Double(x.count) * eps(Float.self) * absRef)
        #expect(try Matrix<Double>(rows: 0, columns: 4).dot(Matrix<Double>(rows: 0, columns: 4)) == 0)
        var wrong = Matrix<Float>(rows: 9, columns: 17)
        #expect(throws: MatrixError.self) { try wrong.add(x) }
        #expect(throws: MatrixError.self) { try x.dot(wrong) }
        // shape check is on the shape, not the count
        #expect(wrong == Matrix<Float>(rows: 9, columns: 17))
    }

    @Test("scale(by: 0) gives zeros for finite elements and keeps NaN (IEEE 0·NaN)")
    func scaleByZero() throws {
        var m = try Matrix<Double>([[1, -2], [.nan, 4]])
        m.scale(by: 0)
        #expect(m[0, 0] == 0 && m[0, 1] == 0 && m[1, 1] == 0)
        #expect(m[1, 0].isNaN)
        var empty = Matrix<Double>(rows: 0, columns: 3)
        empty.scale(by: 2)
        #expect(empty.isEmpty)
    }

    // MARK: C24 — subnormal inputs

    @Test("C24 512³ sgemm with subnormal A = 1e-39 gives 5.12e-37 everywhere (timing ratio logged)")
    func c24Subnormal() throws {
        let n = 512
        let tiny = Float(1e-39)
        #expect(tiny.isSubnormal)
        let a = Matrix<Float>(rows: n, columns: n, repeating: tiny)
        let ones = Matrix<Float>(rows: n, columns: n, repeating: 1)
        let control = Matrix<Float>(rows: n, columns: n, repeating: 1e-3)
        var c = Matrix<Float>(rows: n, columns: n)
        var cc = Matrix<Float>(rows: n, columns: n)
        _ = try control.multiplied(by: ones)   // warm-up
        let tControl = try seconds { cc = try control.multiplied(by: ones) }
        let tSub = try seconds { c = try a.multiplied(by: ones) }
        let expected = 5.12e-37
        var worst = 0.0
        for v in c.elements { worst = max(worst, abs(Double(v) - expected) / expected) }
        #expect(worst <= 1e-5, "max relative error \(worst)")
        #expect(c.elements.allSatisfy { $0.isNormal })
        var worstControl = 0.0
        for v in cc.elements { worstControl = max(worstControl, abs(Double(v) - 0.512) / 0.512) }
        #expect(worstControl <= 1e-5)
        print("C24: subnormal 512³ sgemm \(tSub) s, control \(tControl) s, ratio \(tSub / max(tControl, 1e-9)) (kernel \(BLASBackend.coreName), threads \(BLASBackend.threads))")
    }

    @Test("`*` with mismatched inner dimensions is a precondition failure (exit test)")
    func starMismatchTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Matrix<Float>(rows: 2, columns: 3) * Matrix<Float>(rows: 4, columns: 5)
        }
    }
}
