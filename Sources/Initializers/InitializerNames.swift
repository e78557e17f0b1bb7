/// Optional hyper-parameters for `Initializer(name:parameters:)`; `nil` means the scheme's default.
public struct SchemeParameters: Sendable, Hashable, Codable {
    public var value: Double?
    public var low: Double?, high: Double?
    public var mean: Double?, std: Double?
    public var a: Double?, b: Double?, k: Double?
    public var gain: Double?
    public var scale: Double?
    public var mode: FanMode?
    public var distribution: VarianceScaling.Distribution?
    public var nonlinearity: Nonlinearity?
    public var sparsity: Double?
    public var groups: Int?
    /// All defaults.
    public init(value: Double? = nil, low: Double? = nil, high: Double? = nil, mean: Double? = nil, std: Double? = nil,
                a: Double? = nil, b: Double? = nil, k: Double? = nil, gain: Double? = nil, scale: Double? = nil,
                mode: FanMode? = nil, distribution: VarianceScaling.Distribution? = nil, nonlinearity: Nonlinearity? = nil,
                sparsity: Double? = nil, groups: Int? = nil) {
        self.value = value; self.low = low; self.high = high; self.mean = mean; self.std = std; self.a = a; self.b = b
        self.k = k; self.gain = gain; self.scale = scale; self.mode = mode; self.distribution = distribution
        self.nonlinearity = nonlinearity; self.sparsity = sparsity; self.groups = groups
    }
}

extension Initializer {
    /// The canonical kebab-case scheme names (the `weightinit --scheme` vocabulary).
    public static let schemeNames = [
        "zeros", "ones", "constant", "uniform", "normal", "truncated-normal", "truncated-normal-matched",
        "xavier-uniform", "xavier-normal", "he-uniform", "he-normal", "lecun-uniform", "lecun-normal",
        "variance-scaling", "orthogonal", "identity", "dirac", "delta-orthogonal", "sparse",
    ]

    /// Accepted aliases: Glorot for Xavier, Kaiming for He, `eye` for identity.
    public static let schemeAliases = ["glorot-uniform": "xavier-uniform", "glorot-normal": "xavier-normal",
                                       "kaiming-uniform": "he-uniform", "kaiming-normal": "he-normal", "eye": "identity",
                                       "trunc-normal": "truncated-normal"]

    /// Resolves a scheme name to its canonical kebab-case form. Case, `_`, `-` and spaces are
    /// ignored, so `glorot_uniform`, `GlorotUniform`, `xavier-uniform` and `XavierUniform` all
    /// give `"xavier-uniform"`.
    /// - Throws: `InitializationError.unknownName` listing every valid name; never falls back.
    public static func canonicalName(_ name: String) throws(InitializationError) -> String {
        func squash(_ s: String) -> String { s.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " } }
        let key = squash(name)
        if let hit = schemeNames.first(where: { squash($0) == key }) { return hit }
        if let alias = schemeAliases.first(where: { squash($0.key) == key }) { return alias.value }
        throw .unknownName(kind: "initializer", name: name, valid: schemeNames + schemeAliases.keys.sorted())
    }

    /// A scheme from its name (see `canonicalName`) and optional hyper-parameters; unspecified
    /// ones take the framework defaults (PyTorch's for uniform/normal/trunc_normal/orthogonal,
    /// `nonlinearity: .relu` for He, `sparsity` is required for sparse).
    /// - Throws: `.unknownName` for an unknown scheme, `.invalidParameter` for a missing
    ///   required parameter; hyper-parameter values are validated when filling (and by `validate()`).
    public init(name: String, parameters p: SchemeParameters = SchemeParameters()) throws(InitializationError) {
        // The presets fold the gain into a variance-scaling scale (gain²); check it here so an
        // error names the gain, not the scale.
        if let g = p.gain {
            try requireFinite("gain", g)
            guard (g * g).isFinite else { throw .invalidParameter(name: "gain", value: g, rule: "gain² must be finite (|gain| ≤ 1.3e154)") }
        }
        try p.nonlinearity?.validate()
        let gain = p.gain ?? p.nonlinearity?.gain ?? 1
        switch try Initializer.canonicalName(name) {
        case "zeros": self = .zeros
        case "ones": self = .ones
        case "constant":
            guard let v = p.value else { throw .missingParameter(scheme: "constant", name: "value (--value)") }
            self = .constant(v)
        case "uniform": self = .uniform(low: p.low ?? 0, high: p.high ?? 1)
        case "normal": self = .normal(mean: p.mean ?? 0, std: p.std ?? 1)
        case "truncated-normal": self = .truncatedNormal(mean: p.mean ?? 0, std: p.std ?? 1, a: p.a ?? -2, b: p.b ?? 2)
        case "truncated-normal-matched": self = .truncatedNormalMatched(mean: p.mean ?? 0, std: p.std ?? 1, k: p.k ?? 2)
        case "xavier-uniform": self = .xavierUniform(gain: gain)
        case "xavier-normal": self = .xavierNormal(gain: gain)
        case "he-uniform", "he-normal":
            let nl = p.nonlinearity ?? .relu
            let scale = p.gain.map { $0 * $0 } ?? nl.gainSquared
            self = .varianceScaling(VarianceScaling(scale: scale, mode: p.mode ?? .fanIn,
                                                    distribution: name.lowercased().contains("uniform") ? .uniform : .normal))
        case "lecun-uniform": self = .lecunUniform()
        case "lecun-normal": self = .lecunNormal()
        case "variance-scaling":
            self = .varianceScaling(VarianceScaling(scale: p.scale ?? 1, mode: p.mode ?? .fanIn, distribution: p.distribution ?? .truncatedNormal))
        case "orthogonal": self = .orthogonal(gain: gain)
        case "identity": self = .identity(gain: p.gain ?? 1)
        case "dirac": self = .dirac(groups: p.groups ?? 1)
        case "delta-orthogonal": self = .deltaOrthogonal(gain: gain)
        case "sparse":
            guard let s = p.sparsity else { throw .missingParameter(scheme: "sparse", name: "sparsity in [0, 1) (--sparsity)") }
            self = .sparse(sparsity: s, std: p.std ?? 0.01)
        default: throw .unknownName(kind: "initializer", name: name, valid: Initializer.schemeNames)
        }
    }

    /// The kebab-case name of this scheme (presets are recognised from their `VarianceScaling`
    /// triple: `(fanAverage, uniform)` is xavier-uniform, `(fanIn, uniform, 1)` lecun-uniform, …).
    public var name: String {
        switch self {
        case .zeros: return "zeros"
        case .ones: return "ones"
        case .constant: return "constant"
        case .uniform: return "uniform"
        case .normal: return "normal"
        case .truncatedNormal: return "truncated-normal"
        case .truncatedNormalMatched: return "truncated-normal-matched"
        case let .varianceScaling(vs):
            switch (vs.mode, vs.distribution) {
            case (.fanAverage, .uniform): return "xavier-uniform"
            case (.fanAverage, .normal): return "xavier-normal"
            case (.fanIn, .uniform) where vs.scale == 1: return "lecun-uniform"
            case (.fanIn, .truncatedNormal) where vs.scale == 1: return "lecun-normal"
            case (.fanIn, .uniform), (.fanOut, .uniform): return "he-uniform"
            case (.fanIn, .normal), (.fanOut, .normal): return "he-normal"
            default: return "variance-scaling"
            }
        case .orthogonal: return "orthogonal"
        case .identity: return "identity"
        case .dirac: return "dirac"
        case .deltaOrthogonal: return "delta-orthogonal"
        case .sparse: return "sparse"
        }
    }
}
