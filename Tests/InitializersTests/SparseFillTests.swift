// Sparse initialization: exact zero count per column, key-determined pattern, value statistics.
import Foundation
import Testing
import Initializers

@Suite("Sparse")
struct SparseFillTests {
    static func zeroPattern(_ w: [Float], rows: Int, columns: Int) -> [[Int]] {
        (0..<columns).map { c in (0..<rows).filter { w[$0 * columns + c] == 0 } }
    }

    @Test("exactly ⌈sparsity·rows⌉ zeros in every column", arguments: [(0.3, 10), (0.25, 10), (0.1, 10), (0.5, 7), (0.99, 100), (0.0, 20), (0.01, 3)])
    func zeroCount(_ sparsity: Double, _ rows: Int) throws {
        let columns = 50
        let w: [Float] = try filled(.sparse(sparsity: sparsity, std: 1), shape: [rows, columns], key: RandomKey(seed: 5))
        // ⌈s·rows⌉ by exact rational arithmetic on the decimal value (s given with ≤ 2 decimals).
        let hundredths = Int((sparsity * 100).rounded())
        let expected = (hundredths * rows + 99) / 100
        for (c, zeros) in Self.zeroPattern(w, rows: rows, columns: columns).enumerated() {
            #expect(zeros.count == expected, "sparsity \(sparsity) rows \(rows) column \(c): \(zeros.count) zeros, expected \(expected)")
        }
    }

    @Test("zero rows of column c = the ⌈s·rows⌉ smallest documented scores (naive sort of an independent Philox)",
          arguments: [(0.9, 37, 5), (0.5, 64, 9), (0.1, 200, 3), (0.97, 300, 2)])
    func patternMatchesDocumentedScores(_ sparsity: Double, _ rows: Int, _ columns: Int) throws {
        let key = RandomKey(seed: 77)
        let w: [Float] = try filled(.sparse(sparsity: sparsity, std: 1), shape: [rows, columns], key: key)
        let pk = key.folding(in: 0x5BA45E)
        let zeros = Int((sparsity * Double(rows)).rounded(.up))
        for c in 0..<columns {
            // Score of row r: 53-bit uniform of element i = c·rows + r of stream 16 (f64 layout).
            let scores: [UInt64] = (0..<rows).map { r in
                let i = UInt64(c * rows + r)
                let block = 16 * (i / 32) + i % 16, h = Int((i % 32) / 16)
                let q = refPhilox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 16), (pk.k0, pk.k1))
                return (UInt64(q[2 * h]) << 32 | UInt64(q[2 * h + 1])) >> 11
            }
            let expected = (0..<rows).sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(zeros).sorted()
            let got = (0..<rows).filter { w[$0 * columns + c] == 0 }
            #expect(got == Array(expected), "column \(c): zero rows \(got.prefix(8)) vs \(expected.prefix(8))")
        }
    }

    @Test("the pattern is a function of the key: same key same pattern, other key other pattern")
    func pattern() throws {
        let a: [Float] = try filled(.sparse(sparsity: 0.4, std: 1), shape: [30, 40], key: RandomKey(seed: 1))
        let b: [Float] = try filled(.sparse(sparsity: 0.4, std: 1), shape: [30, 40], key: RandomKey(seed: 1))
        let c: [Float] = try filled(.sparse(sparsity: 0.4, std: 1), shape: [30, 40], key: RandomKey(seed: 2))
        expectSameBytes(a, b)
        let pa = Self.zeroPattern(a, rows: 30, columns: 40), pc = Self.zeroPattern(c, rows: 30, columns: 40)
        #expect(pa != pc)
        // Columns get different patterns too.
        #expect(Set(pa.map { $0.description }).count > 30)
        // The pattern does not depend on std.
        let d: [Float] = try filled(.sparse(sparsity: 0.4, std: 3), shape: [30, 40], key: RandomKey(seed: 1))
        #expect(Self.zeroPattern(d, rows: 30, columns: 40) == pa)
    }

    @Test("nonzeros are N(0, std²); zero rows are spread uniformly over the rows")
    func values() throws {
        let rows = 100, columns = 5000, std = 0.02, sparsity = 0.3
        let w: [Float] = try filled(.sparse(sparsity: sparsity, std: std), shape: [rows, columns], key: RandomKey(seed: 0))
        let nz = toDoubles(w.filter { $0 != 0 })
        #expect(nz.count == rows * columns - 30 * columns)
        let m = SampleMoments(nz)
        let ks = ksDistance(nz, cdf: { stdNormalCDF($0 / std) })
        print("sparse nonzeros: n \(nz.count), mean \(m.mean), std \(m.std), KS \(ks)")
        #expect(abs(m.mean) <= m.meanTolerance(std), "mean \(m.mean)")
        #expect(abs(m.std / std - 1) <= m.stdRelativeTolerance, "std \(m.std)")
        // KS on the values left after removing the zero rows: they are a key-chosen subset of the
        // normal fill, independent of the values, so still N(0, std²).
        #expect(ks <= ksBound(nz.count), "KS \(ks)")
        // Each row is zero in about 30 % of the columns: Binomial(5000, 0.3)-like, 6σ band.
        var perRow = [Int](repeating: 0, count: rows)
        for r in 0..<rows { for c in 0..<columns where w[r * columns + c] == 0 { perRow[r] += 1 } }
        let sd = (Double(columns) * sparsity * (1 - sparsity)).squareRoot()
        for (r, k) in perRow.enumerated() { #expect(abs(Double(k) - Double(columns) * sparsity) <= 6 * sd, "row \(r): \(k)") }
        let e = try Initializer.sparse(sparsity: sparsity, std: std).expectedStatistics(shape: [rows, columns])
        #expect(e.mean == 0 && abs(e.std - std * 0.7.squareRoot()) < 1e-15 && e.bound == nil)
    }

    @Test("sparse needs a 2-D tensor; the Double fill has the same pattern")
    func shapes() throws {
        if case .unsupportedShape? = InitializerTests.error(.sparse(sparsity: 0.1), shape: [4, 4, 4]) {} else { Issue.record("3-D accepted") }
        let f: [Float] = try filled(.sparse(sparsity: 0.5, std: 1), shape: [12, 9], key: RandomKey(seed: 3))
        let d: [Double] = try filled(.sparse(sparsity: 0.5, std: 1), shape: [12, 9], key: RandomKey(seed: 3))
        #expect(zip(f, d).allSatisfy { ($0 == 0) == ($1 == 0) })
    }
}
