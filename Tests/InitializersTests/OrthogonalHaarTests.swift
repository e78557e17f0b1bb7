// Orthogonal init is "Q of the QR of the key's Gaussian matrix with a positive R diagonal"
// (Haar, Mezzadri 2007), checked independently of the factorization: with G the same N(0,1) draws,
// W/gain must be orthonormal and R = (W/gain)ᵀ·G (naive loops in Double) upper triangular with a
// positive diagonal — which characterizes that Q uniquely. Also: identical bytes for fill-thread
// counts 1/2/3 in-process (the OpenBLAS thread count is never changed in-process; the 1/2/4/8
// OpenBLAS-thread check runs child processes in weightinitTests), and the sign statistics.
import Foundation
import Testing
import Initializers
import MatrixModule

@Suite("Orthogonal: Haar QR characterization, fill threads, signs")
struct OrthogonalHaarTests {
    /// max |QᵀQ − I| over Q's `k` orthonormal vectors, the largest |R_ij| below the diagonal relative
    /// to ‖g_j‖, and the smallest R_jj / ‖g_j‖, all in Double (naive loops). `q` holds W's
    /// orthonormal vectors divided by gain and `g` the Gaussian's vectors, each `k × length` flat.
    static func characterize(q: [Double], g: [Double], k: Int, length: Int) -> (orth: Double, below: Double, minDiag: Double) {
        var orth = 0.0, below = 0.0, minDiag = Double.infinity
        q.withUnsafeBufferPointer { q in g.withUnsafeBufferPointer { g in
            for i in 0..<k {
                for j in 0..<k {
                    var s = 0.0
                    for t in 0..<length { s += q[i * length + t] * q[j * length + t] }
                    orth = max(orth, abs(s - (i == j ? 1 : 0)))
                }
            }
            for j in 0..<k {
                var nj = 0.0
                for t in 0..<length { nj += g[j * length + t] * g[j * length + t] }
                nj = nj.squareRoot()
                for i in j..<k {
                    var r = 0.0
                    for t in 0..<length { r += q[i * length + t] * g[j * length + t] }
                    if i == j { minDiag = min(minDiag, r / nj) } else { below = max(below, abs(r) / nj) }
                }
            }
        } }
        return (orth, below, minDiag)
    }

    static func check<S: InitializerScalar>(_: S.Type, shape: [Int], gain: Double, seed: UInt64) throws -> (orth: Double, below: Double, minDiag: Double) {
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
        let key = RandomKey(seed: seed)
        let w: [S] = try filled(.orthogonal(gain: gain), shape: shape, key: key)
        var z = [S](repeating: 0, count: rows * cols)
        try z.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0, std: 1, key: key) }
        var q = [Double](repeating: 0, count: rows * cols), g = q
        if rows <= cols {
            // Wide/square: the draws are G row-major (rows × cols); W's rows are the orthonormalized rows of G.
            for i in 0..<(rows * cols) { q[i] = Double(w[i]) / gain; g[i] = Double(z[i]) }
            return characterize(q: q, g: g, k: rows, length: cols)
        }
        // Tall: the draws are G column-major (column j = draws j·rows ..< (j+1)·rows); W's columns are Q's.
        for j in 0..<cols {
            for i in 0..<rows { q[j * rows + i] = Double(w[i * cols + j]) / gain; g[j * rows + i] = Double(z[j * rows + i]) }
        }
        return characterize(q: q, g: g, k: cols, length: rows)
    }

    @Test("W/gain is orthonormal and (W/gain)ᵀ·G is upper triangular with a positive diagonal (Float and Double)",
          arguments: [[200, 200], [90, 300], [300, 90], [32, 20, 3, 3]])
    func haarQR(_ shape: [Int]) throws {
        let f = try Self.check(Float.self, shape: shape, gain: 1.7, seed: 31)
        let d = try Self.check(Double.self, shape: shape, gain: -0.8, seed: 31)
        print("orthogonal \(shape): Float max|QᵀQ − I| \(f.orth), max |R below|/‖g‖ \(f.below), min R_jj/‖g‖ \(f.minDiag); Double \(d.orth), \(d.below), \(d.minDiag)")
        #expect(f.orth < 1e-5)
        #expect(f.below < 1e-5)
        #expect(d.orth < 1e-12)
        #expect(d.below < 1e-12)
        // Positive diagonal: R_jj/‖g_j‖ is the sine of the angle between g_j and the span of the
        // earlier vectors; far above the rounding level for these seeded Gaussians.
        #expect(f.minDiag > 1e-4)
        #expect(d.minDiag > 1e-4)
    }

    @Test("identical bytes for fill threads 1, 2 and 3 (Float 300×520, Double 520×300)")
    func fillThreads() throws {
        let f1: [Float] = try filled(.orthogonal(gain: 1.3), shape: [300, 520], key: RandomKey(seed: 77), threads: 1)
        let d1: [Double] = try filled(.orthogonal(gain: 1.3), shape: [520, 300], key: RandomKey(seed: 77), threads: 1)
        for t in [2, 3] {
            expectSameBytes(f1, try filled(.orthogonal(gain: 1.3), shape: [300, 520], key: RandomKey(seed: 77), threads: t), "Float, \(t) fill threads")
            expectSameBytes(d1, try filled(.orthogonal(gain: 1.3), shape: [520, 300], key: RandomKey(seed: 77), threads: t), "Double, \(t) fill threads")
        }
    }

    @Test("Haar signs: W[0,0] and W[last,last] negative about half the time over 1000 seeds (Float 6×6, 4×9, 9×4)")
    func signs() throws {
        let seeds = 1000
        // Binomial(1000, 1/2): sd = √(1000/4) ≈ 15.8; a 5σ band keeps a false alarm below 1e-6 per count.
        // Without the sign fix W[0,0] = g₀₀/R₀₀ with LAPACK's R₀₀ = −sign(g₀₀)·‖g₀‖ is always negative.
        let sd = (Double(seeds) / 4).squareRoot()
        for shape in [[6, 6], [4, 9], [9, 4]] {
            var first = 0, last = 0
            for seed in 0..<seeds {
                let w: [Float] = try filled(.orthogonal(), shape: shape, key: RandomKey(seed: UInt64(5000 + seed)))
                if w[0] < 0 { first += 1 }
                if w[(shape[0] - 1) * shape[1] + (shape[1] - 1)] < 0 { last += 1 }
            }
            print("orthogonal Float \(shape): W[0,0] < 0 in \(first)/\(seeds), W[last,last] < 0 in \(last)/\(seeds) (expected \(seeds / 2) ± \(5 * sd))")
            #expect(abs(Double(first) - Double(seeds) / 2) <= 5 * sd)
            #expect(abs(Double(last) - Double(seeds) / 2) <= 5 * sd)
        }
    }
}
