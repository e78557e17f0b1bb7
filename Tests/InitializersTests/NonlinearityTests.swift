// Nonlinearity: the PyTorch gain table (C06), name parsing and errors, and the second-moment
// gains of modern activations against an independent integration and 30-digit mpmath values.
import Foundation
import Testing
import Initializers

@Suite("Nonlinearity")
struct NonlinearityTests {
    @Test("C06: calculate_gain table within 1e-6")
    func table() throws {
        let expected: [(String, String?, Double)] = [
            ("linear", nil, 1), ("identity", nil, 1), ("conv1d", nil, 1), ("conv2d", nil, 1), ("conv3d", nil, 1),
            ("conv_transpose1d", nil, 1), ("conv_transpose2d", nil, 1), ("conv_transpose3d", nil, 1), ("sigmoid", nil, 1),
            ("tanh", nil, 1.666667), ("relu", nil, 1.414214), ("leaky_relu", nil, 1.414143), ("leaky_relu", "0", 1.414214),
            ("leaky_relu", "0.2", 1.386750), ("leaky_relu", "2.2360679774997896", 0.577350), ("selu", nil, 0.75),
        ]
        for (name, p, g) in expected {
            let got = try Nonlinearity(name: name, parameter: p).gain
            #expect(abs(got - g) < 1e-6, "\(name)(\(p ?? "-")): \(got) vs \(g)")
        }
        // Exact closed forms.
        #expect(Nonlinearity.tanh.gain == 5.0 / 3.0)
        #expect(Nonlinearity.relu.gain == 2.0.squareRoot())
        #expect(Nonlinearity.leakyReLU().gain == (2 / 1.0001).squareRoot())
        #expect(Nonlinearity.leakyReLU(negativeSlope: 0).gain == 2.0.squareRoot())
        #expect(abs(try Nonlinearity.gain(for: "leaky_relu", parameter: 0.2) - (2 / 1.04).squareRoot()) < 1e-15)
        #expect(try Nonlinearity.gain(for: "leaky_relu", parameter: 0) == 2.0.squareRoot())
        #expect(try Nonlinearity.gain(for: "tanh") == 5.0 / 3.0)
    }

    @Test("names are case-insensitive, - and _ equivalent; swish is silu; parameters parse")
    func names() throws {
        #expect(try Nonlinearity(name: "LeakyReLU") == .leakyReLU(negativeSlope: 0.01))
        #expect(try Nonlinearity(name: "leaky-relu", parameter: " 0.3 ") == .leakyReLU(negativeSlope: 0.3))
        #expect(try Nonlinearity(name: "RELU") == .relu)
        #expect(try Nonlinearity(name: "swish") == .silu && (try Nonlinearity(name: "SiLU")) == .silu)
        #expect(try Nonlinearity(name: "conv-transpose2d") == .convTranspose2d)
        #expect(try Nonlinearity(name: "elu") == .elu(alpha: 1) && (try Nonlinearity(name: "elu", parameter: "0.5")) == .elu(alpha: 0.5))
        #expect(try Nonlinearity(name: "GELU") == .gelu && (try Nonlinearity(name: "Mish")) == .mish && (try Nonlinearity(name: "softplus")) == .softplus)
        for name in Nonlinearity.names { #expect(throws: Never.self) { _ = try Nonlinearity(name: name) } }
    }

    @Test("unknown names and bad parameters are typed errors")
    func errors() {
        let e = initError { _ = try Nonlinearity(name: "relu6") }
        guard case let .unknownName(kind, name, valid)? = e else { Issue.record("relu6 accepted: \(String(describing: e))"); return }
        #expect(kind == "nonlinearity" && name == "relu6" && valid.contains("leaky_relu") && valid.contains("tanh"))
        for p in ["true", "false", "True", "abc", "", "nan", "inf", "1e999", "0.1x"] {
            if case .invalidParameter? = initError({ _ = try Nonlinearity(name: "leaky_relu", parameter: p) }) {} else {
                Issue.record("leaky_relu parameter '\(p)' accepted")
            }
        }
        for n in ["relu", "tanh", "gelu", "linear"] {
            if case .invalidParameter? = initError({ _ = try Nonlinearity(name: n, parameter: "0.1") }) {} else {
                Issue.record("\(n) accepted a parameter")
            }
        }
        #expect(throws: InitializationError.self) { _ = try Nonlinearity.gain(for: "leaky_relu", parameter: .nan) }
        #expect(throws: InitializationError.self) { _ = try Nonlinearity.gain(for: "nope") }
    }

    /// E[f(z)²], z ~ N(0,1), by the trapezoid rule on [−16, 16] with step 1/1024 (nodes include 0,
    /// the kink of ELU) — a different rule and grid from the package's Simpson on ±12.
    static func secondMomentOracle(_ f: (Double) -> Double) -> Double {
        let h = 1.0 / 1024, m = 16 * 1024
        var s = 0.0
        for i in -m...m {
            let z = Double(i) * h
            let v = f(z)
            let w = (i == -m || i == m) ? 0.5 : 1
            s += w * v * v * exp(-z * z / 2)
        }
        return s * h / (2 * Double.pi).squareRoot()
    }

    static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
    static let modern: [(String, Nonlinearity, @Sendable (Double) -> Double, Double)] = [
        // (name, case, own definition, 1/√E[f²] from mpmath at 30 digits)
        ("gelu", .gelu, { x in x * 0.5 * erfc(-x / 2.0.squareRoot()) }, 1.5335304411955352338),
        ("silu", .silu, { x in x / (1 + exp(-x)) }, 1.6765324703310911586),
        ("elu", .elu(alpha: 1), { x in x > 0 ? x : expm1(x) }, 1.2451983007007065503),
        ("elu(0.5)", .elu(alpha: 0.5), { x in x > 0 ? x : 0.5 * expm1(x) }, 1.3655948588382176664),
        ("softplus", .softplus, { x in NonlinearityTests.softplus(x) }, 1.041866835535301708),
        ("mish", .mish, { x in x * tanh(NonlinearityTests.softplus(x)) }, 1.486847581273208102),
    ]

    @Test("modern gains = 1/√E[f(z)²] within 1e-6 relative of an independent integration and mpmath", arguments: 0..<modern.count)
    func modernGains(_ i: Int) {
        let (name, nl, f, reference) = Self.modern[i]
        let oracle = 1 / Self.secondMomentOracle(f).squareRoot()
        print("\(name): gain \(nl.gain), trapezoid \(oracle), mpmath \(reference)")
        #expect(abs(oracle / reference - 1) < 1e-9, "\(name): the oracle itself disagrees with mpmath: \(oracle)")
        #expect(abs(nl.gain / oracle - 1) < 1e-6, "\(name): \(nl.gain) vs \(oracle)")
        #expect(abs(nl.gain / reference - 1) < 1e-6, "\(name): \(nl.gain) vs \(reference)")
        // The activation itself matches the definition.
        for x in [-3.0, -0.5, 0, 0.7, 4] { #expect(abs(nl.function(x) - f(x)) <= 1e-14 * max(1, abs(f(x))), "\(name)(\(x))") }
    }

    @Test("secondMoment(of:) on closed forms: E[1]=1, E[z²]=1, E[relu²]=1/2, E[z⁴]=3, E[z⁶]=15")
    func secondMoment() {
        #expect(abs(Nonlinearity.secondMoment(of: { _ in 1 }) - 1) < 1e-9)
        #expect(abs(Nonlinearity.secondMoment(of: { $0 }) - 1) < 1e-9)
        #expect(abs(Nonlinearity.secondMoment(of: { max($0, 0) }) - 0.5) < 1e-9)
        #expect(abs(Nonlinearity.secondMoment(of: { $0 * $0 }) - 3) < 1e-8)
        #expect(abs(Nonlinearity.secondMoment(of: { $0 * $0 * $0 }) - 15) < 1e-7)
        // The same rule gives √2 for relu and 1 for identity.
        #expect(abs(1 / Nonlinearity.secondMoment(of: Nonlinearity.relu.function).squareRoot() - 2.0.squareRoot()) < 1e-9)
    }

    @Test("classic activations as functions")
    func functions() {
        #expect(Nonlinearity.relu.function(-2) == 0 && Nonlinearity.relu.function(3) == 3)
        #expect(Nonlinearity.leakyReLU(negativeSlope: 0.2).function(-2) == -0.4)
        #expect(abs(Nonlinearity.sigmoid.function(0) - 0.5) < 1e-15)
        #expect(abs(Nonlinearity.tanh.function(1) - 0.7615941559557649) < 1e-15)
        #expect(abs(Nonlinearity.selu.function(1) - 1.0507009873554805) < 1e-15)
        #expect(abs(Nonlinearity.selu.function(-1) - 1.0507009873554805 * 1.6732632423543772 * (exp(-1) - 1)) < 1e-15)
        #expect(Nonlinearity.conv2d.function(-1.5) == -1.5)
    }

    @Test("Nonlinearity is Codable")
    func codable() throws {
        for n: Nonlinearity in [.relu, .leakyReLU(negativeSlope: 0.2), .elu(alpha: 0.3), .gelu, .selu] {
            #expect(try JSONDecoder().decode(Nonlinearity.self, from: JSONEncoder().encode(n)) == n)
        }
    }
}
