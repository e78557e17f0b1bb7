import Foundation
import Initializers

/// An elementwise activation function with its derivative, numerically stable at large |x|
/// (sigmoid, softplus, SiLU and GELU never overflow; `exp` is only evaluated on non-positive
/// arguments where it could).
public enum Activation: Sendable, Hashable, Codable {
    case identity
    /// `1/(1+e^{−x})`.
    case sigmoid
    case tanh
    /// `max(x, 0)`; derivative 0 at x ≤ 0.
    case relu
    /// `x` for x ≥ 0, `slope·x` otherwise (default slope 0.01).
    case leakyReLU(slope: Float = 0.01)
    /// `x` for x > 0, `α(eˣ − 1)` otherwise (Clevert et al. 2016).
    case elu(alpha: Float = 1)
    /// `λ·elu_α(x)` with λ = 1.0507…, α = 1.6733… (Klambauer et al. 2017).
    case selu
    /// Exact GELU `x·Φ(x)` (Hendrycks & Gimpel 2016).
    case gelu
    /// SiLU/Swish `x·σ(x)`.
    case silu
    /// `log(1 + eˣ)`.
    case softplus
    /// `x/(1 + |x|)`.
    case softsign

    static let seluLambda: Float = 1.0507009873554804934193349852946
    static let seluAlpha: Float = 1.6732632423543772848170429916717

    /// Names accepted by `init(name:)` (kebab-case; `_` also accepted).
    public static let names = ["identity", "sigmoid", "tanh", "relu", "leaky-relu", "elu", "selu", "gelu", "silu", "softplus", "softsign"]

    /// Looks an activation up by name (`relu`, `leaky-relu`, `leaky_relu`, `swish` = silu, …).
    /// - Throws: `InitializationError.unknownName` listing the valid names;
    ///   `.invalidParameter` naming `negative slope` when `slope` is not finite (leaky-relu).
    public init(name: String, slope: Float = 0.01) throws(InitializationError) {
        if name.lowercased().replacingOccurrences(of: "_", with: "-").hasPrefix("leaky") {
            guard slope.isFinite else { throw .invalidParameter(name: "negative slope", value: Double(slope), rule: "must be finite") }
        }
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "identity", "linear", "none": self = .identity
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "relu": self = .relu
        case "leaky-relu", "leakyrelu": self = .leakyReLU(slope: slope)
        case "elu": self = .elu(alpha: 1)
        case "selu": self = .selu
        case "gelu": self = .gelu
        case "silu", "swish": self = .silu
        case "softplus": self = .softplus
        case "softsign": self = .softsign
        default: throw .unknownName(kind: "activation", name: name, valid: Activation.names)
        }
    }

    /// The kebab-case name.
    public var name: String {
        switch self {
        case .identity: return "identity"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .relu: return "relu"
        case .leakyReLU: return "leaky-relu"
        case .elu: return "elu"
        case .selu: return "selu"
        case .gelu: return "gelu"
        case .silu: return "silu"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        }
    }

    /// The matching `Nonlinearity` for gains. Softsign has no tabulated gain; it maps to
    /// `.linear` (gain 1).
    public var nonlinearity: Nonlinearity {
        switch self {
        case .identity, .softsign: return .linear
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .relu: return .relu
        case let .leakyReLU(s): return .leakyReLU(negativeSlope: Double(s))
        case let .elu(a): return .elu(alpha: Double(a))
        case .selu: return .selu
        case .gelu: return .gelu
        case .silu: return .silu
        case .softplus: return .softplus
        }
    }

    /// The initializer that fits this activation (`--init auto`): He normal for the ReLU family
    /// (with the leaky slope's gain) and for ELU/GELU/SiLU/softplus (with their second-moment
    /// gains), Xavier/Glorot uniform for tanh, sigmoid, softsign and identity, LeCun normal for
    /// SELU (Klambauer et al. 2017).
    public var defaultInitializer: Initializer {
        switch self {
        case .relu, .leakyReLU, .elu, .gelu, .silu, .softplus: return .heNormal(mode: .fanIn, nonlinearity: nonlinearity)
        case .tanh, .sigmoid, .softsign, .identity: return .xavierUniform(gain: 1)
        case .selu: return .lecunNormal()
        }
    }

    /// Whether the activation saturates (sigmoid, tanh, softsign): diagnostics then report the
    /// fraction of outputs within 1% of an asymptote.
    public var saturates: Bool {
        switch self { case .sigmoid, .tanh, .softsign: return true; default: return false }
    }

    /// Whether the activation has a dead region (ReLU: output exactly 0 for x ≤ 0).
    public var canDie: Bool { if case .relu = self { return true }; return false }

    // MARK: Kernels

    /// `y[i] = f(z[i])` for `count` elements.
    public func forward(_ z: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity: if UnsafePointer(y) != z { y.update(from: z, count: count) }
        case .sigmoid: for i in 0..<count { y[i] = Activation.sigmoid(z[i]) }
        case .tanh: for i in 0..<count { y[i] = Foundation.tanh(z[i]) }
        case .relu:
            // Eight lanes at a time, branch-free: the same `v > 0 ? v : 0` (NaN and −0 give +0).
            var i = 0
            while i + 8 <= count {
                let v = LayerKernels.load8(z + i)
                LayerKernels.store8(SIMD8<Float>().replacing(with: v, where: v .> 0), y + i)
                i += 8
            }
            while i < count { let v = z[i]; y[i] = v > 0 ? v : 0; i += 1 }
        case let .leakyReLU(s): for i in 0..<count { let v = z[i]; y[i] = v >= 0 ? v : s * v }
        case let .elu(a): for i in 0..<count { let v = z[i]; y[i] = v > 0 ? v : a * Foundation.expm1(v) }
        case .selu:
            let l = Activation.seluLambda, a = Activation.seluAlpha
            for i in 0..<count { let v = z[i]; y[i] = v > 0 ? l * v : l * a * Foundation.expm1(v) }
        case .gelu: for i in 0..<count { let v = z[i]; y[i] = v * Activation.phi(v) }
        case .silu: for i in 0..<count { let v = z[i]; y[i] = v * Activation.sigmoid(v) }
        case .softplus: for i in 0..<count { y[i] = Activation.softplus(z[i]) }
        case .softsign: for i in 0..<count { let v = z[i]; y[i] = v / (1 + abs(v)) }
        }
    }

    /// `dz[i] = dy[i]·f′(z[i])`, given the pre-activation `z` and the output `y = f(z)`.
    public func backward(z: UnsafePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dz: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity: if UnsafePointer(dz) != dy { dz.update(from: dy, count: count) }
        case .sigmoid: for i in 0..<count { let s = y[i]; dz[i] = dy[i] * s * (1 - s) }
        case .tanh: for i in 0..<count { let t = y[i]; dz[i] = dy[i] * (1 - t * t) }
        case .relu:
            var i = 0
            while i + 8 <= count {
                let v = LayerKernels.load8(z + i)
                LayerKernels.store8(SIMD8<Float>().replacing(with: LayerKernels.load8(dy + i), where: v .> 0), dz + i)
                i += 8
            }
            while i < count { dz[i] = z[i] > 0 ? dy[i] : 0; i += 1 }
        case let .leakyReLU(s): for i in 0..<count { dz[i] = z[i] >= 0 ? dy[i] : s * dy[i] }
        case let .elu(a): for i in 0..<count { let v = z[i]; dz[i] = v > 0 ? dy[i] : dy[i] * (y[i] + a) }
        case .selu:
            let l = Activation.seluLambda, la = l * Activation.seluAlpha
            for i in 0..<count { let v = z[i]; dz[i] = v > 0 ? dy[i] * l : dy[i] * (y[i] + la) }
        case .gelu:
            for i in 0..<count {
                let v = z[i]
                dz[i] = dy[i] * (Activation.phi(v) + v * Foundation.exp(-0.5 * v * v) * 0.3989422804014327)
            }
        case .silu:
            for i in 0..<count { let v = z[i]; let s = Activation.sigmoid(v); dz[i] = dy[i] * (s + v * s * (1 - s)) }
        case .softplus: for i in 0..<count { dz[i] = dy[i] * Activation.sigmoid(z[i]) }
        case .softsign: for i in 0..<count { let d = 1 + abs(z[i]); dz[i] = dy[i] / (d * d) }
        }
    }

    /// The activation in Double precision (for analytic moment propagation).
    public var doubleFunction: @Sendable (Double) -> Double {
        if case .softsign = self { return { x in x / (1 + abs(x)) } }
        return nonlinearity.function
    }

    /// Applies `f` to one value (slow path, for tests and diagnostics).
    public func callAsFunction(_ x: Float) -> Float {
        var z = x, y: Float = 0
        forward(&z, &y, count: 1)
        return y
    }

    /// `f′(x)` for one value.
    public func derivative(at x: Float) -> Float {
        var z = x, y = self(x), dy: Float = 1, dz: Float = 0
        backward(z: &z, y: &y, dy: &dy, dz: &dz, count: 1)
        return dz
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }
    @inline(__always) static func softplus(_ x: Float) -> Float {
        x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
    }
    /// Standard normal CDF Φ(x).
    @inline(__always) static func phi(_ x: Float) -> Float { 0.5 * Foundation.erfc(-x * 0.70710678118654752) }
}
