// Orthogonal initialization through CholeskyQR (issue 14): identical bytes for OpenBLAS thread
// counts 1/2/4/8 and fill-thread counts 1/2/3 (set through the package's API), Float agreement
// with an independent modified Gram–Schmidt oracle in Double, and the Haar sign statistics.
import Foundation
import Testing
import Initializers
import MatrixModule

@Suite("Orthogonal thread invariance and oracle", .serialized)
struct OrthogonalInvarianceTests {
    /// Modified Gram–Schmidt in Double on `vectors` (each row a vector of length `length`):
    /// orthonormal rows spanning the same flag, positive diagonal of R by construction.
    static func mgs(_ v: [Double], count: Int, length: Int) -> [Double] {
        var q = v
        for i in 0..<count {
            for j in 0..<i {
                var dot = 0.0
                for k in 0..<length { dot += q[i * length + k] * q[j * length + k] }
                for k in 0..<length { q[i * length + k] -= dot * q[j * length + k] }
            }
            var norm = 0.0
            for k in 0..<length { norm += q[i * length + k] * q[i * length + k] }
            norm = norm.squareRoot()
            for k in 0..<length { q[i * length + k] /= norm }
        }
        return q
    }

    static func bitPatterns<S: InitializerScalar>(_ x: [S]) -> [UInt64] {
        x.map { v in
            if let f = v as? Float { return UInt64(f.bitPattern) }
            return (v as! Double).bitPattern
        }
    }

    /// Shapes above the 256 tile size, so the Gram, Cholesky and solve all run several tiles.
    @Test("bytes identical for OpenBLAS threads 1/2/4/8 × fill threads 1/3 (Float and Double, wide, tall, square)",
          arguments: [[300, 520], [520, 300], [40, 30, 3, 3]])
    func threadInvariance(_ shape: [Int]) throws {
        let saved = BLASBackend.threads
        defer { BLASBackend.threads = saved }
        for type in ["Float", "Double"] {
            var reference: [UInt64]? = nil
            var runs = 0
            for blas in [1, 2, 4, 8] {
                BLASBackend.threads = blas
                for fill in [1, 3] {
                    let key = RandomKey(seed: 77)
                    let bits = type == "Float"
                        ? Self.bitPatterns(try filled(.orthogonal(gain: 1.3), Float.self, shape: shape, key: key, threads: fill))
                        : Self.bitPatterns(try filled(.orthogonal(gain: 1.3), Double.self, shape: shape, key: key, threads: fill))
                    if let reference { #expect(bits == reference, "\(type) \(shape): BLAS threads \(blas), fill threads \(fill) differ") }
                    else { reference = bits }
                    runs += 1
                }
            }
            print("orthogonal \(type) \(shape): \(runs) runs (BLAS threads 1/2/4/8 × fill threads 1/3) bitwise identical")
        }
    }

    @Test("Float result equals an independent Double modified Gram–Schmidt of the same N(0,1) matrix within 1e-5",
          arguments: [(300, 300), (400, 120), (257, 700)])
    func oracle(_ shape: (Int, Int)) throws {
        let (rows, cols) = shape
        let key = RandomKey(seed: 9)
        // The Float path draws N(0,1) in Float: use those exact values (widened) as the oracle's input.
        var gf = [Float](repeating: 0, count: rows * cols)
        try gf.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0, std: 1, key: key) }
        let input = gf.map(Double.init)
        let w: [Float] = try filled(.orthogonal(gain: 2), shape: [rows, cols], key: key)
        var expected = [Double](repeating: 0, count: rows * cols)
        if rows <= cols {
            // Wide/square: the rows of the Gaussian are orthonormalized in order.
            let q = Self.mgs(input, count: rows, length: cols)
            for i in 0..<(rows * cols) { expected[i] = 2 * q[i] }
        } else {
            // Tall: the Gaussian is drawn column-major (column j = draws j·rows ..< (j+1)·rows) and
            // its columns are orthonormalized in order.
            let q = Self.mgs(input, count: cols, length: rows)
            for i in 0..<rows { for j in 0..<cols { expected[i * cols + j] = 2 * q[j * rows + i] } }
        }
        let err = zip(w, expected).map { abs(Double($0) - $1) }.max() ?? 0
        let byRows = rows <= cols
        let dev = maxDeviationFromScaledIdentity(gram(toDoubles(w), rows: rows, columns: cols, ofRows: byRows), n: min(rows, cols), scale: 4)
        print("orthogonal Float \(rows)×\(cols): max |W − 2·Q_MGS| = \(err), max |Gram − 4I| = \(dev)")
        #expect(err < 1e-5)
        #expect(dev < 4e-5)
    }

    @Test("Haar signs: W[0,0] < 0 about half the time over 400 seeds (Float 5×5, 3×7, 7×3)")
    func signStatistics() throws {
        let seeds = 400
        for shape in [[5, 5], [3, 7], [7, 3]] {
            var negative = 0
            for seed in 0..<seeds {
                let w: [Float] = try filled(.orthogonal(), shape: shape, key: RandomKey(seed: UInt64(1000 + seed)))
                if w[0] < 0 { negative += 1 }
            }
            // Binomial(400, 1/2): sd = √(400/4) = 10; a 5σ band keeps false alarms below 1e-6.
            let sd = (Double(seeds) / 4).squareRoot()
            print("orthogonal Float \(shape): first element negative \(negative)/\(seeds) (expected \(seeds / 2) ± \(5 * sd))")
            #expect(abs(Double(negative) - Double(seeds) / 2) <= 5 * sd)
        }
    }

    @Test("large square (heavy, WEIGHTINIT_HEAVY=1): 2048² Float orthonormal within 1e-5 and identical for BLAS threads 1 and 2")
    func heavy() throws {
        guard ProcessInfo.processInfo.environment["WEIGHTINIT_HEAVY"] == "1" else {
            print("orthogonal heavy check skipped (set WEIGHTINIT_HEAVY=1)")
            return
        }
        let saved = BLASBackend.threads
        defer { BLASBackend.threads = saved }
        let n = 2048
        var outputs: [[Float]] = []
        for blas in [1, 2] {
            BLASBackend.threads = blas
            outputs.append(try filled(.orthogonal(), Float.self, shape: [n, n], key: RandomKey(seed: 5)))
        }
        #expect(outputs[0] == outputs[1])
        let m = try Matrix<Float>(rows: n, columns: n, elements: outputs[0])
        let p = try m.multiplied(by: m, transposeSelf: true)
        var dev = 0.0
        for i in 0..<n { for j in 0..<n { dev = max(dev, abs(Double(p[i, j]) - (i == j ? 1 : 0))) } }
        print("orthogonal Float 2048²: max |QᵀQ − I| = \(dev)")
        #expect(dev < 1e-5)
    }
}
