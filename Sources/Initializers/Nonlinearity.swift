import Foundation

/// A nonlinearity and its recommended gain: the factor by which an initializer's standard
/// deviation is multiplied so the signal's scale survives the activation.
///
/// The classic entries reproduce PyTorch's `torch.nn.init.calculate_gain` table exactly:
/// linear, identity, conv/conv-transpose and sigmoid 1; tanh 5/3; relu √2;
/// leaky_relu(slope) √(2/(1+slope²)) with default slope 0.01; selu 3/4 (an empirical value
/// chosen by PyTorch for stable deep SELU stacks, not a closed form).
///
/// The modern activations (GELU, SiLU/Swish, ELU, softplus, Mish), which PyTorch does not
/// tabulate, get `gain = 1/√E[f(z)²]` with `z ~ N(0, 1)`: the factor that keeps the second
/// moment of the activation's output equal to that of its input under a standard normal
/// pre-activation (the same rule gives √2 for relu). The expectation is computed by
/// composite Simpson quadrature on [−12, 0] and [0, 12] (split at the kink of ELU), 20 000
/// panels per side, error far below 1e-9.
public enum Nonlinearity: Sendable, Hashable, Codable {
    case linear, identity
    case conv1d, conv2d, conv3d, convTranspose1d, convTranspose2d, convTranspose3d
    case sigmoid, tanh, relu
    /// Leaky ReLU with the given negative slope (PyTorch default 0.01).
    case leakyReLU(negativeSlope: Double = 0.01)
    case selu
    /// GELU, exact form `x·Φ(x)` (Hendrycks & Gimpel 2016).
    case gelu
    /// SiLU/Swish `x·σ(x)` (Elfwing et al. 2018; Ramachandran et al. 2017).
    case silu
    /// ELU with scale `alpha` (Clevert et al. 2016), default 1.
    case elu(alpha: Double = 1)
    /// Softplus `log(1 + eˣ)`.
    case softplus
    /// Mish `x·tanh(softplus(x))` (Misra 2019).
    case mish

    /// The gain (see the type's documentation for the table and the second-moment rule).
    public var gain: Double {
        switch self {
        case .linear, .identity, .conv1d, .conv2d, .conv3d, .convTranspose1d, .convTranspose2d, .convTranspose3d, .sigmoid:
            return 1
        case .tanh: return 5.0 / 3.0
        case .relu: return 2.0.squareRoot()
        case let .leakyReLU(slope): return (2.0 / (1 + slope * slope)).squareRoot()
        case .selu: return 0.75
        case .gelu, .silu, .elu, .softplus, .mish:
            return 1 / Nonlinearity.secondMoment(of: self.function).squareRoot()
        }
    }

    /// `gain²` computed without rounding the gain first: exactly 2 for relu, 25/9 for tanh,
    /// `2/(1+slope²)` for leaky relu, 9/16 for selu, `1/E[f(z)²]` for the modern activations. The
    /// variance-scaling presets use it as their `scale`, so `heNormal()` is byte-identical to
    /// `VarianceScaling(scale: 2, mode: .fanIn, distribution: .normal)`.
    public var gainSquared: Double {
        switch self {
        case .linear, .identity, .conv1d, .conv2d, .conv3d, .convTranspose1d, .convTranspose2d, .convTranspose3d, .sigmoid: return 1
        case .tanh: return 25.0 / 9.0
        case .relu: return 2
        case let .leakyReLU(slope): return 2 / (1 + slope * slope)
        case .selu: return 9.0 / 16.0
        case .gelu, .silu, .elu, .softplus, .mish: return 1 / Nonlinearity.secondMoment(of: self.function)
        }
    }

    /// The activation as a function (identity for the linear/conv entries).
    public var function: @Sendable (Double) -> Double {
        switch self {
        case .linear, .identity, .conv1d, .conv2d, .conv3d, .convTranspose1d, .convTranspose2d, .convTranspose3d:
            return { $0 }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .relu: return { max($0, 0) }
        case let .leakyReLU(s): return { $0 >= 0 ? $0 : s * $0 }
        case .selu:
            return { x in 1.0507009873554804934193349852946 * (x > 0 ? x : 1.6732632423543772848170429916717 * (Foundation.exp(x) - 1)) }
        case .gelu: return { x in x * 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }
        case .silu: return { x in x / (1 + Foundation.exp(-x)) }
        case let .elu(alpha): return { x in x > 0 ? x : alpha * Foundation.expm1(x) }
        case .softplus: return { x in x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x)) }
        case .mish:
            return { x in
                let sp = x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
                return x * Foundation.tanh(sp)
            }
        }
    }

    /// `E[f(z)²]` for `z ~ N(0, 1)` by composite Simpson quadrature on [−12, 0] ∪ [0, 12].
    public static func secondMoment(of f: (Double) -> Double) -> Double {
        expectation { let v = f($0); return v * v }
    }

    /// `E[g(z)]` for `z ~ N(0, 1)` by composite Simpson quadrature on [−12, 0] ∪ [0, 12], 20 000 panels
    /// per side. Splitting at 0 keeps it accurate for functions with a kink there (ReLU, ELU, SELU),
    /// where Gauss–Hermite converges slowly.
    public static func expectation(_ g: (Double) -> Double) -> Double {
        let panels = 20_000, limit = 12.0
        let h = limit / Double(panels)
        let norm = 1 / (2 * Double.pi).squareRoot()
        func integrand(_ z: Double) -> Double { g(z) * norm * Foundation.exp(-z * z / 2) }
        var total = 0.0
        for side in [-1.0, 1.0] {
            var s = integrand(0) + integrand(side * limit)
            for i in 1..<panels { s += (i % 2 == 1 ? 4 : 2) * integrand(side * Double(i) * h) }
            total += s * h / 3
        }
        return total
    }

    /// Checks the parameter a user can set: the leaky-ReLU negative slope and ELU's alpha must
    /// be finite. (PyTorch's `calculate_gain` accepts any number; an infinite slope gives gain 0
    /// there, and a NaN one a NaN gain — both rejected here.)
    /// - Throws: `InitializationError.invalidParameter` naming `negative slope` or `alpha`.
    public func validate() throws(InitializationError) {
        switch self {
        case let .leakyReLU(slope): try requireFinite("negative slope", slope)
        case let .elu(alpha): try requireFinite("alpha", alpha)
        default: break
        }
    }

    /// Canonical names accepted by `init(name:parameter:)`.
    public static let names = ["linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                               "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "gelu", "silu", "swish",
                               "elu", "softplus", "mish"]

    /// Looks a nonlinearity up by name, as `calculate_gain(nonlinearity, param)` does.
    /// Names are case-insensitive; `-` and `_` are equivalent (`leaky-relu`, `LeakyReLU`).
    /// `parameter` is the leaky slope (default 0.01; `"0"` means slope 0, not the default) or
    /// ELU's alpha; it must parse as a finite number — booleans and other text are rejected.
    /// - Throws: `InitializationError.unknownName` listing the valid names;
    ///   `.invalidParameter` for a non-numeric parameter or one given to a nonlinearity that takes none.
    public init(name: String, parameter: String? = nil) throws(InitializationError) {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "")
        var number: Double?
        if let parameter {
            let t = parameter.trimmingCharacters(in: .whitespaces)
            guard let v = Double(t), v.isFinite, t.lowercased() != "true", t.lowercased() != "false" else {
                throw .invalidParameter(name: "\(name) parameter '\(parameter)'", value: .nan, rule: "must be a finite number")
            }
            number = v
        }
        let takesParameter = ["leakyrelu", "elu"].contains(key)
        if number != nil && !takesParameter {
            throw .invalidParameter(name: "\(name) parameter", value: number!, rule: "\(name) takes no parameter")
        }
        switch key {
        case "linear": self = .linear
        case "identity": self = .identity
        case "conv1d": self = .conv1d
        case "conv2d": self = .conv2d
        case "conv3d": self = .conv3d
        case "convtranspose1d": self = .convTranspose1d
        case "convtranspose2d": self = .convTranspose2d
        case "convtranspose3d": self = .convTranspose3d
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "relu": self = .relu
        case "leakyrelu": self = .leakyReLU(negativeSlope: number ?? 0.01)
        case "selu": self = .selu
        case "gelu": self = .gelu
        case "silu", "swish": self = .silu
        case "elu": self = .elu(alpha: number ?? 1)
        case "softplus": self = .softplus
        case "mish": self = .mish
        default: throw .unknownName(kind: "nonlinearity", name: name, valid: Nonlinearity.names)
        }
    }

    /// The gain of the named nonlinearity: `calculate_gain` (PyTorch) with the same names.
    /// - Throws: as `init(name:parameter:)`.
    public static func gain(for name: String, parameter: Double? = nil) throws(InitializationError) -> Double {
        try Nonlinearity(name: name, parameter: parameter.map { "\($0)" }).gain
    }
}
