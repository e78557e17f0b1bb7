import Foundation
import Testing
@testable import TensorFiles

// Oracle: a naive two-pass loop in Double over the values (and closed forms for constants).

func naiveSummary(_ xs: [Double]) -> (mean: Double, std: Double, min: Double, max: Double, nan: Int, inf: Int) {
    let f = xs.filter(\.isFinite)
    let mean = f.reduce(0, +) / Double(f.count)
    let v = f.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(f.count)
    return (mean, v.squareRoot(), f.min() ?? .nan, f.max() ?? .nan, xs.filter(\.isNaN).count, xs.filter(\.isInfinite).count)
}

@Suite("TensorSummary")
struct TensorSummaryTests {
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s) >> 11) * 0x1p-52 * 3 + 0.25
        }
    }

    @Test("equals a naive two-pass loop for F32/F64/F16/BF16, for any thread count")
    func matchesNaive() {
        let n = 150_007 // several chunks and a ragged tail
        let xs = Self.values(n, seed: 3)
        for dt in [DType.F32, .F64, .F16, .BF16] {
            var bytes = [UInt8](repeating: 0, count: n * dt.size)
            bytes.withUnsafeMutableBytes { b in xs.withUnsafeBufferPointer { TensorConvert.store($0, as: dt, into: b, at: 0) } }
            let exact: [Double] = bytes.withUnsafeBytes { b in (0..<n).map { TensorConvert.double(b.baseAddress!, $0, dt) } }
            let want = naiveSummary(exact)
            var results: [TensorSummary] = []
            for t in [1, 3] {
                let s = bytes.withUnsafeBytes { TensorSummary.of($0, dtype: dt, threads: t) }
                results.append(s)
                #expect(abs(s.mean - want.mean) <= 1e-12 * max(1, abs(want.mean)), "\(dt) t=\(t) mean \(s.mean) vs \(want.mean)")
                #expect(abs(s.std / want.std - 1) <= 1e-12, "\(dt) t=\(t) std \(s.std) vs \(want.std)")
                #expect(s.min == want.min && s.max == want.max && s.count == n && s.nanCount == 0 && !s.allZero)
            }
            #expect(Set(results.map(\.std.bitPattern)).count == 1, "identical for any thread count")
        }
    }

    @Test("NaN and Inf are counted and excluded; constants, zeros and empty tensors")
    func specials() {
        var xs: [Float] = Array(repeating: 1.5, count: 100_000)
        xs[7] = .nan; xs[70_000] = .infinity; xs[99_999] = -.infinity
        let s = xs.withUnsafeBytes { TensorSummary.of($0, dtype: .F32, threads: 2) }
        #expect(s.nanCount == 1 && s.infCount == 2 && s.finiteCount == 99_997)
        #expect(s.mean == 1.5 && s.std == 0 && s.min == 1.5 && s.max == 1.5 && !s.allZero)
        let z = [Float](repeating: 0, count: 1000) + [-0.0]
        #expect(z.withUnsafeBytes { TensorSummary.of($0, dtype: .F32) }.allZero)
        let e = [Float]().withUnsafeBytes { TensorSummary.of($0, dtype: .F32) }
        #expect(e.count == 0 && e.mean.isNaN && !e.allZero)
        let allNaN = [Float](repeating: .nan, count: 5).withUnsafeBytes { TensorSummary.of($0, dtype: .F32) }
        #expect(allNaN.nanCount == 5 && allNaN.mean.isNaN && allNaN.std.isNaN)
        // F64 values near the overflow threshold: the sum overflows, the careful path scales.
        let big: [Double] = [1e308, 1.5e308, -1e308, 1.2e308]
        let b = big.withUnsafeBytes { TensorSummary.of($0, dtype: .F64) }
        #expect(abs(b.mean / 6.75e307 - 1) < 1e-12, "mean \(b.mean)")
        #expect(b.min == -1e308 && b.max == 1.5e308)
    }

    @Test("consumed ranges tile the bytes; released pages of a mapped file read back unchanged")
    func consumedAndReleased() throws {
        let n = 5 * 65_536 + 12_345 // blocks of 2 chunks: several blocks per thread and a ragged tail
        let xs = Self.values(n, seed: 9)
        let scratch = try Scratch(); defer { scratch.cleanup() }
        let p = scratch.path("r.safetensors")
        try SafetensorsWriter.write(path: p, tensors: [(name: "x", dtype: .F32, shape: [n], values: xs)], durable: false)
        let f = try SafetensorsFile(path: p)
        let loc = try #require(f.location(of: "x"))
        final class Ranges: @unchecked Sendable { var list: [Range<Int>] = []; let lock = NSLock() }
        let ranges = Ranges()
        let s = f.withBytes(of: loc) { b in
            TensorSummary.of(b, dtype: .F32, threads: 2, blockChunks: 2) { r in
                ranges.lock.lock(); ranges.list.append(r); ranges.lock.unlock()
                f.releasePages(of: loc, r)
            }
        }
        let sorted = ranges.list.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.first?.lowerBound == 0 && sorted.last?.upperBound == 4 * n)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "\(sorted)")
        let want = naiveSummary(xs.map(Double.init))
        #expect(abs(s.std / want.std - 1) < 1e-12 && s.min == want.min && s.max == want.max)
        #expect(try f.floats("x") == xs, "pages released by madvise read back from the file")
    }
}
