// VarianceScaling and the Glorot/He/LeCun presets: fans → scale on real draws (C01, C02, C04,
// C05), the Keras truncated variant (C08), and every preset byte-identical to its triple.
import Foundation
import Testing
import Initializers

@Suite("VarianceScaling and presets")
struct VarianceScalingTests {
    /// max |w| over about `total` values drawn with keys `root.folding(in: i)`.
    static func maxAbs(_ ini: Initializer, shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1, total: Int) throws -> Double {
        let per = shape.reduce(1, *)
        var m: Float = 0
        let root = RandomKey(seed: 0)
        for i in 0..<max(1, total / per) {
            let w: [Float] = try filled(ini, shape: shape, layout: layout, groups: groups, key: root.folding(in: UInt64(i)))
            for x in w { m = max(m, abs(x)) }
        }
        return Double(m)
    }

    /// Bound check for a uniform scheme: max|w| in [0.99·bound, bound] (Float rounding allowed).
    static func expectBound(_ ini: Initializer, shape: [Int], layout: KernelLayout = .outInSpatial, groups: Int = 1, bound: Double,
                            total: Int = 1_000_000, _ label: String) throws {
        let m = try maxAbs(ini, shape: shape, layout: layout, groups: groups, total: total)
        print("\(label): max |w| \(m), bound \(bound)")
        #expect(m <= Double(Float(bound)) && m >= 0.99 * bound, "\(label): max |w| \(m), bound \(bound)")
        let e = try ini.expectedStatistics(shape: shape, layout: layout, groups: groups)
        #expect(abs(e.bound! - bound) < 1e-12 * bound && abs(e.std - bound / 3.0.squareRoot()) < 1e-12, "\(label): expectedStatistics \(e)")
    }

    @Test("C01: dense fans follow the layout; xavier/kaiming scales on 200 704 draws", arguments: [false, true])
    func c01(_ outIn: Bool) throws {
        let shape = outIn ? [256, 784] : [784, 256]
        let layout: KernelLayout = outIn ? .dense : .denseInOut
        let f = try Fans(shape: shape, layout: layout)
        #expect(f.fanIn == 784 && f.fanOut == 256)
        let xb = (6.0 / 1040).squareRoot()
        #expect(abs(xb - 0.075955) < 1e-6)
        let u: [Float] = try filled(.xavierUniform(), shape: shape, layout: layout, key: RandomKey(seed: 0))
        let mu = u.reduce(0) { max($0, abs($1)) }
        #expect(Double(mu) <= Double(Float(xb)) && Double(mu) >= 0.99 * xb, "xavier uniform max \(mu)")
        let su = SampleMoments(toDoubles(u)).std
        #expect(abs(su / (xb / 3.0.squareRoot()) - 1) < 0.01, "xavier uniform std \(su)")
        for (ini, target, label) in [(Initializer.xavierNormal(), (2.0 / 1040).squareRoot(), "xavier normal"),
                                     (.kaimingNormal(mode: .fanIn, nonlinearity: .relu), (2.0 / 784).squareRoot(), "kaiming fan_in"),
                                     (.kaimingNormal(mode: .fanOut, nonlinearity: .relu), (2.0 / 256).squareRoot(), "kaiming fan_out")] {
            let w: [Float] = try filled(ini, shape: shape, layout: layout, key: RandomKey(seed: 0))
            let s = SampleMoments(toDoubles(w)).std
            print("C01 \(label) \(outIn ? "out-in" : "in-out"): std \(s) target \(target)")
            #expect(abs(s / target - 1) < 0.01, "\(label): std \(s) vs \(target)")
        }
        #expect(abs((2.0 / 1040).squareRoot() - 0.043853) < 1e-6 && abs((2.0 / 784).squareRoot() - 0.050508) < 1e-6
                && abs((2.0 / 256).squareRoot() - 0.088388) < 1e-6)
    }

    @Test("C02: conv glorot bounds reached over 10⁶ draws")
    func c02() throws {
        try Self.expectBound(.glorotUniform(), shape: [32, 16, 3, 3], bound: 0.11785113019775792, "OIHW (32,16,3,3)")
        try Self.expectBound(.glorotUniform(), shape: [3, 3, 1, 16], layout: .spatialInOut, bound: 0.19802950859533489, "HWIO (3,3,1,16)")
        try Self.expectBound(.glorotUniform(), shape: [3, 16, 32], layout: .spatialInOut, bound: 0.20412414523193151, "Conv1D (3,16,32)")
        try Self.expectBound(.glorotUniform(), shape: [3, 3, 3, 8, 16], layout: .spatialInOut, bound: (6.0 / 648).squareRoot(), "Conv3D (3,3,3,8,16)")
    }

    @Test("C04: grouped/depthwise conv default init (kaiming_uniform a=√5) uses in/groups")
    func c04() throws {
        let torchDefault = Initializer.kaimingUniform(mode: .fanIn, nonlinearity: .leakyReLU(negativeSlope: 5.0.squareRoot()))
        try Self.expectBound(torchDefault, shape: [64, 8, 3], groups: 8, bound: 1 / 24.0.squareRoot(), "grouped Conv1d")
        try Self.expectBound(torchDefault, shape: [64, 8, 3, 3], groups: 8, bound: 1 / 72.0.squareRoot(), "grouped Conv2d")
        try Self.expectBound(torchDefault, shape: [4, 1, 3, 3], groups: 4, bound: 1.0 / 3, "depthwise")
        // Group-aware fan_out changes Xavier for depthwise kernels: √(6/18) vs the shape-only √(6/45).
        try Self.expectBound(.xavierUniform(), shape: [4, 1, 3, 3], groups: 4, bound: (6.0 / 18).squareRoot(), total: 200_000, "depthwise xavier groups 4")
        try Self.expectBound(.xavierUniform(), shape: [4, 1, 3, 3], bound: (6.0 / 45).squareRoot(), total: 200_000, "depthwise xavier groups 1")
    }

    @Test("C05: xavier on 3-D Conv1d kernels")
    func c05() throws {
        try Self.expectBound(.xavierUniform(), shape: [2, 2, 1], bound: 1.224744871391589, total: 200_000, "(2,2,1)")
        try Self.expectBound(.xavierUniform(), shape: [8, 4, 5], bound: 0.31622776601683794, total: 200_000, "(8,4,5)")
    }

    @Test("C08: Keras truncated variance scaling (lecun_normal, he_normal) keeps the variance")
    func c08() throws {
        // Correction constant against the closed form built from the test's own Φ, φ.
        let closed = (1 - 4 * stdNormalPDF(2) / (2 * stdNormalCDF(2) - 1)).squareRoot()
        #expect(abs(TruncatedNormal.standardDeviationFactor(k: 2) - closed) < 1e-7)
        #expect(abs(closed - 0.87962566) < 1e-8)
        // lecun_normal on in-out (1, 1 000 000): fan_in = 1.
        let l = toDoubles(try filled(Initializer.lecunNormal(), Float.self, shape: [1, 1_000_000], layout: .denseInOut, key: RandomKey(seed: 0)))
        let sl = SampleMoments(l)
        let lb = 2 / closed
        print("C08 lecun_normal: variance \(sl.std * sl.std), range [\(sl.min), \(sl.max)], bound \(lb)")
        #expect(abs(sl.std * sl.std - 1) <= 0.01, "variance \(sl.std * sl.std)")
        #expect(sl.min >= -lb - 1e-6 && sl.max <= lb + 1e-6 && abs(lb - 2.2737) < 1e-4)
        #expect(sl.max > 0.999 * lb && sl.min < -0.999 * lb)
        #expect(abs(sl.mean) <= sl.meanTolerance(1))
        // he_normal truncated, fan_in 256: std 0.088388, parent 0.100484, |w| ≤ 0.200968.
        let he = Initializer.varianceScaling(VarianceScaling(scale: 2, mode: .fanIn, distribution: .truncatedNormal))
        let h = toDoubles(try filled(he, Float.self, shape: [256, 4096], layout: .denseInOut, key: RandomKey(seed: 0)))
        let sh = SampleMoments(h)
        let parent = (2.0 / 256).squareRoot() / closed
        #expect(abs(parent - 0.100484) < 1e-6)
        print("C08 he_normal truncated: std \(sh.std), max |w| \(max(-sh.min, sh.max))")
        #expect(abs(sh.std / 0.088388 - 1) < 0.01, "std \(sh.std)")
        #expect(max(-sh.min, sh.max) <= 0.200968 + 1e-6)
        let ks = ksDistance(Array(h.prefix(250_000)), cdf: truncatedCDF(mean: 0, std: parent, a: -2 * parent, b: 2 * parent))
        #expect(ks <= ksBound(250_000), "KS \(ks)")
        // Untruncated: std exactly √(scale/fan) as the promised value, and on the sample.
        let un = Initializer.varianceScaling(VarianceScaling(scale: 2, mode: .fanIn, distribution: .normal))
        #expect(try un.expectedStatistics(shape: [256, 4096], layout: .denseInOut).std == (2.0 / 256).squareRoot())
        let u = toDoubles(try filled(un, Float.self, shape: [256, 4096], layout: .denseInOut, key: RandomKey(seed: 0)))
        #expect(abs(SampleMoments(u).std / (2.0 / 256).squareRoot() - 1) < 0.01)
    }

    @Test("standardDeviation(fans:) = √(scale/fan) for every mode; defaults are Keras's")
    func standardDeviation() {
        let f = Fans(fanIn: 8, fanOut: 18)
        #expect(VarianceScaling(scale: 2, mode: .fanIn, distribution: .normal).standardDeviation(fans: f) == 0.5)
        #expect(abs(VarianceScaling(scale: 3, mode: .fanOut).standardDeviation(fans: f) - (1.0 / 6).squareRoot()) < 1e-15)
        #expect(abs(VarianceScaling(scale: 1, mode: .fanAverage).standardDeviation(fans: f) - (1.0 / 13).squareRoot()) < 1e-15)
        #expect(abs(VarianceScaling(scale: 1, mode: .fanGeometricAverage).standardDeviation(fans: f) - (1.0 / 12).squareRoot()) < 1e-15)
        let d = VarianceScaling()
        #expect(d.scale == 1 && d.mode == .fanIn && d.distribution == .truncatedNormal)
        #expect(VarianceScaling.Distribution.allCases.map(\.rawValue) == ["uniform", "normal", "truncated-normal"])
    }

    @Test("scale 0 gives zeros for every distribution")
    func zeroScale() throws {
        for dist in VarianceScaling.Distribution.allCases {
            let w: [Double] = try filled(.varianceScaling(VarianceScaling(scale: 0, mode: .fanIn, distribution: dist)), shape: [20, 30], key: RandomKey(seed: 3))
            #expect(w.allSatisfy { $0 == 0 }, "\(dist)")
        }
    }

    @Test("geometric-average mode and the uniform bound √3·σ on real draws")
    func geometric() throws {
        let vs = VarianceScaling(scale: 1.5, mode: .fanGeometricAverage, distribution: .uniform)
        let shape = [40, 90, 3]  // fan_in 270, fan_out 120, geometric mean 180
        let bound = (3 * 1.5 / 180.0).squareRoot()
        try Self.expectBound(.varianceScaling(vs), shape: shape, bound: bound, total: 200_000, "geo-avg uniform")
    }

    // MARK: Presets are exactly their triples

    static func triple(_ scale: Double, _ mode: FanMode, _ dist: VarianceScaling.Distribution) -> Initializer {
        .varianceScaling(VarianceScaling(scale: scale, mode: mode, distribution: dist))
    }

    static let presetCases: [(String, Initializer, Initializer, Double)] = {
        var c: [(String, Initializer, Initializer, Double)] = []
        for g in [1.0, 1.7] {
            c.append(("xavierUniform(gain: \(g))", .xavierUniform(gain: g), triple(g * g, .fanAverage, .uniform), g * g))
            c.append(("xavierNormal(gain: \(g))", .xavierNormal(gain: g), triple(g * g, .fanAverage, .normal), g * g))
            c.append(("glorotUniform(gain: \(g))", .glorotUniform(gain: g), triple(g * g, .fanAverage, .uniform), g * g))
            c.append(("glorotNormal(gain: \(g))", .glorotNormal(gain: g), triple(g * g, .fanAverage, .normal), g * g))
        }
        let nls: [(String, Nonlinearity, Double)] = [("relu", .relu, 2), ("leaky 0.2", .leakyReLU(negativeSlope: 0.2), 2 / 1.04),
                                                     ("leaky default", .leakyReLU(), 2 / 1.0001), ("tanh", .tanh, 25.0 / 9), ("linear", .linear, 1)]
        // He/Kaiming: the triple's scale is the exact gain² of the nonlinearity (2 for relu,
        // 2/(1+s²) for leaky relu, 25/9 for tanh, 1 for linear), as in PyTorch/Keras.
        for mode in [FanMode.fanIn, .fanOut] {
            for (name, nl, scale) in nls {
                c.append(("heUniform(\(mode), \(name))", .heUniform(mode: mode, nonlinearity: nl), triple(scale, mode, .uniform), scale))
                c.append(("heNormal(\(mode), \(name))", .heNormal(mode: mode, nonlinearity: nl), triple(scale, mode, .normal), scale))
                c.append(("kaimingUniform(\(mode), \(name))", .kaimingUniform(mode: mode, nonlinearity: nl), triple(scale, mode, .uniform), scale))
                c.append(("kaimingNormal(\(mode), \(name))", .kaimingNormal(mode: mode, nonlinearity: nl), triple(scale, mode, .normal), scale))
            }
        }
        c.append(("heNormal()", .heNormal(), triple(2, .fanIn, .normal), 2))
        c.append(("heUniform()", .heUniform(), triple(2, .fanIn, .uniform), 2))
        c.append(("lecunUniform()", .lecunUniform(), triple(1, .fanIn, .uniform), 1))
        c.append(("lecunNormal()", .lecunNormal(), triple(1, .fanIn, .truncatedNormal), 1))
        return c
    }()

    @Test("each preset is byte-identical to its VarianceScaling triple (Float and Double)", arguments: 0..<presetCases.count)
    func presets(_ i: Int) throws {
        let (name, preset, reference, scale) = Self.presetCases[i]
        // Regression: he/kaiming presets used to square the rounded gain ((√2)² = 2.0000000000000004),
        // so Double bytes differed from VarianceScaling(scale: 2, …) with the same key.
        try Self.checkPreset(name, preset, reference, scale)
    }

    static func checkPreset(_ name: String, _ preset: Initializer, _ reference: Initializer, _ scale: Double) throws {
        #expect(preset == reference, "\(name): \(preset)")
        guard case let .varianceScaling(vs) = preset else { Issue.record("\(name) is not variance scaling"); return }
        #expect(abs(vs.scale - scale) <= 4e-16 * scale, "\(name): scale \(vs.scale) vs closed form \(scale)")
        let key = RandomKey(seed: 606)
        let a: [Float] = try filled(preset, shape: [37, 23, 3], key: key)
        let b: [Float] = try filled(reference, shape: [37, 23, 3], key: key)
        expectSameBytes(a, b, "\(name) Float")
        let c: [Double] = try filled(preset, shape: [23, 37], layout: .denseInOut, key: key)
        let d: [Double] = try filled(reference, shape: [23, 37], layout: .denseInOut, key: key)
        expectSameBytes(c, d, "\(name) Double")
    }

    @Test("VarianceScaling is Codable")
    func codable() throws {
        let vs = VarianceScaling(scale: 2.5, mode: .fanGeometricAverage, distribution: .uniform)
        #expect(try JSONDecoder().decode(VarianceScaling.self, from: JSONEncoder().encode(vs)) == vs)
    }
}
