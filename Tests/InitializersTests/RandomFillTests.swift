// RandomFill (uniform, normal, truncated normal) and TruncatedNormal: the element mapping
// against an independent Philox, moments and Kolmogorov–Smirnov distances against exact CDFs
// (libm erfc), determinism over threads and shards, and parameter errors.
import Foundation
import Testing
import Initializers

/// One distribution of the statistical tests.
struct DistributionCase: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable { case uniform(Double, Double), normal(Double, Double), truncated(Double, Double, Double, Double) }
    let kind: Kind
    var testDescription: String {
        switch kind {
        case let .uniform(l, h): return "uniform[\(l), \(h))"
        case let .normal(m, s): return "normal(\(m), \(s))"
        case let .truncated(m, s, a, b): return "truncated(\(m), \(s), [\(a), \(b)])"
        }
    }
    var cdf: (Double) -> Double {
        switch kind {
        case let .uniform(l, h): return { x in min(1, max(0, (x - l) / (h - l))) }
        case let .normal(m, s): return { x in stdNormalCDF((x - m) / s) }
        case let .truncated(m, s, a, b): return truncatedCDF(mean: m, std: s, a: a, b: b)
        }
    }
    var moments: (mean: Double, std: Double) {
        switch kind {
        case let .uniform(l, h): return ((l + h) / 2, (h - l) / 12.0.squareRoot())
        case let .normal(m, s): return (m, s)
        case let .truncated(m, s, a, b): return truncatedMoments(mean: m, std: s, a: a, b: b)
        }
    }
    var bounds: (Double, Double)? {
        switch kind {
        case let .uniform(l, h): return (l, h)
        case .normal: return nil
        case let .truncated(_, _, a, b): return (a, b)
        }
    }
    func fill<S: InitializerScalar>(_ p: UnsafeMutableBufferPointer<S>, key: RandomKey, start: Int = 0, threads: Int? = nil) throws {
        switch kind {
        case let .uniform(l, h): try RandomFill.uniform(p, low: l, high: h, key: key, start: start, threads: threads)
        case let .normal(m, s): try RandomFill.normal(p, mean: m, std: s, key: key, start: start, threads: threads)
        case let .truncated(m, s, a, b): try RandomFill.truncatedNormal(p, mean: m, std: s, a: a, b: b, key: key, start: start, threads: threads)
        }
    }
    func array<S: InitializerScalar>(_: S.Type, count: Int, key: RandomKey, start: Int = 0, threads: Int? = nil) throws -> [S] {
        var a = [S](repeating: 0, count: count)
        try a.withUnsafeMutableBufferPointer { try fill($0, key: key, start: start, threads: threads) }
        return a
    }
}

let distributionCases: [DistributionCase] = [
    .init(kind: .uniform(-2, 3)),
    .init(kind: .normal(0.5, 2)),
    .init(kind: .normal(3e-20, 1e-20)),          // Float: σ² below 2⁻⁹⁰, R·σ by a multiply after the sqrt
    .init(kind: .normal(-1e25, 3e25)),           // Float: σ² above 2⁹⁰, same
    .init(kind: .truncated(0, 1e-20, -1.5e-20, 2e-20)), // rejection path with the multiply form
    .init(kind: .truncated(0, 1, -1, 2)),        // rejection path (mass 0.82)
    .init(kind: .truncated(0, 1, -0.2, 0.3)),    // Robert uniform proposal, interval straddling the mean, mass 0.20
    .init(kind: .truncated(0.1, 0.5, -0.2, 0.05)), // Robert uniform proposal, mirrored, mass 0.19
    .init(kind: .truncated(1, 2, 7, 7.4)),       // Robert uniform proposal, standardized [3, 3.2]
    .init(kind: .truncated(0, 1, 3, 10)),        // Robert exponential proposal
    .init(kind: .truncated(0, 1, -4, -3)),       // mirrored left tail
    .init(kind: .truncated(0, 1, 20, 21)),       // far tail (mass 3e-89)
]

@Suite("RandomFill")
struct RandomFillTests {
    // MARK: Element mapping (documented in CFillKernels/fill_impl.h) against an independent Philox

    @Test("uniform Float element i = (w >> 8)·2⁻²⁴ of block 16⌊i/64⌋ + i%16, word (i%64)/16, stream 0")
    func uniformFloatMapping() throws {
        let key = RandomKey(seed: 0x1234_5678_9ABC)
        for start in [0, 37, 64 * 1_000_003 + 5, (1 << 38) + 11] {
            var a = [Float](repeating: -1, count: 200)
            try a.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 0, high: 1, key: key, start: start, threads: 1) }
            for j in 0..<a.count {
                let i = UInt64(start + j)
                let block = 16 * (i / 64) + i % 16
                let w = refPhilox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 0), (key.k0, key.k1))
                let expected = Float(w[Int((i % 64) / 16)] >> 8) * 0x1p-24
                if a[j] != expected { Issue.record("start \(start) element \(j): \(a[j]) vs \(expected)"); return }
            }
        }
    }

    @Test("uniform Double element i = 53 bits of words (2h, 2h+1) of block 16⌊i/32⌋ + i%16, h = (i%32)/16")
    func uniformDoubleMapping() throws {
        let key = RandomKey(seed: 99)
        for start in [0, 13, (1 << 37) + 3] {
            var a = [Double](repeating: -1, count: 100)
            try a.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 0, high: 1, key: key, start: start, threads: 1) }
            for j in 0..<a.count {
                let i = UInt64(start + j)
                let block = 16 * (i / 32) + i % 16, h = Int((i % 32) / 16)
                let w = refPhilox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 0), (key.k0, key.k1))
                let expected = Double((UInt64(w[2 * h]) << 32 | UInt64(w[2 * h + 1])) >> 11) * 0x1p-53
                if a[j] != expected { Issue.record("start \(start) element \(j): \(a[j]) vs \(expected)"); return }
            }
        }
    }

    @Test("normal Float element = Box–Muller of the documented words, vs libm log/cos/sin")
    func normalFloatMapping() throws {
        let key = RandomKey(seed: 3)
        for start in [0, 50, (1 << 36) + 7] {
            var a = [Float](repeating: .nan, count: 256)
            try a.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0, std: 1, key: key, start: start, threads: 1) }
            var worst = 0.0
            for j in 0..<a.count {
                let i = UInt64(start + j)
                // Chunks of 96 elements over 16 blocks; three Box–Muller pairs per block (header layout):
                // pair k: u22 = w_k >> 10; r20 = w3 >> 12 (k 0), (w0 & 0x3FF) << 10 | (w3 & 0x3FF) (k 1),
                // (w1 & 0x3FF) << 10 | (w2 & 0x3FF) (k 2).
                let block = 16 * (i / 96) + i % 16, p = Int((i % 96) / 16), k = p >> 1
                let w = refPhilox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 1), (key.k0, key.k1))
                let u22 = w[k] >> 10
                let r20: UInt32 = k == 0 ? w[3] >> 12 : (k == 1 ? (w[0] & 0x3FF) << 10 | (w[3] & 0x3FF) : (w[1] & 0x3FF) << 10 | (w[2] & 0x3FF))
                let u1 = (Double(u22) + 0.5) * 0x1p-22
                let theta = 2 * Double.pi * Double(r20) * 0x1p-20
                let r = (-2 * log(u1)).squareRoot()
                let z = p % 2 == 0 ? r * cos(theta) : r * sin(theta)
                worst = max(worst, abs(Double(a[j]) - z) / max(1, r))
            }
            #expect(worst < 3e-6, "start \(start): worst scaled error \(worst)")
        }
    }

    @Test("normal Double element = Box–Muller of the documented words, vs libm log/cos/sin")
    func normalDoubleMapping() throws {
        let key = RandomKey(seed: 4)
        for start in [0, 21, (1 << 35) + 1] {
            var a = [Double](repeating: .nan, count: 128)
            try a.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0, std: 1, key: key, start: start, threads: 1) }
            var worst = 0.0
            for j in 0..<a.count {
                let i = UInt64(start + j)
                let block = 16 * (i / 32) + i % 16, h = Int((i % 32) / 16)
                let w = refPhilox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 1), (key.k0, key.k1))
                let u1 = (Double((UInt64(w[0]) << 32 | UInt64(w[1])) >> 12) + 1) * 0x1p-52
                let theta = 2 * Double.pi * Double((UInt64(w[2]) << 32 | UInt64(w[3])) >> 11) * 0x1p-53
                let r = (-2 * log(u1)).squareRoot()
                let z = h == 0 ? r * cos(theta) : r * sin(theta)
                worst = max(worst, abs(a[j] - z) / max(1, r))
            }
            #expect(worst < 1e-13, "start \(start): worst scaled error \(worst)")
        }
    }

    // MARK: Distribution: moments and KS against the exact CDF

    func checkDistribution<S: InitializerScalar>(_ c: DistributionCase, _: S.Type) throws {
        let n = 250_000
        let xs = toDoubles(try c.array(S.self, count: n, key: RandomKey(seed: 2024)))
        let m = SampleMoments(xs)
        let (mu, sigma) = c.moments
        let d = ksDistance(xs, cdf: c.cdf)
        let label = "\(c.testDescription) \(S.self): mean \(m.mean) (exp \(mu)), std \(m.std) (exp \(sigma)), KS \(d) (bound \(ksBound(n))), min \(m.min), max \(m.max)"
        print(label)
        #expect(xs.allSatisfy { $0.isFinite }, "\(label)")
        #expect(abs(m.mean - mu) <= m.meanTolerance(sigma), "\(label)")
        #expect(abs(m.std / sigma - 1) <= m.stdRelativeTolerance, "\(label)")
        #expect(d <= ksBound(n), "\(label)")
        if let (lo, hi) = c.bounds {
            #expect(m.min >= lo && m.max <= hi, "\(label)")
            if case .uniform = c.kind { #expect(m.max < hi, "\(label)") }
        }
    }

    @Test("Float: moments and KS distance against the exact CDF", arguments: distributionCases)
    func statisticsFloat(_ c: DistributionCase) throws { try checkDistribution(c, Float.self) }

    @Test("Double: moments and KS distance against the exact CDF", arguments: distributionCases)
    func statisticsDouble(_ c: DistributionCase) throws { try checkDistribution(c, Double.self) }

    // MARK: Determinism

    static func checkDeterminism<S: InitializerScalar>(_ c: DistributionCase, _: S.Type) throws {
        let n = 1_050_001   // ≥ 8 × FillThreads' minimum chunk, so 8 threads really run
        let key = RandomKey(seed: 31337)
        let ref = try c.array(S.self, count: n, key: key, threads: 1)
        for t in [2, 3, 8] {
            let x = try c.array(S.self, count: n, key: key, threads: t)
            expectSameBytes(ref, x, "\(c.testDescription) \(S.self) threads \(t): \(firstDifference(ref, x))")
        }
        for cuts in [[0, 37, 1000, 70_001, n], [0, 1, 64, 65, 129_999, 600_001, n], [0, 150_000, n]] {
            var parts: [S] = []
            for (lo, hi) in zip(cuts, cuts.dropFirst()) { parts += try c.array(S.self, count: hi - lo, key: key, start: lo, threads: 2) }
            expectSameBytes(ref, parts, "\(c.testDescription) \(S.self) cuts \(cuts): \(firstDifference(ref, parts))")
        }
    }

    @Test("identical bytes for threads 1, 2, 3, 8 and for any split into start offsets", arguments: distributionCases)
    func determinism(_ c: DistributionCase) throws {
        try Self.checkDeterminism(c, Float.self)
        try Self.checkDeterminism(c, Double.self)
    }

    // MARK: Edge cases and errors

    @Test("uniform never returns high: a one-ulp range gives only low")
    func uniformOneUlp() throws {
        var f = [Float](repeating: 0, count: 10_000)
        try f.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 1, high: Double(Float(1).nextUp), key: RandomKey(seed: 1)) }
        #expect(f.allSatisfy { $0 == 1 }, "Float values: \(Set(f))")
        var d = [Double](repeating: 0, count: 10_000)
        try d.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 1, high: 1.0.nextUp, key: RandomKey(seed: 1)) }
        #expect(d.allSatisfy { $0 == 1 }, "Double values: \(Set(d))")
        var g = [Float](repeating: 0, count: 100_000)
        try g.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: -1e-3, high: 1e-3, key: RandomKey(seed: 2)) }
        #expect(g.allSatisfy { $0 >= -1e-3 && $0 < 1e-3 })
    }

    @Test("normal with std 0 gives exactly the mean; truncated with std 0 gives the mean")
    func zeroStd() throws {
        var f = [Float](repeating: 9, count: 1000)
        try f.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: 0.3, std: 0, key: RandomKey(seed: 0)) }
        #expect(f.allSatisfy { $0 == Float(0.3) })
        var d = [Double](repeating: 9, count: 1000)
        try d.withUnsafeMutableBufferPointer { try RandomFill.normal($0, mean: -1.25, std: 0, key: RandomKey(seed: 0)) }
        #expect(d.allSatisfy { $0 == -1.25 })
        try d.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: 0.5, std: 0, a: 0, b: 1, key: RandomKey(seed: 0)) }
        #expect(d.allSatisfy { $0 == 0.5 })
    }

    @Test("truncated Float outputs lie inside [a, b] even when a, b are not floats")
    func truncatedFloatInside() throws {
        for (m, s, a, b) in [(0.0, 1.0, -0.1, 0.1), (0.0, 1.0, -1.1, 0.7), (0.0, 0.01, -0.0123, 0.0177), (5.0, 1.0, 8.3, 8.30001)] {
            var f = [Float](repeating: .nan, count: 100_000)
            try f.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: m, std: s, a: a, b: b, key: RandomKey(seed: 8)) }
            let outside = f.filter { !(Double($0) >= a && Double($0) <= b) }
            #expect(outside.isEmpty, "[\(a), \(b)]: \(outside.count) outside, e.g. \(outside.prefix(3))")
        }
    }

    @Test("truncated bounds holding no Float throw for Float and fill for Double")
    func truncatedNoFloatInBounds() throws {
        let a = 1 + 1e-10, b = 1 + 2e-10   // both strictly between 1 and 1 + 2⁻²³
        var f = [Float](repeating: 7, count: 10)
        let e = initError { try f.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: 1, std: 1e-10, a: a, b: b, key: RandomKey(seed: 1)) } }
        if case .invalidParameter(let name, _, let rule) = e { #expect(name == "b" && rule.contains("Float"), "\(rule)") } else { Issue.record("accepted: \(String(describing: e))") }
        #expect(f.allSatisfy { $0 == 7 })
        var d = [Double](repeating: .nan, count: 1000)
        try d.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: 1, std: 1e-10, a: a, b: b, key: RandomKey(seed: 1)) }
        #expect(d.allSatisfy { $0 >= a && $0 <= b })
    }

    @Test("Float truncation finer than the Float grid gives the one Float inside [a, b], without hanging")
    func truncatedBelowFloatResolution() throws {
        // mean 1 + 0.49 ulp rounds to Float 1, std 0.01 ulp: every Float candidate rounds to 1,
        // but the only Float in [1 + 0.45 ulp, 1 + ulp] is 1 + ulp (mass in double ≈ 1).
        let ulp = Double(Float(1).ulp)
        var f = [Float](repeating: .nan, count: 5000)
        try f.withUnsafeMutableBufferPointer {
            try RandomFill.truncatedNormal($0, mean: 1 + 0.49 * ulp, std: 0.01 * ulp, a: 1 + 0.45 * ulp, b: 1 + ulp, key: RandomKey(seed: 2), threads: 1)
        }
        #expect(f.allSatisfy { $0 == Float(1).nextUp }, "values \(Set(f).sorted().prefix(4))")
    }

    @Test("Float truncated normal whose std exceeds the Float range stays finite and inside the bounds")
    func truncatedHugeStd() throws {
        var f = [Float](repeating: .nan, count: 20_000)
        try f.withUnsafeMutableBufferPointer {
            try RandomFill.truncatedNormal($0, mean: 0, std: 5e38, a: -3.4e38, b: 3.4e38, key: RandomKey(seed: 3))
        }
        #expect(f.allSatisfy { $0.isFinite && Double($0) >= -3.4e38 && Double($0) <= 3.4e38 })
        // N(0, (5e38)²) on ±0.68σ: close to uniform, so about half the values exceed 1.7e38 in magnitude.
        let big = f.filter { abs($0) > 1.7e38 }.count
        print("huge std: \(big) of \(f.count) beyond 1.7e38")
        #expect(big > 5000 && big < 15000)
    }

    @Test("Float truncated normal whose std underflows in Float gives the mean, fast")
    func truncatedStdBelowFloat() throws {
        for (mean, a, b) in [(0.0, -2.0, 2.0), (1.5, 1.0, 2.0)] {
            var f = [Float](repeating: .nan, count: 1_000_000)
            try f.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: mean, std: 1e-46, a: a, b: b, key: RandomKey(seed: 4)) }
            #expect(f.allSatisfy { abs(Double($0) - mean) <= 2e-45 }, "mean \(mean): \(Set(f).sorted().prefix(4))")
        }
    }

    @Test("a narrow interval far out relative to the parent gives the uniform limit, at full precision")
    func truncatedNarrowFarInterval() throws {
        // N(1e30, (1e30)²) on [−2, 2] and N(1e10, (1e10)²) on [−2, 2]: the density is flat across
        // [−2, 2] to 1e-9, so the values are uniform there (mean 0, std 4/√12).
        for (m, s) in [(1e30, 1e30), (1e10, 1e10)] {
            let e = TruncatedNormal.moments(mean: m, std: s, a: -2, b: 2)
            #expect(abs(e.mean) < 1e-8 && abs(e.std - 4 / 12.0.squareRoot()) < 1e-8, "moments \(e)")
            var d = [Double](repeating: .nan, count: 200_000)
            try d.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: m, std: s, a: -2, b: 2, key: RandomKey(seed: 6)) }
            let st = SampleMoments(d)
            print("N(\(m), \(s)²) on [−2, 2]: mean \(st.mean), std \(st.std), distinct \(Set(d).count)")
            #expect(abs(st.mean) <= st.meanTolerance(e.std) && abs(st.std / e.std - 1) <= st.stdRelativeTolerance)
            #expect(Set(d).count > 199_000, "values are coarse: \(Set(d).count) distinct")
            var f = [Float](repeating: .nan, count: 100_000)
            try f.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: m, std: s, a: -2, b: 2, key: RandomKey(seed: 6)) }
            let sf = SampleMoments(toDoubles(f))
            #expect(abs(sf.std / e.std - 1) <= sf.stdRelativeTolerance && f.allSatisfy { $0 >= -2 && $0 <= 2 })
        }
    }

    @Test("Float uniform: bounds that are not Floats round inward; no Float in range or an overflowing range throws")
    func uniformFloatBounds() throws {
        var f = [Float](repeating: .nan, count: 100_000)
        try f.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 0.1, high: 0.3, key: RandomKey(seed: 1)) }
        #expect(f.allSatisfy { Double($0) >= 0.1 && Double($0) < 0.3 }, "min \(f.min()!) max \(f.max()!)")
        let g = [Float](repeating: 7, count: 10)
        var h = g
        if case .invalidParameter(let name, _, let rule)? = initError({ try h.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: 1.00000001, high: 1.00000002, key: RandomKey(seed: 1)) } }) {
            #expect(name == "high" && rule.contains("no Float"), "\(rule)")
        } else { Issue.record("no Float in [low, high) accepted") }
        if case .invalidParameter(_, _, let rule)? = initError({ try h.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: -1.8e38, high: 1.8e38, key: RandomKey(seed: 1)) } }) {
            #expect(rule.contains("overflows Float"), "\(rule)")
        } else { Issue.record("Float range overflow accepted") }
        #expect(h == g)
        var d = [Double](repeating: .nan, count: 1000)
        try d.withUnsafeMutableBufferPointer { try RandomFill.uniform($0, low: -1.8e38, high: 1.8e38, key: RandomKey(seed: 1)) }
        #expect(d.allSatisfy { $0 >= -1.8e38 && $0 < 1.8e38 } && SampleMoments(d).std > 5e37)
    }

    @Test("truncated normal with mass between 0.05 and 0.3 goes through rejection and is still exact")
    func truncatedLowMassRejection() throws {
        let c = DistributionCase(kind: .truncated(0, 1, -0.1, 0.1))   // mass 0.080
        try checkDistribution(c, Float.self)
        try checkDistribution(c, Double.self)
    }

    @Test("small std inside wide bounds: N(0, 0.001²) on [−2, 2] has max |x| < 0.01 over 10⁶ values")
    func smallStdWideBounds() throws {
        var f = [Float](repeating: .nan, count: 1_000_000)
        try f.withUnsafeMutableBufferPointer { try RandomFill.truncatedNormal($0, mean: 0, std: 0.001, a: -2, b: 2, key: RandomKey(seed: 0)) }
        let mx = f.reduce(0) { max($0, abs($1)) }
        print("max |x| = \(mx)")
        #expect(mx < 0.01, "max |x| = \(mx)")
        let m = SampleMoments(toDoubles(f))
        #expect(abs(m.std / 0.001 - 1) <= m.stdRelativeTolerance, "std \(m.std)")
    }

    @Test("invalid parameters throw the typed error and leave the buffer untouched")
    func errors() {
        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: 10)
        p.initialize(repeating: 7)
        defer { p.deallocate() }
        do {
            let key = RandomKey(seed: 0)
            #expect(initError { try RandomFill.uniform(p, low: 1, high: 1, key: key) } == .emptyRange(name: "uniform", low: 1, high: 1))
            #expect(initError { try RandomFill.uniform(p, low: 2, high: 1, key: key) } == .emptyRange(name: "uniform", low: 2, high: 1))
            if case .invalidParameter = initError({ try RandomFill.uniform(p, low: .nan, high: 1, key: key) }) {} else { Issue.record("NaN low accepted") }
            if case .invalidParameter = initError({ try RandomFill.uniform(p, low: 0, high: .infinity, key: key) }) {} else { Issue.record("inf high accepted") }
            if case .invalidParameter = initError({ try RandomFill.uniform(p, low: -1e308, high: 1e308, key: key) }) {} else { Issue.record("overflowing range accepted") }
            for s in [-1.0, .nan, .infinity, -.infinity] {
                if case .invalidParameter(let name, _, _) = initError({ try RandomFill.normal(p, mean: 0, std: s, key: key) }) {
                    #expect(name == "std")
                } else { Issue.record("normal std \(s) accepted") }
                if case .invalidParameter = initError({ try RandomFill.truncatedNormal(p, mean: 0, std: s, a: -1, b: 1, key: key) }) {} else { Issue.record("truncated std \(s) accepted") }
            }
            if case .invalidParameter = initError({ try RandomFill.normal(p, mean: .infinity, std: 1, key: key) }) {} else { Issue.record("inf mean accepted") }
            #expect(initError { try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: 1, b: 1, key: key) } == .emptyRange(name: "truncated normal", low: 1, high: 1))
            #expect(initError { try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: 2, b: -2, key: key) } == .emptyRange(name: "truncated normal", low: 2, high: -2))
            if case .noProbabilityMass = initError({ try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: 40, b: 41, key: key) }) {} else { Issue.record("a = 40σ accepted") }
            if case .noProbabilityMass = initError({ try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: -41, b: -40, key: key) }) {} else { Issue.record("b = −40σ accepted") }
            if case .noProbabilityMass = initError({ try RandomFill.truncatedNormal(p, mean: 3, std: 0, a: 0, b: 1, key: key) }) {} else { Issue.record("std 0 with mean outside accepted") }
            if case .invalidParameter = initError({ try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: -.infinity, b: 1, key: key) }) {} else { Issue.record("infinite a accepted") }
        }
        #expect(p.allSatisfy { $0 == 7 }, "buffer written on error: \(Array(p))")
    }

    @Test("empty buffers are a no-op")
    func emptyBuffer() throws {
        var a: [Double] = []
        try a.withUnsafeMutableBufferPointer { p in
            try RandomFill.uniform(p, low: 0, high: 1, key: RandomKey(seed: 0))
            try RandomFill.normal(p, mean: 0, std: 1, key: RandomKey(seed: 0))
            try RandomFill.truncatedNormal(p, mean: 0, std: 1, a: -1, b: 1, key: RandomKey(seed: 0))
        }
        #expect(a.isEmpty)
    }

    // MARK: TruncatedNormal closed forms against hand values (mpmath, 30 digits)

    @Test("TruncatedNormal.cdf / pdf / standardDeviationFactor / moments against hand values")
    func closedForms() {
        #expect(abs(TruncatedNormal.cdf(1) - 0.8413447460685429) < 1e-15)
        #expect(abs(TruncatedNormal.cdf(2) - 0.9772498680518208) < 1e-15)
        #expect(abs(TruncatedNormal.cdf(-1) - 0.15865525393145707) < 1e-15)
        #expect(TruncatedNormal.cdf(0) == 0.5)
        #expect(abs(TruncatedNormal.pdf(0) - 0.3989422804014327) < 1e-16)
        #expect(abs(TruncatedNormal.pdf(1) - 0.24197072451914337) < 1e-16)
        // The test's own CDF agrees with the same hand values.
        #expect(abs(stdNormalCDF(1) - 0.8413447460685429) < 1e-15)
        #expect(abs(TruncatedNormal.standardDeviationFactor(k: 2) - 0.87962566103423975) < 1e-15)
        #expect(abs(TruncatedNormal.standardDeviationFactor(k: 1) - 0.53956009375489697) < 1e-15)
        #expect(abs(TruncatedNormal.standardDeviationFactor(k: 3) - 0.98657839255810862) < 1e-15)
        // Below k = 1 (series; the closed form cancels): mpmath quadrature, 40 digits.
        for (k, v) in [(0.999999, 0.53955962809430373589), (0.5, 0.28388229004432752467), (0.1, 0.0576965424154671697),
                       (1e-5, 5.7735026918577676271e-6)] {
            let f = TruncatedNormal.standardDeviationFactor(k: k)
            #expect(abs(f / v - 1) < 1e-14, "k \(k): \(f) vs \(v)")
        }
        #expect(abs(TruncatedNormal.standardDeviationFactor(k: 1e-300) / (1e-300 / 3.0.squareRoot()) - 1) < 1e-14)
        // Narrow intervals (width < 0.01σ): mpmath quadrature, 40 digits.
        for (a, b, m, sd) in [(-1e-4, 1e-4, 0.0, 0.00005773502688047255851), (1.5, 1.505, 1.5024968697972195222, 0.0014433730350562104775),
                              (-0.004, 0.006, 0.00099999166669444442526, 0.0028867465346903870708),
                              (30.0, 30.001, 30.000497499995918225, 0.00028866863450800915255)] {
            let e = TruncatedNormal.moments(mean: 0, std: 1, a: a, b: b)
            #expect(abs(e.mean - m) <= 1e-13 * max(1, abs(m)) && abs(e.std / sd - 1) < 1e-9, "[\(a), \(b)]: \(e) vs (\(m), \(sd))")
        }
        let cases: [(Double, Double, Double, Double, Double, Double)] = [
            // (mean, std, a, b, expected mean, expected std)
            (0, 1, 3, 4, 3.2604542855900212, 0.22198602158107417),
            (0, 1, -4, -3, -3.2604542855900212, 0.22198602158107417),
            (0, 1, -1, 2, 0.22963717909132897, 0.72094558685904579),
            (0, 1, 0, 1, 0.45986222928642650, 0.28222654880168753),
            (0, 1, 20, 21, 20.049753067339751, 0.049631244493875321),
            (0, 0.02, -0.04, 0.04, 0, 0.017592513220684795),
            (0, 1, 0, .infinity, 0.79788456080286536, 0.60281027498908697),
        ]
        for (m, s, a, b, em, es) in cases {
            let got = TruncatedNormal.moments(mean: m, std: s, a: a, b: b)
            #expect(abs(got.mean - em) <= 1e-9 * max(1, abs(em)) && abs(got.std - es) <= 1e-8 * es,
                    "[\(a), \(b)]: got \(got), expected (\(em), \(es))")
            if b.isFinite {
                let own = truncatedMoments(mean: m, std: s, a: a, b: b)
                #expect(abs(own.mean - em) <= 1e-9 * max(1, abs(em)) && abs(own.std - es) <= 1e-8 * es, "oracle [\(a), \(b)]: \(own)")
            }
        }
        #expect(TruncatedNormal.moments(mean: 0.7, std: 0, a: 0, b: 1) == (0.7, 0))
    }
}
