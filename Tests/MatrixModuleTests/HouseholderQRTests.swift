// HouseholderQR.thinQ (the thread-invariant blocked Householder QR behind orthogonal init) against
// an independent implementation, LAPACK geqrf + orgqr: the same Q up to rounding once both are
// multiplied by sign(diag R), the same |diag R|; shapes around the 32-column leaves and 128-column
// blocks; plus naive Double checks of orthogonality and of Q·R = A with R = QᵀA.
import Foundation
import Testing
@testable import MatrixModule

@Suite("HouseholderQR (thread-invariant blocked QR)", .sharedBLAS)
struct HouseholderQRTests {
    /// Column-major m×n seeded uniform matrix.
    static func input<S: BLASScalar>(_: S.Type, m: Int, n: Int, seed: UInt64) -> [S] {
        randomArray(S.self, count: m * n, seed: seed)
    }

    @Test("Double: Q·diag(sign R) and |diag R| equal LAPACK's within 1e-11 (tall, square, leaf and block edges)",
          arguments: [(5, 5), (40, 33), (130, 129), (300, 260), (257, 128), (700, 31)])
    func againstLAPACK(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        let a = Self.input(Double.self, m: m, n: n, seed: UInt64(m * 1000 + n))
        var ours = a, lapack = a
        let d1 = try ours.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: m, columns: n) }
        let d2 = try lapack.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: m, columns: n) }
        var qDiff = 0.0, rDiff = 0.0
        for j in 0..<n {
            let s1: Double = d1[j] < 0 ? -1 : 1, s2: Double = d2[j] < 0 ? -1 : 1
            for i in 0..<m { qDiff = max(qDiff, abs(s1 * ours[i + j * m] - s2 * lapack[i + j * m])) }
            rDiff = max(rDiff, abs(abs(d1[j]) - abs(d2[j])) / max(1, abs(d2[j])))
        }
        print("HouseholderQR Double \(m)×\(n): max |Q − Q_LAPACK| (signs fixed) = \(qDiff), max rel |diag R| difference = \(rDiff)")
        #expect(qDiff < 1e-11)
        #expect(rDiff < 1e-11)
    }

    @Test("Float 300×260: Q orthonormal (naive Double QᵀQ) and QᵀA upper triangular with diagonal diag R, in Double")
    func floatOracle() throws {
        let (m, n) = (300, 260)
        let a = Self.input(Float.self, m: m, n: n, seed: 42)
        var q = a
        let d = try q.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: m, columns: n) }
        let qd = q.map(Double.init), ad = a.map(Double.init)
        var orth = 0.0, below = 0.0, diag = 0.0, normA = 0.0
        for x in ad { normA += x * x }
        normA = normA.squareRoot()
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0, r = 0.0
                for k in 0..<m { s += qd[k + i * m] * qd[k + j * m]; r += qd[k + i * m] * ad[k + j * m] }
                orth = max(orth, abs(s - (i == j ? 1 : 0)))
                if i > j { below = max(below, abs(r)) }
                if i == j { diag = max(diag, abs(r - Double(d[j]))) }
            }
        }
        print("HouseholderQR Float \(m)×\(n): max |QᵀQ − I| = \(orth), max |(QᵀA)_ij| below the diagonal = \(below), max |(QᵀA)_jj − R_jj| = \(diag), ‖A‖_F = \(normA)")
        #expect(orth < 1e-5)
        #expect(below < 1e-5 * normA)
        #expect(diag < 1e-5 * normA)
    }

    @Test("the AVX2+FMA and the portable kernels give identical Q bytes (Float 300×260 and 520×520 — fused block reflectors, row-split products —, Double 260×140)", .flipsKernelPath)
    func kernelPaths() throws {
        let af = Self.input(Float.self, m: 300, n: 260, seed: 7), ad = Self.input(Double.self, m: 260, n: 140, seed: 8)
        let ag = Self.input(Float.self, m: 520, n: 520, seed: 9)
        var f1 = af, d1 = ad, g1 = ag
        _ = try f1.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 300, columns: 260) }
        _ = try g1.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 520, columns: 520) }
        _ = try d1.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 260, columns: 140) }
        let avx2 = InvariantGEMM.usesAVX2
        InvariantGEMM.forcePortable(true)
        defer { InvariantGEMM.forcePortable(false) }
        var f2 = af, d2 = ad, g2 = ag
        _ = try f2.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 300, columns: 260) }
        _ = try g2.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 520, columns: 520) }
        _ = try d2.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 260, columns: 140) }
        print("HouseholderQR: first run on the \(avx2 ? "AVX2+FMA" : "portable") kernel, second on the portable kernel")
        #expect(f1.map(\.bitPattern) == f2.map(\.bitPattern))
        #expect(g1.map(\.bitPattern) == g2.map(\.bitPattern))
        #expect(d1.map(\.bitPattern) == d2.map(\.bitPattern))
    }

    @Test("errors: rows < columns and a short buffer are invalidArgument; n = 0 returns []")
    func errors() throws {
        var b = [Float](repeating: 1, count: 12)
        #expect(throws: MatrixError.self) { try b.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 3, columns: 4) } }
        #expect(throws: MatrixError.self) { try b.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 5, columns: 3) } }
        let empty = try b.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 4, columns: 0) }
        #expect(empty.isEmpty)
    }

    @Test("a zero column below the diagonal: τ = 0, R_jj = the entry itself, Q still orthonormal (Double 6×3)")
    func zeroColumn() throws {
        // Column 0 is already e₀·(−2): no reflection, R₀₀ = −2, Q's first column e₀.
        var a: [Double] = [-2, 0, 0, 0, 0, 0,   1, 2, 3, 4, 5, 6,   0.5, -1, 2, 0, 1, 3]
        let d = try a.withUnsafeMutableBufferPointer { try HouseholderQR.thinQ($0, rows: 6, columns: 3) }
        #expect(d[0] == -2)
        #expect(a[0] == 1 && a[1...5].allSatisfy { $0 == 0 })
        var orth = 0.0
        for i in 0..<3 { for j in 0..<3 {
            var s = 0.0
            for k in 0..<6 { s += a[k + i * 6] * a[k + j * 6] }
            orth = max(orth, abs(s - (i == j ? 1 : 0)))
        } }
        #expect(orth < 1e-14)
    }
}
