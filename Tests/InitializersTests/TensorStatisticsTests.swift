// TensorStatistics against hand values and naive loops, the FNV-1a checksum against its
// published test vectors, and expectedStatistics against closed forms and the fills.
import Foundation
import Testing
import Initializers

@Suite("TensorStatistics")
struct TensorStatisticsTests {
    static func stats<S: BinaryFloatingPoint>(_ a: [S]) -> TensorStatistics { a.withUnsafeBufferPointer { TensorStatistics($0) } }

    @Test("hand values, non-finite elements, empty buffers")
    func handValues() {
        let s = Self.stats([1.0, 2, 3, 4] as [Double])
        #expect(s.count == 4 && s.mean == 2.5 && s.std == 1.25.squareRoot() && s.min == 1 && s.max == 4 && s.nonFinite == 0)
        let t = Self.stats([1, .nan, 3, .infinity] as [Float])
        #expect(t.count == 4 && t.nonFinite == 2 && t.mean == 2 && t.std == 1 && t.min == 1 && t.max == 3)
        let e = Self.stats([] as [Float])
        #expect(e.count == 0 && e.mean == 0 && e.std == 0 && e.min == 0 && e.max == 0 && e.nonFinite == 0)
        let bad = Self.stats([.nan, -.infinity] as [Double])
        #expect(bad.count == 2 && bad.nonFinite == 2 && bad.mean.isNaN)
        let c = Self.stats([Float](repeating: 0.5, count: 1000))
        #expect(c.mean == 0.5 && c.std == 0 && c.min == 0.5 && c.max == 0.5)
    }

    @Test("large buffers (several parallel chunks) match a naive Double loop")
    func naive() {
        var g = SplitMix64(seed: 17)
        let a: [Float] = (0..<300_007).map { _ in Float(g.uniform(-3, 5)) }
        let s = Self.stats(a)
        let d = toDoubles(a)
        let mean = d.reduce(0, +) / Double(d.count)
        var ss = 0.0
        for x in d { ss += (x - mean) * (x - mean) }
        let std = (ss / Double(d.count)).squareRoot()
        #expect(s.count == a.count && s.nonFinite == 0)
        #expect(abs(s.mean - mean) <= 1e-12 * abs(mean) + 1e-14, "\(s.mean) vs \(mean)")
        #expect(abs(s.std / std - 1) <= 1e-12, "\(s.std) vs \(std)")
        #expect(s.min == d.min()! && s.max == d.max()!)
        // Deterministic (fixed split): the same result twice.
        #expect(Self.stats(a) == s)
        // Codable.
        #expect(try! JSONDecoder().decode(TensorStatistics.self, from: JSONEncoder().encode(s)) == s)
    }

    @Test("values near the Double limit: mean and std stay finite (hand values)")
    func hugeValues() {
        let s = Self.stats([-1e308, -1e308, 0, 0] as [Double])
        #expect(s.mean == -5e307 && abs(s.std / 5e307 - 1) < 1e-15 && s.nonFinite == 0, "\(s)")
        let t = Self.stats([1.5e308, -1.5e308] as [Double])
        #expect(t.mean == 0 && abs(t.std / 1.5e308 - 1) < 1e-15, "\(t)")
        var g = SplitMix64(seed: 3)
        let big: [Double] = (0..<200_001).map { _ in -1e308 * g.uniform(0, 1) }
        let b = Self.stats(big)
        #expect(b.mean.isFinite && abs(b.mean / -5e307 - 1) < 0.01 && abs(b.std / (1e308 / 12.0.squareRoot()) - 1) < 0.01, "\(b)")
    }

    @Test("checksum is FNV-1a 64 of the bytes (published test vectors), 16 hex digits")
    func checksum() {
        func fnv(_ bytes: [UInt8]) -> String { bytes.withUnsafeBufferPointer { TensorStatistics.checksum($0) } }
        #expect(fnv([]) == "cbf29ce484222325")
        #expect(fnv(Array("a".utf8)) == "af63dc4c8601ec8c")
        #expect(fnv(Array("foobar".utf8)) == "85944171f73967e8")
        let x: [Float] = [1, 2, 3], y: [Float] = [1, 2, 3.0000002]
        let cx = x.withUnsafeBufferPointer { TensorStatistics.checksum($0) }
        let cy = y.withUnsafeBufferPointer { TensorStatistics.checksum($0) }
        #expect(cx != cy && cx.count == 16 && cy.count == 16)
        // Same bytes as the UInt8 view.
        let raw = x.withUnsafeBytes { Array($0) }
        #expect(fnv(raw) == cx)
    }

    @Test("expectedStatistics: closed forms for the random schemes")
    func expectedRandom() throws {
        let e1 = try Initializer.uniform(low: -1, high: 3).expectedStatistics(shape: [4, 4])
        #expect(e1.mean == 1 && abs(e1.std - 4 / 12.0.squareRoot()) < 1e-15 && e1.bound == 3)
        let e2 = try Initializer.normal(mean: 0.5, std: 2).expectedStatistics(shape: [4, 4])
        #expect(e2.mean == 0.5 && e2.std == 2 && e2.bound == nil)
        let e3 = try Initializer.truncatedNormal(mean: 0, std: 1, a: 0, b: 1).expectedStatistics(shape: [4, 4])
        #expect(abs(e3.mean - 0.45986222928642650) < 1e-12 && abs(e3.std - 0.28222654880168753) < 1e-12 && e3.bound == 1)
        let e4 = try Initializer.constant(-0.25).expectedStatistics(shape: [2, 3])
        #expect(e4.mean == -0.25 && e4.std == 0 && e4.bound == 0.25)
        let e5 = try Initializer.heNormal().expectedStatistics(shape: [256, 784])
        #expect(e5.mean == 0 && abs(e5.std - (2.0 / 784).squareRoot()) < 1e-15 && e5.bound == nil)
        let e6 = try Initializer.lecunNormal().expectedStatistics(shape: [10, 100])
        #expect(abs(e6.std - 0.1) < 1e-12 && abs(e6.bound! - 0.2 / 0.87962566103423975) < 1e-12)
        #expect(throws: InitializationError.self) { _ = try Initializer.heNormal().expectedStatistics(shape: [10]) }
        #expect(throws: InitializationError.self) { _ = try Initializer.normal(std: -1).expectedStatistics(shape: [10]) }
    }

    @Test("expectedStatistics of orthogonal and delta-orthogonal: the RMS of the fill is exact")
    func expectedOrthogonal() throws {
        for (ini, shape) in [(Initializer.orthogonal(gain: 2), [30, 70]), (.orthogonal(), [70, 30]), (.orthogonal(gain: 0.5), [8, 4, 3, 3]),
                             (.deltaOrthogonal(gain: 1.5), [8, 4, 3, 3])] {
            let w: [Double] = try filled(ini, shape: shape, key: RandomKey(seed: 2))
            let rms = (w.map { $0 * $0 }.reduce(0, +) / Double(w.count)).squareRoot()
            let e = try ini.expectedStatistics(shape: shape)
            // e.std is the RMS about 0 (mean 0 by symmetry): compare with the exact RMS.
            #expect(abs(e.std / rms - 1) < 1e-12, "\(ini) \(shape): \(e.std) vs RMS \(rms)")
            #expect(e.mean == 0 && w.map(abs).max()! <= e.bound! + 1e-12)
        }
    }
}

/// D2: `orthogonalityError` against a naive Double oracle (plain loops in the documented order)
/// and identical for 1, 2 and 3 threads (it once went through a Float Gram on thread-dependent BLAS).
@Suite("TensorStatistics.orthogonalityError")
struct OrthogonalityErrorTests {
    /// max |G − I|, G = W·Wᵀ/scale² (rows ≤ columns) or Wᵀ·W/scale², each entry Σ_k in ascending k in Double.
    static func naive(_ w: [Float], rows: Int, columns: Int, scale: Double) -> Double {
        let wide = rows <= columns, n = wide ? rows : columns, m = wide ? columns : rows
        func at(_ v: Int, _ k: Int) -> Double { Double(wide ? w[v * columns + k] : w[k * columns + v]) }
        var worst = 0.0
        for i in 0..<n {
            for j in i..<n {
                var s = 0.0
                for k in 0..<m { s += at(i, k) * at(j, k) }
                worst = max(worst, abs(s / (scale * scale) - (i == j ? 1 : 0)))
            }
        }
        return worst
    }

    @Test("equals the naive Double oracle bit for bit and is identical for 1/2/3 threads (wide, tall, square, ragged)",
          arguments: [(9, 9), (7, 13), (13, 7), (1, 5), (5, 1), (33, 70), (70, 33)])
    func oracle(_ rows: Int, _ columns: Int) throws {
        for (scheme, scale) in [(Initializer.orthogonal(gain: 1.5), 1.5), (.normal(mean: 0, std: 0.3), 1.0)] {
            var w = [Float](repeating: 0, count: rows * columns)
            try scheme.fill(&w, shape: [rows, columns], key: RandomKey(seed: 5))
            let expected = Self.naive(w, rows: rows, columns: columns, scale: scale)
            let got = [1, 2, 3].map { t in w.withUnsafeBufferPointer { TensorStatistics.orthogonalityError($0, rows: rows, columns: columns, scale: scale, threads: t) } }
            print("orthogonalityError \(rows)x\(columns) \(scheme.name): \(got) (naive \(expected))")
            #expect(got.allSatisfy { $0.bitPattern == expected.bitPattern }, "\(rows)x\(columns) \(scheme.name): \(got) vs naive \(expected)")
        }
        // Double input takes the same path.
        var d = [Double](repeating: 0, count: rows * columns)
        try Initializer.orthogonal().fill(&d, shape: [rows, columns], key: RandomKey(seed: 6))
        let dGot = [1, 3].map { t in d.withUnsafeBufferPointer { TensorStatistics.orthogonalityError($0, rows: rows, columns: columns, threads: t) } }
        #expect(dGot[0] == dGot[1] && dGot[0] < 1e-12, "Double \(rows)x\(columns): \(dGot)")
        #expect([Float]().withUnsafeBufferPointer { TensorStatistics.orthogonalityError($0, rows: 0, columns: 4) } == 0)
    }
}
