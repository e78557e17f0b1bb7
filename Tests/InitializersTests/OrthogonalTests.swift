// Orthogonal initialization: Gram matrices for tall, wide, square and conv shapes (C11), gain,
// the Haar sign fix, a Gram–Schmidt oracle, empty shapes and the 100×900 speed.
import Foundation
import Testing
import Initializers
import MatrixModule

@Suite("Orthogonal")
struct OrthogonalTests {
    static func deviation<S: InitializerScalar>(_: S.Type, shape: [Int], gain: Double = 1, seed: UInt64 = 0) throws -> Double {
        let w = toDoubles(try filled(.orthogonal(gain: gain), S.self, shape: shape, key: RandomKey(seed: seed)))
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
        let byRows = rows <= cols
        let g = gram(w, rows: rows, columns: cols, ofRows: byRows)
        return maxDeviationFromScaledIdentity(g, n: min(rows, cols), scale: gain * gain)
    }

    @Test("max|QᵀQ − I| (or |QQᵀ − I| when wide) < 1e-5 in Float, < 1e-12 in Double",
          arguments: [[128, 64], [64, 128], [3, 5], [5, 3], [50, 50], [1, 7], [7, 1], [4, 2, 3]])
    func gramMatrices(_ shape: [Int]) throws {
        let f = try Self.deviation(Float.self, shape: shape)
        let d = try Self.deviation(Double.self, shape: shape)
        print("orthogonal \(shape): Float \(f), Double \(d)")
        #expect(f < 1e-5, "Float \(shape): \(f)")
        #expect(d < 1e-12, "Double \(shape): \(d)")
    }

    @Test("C11: conv (100, 100, 3, 3) flattens to 100×900 with orthonormal rows, factored as 100×900")
    func conv() throws {
        let clock = ContinuousClock()
        var w = [Float](repeating: 0, count: 100 * 900)
        let t = try clock.measure { try Initializer.orthogonal().fill(&w, shape: [100, 100, 3, 3], key: RandomKey(seed: 0), threads: 1) }
        let dev = maxDeviationFromScaledIdentity(gram(toDoubles(w), rows: 100, columns: 900, ofRows: true), n: 100, scale: 1)
        print("C11 conv orthogonal: max |WWᵀ − I| = \(dev), \(t)")
        #expect(dev < 1e-4)
        // The kernel is factored as the 100×900 problem it is, never as 900×900: its bytes equal those of
        // a plain (100, 900) matrix filled with the same key (same Gaussian, same factorization). The time
        // is printed, not asserted (timings belong to `weightinit bench`, not to unit tests).
        var flat = [Float](repeating: 0, count: 100 * 900)
        try Initializer.orthogonal().fill(&flat, shape: [100, 900], key: RandomKey(seed: 0), threads: 1)
        #expect(flat == w)
    }

    @Test("gain 2 gives WWᵀ = 4·I (3×5) and WᵀW = 4·I (5×3)")
    func gain() throws {
        #expect(try Self.deviation(Float.self, shape: [3, 5], gain: 2) < 4e-5)
        #expect(try Self.deviation(Float.self, shape: [5, 3], gain: 2) < 4e-5)
        #expect(try Self.deviation(Double.self, shape: [30, 20], gain: -1.5) < 1e-12)
    }

    @Test("wide/square: rows are the Gram–Schmidt orthonormalization of the key's N(0,1) rows")
    func gramSchmidtOracle() throws {
        for (rows, cols) in [(8, 20), (12, 12)] {
            let key = RandomKey(seed: 1234)
            var g = [Double](repeating: 0, count: rows * cols)
            try g.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0, std: 1, key: key) }
            // Modified Gram–Schmidt (positive diagonal of R: the Haar-measure convention).
            var q = g
            for i in 0..<rows {
                for j in 0..<i {
                    var dot = 0.0
                    for k in 0..<cols { dot += q[i * cols + k] * q[j * cols + k] }
                    for k in 0..<cols { q[i * cols + k] -= dot * q[j * cols + k] }
                }
                var norm = 0.0
                for k in 0..<cols { norm += q[i * cols + k] * q[i * cols + k] }
                norm = norm.squareRoot()
                for k in 0..<cols { q[i * cols + k] /= norm }
            }
            let w: [Double] = try filled(.orthogonal(gain: 1.5), shape: [rows, cols], key: key)
            let err = zip(w, q).map { abs($0 - 1.5 * $1) }.max()!
            #expect(err < 1e-12, "\(rows)×\(cols): max error \(err)")
        }
    }

    @Test("sign fix: the first element of a 4×4 (and 6×4) orthogonal is positive about half the time over 200 seeds")
    func signProperty() throws {
        for shape in [[4, 4], [6, 4]] {
            var positive = 0, sumSquares = 0.0
            let n = 200
            for seed in 0..<n {
                let w: [Double] = try filled(.orthogonal(), shape: shape, key: RandomKey(seed: UInt64(seed)))
                if w[0] > 0 { positive += 1 }
                sumSquares += w[0] * w[0]
            }
            // Binomial(200, 1/2): sd √50 ≈ 7.07; 6σ band. Haar: w00² ~ Beta(1/2, (n−1)/2), mean 1/n.
            let m = Double(max(shape[0], shape[1]))
            let meanSq = sumSquares / Double(n)
            let sdBeta = ((0.5 * (m - 1) / 2) / (m / 2 * m / 2 * (m / 2 + 1))).squareRoot() / Double(n).squareRoot()
            print("orthogonal \(shape): first element positive \(positive)/\(n), mean square \(meanSq)")
            #expect(abs(Double(positive) - 100) <= 6 * 50.0.squareRoot(), "\(shape): \(positive) of \(n)")
            #expect(abs(meanSq - 1 / m) <= 6 * sdBeta, "\(shape): mean square \(meanSq)")
        }
    }

    @Test("C13: empty (0,5) and (5,0) are no-ops; Matrix entry point")
    func empty() throws {
        for shape in [[0, 5], [5, 0], [0, 0]] {
            let w: [Float] = try filled(.orthogonal(), shape: shape, key: RandomKey(seed: 0))
            #expect(w.isEmpty)
        }
        var m = Matrix<Double>(rows: 5, columns: 0)
        try Initializer.orthogonal().fill(&m, key: RandomKey(seed: 1))
        #expect(m.rows == 5 && m.columns == 0)
        var q = Matrix<Double>(rows: 6, columns: 6)
        try Initializer.orthogonal().fill(&q, key: RandomKey(seed: 1))
        #expect(maxDeviationFromScaledIdentity(gram(q.elements, rows: 6, columns: 6, ofRows: false), n: 6, scale: 1) < 1e-12)
    }
}
