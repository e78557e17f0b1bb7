import Foundation
import Testing
@testable import MatrixModule

@Suite("BLAS raw-buffer entry points (leading dimensions, checks)", .sharedBLAS)
struct BLASTests {
    // MARK: C19

    @Test("C19 A in a padded 2×4 buffer with lda 4: the 99s do not leak in")
    func c19PaddedLda() throws {
        let a: [Float] = [1, 2, 3, 99, 4, 5, 6, 99]
        let b: [Float] = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1]
        var c = [Float](repeating: .nan, count: 8)
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try c.withUnsafeMutableBufferPointer { pc in
                    try BLAS.gemm(m: 2, n: 4, k: 3, a: pa, lda: 4, b: pb, ldb: 4, c: pc, ldc: 4)
                }
            }
        }
        #expect(c == [1, 2, 3, 6, 4, 5, 6, 15])
    }

    @Test("C19 row-major NoTrans with lda 2 < K 3 is an argument error, C untouched")
    func c19LdaTooSmall() throws {
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1]
        var c = [Float](repeating: -7, count: 8)
        let error = #expect(throws: MatrixError.self) {
            try a.withUnsafeBufferPointer { pa in
                try b.withUnsafeBufferPointer { pb in
                    try c.withUnsafeMutableBufferPointer { pc in
                        try BLAS.gemm(m: 2, n: 4, k: 3, a: pa, lda: 2, b: pb, ldb: 4, c: pc, ldc: 4)
                    }
                }
            }
        }
        guard case let .invalidArgument(operation, detail)? = error else {
            Issue.record("expected invalidArgument, got \(String(describing: error))"); return
        }
        #expect(operation == "sgemm")
        #expect(detail.contains("lda = 2") && detail.contains("3"), "\(detail)")
        #expect(c == [Float](repeating: -7, count: 8))
    }

    @Test("C19 sgemv examples on raw buffers")
    func c19Sgemv() throws {
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        var y = [Float](repeating: .nan, count: 3)
        try a.withUnsafeBufferPointer { pa in
            try [Float](arrayLiteral: 1, 2).withUnsafeBufferPointer { px in
                try y.withUnsafeMutableBufferPointer { py in try BLAS.gemv(m: 3, n: 2, a: pa, lda: 2, x: px, y: py) }
            }
        }
        #expect(y == [5, 11, 17])
        let z: [Float] = [1, -3, 1, 2, -6, 2]
        var y2: [Float] = [9, 9]
        try z.withUnsafeBufferPointer { pa in
            try [Float](arrayLiteral: 2, 1, 1).withUnsafeBufferPointer { px in
                try y2.withUnsafeMutableBufferPointer { py in try BLAS.gemv(m: 2, n: 3, a: pa, lda: 3, x: px, y: py) }
            }
        }
        #expect(y2 == [0, 0])
    }

    // MARK: padded leading dimensions, random

    /// gemm on buffers whose rows are padded with NaN (A, B) or a sentinel (C): the result
    /// matches the naive loop and the padding of C is never written.
    func checkPadded<S: BLASScalar>(_: S.Type, m: Int, n: Int, k: Int, t: Transposes, seed: UInt64) throws {
        let (aRows, aCols) = t.a ? (k, m) : (m, k)
        let (bRows, bCols) = t.b ? (n, k) : (k, n)
        let lda = aCols + 3, ldb = bCols + 1, ldc = n + 2
        var g = SplitMix64(seed: seed)
        var a = [S](repeating: .nan, count: aRows * lda), b = [S](repeating: .nan, count: bRows * ldb)
        for i in 0..<aRows { for j in 0..<aCols { a[i * lda + j] = S(g.uniform()) } }
        for i in 0..<bRows { for j in 0..<bCols { b[i * ldb + j] = S(g.uniform()) } }
        let sentinel = S(12345)
        var c = [S](repeating: sentinel, count: m * ldc)
        var c0 = c
        for i in 0..<m { for j in 0..<n { c0[i * ldc + j] = S(g.uniform()) } }
        c = c0
        let ref = naiveProduct(transposeA: t.a, transposeB: t.b, m: m, n: n, k: k,
                               a: a.map { Double($0) }, lda: lda, b: b.map { Double($0) }, ldb: ldb)
        let alpha = 1.25, beta = -0.5
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try c.withUnsafeMutableBufferPointer { pc in
                    try BLAS.gemm(transposeA: t.a, transposeB: t.b, m: m, n: n, k: k, alpha: S(alpha),
                                  a: pa, lda: lda, b: pb, ldb: ldb, beta: S(beta), c: pc, ldc: ldc)
                }
            }
        }
        var worst = 0.0, paddingWritten = 0
        for i in 0..<m {
            for j in 0..<ldc {
                let got = c[i * ldc + j]
                if j >= n { if got != sentinel { paddingWritten += 1 }; continue }
                let old = Double(c0[i * ldc + j])
                let expected = alpha * ref.ab[i * n + j] + beta * old
                let bound = 3 * Double(k + 2) * eps(S.self) * (alpha * ref.absAB[i * n + j] + abs(beta * old)) + Double(S.leastNormalMagnitude)
                worst = max(worst, Double(got).isNaN ? .infinity : abs(Double(got) - expected) / bound)
            }
        }
        #expect(worst <= 1, "\(S.self) \(t.testDescription) m\(m) n\(n) k\(k): worst error/bound \(worst)")
        #expect(paddingWritten == 0)
    }

    @Test("gemm with padded lda/ldb/ldc, NaN padding, all transposes, Float and Double", arguments: Transposes.all)
    func paddedRandom(t: Transposes) throws {
        try checkPadded(Float.self, m: 23, n: 17, k: 31, t: t, seed: 101)
        try checkPadded(Double.self, m: 23, n: 17, k: 31, t: t, seed: 102)
        try checkPadded(Float.self, m: 1, n: 40, k: 3, t: t, seed: 103)
        try checkPadded(Double.self, m: 40, n: 1, k: 9, t: t, seed: 104)
    }

    @Test("k = 0 and alpha = 0 scale C by beta exactly; operands are not read")
    func degenerate() throws {
        let a: [Double] = [.nan, .nan, .nan, .nan, .nan, .nan]
        let b: [Double] = [.nan, .nan, .nan, .nan, .nan, .nan]
        var c: [Double] = [1, 2, 3, 4]
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try c.withUnsafeMutableBufferPointer { pc in
                    try BLAS.gemm(m: 2, n: 2, k: 3, alpha: 0, a: pa, lda: 3, b: pb, ldb: 2, beta: 0.5, c: pc, ldc: 2)
                }
            }
        }
        #expect(c == [0.5, 1, 1.5, 2])
        var cNaN: [Double] = [.nan, .nan, .nan, .nan]
        try [Double]().withUnsafeBufferPointer { pa in
            try [Double]().withUnsafeBufferPointer { pb in
                try cNaN.withUnsafeMutableBufferPointer { pc in
                    try BLAS.gemm(m: 2, n: 2, k: 0, a: pa, lda: 1, b: pb, ldb: 2, beta: 0, c: pc, ldc: 2)
                }
            }
        }
        #expect(cNaN == [0, 0, 0, 0])
    }

    @Test("argument checks: negative dimensions, short ldb/ldc, short buffers, transposed-A lda")
    func argumentChecks() {
        let buf = [Float](repeating: 1, count: 64)
        var out = [Float](repeating: 0, count: 64)
        func run(tA: Bool = false, tB: Bool = false, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
                 aCount: Int = 64, bCount: Int = 64, cCount: Int = 64) -> MatrixError? {
            do {
                try buf.withUnsafeBufferPointer { p in
                    try out.withUnsafeMutableBufferPointer { q in
                        try BLAS.gemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k,
                                      a: UnsafeBufferPointer(rebasing: p[0..<aCount]), lda: lda,
                                      b: UnsafeBufferPointer(rebasing: p[0..<bCount]), ldb: ldb,
                                      c: UnsafeMutableBufferPointer(rebasing: q[0..<cCount]), ldc: ldc)
                    }
                }
                return nil
            } catch let e as MatrixError { return e } catch { Issue.record("\(error)"); return nil }
        }
        func isInvalid(_ e: MatrixError?, _ needle: String) -> Bool {
            if case let .invalidArgument(_, detail)? = e { return detail.contains(needle) }
            return false
        }
        #expect(isInvalid(run(m: -1, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2), "m=-1"))
        #expect(isInvalid(run(m: 2, n: 3, k: 2, lda: 2, ldb: 2, ldc: 3), "ldb = 2"))
        #expect(isInvalid(run(m: 2, n: 3, k: 2, lda: 2, ldb: 3, ldc: 2), "ldc = 2"))
        // transposed A is stored k×m: lda must be ≥ m = 4 even though k = 2
        #expect(isInvalid(run(tA: true, m: 4, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2), "lda = 2"))
        #expect(run(tA: true, m: 4, n: 2, k: 2, lda: 4, ldb: 2, ldc: 2) == nil)
        // transposed B is stored n×k: ldb ≥ k
        #expect(isInvalid(run(tB: true, m: 2, n: 2, k: 5, lda: 5, ldb: 2, ldc: 2), "ldb = 2"))
        // buffer too short: A 3×4 with lda 5 needs 2·5 + 4 = 14 elements
        #expect(isInvalid(run(m: 3, n: 2, k: 4, lda: 5, ldb: 2, ldc: 2, aCount: 13), "14"))
        #expect(run(m: 3, n: 2, k: 4, lda: 5, ldb: 2, ldc: 2, aCount: 14) == nil)
        #expect(isInvalid(run(m: 3, n: 2, k: 4, lda: 4, ldb: 2, ldc: 2, cCount: 5), "6"))
        #expect(isInvalid(run(m: 3, n: 2, k: 4, lda: 4, ldb: 2, ldc: 2, bCount: 7), "8"))
    }

    @Test("gemv with padded lda, transpose, beta and argument checks (Double)")
    func gemvRaw() throws {
        // A = [[1, 2, 3], [4, 5, 6]] stored with lda 4 (padding NaN)
        let a: [Double] = [1, 2, 3, .nan, 4, 5, 6, .nan]
        var y: [Double] = [10, 20]
        try a.withUnsafeBufferPointer { pa in
            try [Double](arrayLiteral: 1, 0, -1).withUnsafeBufferPointer { px in
                try y.withUnsafeMutableBufferPointer { py in
                    try BLAS.gemv(m: 2, n: 3, alpha: 2, a: pa, lda: 4, x: px, beta: 0.5, y: py)
                }
            }
        }
        #expect(y == [1, 6])   // 2·[−2, −2] + 0.5·[10, 20]
        var yt = [Double](repeating: .nan, count: 3)
        try a.withUnsafeBufferPointer { pa in
            try [Double](arrayLiteral: 1, 1).withUnsafeBufferPointer { px in
                try yt.withUnsafeMutableBufferPointer { py in
                    try BLAS.gemv(transpose: true, m: 2, n: 3, a: pa, lda: 4, x: px, y: py)
                }
            }
        }
        #expect(yt == [5, 7, 9])
        func err(m: Int, n: Int, lda: Int, x: Int, y: Int) -> MatrixError? {
            let big = [Double](repeating: 1, count: 32)
            var out = [Double](repeating: 0, count: 32)
            do {
                try big.withUnsafeBufferPointer { p in
                    try out.withUnsafeMutableBufferPointer { q in
                        try BLAS.gemv(m: m, n: n, a: p, lda: lda, x: UnsafeBufferPointer(rebasing: p[0..<x]),
                                      y: UnsafeMutableBufferPointer(rebasing: q[0..<y]))
                    }
                }
                return nil
            } catch let e as MatrixError { return e } catch { Issue.record("\(error)"); return nil }
        }
        #expect(err(m: 2, n: 3, lda: 3, x: 3, y: 2) == nil)
        #expect(err(m: 2, n: 3, lda: 2, x: 3, y: 2) != nil)
        #expect(err(m: 2, n: 3, lda: 3, x: 2, y: 2) == .invalidArgument(operation: "dgemv", detail: "x has 2 elements, needs 3"))
        #expect(err(m: 2, n: 3, lda: 3, x: 3, y: 1) == .invalidArgument(operation: "dgemv", detail: "y has 1 elements, needs 2"))
        #expect(err(m: -1, n: 3, lda: 3, x: 3, y: 2) != nil)
    }
}

@Suite("BLAS argument checks never crash on huge leading dimensions (exit tests)")
struct BLASOverflowTests {
    @Test("control: a merely short buffer with a large lda throws in the child process (exit succeeds)")
    func controlLargeLda() async {
        await #expect(processExitsWith: .success) {
            let buf = [Float](repeating: 1, count: 8)
            var c = [Float](repeating: 0, count: 8)
            let thrown: Bool = buf.withUnsafeBufferPointer { p in
                c.withUnsafeMutableBufferPointer { q in
                    do { try BLAS.gemm(m: 3, n: 1, k: 1, a: p, lda: 1 << 40, b: p, ldb: 1, c: q, ldc: 1); return false }
                    catch { return true }
                }
            }
            precondition(thrown, "expected MatrixError.invalidArgument")
        }
    }

    @Test("gemm with lda = Int.max and 2 rows of A throws instead of trapping (span + columns overflows)")
    func ldaIntMaxTwoRows() async {
        // Regression (was a bug): BLAS.swift:69 — `span + columns` overflows ((2 − 1)·Int.max + 1) and traps.
        await #expect(processExitsWith: .success) {
            let buf = [Float](repeating: 1, count: 8)
            var c = [Float](repeating: 0, count: 8)
            let thrown: Bool = buf.withUnsafeBufferPointer { p in
                c.withUnsafeMutableBufferPointer { q in
                    do { try BLAS.gemm(m: 2, n: 1, k: 1, a: p, lda: Int.max, b: p, ldb: 1, c: q, ldc: 1); return false }
                    catch { return true }
                }
            }
            precondition(thrown, "expected MatrixError.invalidArgument")
        }
    }

    @Test("gemm with lda = Int.max and 3 rows of A throws instead of trapping (error message recomputes the overflowing span)")
    func ldaIntMaxThreeRows() async {
        // Regression (was a bug): BLAS.swift:70 — overflow is detected, but the message evaluates `(rows − 1) * ld + columns` and traps.
        await #expect(processExitsWith: .success) {
            let buf = [Float](repeating: 1, count: 8)
            var c = [Float](repeating: 0, count: 8)
            let thrown: Bool = buf.withUnsafeBufferPointer { p in
                c.withUnsafeMutableBufferPointer { q in
                    do { try BLAS.gemm(m: 3, n: 1, k: 1, a: p, lda: Int.max, b: p, ldb: 1, c: q, ldc: 1); return false }
                    catch { return true }
                }
            }
            precondition(thrown, "expected MatrixError.invalidArgument")
        }
    }
}
