// Initializer: entry points, shards and threads (bytes), the simple schemes, truncated normal in
// both forms (C09 and the matched form), parameter and shape errors (C05, C13), empty tensors.
import Foundation
import Testing
import Initializers
import MatrixModule

@Suite("Initializer")
struct InitializerTests {
    // MARK: Entry points

    @Test("matrix(rows:columns:) on fresh, unzeroed storage equals fill of a zero matrix for every kind of scheme, small and ≥ 4 MiB (huge-page advice)",
          arguments: [(8, 6), (1024, 1100)])
    func freshMatrixEqualsZeroFill(rows: Int, columns: Int) throws {
        let key = RandomKey(seed: 21)
        let schemes: [Initializer] = [.zeros, .ones, .uniform(low: -1, high: 1), .normal(mean: 0, std: 2),
                                      .truncatedNormal(mean: 0, std: 1, a: -2, b: 2), .heNormal(), .xavierUniform(),
                                      .identity(gain: 1), .orthogonal(gain: 1), .sparse(sparsity: 0.5, std: 0.01)]
        for scheme in schemes {
            var reference = Matrix<Float>(rows: rows, columns: columns)       // zeros, then the fill
            try scheme.fill(&reference, key: key, threads: 2)
            let fresh = try scheme.matrix(rows: rows, columns: columns, of: Float.self, key: key, threads: 2)
            #expect(fresh.rows == rows && fresh.columns == columns)
            expectSameBytes(reference.elements, fresh.elements)
        }
    }

    @Test("buffer, array, Matrix, MutableSpan, matrix(rows:columns:) and using: give the same bytes")
    func entryPoints() throws {
        let ini = Initializer.heNormal()
        let key = RandomKey(seed: 12)
        let ref: [Float] = try filled(ini, shape: [64, 48], key: key)
        var arr = [Float](repeating: 0, count: 64 * 48)
        try ini.fill(&arr, shape: [64, 48], key: key)
        expectSameBytes(ref, arr)
        var m = Matrix<Float>(rows: 64, columns: 48)
        try ini.fill(&m, key: key)
        expectSameBytes(ref, m.elements)
        let m2 = try ini.matrix(rows: 64, columns: 48, of: Float.self, key: key)
        expectSameBytes(ref, m2.elements)
        var spanned = [Float](repeating: 0, count: 64 * 48)
        do {
            var span = spanned.mutableSpan
            try ini.fill(&span, shape: [64, 48], key: key)
        }
        expectSameBytes(ref, spanned)
        // using: draws exactly one UInt64 and uses it as the seed.
        var g = SplitMix64(seed: 5)
        var copy = g
        let seed = copy.next()
        var viaRNG = [Float](repeating: 0, count: 64 * 48)
        try viaRNG.withUnsafeMutableBufferPointer { try ini.fill($0, shape: [64, 48], using: &g) }
        let expected: [Float] = try filled(ini, shape: [64, 48], key: RandomKey(seed: seed))
        expectSameBytes(viaRNG, expected)
        #expect(g.next() == copy.next(), "fill(using:) must consume exactly one UInt64")
        var mg = Matrix<Float>(rows: 64, columns: 48)
        var g2 = SplitMix64(seed: 5)
        try ini.fill(&mg, using: &g2)
        expectSameBytes(mg.elements, expected)
        // A Matrix with layout .denseInOut uses [in, out] fans: the same as the buffer call.
        var mio = Matrix<Double>(rows: 30, columns: 70)
        try ini.fill(&mio, layout: .denseInOut, key: key)
        expectSameBytes(mio.elements, try filled(ini, Double.self, shape: [30, 70], layout: .spatialInOut, key: key))
        let differs = try !sameBytes(mio.elements, filled(ini, Double.self, shape: [30, 70], key: key))
        #expect(differs)
    }

    // MARK: Shards and threads

    static let shardCases: [(String, Initializer, [Int])] = [
        ("uniform", .uniform(low: -1, high: 2), [100, 23]),
        ("normal", .normal(mean: 1, std: 3), [100, 23]),
        ("truncated", .truncatedNormal(mean: 0, std: 1, a: -0.5, b: 1), [100, 23]),
        ("truncated-tail", .truncatedNormal(mean: 0, std: 1, a: 2.5, b: 4), [100, 23]),
        ("matched", .truncatedNormalMatched(mean: 0, std: 0.1, k: 1), [100, 23]),
        ("he-normal", .heNormal(), [100, 7, 3, 3]),
        ("xavier-uniform", .xavierUniform(), [100, 23]),
        ("lecun-normal", .lecunNormal(), [100, 5, 5]),
        ("sparse", .sparse(sparsity: 0.3, std: 1), [100, 23]),
        ("orthogonal-wide", .orthogonal(gain: 1), [100, 230]),
        ("orthogonal-tall", .orthogonal(gain: 1.5), [100, 23]),
        ("identity", .identity(gain: 2), [100, 80]),
        ("dirac", .dirac(groups: 2), [100, 60, 3]),
        ("delta-orthogonal", .deltaOrthogonal(gain: 1), [100, 40, 3, 3]),
        ("constant", .constant(0.5), [100, 23]),
    ]

    @Test("fillShard: rows 0..<37 + 37..<100 and 0..<50 + 50..<100 equal the whole fill", arguments: 0..<shardCases.count)
    func shards(_ index: Int) throws {
        let (name, ini, shape) = Self.shardCases[index]
        try Self.checkShards(name, ini, shape, Float.self)
        try Self.checkShards(name, ini, shape, Double.self)
    }

    static func checkShards<S: InitializerScalar>(_ name: String, _ ini: Initializer, _ shape: [Int], _: S.Type) throws {
        let key = RandomKey(seed: 808)
        let perRow = shape.dropFirst().reduce(1, *)
        let whole: [S] = try filled(ini, shape: shape, key: key)
        for cuts in [[0, 37, 100], [0, 50, 100], [0, 1, 2, 99, 100]] {
            var parts: [S] = []
            for (lo, hi) in zip(cuts, cuts.dropFirst()) {
                let shard = UnsafeMutableBufferPointer<S>.allocate(capacity: (hi - lo) * perRow)
                shard.initialize(repeating: .nan)
                defer { shard.deallocate() }
                try ini.fillShard(shard, shape: shape, rows: lo..<hi, key: key, threads: 2)
                parts += Array(shard)
            }
            expectSameBytes(whole, parts, "\(name) \(S.self) cuts \(cuts): \(firstDifference(whole, parts))")
        }
    }

    @Test("identical bytes for threads 1, 2, 3, 8", arguments: ["uniform", "normal", "truncated", "he-normal", "sparse"])
    func threads(_ name: String) throws {
        let ini: Initializer = switch name {
        case "uniform": .uniform(low: -0.5, high: 0.5)
        case "normal": .normal(mean: 0, std: 0.2)
        case "truncated": .truncatedNormal(mean: 0, std: 1, a: -1.5, b: 0.5)
        case "he-normal": .heNormal()
        default: .sparse(sparsity: 0.25, std: 0.1)
        }
        try Self.checkThreads(name, ini, Float.self)
        try Self.checkThreads(name, ini, Double.self)
    }

    static func checkThreads<S: InitializerScalar>(_ name: String, _ ini: Initializer, _: S.Type) throws {
        let shape = [512, 640]
        let ref: [S] = try filled(ini, shape: shape, key: RandomKey(seed: 9), threads: 1)
        for t in [2, 3, 8] {
            let x: [S] = try filled(ini, shape: shape, key: RandomKey(seed: 9), threads: t)
            expectSameBytes(ref, x, "\(name) \(S.self) threads \(t): \(firstDifference(ref, x))")
        }
    }

    // MARK: Simple schemes

    @Test("zeros, ones and constant write exactly their value")
    func constants() throws {
        let z: [Float] = try filled(.zeros, shape: [7, 9], key: RandomKey(seed: 0))
        #expect(z.allSatisfy { $0 == 0 && $0.sign == .plus })
        let o: [Double] = try filled(.ones, shape: [3, 4, 5], key: RandomKey(seed: 0))
        #expect(o.allSatisfy { $0 == 1 })
        let c: [Float] = try filled(.constant(0.1), shape: [10], key: RandomKey(seed: 0))
        #expect(c.allSatisfy { $0 == Float(0.1) })
        let n: [Double] = try filled(.constant(-2.5), shape: [2, 2], key: RandomKey(seed: 0))
        #expect(n == [-2.5, -2.5, -2.5, -2.5])
    }

    @Test("normal(mean 0.3, std 0) gives exactly 0.3 everywhere (C13)")
    func normalZeroStd() throws {
        let f: [Float] = try filled(.normal(mean: 0.3, std: 0), shape: [50, 40], key: RandomKey(seed: 0))
        #expect(f.allSatisfy { $0 == Float(0.3) })
        let d: [Double] = try filled(.normal(mean: 0.3, std: 0), shape: [50, 40], key: RandomKey(seed: 0))
        #expect(d.allSatisfy { $0 == 0.3 })
        let t: [Double] = try filled(.truncatedNormalMatched(mean: 0.3, std: 0, k: 2), shape: [5, 4], key: RandomKey(seed: 0))
        #expect(t.allSatisfy { $0 == 0.3 })
    }

    // MARK: Truncated normal, both forms

    @Test("C09: trunc_normal bounds are absolute; defaults −2, 2 do not cut std 0.02")
    func c09() throws {
        guard case let .truncatedNormal(m, s, a, b) = Initializer.truncatedNormal() else { Issue.record("not truncatedNormal"); return }
        #expect(m == 0 && s == 1 && a == -2 && b == 2)
        let n = 1_000_000
        let x = toDoubles(try filled(.truncatedNormal(mean: 0, std: 0.02), Float.self, shape: [1000, 1000], key: RandomKey(seed: 0)))
        let st = SampleMoments(x)
        let tail = Double(x.filter { abs($0) > 0.04 }.count) / Double(n)
        print("C09 defaults: std \(st.std), tail fraction \(tail)")
        #expect(abs(st.std / 0.02 - 1) <= 0.01, "std \(st.std)")
        #expect(abs(tail - 0.045500263896358414) <= 0.002, "tail \(tail)")
        let y = toDoubles(try filled(.truncatedNormal(mean: 0, std: 0.02, a: -0.04, b: 0.04), Float.self, shape: [1000, 1000], key: RandomKey(seed: 0)))
        let sy = SampleMoments(y)
        print("C09 cut: std \(sy.std), max |x| \(max(-sy.min, sy.max))")
        #expect(sy.min >= -0.04 && sy.max <= 0.04)
        #expect(abs(sy.std / 0.017592513220684795 - 1) <= 0.01, "std \(sy.std)")
    }

    @Test("truncatedNormalMatched(k): std after truncation equals std, bounds ±k·σ_parent, KS vs exact CDF",
          arguments: [2.0, 1.0], [false, true])
    func matched(_ k: Double, _ double: Bool) throws {
        let mean = 0.5, std = 0.2
        // Independent parent std: σ_p = std / √(1 − 2kφ(k)/(2Φ(k)−1)).
        let factor = (1 - 2 * k * stdNormalPDF(k) / (2 * stdNormalCDF(k) - 1)).squareRoot()
        let parent = std / factor
        let a = mean - k * parent, b = mean + k * parent
        let ini = Initializer.truncatedNormalMatched(mean: mean, std: std, k: k)
        let shape = [500, 800]
        let x = double ? try filled(ini, Double.self, shape: shape, key: RandomKey(seed: 77))
                       : toDoubles(try filled(ini, Float.self, shape: shape, key: RandomKey(seed: 77)))
        let st = SampleMoments(x)
        let d = ksDistance(x, cdf: truncatedCDF(mean: mean, std: parent, a: a, b: b))
        let label = "k \(k) \(double ? "Double" : "Float"): mean \(st.mean), std \(st.std), range [\(st.min), \(st.max)] vs [\(a), \(b)], KS \(d)"
        print(label)
        #expect(abs(st.mean - mean) <= st.meanTolerance(std), "\(label)")
        #expect(abs(st.std / std - 1) <= st.stdRelativeTolerance, "\(label)")
        #expect(st.min >= a - 1e-6 && st.max <= b + 1e-6, "\(label)")
        #expect(st.min < a + 0.01 * parent && st.max > b - 0.01 * parent, "\(label)")
        #expect(d <= ksBound(x.count), "\(label)")
        let e = try ini.expectedStatistics(shape: shape)
        #expect(abs(e.mean - mean) < 1e-12 && abs(e.std - std) < 1e-9 && abs(e.bound! - b) < 1e-9, "expectedStatistics \(e)")
    }

    // MARK: Errors

    static func error(_ ini: Initializer, shape: [Int], count: Int? = nil) -> InitializationError? {
        var a = [Float](repeating: 7, count: count ?? max(0, shape.reduce(1, *)))
        let e = initError { try a.withUnsafeMutableBufferPointer { try ini.fill($0, shape: shape, key: RandomKey(seed: 0)) } }
        if !a.allSatisfy({ $0 == 7 }) { Issue.record("\(ini) wrote into the buffer before throwing \(String(describing: e))") }
        return e
    }

    @Test("invalid hyper-parameters throw typed errors before writing (C13, C09)")
    func parameterErrors() {
        let shape = [4, 5]
        for s in [-1.0, .nan, .infinity] {
            for ini in [Initializer.normal(mean: 0, std: s), .truncatedNormal(mean: 0, std: s, a: -2, b: 2),
                        .truncatedNormalMatched(mean: 0, std: s, k: 2), .sparse(sparsity: 0.5, std: s)] {
                guard case let .invalidParameter(name, value, _)? = Self.error(ini, shape: shape) else {
                    Issue.record("\(ini) accepted"); continue
                }
                #expect(name == "std" && (value.isNaN ? s.isNaN : value == s), "\(ini): \(name) \(value)")
            }
        }
        #expect(Self.error(.uniform(low: 1, high: -1), shape: shape) == .emptyRange(name: "uniform", low: 1, high: -1))
        #expect(Self.error(.uniform(low: 1, high: 1), shape: shape) == .emptyRange(name: "uniform", low: 1, high: 1))
        #expect(Self.error(.truncatedNormal(mean: 0, std: 1, a: 1, b: 1), shape: shape) == .emptyRange(name: "truncated normal", low: 1, high: 1))
        #expect(Self.error(.truncatedNormal(mean: 0, std: 1, a: 2, b: -2), shape: shape) == .emptyRange(name: "truncated normal", low: 2, high: -2))
        for sp in [1.0, -0.1, 1.5, .nan] {
            guard case let .invalidParameter(name, _, _)? = Self.error(.sparse(sparsity: sp, std: 0.01), shape: shape) else {
                Issue.record("sparsity \(sp) accepted"); continue
            }
            #expect(name == "sparsity")
        }
        for k in [0.0, -1, .nan, 31, .infinity] {
            guard case let .invalidParameter(name, _, _)? = Self.error(.truncatedNormalMatched(mean: 0, std: 1, k: k), shape: shape) else {
                Issue.record("k \(k) accepted"); continue
            }
            #expect(name == "k")
        }
        let invalid: [Initializer] = [.constant(.nan), .constant(.infinity), .normal(mean: .nan, std: 1), .uniform(low: .nan, high: 1),
                                      .orthogonal(gain: .nan), .identity(gain: .infinity), .deltaOrthogonal(gain: .nan), .dirac(groups: 0),
                                      .varianceScaling(VarianceScaling(scale: -1)), .varianceScaling(VarianceScaling(scale: .nan)),
                                      .truncatedNormal(mean: 0, std: 1, a: -.infinity, b: 1)]
        for ini in invalid {
            if Self.error(ini, shape: shape) == nil { Issue.record("\(ini) accepted") }
            #expect(throws: InitializationError.self) { try ini.validate() }
        }
        for ok: Initializer in [.zeros, .normal(mean: 0, std: 0), .sparse(sparsity: 0, std: 0), .truncatedNormalMatched(k: 30)] {
            #expect(throws: Never.self) { try ok.validate() }
        }
    }

    @Test("shape errors: count mismatch, negative dimension, rows out of range")
    func shapeErrors() {
        #expect(Self.error(.zeros, shape: [3, 4], count: 11) == .countMismatch(shape: [3, 4], expected: 12, count: 11))
        #expect(Self.error(.normal(), shape: [3, 4], count: 13) == .countMismatch(shape: [3, 4], expected: 12, count: 13))
        // Negative dimensions through fillShard (the path fill() cannot reach yet, see negativeFirstDimension).
        let neg = UnsafeMutableBufferPointer<Float>.allocate(capacity: 0)
        defer { neg.deallocate() }
        for shape in [[-3, -4], [3, -4], [-1]] {
            let e = initError { try Initializer.zeros.fillShard(neg, shape: shape, rows: 0..<0, key: RandomKey(seed: 0)) }
            if case .invalidParameter? = e {} else { Issue.record("negative dimension \(shape) accepted: \(String(describing: e))") }
        }
        if case .invalidParameter? = Self.error(.zeros, shape: [3, -4], count: 12) {} else { Issue.record("negative dimension accepted") }
        if case .size? = Self.error(.zeros, shape: [Int.max, 4], count: 4) {} else { Issue.record("overflowing shape accepted") }
        var a = [Float](repeating: 7, count: 10)
        let e1 = initError { try a.withUnsafeMutableBufferPointer { try Initializer.ones.fillShard($0, shape: [4, 5], rows: 3..<5, key: RandomKey(seed: 0)) } }
        if case .invalidParameter? = e1 {} else { Issue.record("rows past the end accepted: \(String(describing: e1))") }
        let e2 = initError { try a.withUnsafeMutableBufferPointer { try Initializer.ones.fillShard($0, shape: [4, 5], rows: 0..<1, key: RandomKey(seed: 0)) } }
        #expect(e2 == .countMismatch(shape: [4, 5], expected: 5, count: 10))
        #expect(a.allSatisfy { $0 == 7 })
        #expect(throws: InitializationError.self) { _ = try Initializer.zeros.matrix(rows: -1, columns: 3, of: Float.self, key: RandomKey(seed: 0)) }
    }

    /// Regression: `fill(_:shape:…)` used to build `0..<(shape.first ?? 1)` before validating, so a
    /// negative first dimension trapped instead of throwing `.invalidParameter`.
    @Test("a negative first dimension throws instead of trapping")
    func negativeFirstDimension() {
        if case .invalidParameter? = Self.error(.zeros, shape: [-3, -4], count: 12) {} else { Issue.record("negative dimension accepted") }
    }

    @Test("C05: on a 1-D tensor [10] fan-based schemes, orthogonal and dirac throw; simple schemes succeed")
    func oneDimensional() throws {
        let fanBased: [Initializer] = [.xavierUniform(), .xavierNormal(), .glorotUniform(), .heUniform(), .heNormal(), .kaimingNormal(),
                                       .kaimingUniform(), .lecunUniform(), .lecunNormal(), .varianceScaling(VarianceScaling()), .orthogonal()]
        for ini in fanBased {
            let e = Self.error(ini, shape: [10])
            guard case let .tooFewDimensions(_, shape)? = e else { Issue.record("\(ini) on [10]: \(String(describing: e))"); continue }
            #expect(shape == [10])
            #expect(e!.description.contains("≥ 2 dimensions"), "\(e!.description)")
        }
        for ini: Initializer in [.dirac(), .deltaOrthogonal(), .identity(), .sparse(sparsity: 0.1)] {
            if case .unsupportedShape? = Self.error(ini, shape: [10]) {} else { Issue.record("\(ini) on [10] did not throw unsupportedShape") }
        }
        // Scalars (shape []) have no fans either.
        if case .tooFewDimensions? = Self.error(.heNormal(), shape: [], count: 1) {} else { Issue.record("he-normal on a scalar") }
        let z: [Float] = try filled(.zeros, shape: [10], key: RandomKey(seed: 0))
        #expect(z == [Float](repeating: 0, count: 10))
        let c: [Float] = try filled(.constant(0.1), shape: [10], key: RandomKey(seed: 0))
        #expect(c.allSatisfy { $0 == Float(0.1) })
        let u: [Float] = try filled(.uniform(low: -0.3, high: 0.3), shape: [10], key: RandomKey(seed: 0))
        #expect(u.allSatisfy { $0 >= -0.3 && $0 < 0.3 } && Set(u).count == 10)
        let n: [Double] = try filled(.normal(mean: 0, std: 0.1), shape: [10], key: RandomKey(seed: 0))
        #expect(n.allSatisfy { $0.isFinite && abs($0) < 1 } && Set(n).count == 10)
    }

    @Test("C13: every scheme on an empty tensor (3,0), (0,5), (0,4,3,3) is a no-op without error")
    func emptyTensors() throws {
        let all: [Initializer] = [.zeros, .ones, .constant(2), .uniform(), .normal(), .truncatedNormal(), .truncatedNormalMatched(),
                                  .xavierUniform(), .xavierNormal(), .heUniform(), .heNormal(), .lecunUniform(), .lecunNormal(),
                                  .varianceScaling(VarianceScaling()), .orthogonal(), .identity(), .dirac(), .deltaOrthogonal(),
                                  .sparse(sparsity: 0.5)]
        for ini in all {
            for shape in [[3, 0], [0, 5], [0, 4, 3, 3]] {
                var a: [Float] = []
                let e = initError { try a.withUnsafeMutableBufferPointer { try ini.fill($0, shape: shape, key: RandomKey(seed: 0)) } }
                #expect(e == nil, "\(ini) on \(shape): \(String(describing: e))")
                let st = try ini.expectedStatistics(shape: shape)
                #expect(st.mean == 0 && st.std == 0 && st.bound == nil)
            }
        }
        var m = Matrix<Double>(rows: 0, columns: 8)
        try Initializer.heNormal().fill(&m, layout: .denseInOut, key: RandomKey(seed: 0))
        #expect(m.rows == 0 && m.columns == 8)
    }

    @Test("the same key gives the same bytes; another key gives others; usesFans")
    func keyDependence() throws {
        let a: [Double] = try filled(.xavierNormal(), shape: [20, 30], key: RandomKey(seed: 1))
        let b: [Double] = try filled(.xavierNormal(), shape: [20, 30], key: RandomKey(seed: 1))
        let c: [Double] = try filled(.xavierNormal(), shape: [20, 30], key: RandomKey(seed: 2))
        let ab = sameBytes(a, b), ac = sameBytes(a, c)
        #expect(ab && !ac)
        #expect(Initializer.heNormal().usesFans && Initializer.xavierUniform().usesFans)
        #expect(!Initializer.normal().usesFans && !Initializer.orthogonal().usesFans && !Initializer.zeros.usesFans)
    }
}

/// D4: the dimension rule is checked before the empty-tensor shortcut, so a 1-D shape is refused
/// by every scheme that needs ≥ 2 dimensions whether it has 0 or 5 elements (PyTorch's
/// `orthogonal_` raises "Only tensors with 2 or more dimensions are supported" for both), while
/// element-wise schemes accept it and every scheme is a no-op on a ≥ 2-D shape with a zero dimension.
@Suite("zero-sized dimensions: one rule for every scheme")
struct ZeroDimensionRuleTests {
    static let needsMatrix: [Initializer] = [.xavierUniform(), .xavierNormal(), .heUniform(), .heNormal(), .lecunUniform(), .lecunNormal(),
                                             .varianceScaling(VarianceScaling()), .orthogonal(), .identity(), .dirac(), .deltaOrthogonal(),
                                             .sparse(sparsity: 0.5)]
    static let elementwise: [Initializer] = [.zeros, .ones, .constant(2), .uniform(), .normal(), .truncatedNormal(), .truncatedNormalMatched()]

    @Test("[0] and [5]: refused alike by matrix/kernel schemes (fill, validate, expectedStatistics); accepted by element-wise ones")
    func oneDimensional() throws {
        for ini in Self.needsMatrix {
            var errors: [String] = []
            for n in [0, 5] {
                var a = [Float](repeating: 0, count: n)
                let fill = initError { try ini.fill(&a, shape: [n], key: RandomKey(seed: 0)) }
                let check = initError { try ini.validate(shape: [n], as: Float.self) }
                let expected = initError { _ = try ini.expectedStatistics(shape: [n]) }
                #expect(fill != nil && check != nil && expected != nil, "\(ini) on [\(n)]: fill \(String(describing: fill)), validate \(String(describing: check))")
                // The same kind of error for the empty and the non-empty shape.
                errors.append(fill.map { "\($0)".replacingOccurrences(of: "[\(n)]", with: "[n]") } ?? "none")
            }
            #expect(errors[0] == errors[1], "\(ini): [0] → \(errors[0]); [5] → \(errors[1])")
        }
        for ini in Self.elementwise {
            for n in [0, 5] {
                var a = [Float](repeating: 0, count: n)
                #expect(initError { try ini.fill(&a, shape: [n], key: RandomKey(seed: 0)) } == nil, "\(ini) on [\(n)]")
            }
        }
    }

    @Test("≥ 2-D shapes with a zero dimension stay no-ops for every scheme (C13)")
    func emptyMatrices() throws {
        for ini in Self.needsMatrix + Self.elementwise {
            for shape in [[3, 0], [0, 5], [0, 4, 3, 3], [4, 0, 3, 3]] {
                var a: [Float] = []
                #expect(initError { try ini.fill(&a, shape: shape, key: RandomKey(seed: 0)) } == nil, "\(ini) on \(shape)")
            }
        }
    }
}
