// LAPACK.orthonormalize (CholeskyQR2 in Double on a fixed tile grid): the positive-diagonal Q
// against LAPACK's Householder QR with the sign fix (an independent implementation), the shifted
// fallback on an ill-conditioned matrix, argument checks, and worker-count invariance.
import Foundation
import Testing
import MatrixModule

@Suite("CholeskyQR")
struct CholeskyQRTests {
    /// Column-major m×n Gaussian-like matrix from SplitMix64 (sum of uniforms).
    static func matrix(m: Int, n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<(m * n)).map { _ in (0..<4).reduce(0.0) { acc, _ in acc + rng.uniform() } }
    }

    /// Householder Q (geqrf/orgqr) with columns multiplied by sign(diag R): the same unique Q.
    static func householder(_ a: [Double], m: Int, n: Int) throws -> [Double] {
        var q = a
        let d = try q.withUnsafeMutableBufferPointer { try LAPACK.thinQR($0, rows: m, columns: n) }
        for j in 0..<n where d[j] < 0 { for i in 0..<m { q[i + j * m] = -q[i + j * m] } }
        return q
    }

    static func orthogonality(_ q: [Double], m: Int, n: Int) -> Double {
        var dev = 0.0
        for i in 0..<n { for j in i..<n {
            var s = 0.0
            for k in 0..<m { s += q[k + i * m] * q[k + j * m] }
            dev = max(dev, abs(s - (i == j ? 1 : 0)))
        } }
        return dev
    }

    @Test("Double: same Q as Householder + sign fix, orthonormal to 1e-13, R = QᵀA upper with positive diagonal",
          arguments: [(300, 280), (513, 257), (40, 40), (9, 1)])
    func matchesHouseholder(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        let a = Self.matrix(m: m, n: n, seed: UInt64(m * 31 + n))
        var q = a
        let report = try q.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: m, columns: n, workers: 2) }
        let h = try Self.householder(a, m: m, n: n)
        let diff = zip(q, h).map { abs($0 - $1) }.max()!
        let dev = Self.orthogonality(q, m: m, n: n)
        // R = QᵀA: check lower part ≈ 0 and diagonal > 0.
        var lower = 0.0, minDiag = Double.infinity
        for i in 0..<n { for j in 0...i {
            var s = 0.0
            for k in 0..<m { s += q[k + i * m] * a[k + j * m] }
            if i == j { minDiag = min(minDiag, s) } else { lower = max(lower, abs(s)) }
        } }
        print("orthonormalize \(m)×\(n): passes \(report.passes), κ̂ \(report.conditionEstimate), |Q − Q_householder| \(diff), |QᵀQ − I| \(dev), min diag R \(minDiag), max |R lower| \(lower)")
        #expect(report.passes == 2 && !report.shifted)
        #expect(dev < 1e-13)
        #expect(diff < 1e-10)
        #expect(minDiag > 0)
        #expect(lower < 1e-9)
    }

    @Test("ill-conditioned (κ ≈ 1e11): the shifted CholeskyQR3 fallback gives orthonormal Q with the Householder columns")
    func shiftedFallback() throws {
        let m = 200, n = 60
        var a = Self.matrix(m: m, n: n, seed: 3)
        // Column 59 = column 58 + 1e-11·noise: Cholesky of AᵀA breaks down.
        var rng = SplitMix64(seed: 99)
        for i in 0..<m { a[i + 59 * m] = a[i + 58 * m] + 1e-11 * rng.uniform() }
        var q = a
        let report = try q.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: m, columns: n, workers: 3) }
        let h = try Self.householder(a, m: m, n: n)
        let dev = Self.orthogonality(q, m: m, n: n)
        // The first 59 columns are well determined; the last is determined to about u·κ.
        var diff = 0.0
        for j in 0..<59 { for i in 0..<m { diff = max(diff, abs(q[i + j * m] - h[i + j * m])) } }
        print("orthonormalize ill-conditioned: passes \(report.passes), shifted \(report.shifted), |QᵀQ − I| \(dev), first 59 columns vs Householder \(diff)")
        #expect(report.shifted && report.passes == 3)
        #expect(dev < 1e-12)
        #expect(diff < 1e-8)
    }

    @Test("Float and Double bytes identical for workers 1, 2, 5 and OpenBLAS threads 1, 3")
    func workerInvariance() throws {
        let m = 530, n = 300
        let a = Self.matrix(m: m, n: n, seed: 12)
        let saved = BLASBackend.threads
        defer { BLASBackend.threads = saved }
        var refD: [Double]? = nil, refF: [Float]? = nil
        for blas in [1, 3] {
            BLASBackend.threads = blas
            for workers in [1, 2, 5] {
                var d = a, f = a.map { Float($0) }
                _ = try d.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: m, columns: n, workers: workers) }
                _ = try f.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: m, columns: n, scale: 0.5, workers: workers) }
                if let refD, let refF {
                    #expect(d.map(\.bitPattern) == refD.map(\.bitPattern), "Double, BLAS \(blas), workers \(workers)")
                    #expect(f.map(\.bitPattern) == refF.map(\.bitPattern), "Float, BLAS \(blas), workers \(workers)")
                } else { refD = d; refF = f }
            }
        }
    }

    @Test("argument checks: wide, short buffer; empty is a no-op")
    func arguments() throws {
        var x = [Double](repeating: 1, count: 6)
        #expect(throws: MatrixError.self) { try x.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: 2, columns: 3) } }
        #expect(throws: MatrixError.self) { try x.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: 4, columns: 2) } }
        let r = try x.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: 6, columns: 0) }
        #expect(r.passes == 0 && x.allSatisfy { $0 == 1 })
        var z = [Double](repeating: 0, count: 6)
        #expect(throws: MatrixError.self) { try z.withUnsafeMutableBufferPointer { try LAPACK.orthonormalize($0, rows: 3, columns: 2) } }
    }
}
