// Scheme names, aliases and CamelCase (C18), Initializer(name:parameters:), `name`, and the
// Codable round trip giving identical bytes.
import Foundation
import Testing
import Initializers

@Suite("Initializer names")
struct InitializerNamesTests {
    @Test("canonicalName ignores case, _, - and spaces; aliases resolve")
    func canonical() throws {
        let expected: [(String, String)] = [
            ("glorot_uniform", "xavier-uniform"), ("GlorotUniform", "xavier-uniform"), ("xavier_uniform", "xavier-uniform"),
            ("Xavier Uniform", "xavier-uniform"), ("glorot-normal", "xavier-normal"), ("he_normal", "he-normal"),
            ("kaiming_normal", "he-normal"), ("KaimingNormal", "he-normal"), ("kaiming_uniform", "he-uniform"), ("HeUniform", "he-uniform"),
            ("lecun_normal", "lecun-normal"), ("LecunUniform", "lecun-uniform"), ("zeros", "zeros"), ("Zeros", "zeros"),
            ("orthogonal", "orthogonal"), ("Orthogonal", "orthogonal"), ("eye", "identity"), ("trunc_normal", "truncated-normal"),
            ("TruncatedNormal", "truncated-normal"), ("delta_orthogonal", "delta-orthogonal"), ("VarianceScaling", "variance-scaling"),
        ]
        for (input, canonical) in expected {
            #expect(try Initializer.canonicalName(input) == canonical, "\(input)")
        }
        for name in Initializer.schemeNames { #expect(try Initializer.canonicalName(name) == name) }
    }

    @Test("C18: glorot_uniform, GlorotUniform and xavier_uniform give bound 0.075955 and the same bytes on (784, 256)")
    func sameBound() throws {
        var reference: [Float]?
        for name in ["glorot_uniform", "GlorotUniform", "xavier_uniform", "xavier-uniform"] {
            let ini = try Initializer(name: name)
            #expect(ini == .xavierUniform())
            let e = try ini.expectedStatistics(shape: [784, 256], layout: .denseInOut)
            #expect(abs(e.bound! - 0.075955) < 1e-6, "\(name): \(e)")
            let w: [Float] = try filled(ini, shape: [784, 256], layout: .denseInOut, key: RandomKey(seed: 0))
            let m = w.reduce(0) { max($0, abs($1)) }
            #expect(Double(m) <= Double(Float(0.0759554)) && Double(m) > 0.99 * 0.075955)
            if let r = reference { expectSameBytes(r, w, "\(name)") } else { reference = w }
        }
        #expect(try Initializer(name: "he_normal") == Initializer(name: "kaiming_normal"))
        #expect(try Initializer(name: "he_normal") == .heNormal())
        #expect(try Initializer(name: "lecun_normal") == .lecunNormal())
        #expect(try Initializer(name: "Zeros") == .zeros && (try Initializer(name: "zeros")) == .zeros)
        #expect(try Initializer(name: "Orthogonal") == .orthogonal(gain: 1))
    }

    @Test("C18: a misspelled name is an error listing the valid names; never a fallback")
    func misspelled() {
        let e = initError { _ = try Initializer(name: "xavier_unifrom") }
        guard case let .unknownName(kind, name, valid)? = e else { Issue.record("accepted: \(String(describing: e))"); return }
        #expect(kind == "initializer" && name == "xavier_unifrom")
        for n in Initializer.schemeNames + ["glorot-uniform", "kaiming-normal", "eye"] { #expect(valid.contains(n), "\(n) missing") }
        #expect(e!.description.contains("xavier-uniform") && e!.description.contains("xavier_unifrom"), "\(e!.description)")
        for bad in ["", "he", "xavier", "normall", "uniformm", "glorot"] {
            if case .unknownName? = initError({ _ = try Initializer.canonicalName(bad) }) {} else { Issue.record("'\(bad)' accepted") }
        }
    }

    @Test("Initializer(name:parameters:) maps hyper-parameters and defaults")
    func parameters() throws {
        typealias P = SchemeParameters
        let cases: [(String, P, Initializer)] = [
            ("constant", P(value: 0.1), .constant(0.1)),
            ("uniform", P(), .uniform(low: 0, high: 1)),
            ("uniform", P(low: -3, high: 3), .uniform(low: -3, high: 3)),
            ("normal", P(), .normal(mean: 0, std: 1)),
            ("normal", P(mean: 0.5, std: 0.02), .normal(mean: 0.5, std: 0.02)),
            ("trunc_normal", P(), .truncatedNormal(mean: 0, std: 1, a: -2, b: 2)),
            ("truncated-normal", P(std: 0.02, a: -0.04, b: 0.04), .truncatedNormal(mean: 0, std: 0.02, a: -0.04, b: 0.04)),
            ("truncated-normal-matched", P(std: 0.3, k: 1), .truncatedNormalMatched(mean: 0, std: 0.3, k: 1)),
            ("xavier_uniform", P(gain: 2), .xavierUniform(gain: 2)),
            ("xavier_normal", P(nonlinearity: .tanh), .xavierNormal(gain: 5.0 / 3)),
            ("kaiming_uniform", P(), .heUniform()),
            ("HeUniform", P(mode: .fanOut), .heUniform(mode: .fanOut)),
            ("he_normal", P(mode: .fanOut, nonlinearity: .leakyReLU(negativeSlope: 0.2)), .heNormal(mode: .fanOut, nonlinearity: .leakyReLU(negativeSlope: 0.2))),
            ("kaiming_normal", P(nonlinearity: .linear), .heNormal(nonlinearity: .linear)),
            ("lecun_uniform", P(), .lecunUniform()),
            ("variance_scaling", P(), .varianceScaling(VarianceScaling(scale: 1, mode: .fanIn, distribution: .truncatedNormal))),
            ("variance_scaling", P(scale: 2, mode: .fanAverage, distribution: .uniform), .varianceScaling(VarianceScaling(scale: 2, mode: .fanAverage, distribution: .uniform))),
            ("orthogonal", P(nonlinearity: .relu), .orthogonal(gain: 2.0.squareRoot())),
            ("eye", P(gain: 3), .identity(gain: 3)),
            ("dirac", P(groups: 2), .dirac(groups: 2)),
            ("delta_orthogonal", P(), .deltaOrthogonal(gain: 1)),
            ("sparse", P(sparsity: 0.1), .sparse(sparsity: 0.1, std: 0.01)),
        ]
        for (name, p, expected) in cases {
            #expect(try Initializer(name: name, parameters: p) == expected, "\(name) \(p)")
        }
        if case .missingParameter? = initError({ _ = try Initializer(name: "constant") }) {} else { Issue.record("constant without value") }
        if case .missingParameter? = initError({ _ = try Initializer(name: "sparse") }) {} else { Issue.record("sparse without sparsity") }
        // Values are validated at fill time.
        let bad = try Initializer(name: "normal", parameters: P(std: -1))
        #expect(throws: InitializationError.self) { try bad.validate() }
    }

    @Test("name gives the canonical kebab-case name, and resolves back to the same scheme for defaults")
    func names() throws {
        let defaults: [Initializer] = [.zeros, .ones, .uniform(), .normal(), .truncatedNormal(), .truncatedNormalMatched(), .xavierUniform(),
                                       .xavierNormal(), .heUniform(), .heNormal(), .lecunUniform(), .lecunNormal(), .orthogonal(),
                                       .identity(), .dirac(), .deltaOrthogonal(), .varianceScaling(VarianceScaling())]
        for ini in defaults {
            #expect(Initializer.schemeNames.contains(ini.name), "\(ini.name)")
            #expect(try Initializer(name: ini.name) == ini, "\(ini.name)")
        }
        #expect(Initializer.constant(3).name == "constant" && Initializer.sparse(sparsity: 0.2).name == "sparse")
        #expect(Initializer.xavierUniform(gain: 3).name == "xavier-uniform")
        #expect(Initializer.heNormal(mode: .fanOut).name == "he-normal" && Initializer.heUniform(mode: .fanOut).name == "he-uniform")
    }

    @Test("C18: Codable round trip keeps the configuration and gives identical bytes for the same seed")
    func codable() throws {
        let configured: [Initializer] = [
            .xavierUniform(gain: 1.3), .heNormal(mode: .fanOut, nonlinearity: .leakyReLU(negativeSlope: 0.1)), .lecunNormal(),
            .truncatedNormal(mean: 0.1, std: 0.02, a: -0.03, b: 0.05), .truncatedNormalMatched(mean: 0, std: 0.5, k: 1),
            .uniform(low: -0.2, high: 0.7), .normal(mean: 1, std: 0.1), .constant(0.25), .orthogonal(gain: 1.7),
            .identity(gain: 0.5), .dirac(groups: 2), .deltaOrthogonal(gain: 2), .sparse(sparsity: 0.3, std: 0.05), .zeros, .ones,
            .varianceScaling(VarianceScaling(scale: 0.7, mode: .fanGeometricAverage, distribution: .truncatedNormal)),
        ]
        struct Config: Codable { var initializer: Initializer; var key: RandomKey }
        for ini in configured {
            let shape: [Int] = switch ini { case .dirac, .deltaOrthogonal: [8, 4, 3, 3]; default: [24, 40] }
            let config = Config(initializer: ini, key: RandomKey(seed: 0xC0FFEE))
            let data = try JSONEncoder().encode(config)
            let back = try JSONDecoder().decode(Config.self, from: data)
            #expect(back.initializer == ini && back.key == config.key, "\(String(decoding: data, as: UTF8.self))")
            let a: [Float] = try filled(ini, shape: shape, key: config.key)
            let b: [Float] = try filled(back.initializer, shape: shape, key: back.key)
            expectSameBytes(a, b, "\(ini)")
        }
        let p = SchemeParameters(gain: 2, mode: .fanOut, nonlinearity: .tanh, sparsity: 0.1)
        #expect(try JSONDecoder().decode(SchemeParameters.self, from: JSONEncoder().encode(p)) == p)
    }
}
